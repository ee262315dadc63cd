"""Evolis card printers, driven directly over USB or a serial line with the Evolis command set.

The card sequence (Programming Guide A5013, "Programming Example"): `Pem;2` (the host handles
errors), `Pr;<ribbon>`, `Pmi;F` (feed from the feeder), `Ss`, `Sr`, one `Db` per front panel
(Y, M, C at the chosen levels, then K and O at 2 levels), for a back side `Sv` and its K panel,
then `Se`, which prints and ejects; its answer comes when the card is out. Current printers take
the blank at `Ss` (the guide's emulator dialect at `Se`): an error on any command from `Ss` on may
leave a card inside. An action succeeded only if its answer starts with `OK` (protocol.py). An
error answer is mapped to an IPP reason (the raw answer kept as `vendor_code`), and whether a
blank was used is read from the printer's inserted-cards counter (and `Rlr;p`) rather than
guessed. See docs/drivers-evolis.md.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, replace
from hashlib import sha256
from pathlib import Path
from typing import Any

from PIL import Image

from printd.config import EvolisPrinterConfig
from printd.drivers.base import (
    Card,
    Counters,
    Driver,
    PrinterIdentity,
    PrinterStatus,
    PrintOutcome,
    Reason,
)
from printd.drivers.evolis.cardbook import CardBook, InFlight
from printd.drivers.evolis.panels import COLOUR_LEVELS, Panel, plan_for_ribbon, separate_back, separate_front
from printd.drivers.evolis.protocol import CommandChannel, Reply, ReplyTimeout, classify, frame, frame_text
from printd.drivers.evolis.sensors import HELD_SENSOR, HeldFaults, ambiguous_card, card_inside, volts
from printd.drivers.evolis.status import SUPERVISED_MODE, answer_int, interpret
from printd.drivers.transport import DeviceNotFound, LinkLost, Transport, TransportError, TransportTimeout
from printd.errors import ConfigError, PrinterFault, PrinterOffline, PrinterTimeout

log = logging.getLogger(__name__)

#: what `status()` asks at every poll, in order (guide, R and Sk commands); a query the model
#: answers `ERROR CDE` / `OPT NOT AVAILABLE` to (`Sk` off Quantum/Kiosk) is not asked again
STATUS_QUERIES = ("Rse;o", "Rse;f", "Sk;f", "Sk;w", "Rco;c", "Rco;p", "Rco;n", "Rlr;p", "Rlr;r")
#: ribbon reads, cached: the ribbon's NFC tag wears with every read (esup-sgc-client reads hourly)
RIBBON_QUERIES = ("Rcr", "Rco;l", "Rr")
RIBBON_CACHE_S = 3600.0
#: without a counter to ask, whether a fault took a blank: feeder empty never does, a jam always does
_FED_BY_REASON: dict[str, bool | None] = {Reason.MEDIA_EMPTY: False, Reason.MEDIA_JAM: True}
#: answers to a status query that mean "this model has no such command, option or parameter"
_UNSUPPORTED = ("ERROR CDE", "ERR CMD", "OPT NOT AVAILABLE", "ERROR PARAMETRES", "ERR PARAMETRES")


@dataclass(frozen=True)
class _Snapshot:
    fed: int | None
    panels: int | None


def _label(payload: bytes) -> str:
    """A frame as a short text for messages: `Db;k` for a download, the command otherwise."""
    head = payload[1:64].split(b"\r", 1)[0]
    if head.startswith(b"Db;"):
        head = b";".join(head.split(b";")[:2])
    return head.decode("ascii", "replace")


class EvolisDriver:
    """A `Driver` for one Evolis printer on a `Transport`; also `raw_command`, `test_card`,
    `clear_status` and `run_cleaning` for technicians."""

    vendor = "Evolis"

    def __init__(self, name: str, cfg: EvolisPrinterConfig, transport: Transport, printer_dir: Path, *,
                 color_levels: int = 128) -> None:
        try:
            self.front_panels, self.back_panels = plan_for_ribbon(cfg.ribbon)
        except ValueError as exc:
            raise ConfigError(str(exc), key=f"printers.{name}.ribbon") from exc
        if color_levels not in COLOUR_LEVELS:
            raise ConfigError(f"colour levels must be one of {COLOUR_LEVELS}", key=f"printers.{name}")
        self.name = name
        self.cfg = cfg
        self.transport = transport
        self.color_levels = color_levels
        # the driver gives up on a card after cfg.timeout_s itself (PrinterTimeout); the station waits
        # a little longer so that answer, with what the counters say, is the one that counts
        self.card_timeout_s = cfg.timeout_s + 2 * cfg.command_timeout_s + 2.0
        self.status_timeout_s = 2 * cfg.command_timeout_s + 1.0
        self._channel = CommandChannel(transport)
        self._book = CardBook(printer_dir / "evolis-driver.json")
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._identity: PrinterIdentity | None = None
        self._errors: deque[dict[str, Any]] = deque(maxlen=50)
        self._last_raw: dict[str, str] = {}
        self._offline_logged = False
        self._held = HeldFaults()
        self._unsupported: set[str] = set()
        self._ribbon: dict[str, Reply] = {}
        self._ribbon_read_at = 0.0
        self._pem_found: int | None = None    # the error-management mode before printd set it
        self._supervised = False
        known = cfg.serial_number or self._book.serial
        if known:
            self._channel.set_sync(frame("Rsn"), known)

    # ------------------------------------------------------------------ link helpers

    def _went_offline(self, why: str) -> None:
        if not self._offline_logged:
            log.warning("%s: Evolis printer unreachable: %s", self.name, why)
            self._offline_logged = True

    def _note(self, kind: str, message: str, vendor_code: str | None = None, **extra: Any) -> None:
        self._errors.append({"at": time.time(), "kind": kind, "message": message, "vendor_code": vendor_code,
                             **extra})

    def _ask(self, payload: bytes, timeout: float | None = None) -> Reply:
        return self._channel.transact(payload, self.cfg.command_timeout_s if timeout is None else timeout)

    def _query(self, text: str) -> Reply:
        name, *params = text.split(";")
        return self._ask(frame(name, *params))

    def _offline(self, exc: BaseException, *, card_fed: bool | None = False) -> PrinterOffline:
        if isinstance(exc, LinkLost | DeviceNotFound):
            self.transport.close()
        self._went_offline(str(exc))
        self._note("offline", str(exc))
        return PrinterOffline(f"{self.name}: {exc}", card_fed=card_fed)

    def _ensure_open(self) -> None:
        if not self.transport.is_open or self._identity is None:
            self.open()

    # ------------------------------------------------------------------ the Driver seam

    def open(self) -> PrinterIdentity:
        """Connect (or reconnect), identify the printer and put it in host error management."""
        with self._lock:
            try:
                self.transport.open()
                self._channel.mark_stale()
                serial = self._query("Rsn").text.strip()
                model = self._query("Rtp").text.strip()
                firmware = self._query("Rfv").text.strip()
                rem = self._query("Rem")
                mode_text = rem.text.split(";", 1)[0].strip()
                mode = int(mode_text) if not rem.is_error and mode_text.isdigit() else None
                # on a reconnect the printer still holds printd's own 2: keep the mode found first
                if self._pem_found is None or mode != 2:
                    self._pem_found = mode
                self._supervised = mode == SUPERVISED_MODE
                # a supervised printer belongs to the Evolis service: Pem;2 would take it from under it
                pem = None if self._supervised else self._ask(frame("Pem", 2))
            except (TransportError, ReplyTimeout) as exc:
                self.transport.close()
                raise self._offline(exc) from exc
            if self.cfg.serial_number and serial != self.cfg.serial_number:
                self.transport.close()
                raise self._offline(ConnectionError(
                    f"the printer on this link answers serial {serial!r}, not {self.cfg.serial_number!r}"))
            if pem is None:
                self._note("supervised", "the printer is supervised (Rem 38) by the Evolis supervision service "
                           "(Evolis Print Center / evoservice): stop that service or take this printer out of "
                           "its supervision; printd does not print to it meanwhile", rem.vendor_code)
            elif pem.is_error:
                self._note("refused", "Pem;2 refused: the printer may stop on errors by itself",
                           pem.vendor_code)
            self._channel.set_sync(frame("Rsn"), serial)
            self._book.bind(serial)
            self._identity = PrinterIdentity(model=model, serial=serial, firmware=firmware,
                                             vendor=self.vendor, link=self.transport.describe())
            if self._offline_logged:
                log.info("%s: Evolis printer back (%s, serial %s)", self.name, model, serial)
                self._offline_logged = False
            return self._identity

    def status(self) -> PrinterStatus:
        """Ask the printer's sensors and counters; settle a card left in flight by a crash."""
        with self._lock:
            if self._supervised:
                self._identity = None   # open() again: it reads Rem and takes over once supervision ends
            self._ensure_open()
            try:
                replies = {q: self._query(q) for q in STATUS_QUERIES if q not in self._unsupported}
                replies.update(self._ribbon_replies())
            except (TransportError, ReplyTimeout) as exc:
                raise self._offline(exc) from exc
            for q, r in replies.items():
                if r.text.strip().upper().startswith(_UNSUPPORTED):
                    self._unsupported.add(q)
            self._last_raw = {q: r.vendor_code for q, r in replies.items()}
            return self._interpret(replies)

    def _ribbon_replies(self) -> dict[str, Reply]:
        """The ribbon answers, read again only after a card, a ribbon fault or an hour.

        While the last read stopped the printer (ribbon finished), every poll reads again, so a new
        ribbon is seen at once; a stopped printer does not wear the tag by printing meanwhile.
        """
        rcr = self._ribbon.get("Rcr")
        stale = time.monotonic() - self._ribbon_read_at >= RIBBON_CACHE_S
        if not self._ribbon or stale or (rcr is not None and rcr.is_error):
            self._ribbon = {q: self._query(q) for q in RIBBON_QUERIES}
            self._ribbon_read_at = time.monotonic()
        return dict(self._ribbon)

    def _forget_ribbon(self) -> None:
        self._ribbon = {}

    def _interpret(self, replies: dict[str, Reply]) -> PrinterStatus:
        return interpret(replies, name=self.name, book=self._book, held=self._held, supervised=self._supervised,
                         ribbon_set=self.cfg.ribbon, card_type=self.cfg.card_type, raw=self._last_raw)

    def print_card(self, card: Card) -> PrintOutcome:
        """Print one card: encode its panels, send the sequence, return when it is out."""
        with self._lock:
            self._cancel.clear()
            started = time.monotonic()
            try:
                front = separate_front(card.front_png, self.front_panels, self.color_levels)
                back = separate_back(card.back_png, self.back_panels) if card.back_png else []
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                # decided before the printer is touched: a bad image never costs a blank
                raise PrinterFault(f"{self.name}: the card image cannot be printed: {exc}",
                                   reasons=[Reason.OTHER], card_fed=False) from exc
            body = [frame("Ss"), frame("Sr"), *(self._download(p) for p in front)]
            if back:
                body += [frame("Sv"), *(self._download(p) for p in back)]
            body.append(frame("Se"))
            detail = {"panels": {"front": [f"{p.name}:{p.levels}" for p in front],
                                 "back": [f"{p.name}:{p.levels}" for p in back]},
                      "sha256": {f"{side}-{p.name}": sha256(p.data).hexdigest()
                                 for side, ps in (("front", front), ("back", back)) for p in ps}}
            return self._run_card(card.job_id, card.attempt, body, len(front) + len(back), started, detail)

    @staticmethod
    def _download(panel: Panel) -> bytes:
        return frame("Db", panel.name, panel.levels, data=panel.data)

    def _run_card(self, job_id: str, attempt: int, body: list[bytes], panels_expected: int, started: float,
                  detail: dict[str, Any]) -> PrintOutcome:
        self._ensure_open()
        # the printer's time starts now: encoding the images is the host's business
        deadline = time.monotonic() + self.cfg.timeout_s
        if self._supervised:
            raise PrinterFault(f"{self.name}: the printer is supervised by the Evolis supervision service (Rem "
                               f"{SUPERVISED_MODE}); stop it to print from printd", reasons=[Reason.OTHER],
                               card_fed=False, vendor_code=f"Rem {SUPERVISED_MODE}")
        try:
            before = self._snapshot()
            # settings before the sequence: nothing can have been fed yet
            for payload in (frame("Pem", 2), frame("Pr", self.cfg.ribbon.lower()), frame("Pmi", "F")):
                reply = self._ask(payload)
                if reply.is_error:
                    raise self._fault(reply, payload, before, fed_known=False)
        except (TransportError, ReplyTimeout) as exc:
            raise self._offline(exc, card_fed=False) from exc
        counters_before = Counters(fed=before.fed, printed=self._book.printed,
                                   since_cleaning=self._book.since_cleaning(before.fed))
        if before.fed is not None and before.panels is not None:
            self._book.begin(InFlight(job_id, attempt, before.fed, before.panels, panels_expected))
        for payload in body:
            command = _label(payload)
            if self._cancel.is_set():
                raise self._abort(before)
            try:
                reply = self._ask(payload, max(0.001, deadline - time.monotonic()))
            except (ReplyTimeout, TransportTimeout) as exc:
                self._note("timeout", f"no answer to {command}", job_id=job_id)
                raise PrinterTimeout(f"{self.name}: no answer to {command} within {self.cfg.timeout_s:.0f} s "
                                     f"of the card's start") from exc
            except TransportError as exc:
                raise self._offline(exc, card_fed=None) from exc
            if reply.is_error:
                raise self._fault(reply, payload, before)
        self._book.finish(printed=True)
        self._held.clear()        # a card came out: nothing held is in the way any more
        self._forget_ribbon()     # ribbon reads are cached per card
        after = self._snapshot_or_none()
        return PrintOutcome(
            counters_before=counters_before,
            counters_after=Counters(fed=after.fed, printed=self._book.printed,
                                    since_cleaning=self._book.since_cleaning(after.fed)),
            duration_s=time.monotonic() - started, detail=detail)

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(fed=answer_int(self._query("Rco;c")), panels=answer_int(self._query("Rco;p")))

    def _snapshot_or_none(self) -> _Snapshot:
        try:
            return self._snapshot()
        except (TransportError, ReplyTimeout):
            return _Snapshot(None, None)

    def _card_fed(self, before: _Snapshot, now: _Snapshot | None = None) -> bool | None:
        """Whether a blank left the feeder since `before`: the card counter, else `Rlr;p` (a card inside)."""
        now = self._snapshot_or_none() if now is None else now
        if now.fed is not None and before.fed is not None:
            return now.fed > before.fed
        try:
            inside = self._query("Rlr;p")
        except (TransportError, ReplyTimeout):
            return None
        return True if card_inside(inside.text) and not ambiguous_card(inside.text) else None

    def _reject(self) -> None:
        """Send a spoiled card to the reject box (best effort: a jammed card stays put)."""
        try:
            self._ask(frame("Ser"))
        except (TransportError, ReplyTimeout):
            pass

    def _sensor(self, query: str) -> str | None:
        """One sensor answer for a held fault's baseline, or None."""
        if query in self._unsupported:
            return None
        try:
            reply = self._query(query)
        except (TransportError, ReplyTimeout):
            return None
        return reply.text.strip() if volts(reply.text) is not None else None

    def _fault(self, reply: Reply, payload: bytes, before: _Snapshot, *,
               fed_known: bool | None = None) -> PrinterFault:
        reason = classify(reply)
        command = _label(payload)
        now = self._snapshot_or_none() if fed_known is None else _Snapshot(None, None)
        card_fed = fed_known if fed_known is not None else self._card_fed(before, now)
        if card_fed is None and "ERROR FEEDER" not in reply.text.upper():
            # no counter: a refused feed takes nothing, a jam holds a card; a feeder error may be either
            card_fed = _FED_BY_REASON.get(reason.keyword)
        if card_fed:
            self._reject()
        if reason.keyword == Reason.MARKER_SUPPLY_EMPTY:
            self._forget_ribbon()
        sensor = HELD_SENSOR.get(reason.keyword) if reason.keyword != Reason.MEDIA_JAM else None
        self._held.hold(reason, self._sensor(sensor) if sensor else None)
        extra = self._clear_status_quietly(now.fed)
        if card_fed is not None and self._book.in_flight is not None:
            self._book.finish(printed=False)
        self._note(reason.keyword, f"{command}: {reason.message}", reply.vendor_code, card_fed=card_fed)
        if extra:
            self._note("count_mismatch", f"{extra} blank(s) fed after Scs with no card asked for: booked spoiled",
                       "Rco;c", unexplained_feeds=extra)
        return PrinterFault(f"{self.name}: {reply.vendor_code} on {command}: {reason.message}",
                            reasons=[reason.keyword], card_fed=card_fed, vendor_code=reply.vendor_code,
                            unexplained_feeds=extra)

    def _clear_status_quietly(self, fed_before: int | None) -> int:
        """`Scs`, so the reported fault does not linger in `Rlr`; returns blanks it fed unasked.

        esup-sgc-client saw a Primacy 2 reject the card and feed another after a clear status, so
        the card counter is read again: a rise is a blank nobody asked for.
        """
        try:
            self._ask(frame("Scs"))
            after = answer_int(self._query("Rco;c")) if fed_before is not None else None
        except (TransportError, ReplyTimeout):
            return 0
        return max(0, after - fed_before) if after is not None and fed_before is not None else 0

    def _abort(self, before: _Snapshot) -> PrinterFault:
        self._reject()
        card_fed = self._card_fed(before)
        if card_fed is not None:
            self._book.finish(printed=False)
        self._note("canceled", "card canceled", card_fed=card_fed)
        return PrinterFault(f"{self.name}: card canceled", reasons=[Reason.OTHER], card_fed=card_fed,
                            vendor_code="canceled")

    def cancel(self) -> None:
        """Stop before the next command of the card in progress (a card already printing finishes)."""
        self._cancel.set()

    def diagnostics(self) -> dict[str, Any]:
        """Identity, link, the last status answers, recent errors and the card book (no printer I/O)."""
        return {"driver": "evolis", "identity": asdict(self._identity) if self._identity else None,
                "link": self.transport.describe(), "ribbon": self.cfg.ribbon,
                "color_levels": self.color_levels,
                "panels": {"front": self.front_panels, "back": self.back_panels},
                "timeouts": {"card_s": self.cfg.timeout_s, "command_s": self.cfg.command_timeout_s},
                "last_status": dict(self._last_raw), "recent_errors": list(self._errors),
                "card_book": self._book.snapshot(), "channel_stale": self._channel.stale,
                "held_faults": self._held.snapshot(), "unsupported_commands": sorted(self._unsupported),
                "error_management": {"found": self._pem_found, "supervised": self._supervised},
                "ribbon_read_age_s": (round(time.monotonic() - self._ribbon_read_at, 1)
                                      if self._ribbon else None)}

    def close(self) -> None:
        """Give the printer back in the error-management mode it had (unless supervised), then let go."""
        with self._lock:
            if (self._identity is not None and self.transport.is_open and not self._supervised
                    and self._pem_found is not None and self._pem_found != 2):
                try:
                    self._ask(frame("Pem", self._pem_found))
                except (TransportError, ReplyTimeout):
                    pass   # the printer went away: it returns to its own mode at power on
            self.transport.close()
            self._identity = None

    # ------------------------------------------------------------------ for technicians

    def raw_command(self, cmd: str) -> str:
        """Send one command typed by a technician (e.g. `Rco;c`) and return the printer's answer."""
        payload = frame_text(cmd)
        with self._lock:
            self._ensure_open()
            timeout = self.cfg.timeout_s if payload[1:2] == b"S" else self.cfg.command_timeout_s
            try:
                reply = self._ask(payload, timeout)
            except ReplyTimeout as exc:
                raise PrinterTimeout(f"{self.name}: no answer to {cmd!r}") from exc
            except TransportError as exc:
                raise self._offline(exc) from exc
            self._note("raw", cmd, reply.vendor_code)
            return reply.vendor_code

    def test_card(self) -> PrintOutcome:
        """The printer's own test card (`St`); it takes a blank from the feeder."""
        with self._lock:
            started = time.monotonic()
            return self._run_card("test-card", 0, [frame("St")], len(self.front_panels), started,
                                  {"test_card": True})

    def clear_status(self) -> str:
        """`Scs`: clear the printer's error status (and the faults printd holds); returns its answer."""
        answer = self.raw_command("Scs")
        self._held.clear()
        return answer

    def run_cleaning(self) -> str:
        """`Scp`: run a cleaning cycle (insert the cleaning card when the printer asks)."""
        answer = self.raw_command("Scp")
        with self._lock:
            try:
                fed, cleanings = answer_int(self._query("Rco;c")), answer_int(self._query("Rco;n"))
            except (TransportError, ReplyTimeout):
                return answer
            if answer == "OK" and fed is not None:
                self._book.cleaned(cleanings, fed)
        return answer


class EmulatedEvolisDriver(EvolisDriver):
    """An `EvolisDriver` wired to the package's emulator; adds the `Simulated` controls."""

    def __init__(self, name: str, cfg: EvolisPrinterConfig, transport: Transport, printer_dir: Path, *,
                 emulator: Any, link: Any = None, color_levels: int = 128) -> None:
        super().__init__(name, cfg, transport, printer_dir, color_levels=color_levels)
        self.emulator = emulator
        #: the emulator's cable (EmulatorUsbBackend: unplug()/replug()) or its PtyServer
        self.link = link

    def open(self) -> PrinterIdentity:
        self.emulator.start()   # power on (again, after close)
        return super().open()

    def status(self) -> PrinterStatus:
        st = super().status()
        return replace(st, hopper_card_type=self.emulator.hopper_card_type or st.hopper_card_type)

    def inject_fault(self, kind: str, duration_s: float | None) -> None:
        """Start an emulated fault; it clears by itself after `duration_s` (None: until cleared)."""
        self.emulator.inject_fault(kind, duration_s)

    def clear_faults(self) -> None:
        """End every emulated fault."""
        self.emulator.clear_faults()

    def load_cards(self, card_type: str, count: int) -> None:
        """Put blanks in the emulated feeder."""
        self.emulator.load_cards(card_type, count)

    def unload_cards(self, count: int) -> None:
        """Take blanks out of the emulated feeder."""
        self.emulator.unload_cards(count)

    def diagnostics(self) -> dict[str, Any]:
        return {**super().diagnostics(), "emulator": self.emulator.snapshot()}

    def close(self) -> None:
        super().close()
        self.emulator.stop()


def emulator_serial(name: str) -> str:
    """A stable serial number for an emulated printer without one in its config."""
    return "EMU" + sha256(name.encode()).hexdigest()[:7].upper()


def create_evolis_driver(name: str, cfg: EvolisPrinterConfig, printer_dir: Path, *,
                         color_levels: int = 128) -> Driver:
    """Build the driver for `[printers.NAME] driver = "evolis"` with the transport it names.

    `transport = "emulator"` runs the package's emulator as a fake pyusb backend, so the real
    USB code path (find by serial, descriptors, bulk endpoints) is the one exercised.
    """
    printer_dir.mkdir(parents=True, exist_ok=True)
    if cfg.transport == "usb":
        from printd.drivers.transport.usb import UsbTransport

        assert cfg.serial_number is not None   # the config validator requires it
        return EvolisDriver(name, cfg, UsbTransport(cfg.serial_number, write_timeout_s=cfg.command_timeout_s),
                            printer_dir, color_levels=color_levels)
    if cfg.transport == "serial":
        from printd.drivers.transport.serial import SerialTransport

        assert cfg.port is not None
        transport = SerialTransport(cfg.port, baudrate=cfg.baudrate, flow_control=cfg.flow_control,
                                    write_timeout_s=cfg.command_timeout_s)
        return EvolisDriver(name, cfg, transport, printer_dir, color_levels=color_levels)
    from printd.drivers.evolis.emulator import EvolisEmulator
    from printd.drivers.evolis.emulator_links import EmulatorUsbBackend
    from printd.drivers.transport.usb import UsbTransport

    emulator = EvolisEmulator(printer_dir, serial=cfg.serial_number or emulator_serial(name),
                              time_scale=cfg.time_scale, seconds_single=cfg.seconds_single,
                              seconds_dual=cfg.seconds_dual, ribbon=cfg.ribbon, dialect=cfg.dialect)
    backend = EmulatorUsbBackend(emulator)
    usb_link = UsbTransport(emulator.serial, backend=backend, write_timeout_s=cfg.command_timeout_s)
    return EmulatedEvolisDriver(name, cfg, usb_link, printer_dir, emulator=emulator, link=backend,
                                color_levels=color_levels)
