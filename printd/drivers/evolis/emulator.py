"""An Evolis card printer in software, answering the command protocol byte for byte.

It holds a feeder (hopper), a ribbon and the printer's own counters (`Rco;c` cards inserted,
`Rco;p` panels printed) in `evolis-emulator.json` beside the daemon's other per-printer files,
so they survive a daemon restart the way a real printer's do. It checks what a host sends: the
`Ss` ... `Se` sequence, sides (`Sr`, `Sv`), panel names, levels, order and exact byte counts.
Mechanical time (feed, each panel, flip, eject) follows `seconds_single` / `seconds_dual`
divided by `time_scale`. Faults can be injected (they clear by themselves after `duration_s`)
or armed to strike after N panels of the next card, for deterministic tests.

The emulator is link-agnostic: bytes come in through `receive()` and replies leave through the
sink set with `set_sink()`. `emulator_links` plugs it in as a pyusb backend or behind a
pty.

It speaks one of two dialects. `guide` (the default) answers as the 2003 programming guide
reads: `ERR ...` errors, `NO CARD`/`ERR CARD` for `Rlr;p`, `OPEN`/`CLOSE` for `Rse;o`, `Sk`
feeder sensors, the blank fed at `Se`. `primacy` answers as Evolis's sample SDK, libevolis and
production clients say current printers do (docs/drivers-evolis.md, "Answers"): unprefixed
errors (`CARD JAM`, `FEEDER EMPTY`, `COVER OPEN`), `ERROR CDE` for a command the model lacks (`Sk`
among them), `ERROR PARAMETRES`, voltages for `Rse`, `OK`/`CARD` for `Rlr;p`, the blank fed at
`Ss`, zero-length USB packets (see `emulator_links`), a supervised mode (`Rem` 38) and, when armed,
the `Scs` side effect (an extra blank fed and rejected).
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from printd.drivers.base import FAULT_KINDS
from printd.drivers.evolis.panels import LEVEL_BITS, PANEL_ORDER, panel_size, plan_for_ribbon

STATE_FILE = "evolis-emulator.json"
CARDS_LOG = "evolis-emulator-cards.jsonl"

ESC, CR, ACK, NACK = 0x1B, 0x0D, b"\x06", b"\x15"

#: error answers, and their NACK code on the ACK/NACK protocol
ERRORS: dict[str, str] = {
    "ERR CMD": "1",
    "ERR PARAMETRES": "2",
    "ERR SEQUENCE": "2",
    "ERR DATA": "2",
    "ERR FEEDER EMPTY": "F",
    "ERR COVER OPEN": "C",
    "ERR RIBBON": "R",
    "ERR RIBBON TYPE": "R",
    "ERR MECHANICAL": "T",
    "ERR HEAD TEMP": "T",
    "ERR CARD": "T",
}
DIALECTS = ("guide", "primacy")
#: the guide dialect's answer -> the primacy dialect's (sources in docs/drivers-evolis.md, "Answers")
PRIMACY_ANSWERS: dict[str, str] = {
    "ERR CMD": "ERROR CDE",
    "ERR PARAMETRES": "ERROR PARAMETRES",
    "ERR SEQUENCE": "ERROR CDE",
    "ERR DATA": "ERROR PARAMETRES",
    "ERR FEEDER EMPTY": "FEEDER EMPTY",
    "ERR COVER OPEN": "COVER OPEN",
    "ERR MECHANICAL": "CARD JAM",
    "ERR CARD": "ERROR CARD",
    "ERR NEED CLEANING": "NEED CLEANING",
}
#: `Rem` of a printer owned by the Evolis supervision service (evolis.h, EVOLIS_EM_SUPERVISED)
SUPERVISED_MODE = 38
#: the primacy dialect's sensor voltages (the level meaning open/empty is unverified on hardware)
VOLTS_HIGH, VOLTS_LOW = "5,00 Volts", "0,00 Volts"
#: ribbon types `Pr` accepts (guide, `Pr`) -> prints per new ribbon
RIBBON_TYPES: dict[str, int] = {
    "ymcko": 200, "ymckos": 400, "ymckok": 200, "ko": 600, "h": 500, "ho": 500,
    **dict.fromkeys(("kb", "kw", "kr", "kbl", "kgr", "kgo", "ksi", "ksc"), 1000),
}
RIBBON_LOW = 20
FEEDER_WARNING = 10
CLEANING_EVERY = 1000
#: a `Db` whose bytes stop coming for this long is abandoned with ERR DATA
DATA_TIMEOUT_S = 2.0


@dataclass
class _Fault:
    kind: str
    until: float | None   # monotonic; None = until cleared


@dataclass
class _Sequence:
    side: str | None = None                        # "front" | "back"
    panels: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"front": [], "back": []})


class _Stopped(Exception):
    """The emulator is shutting down in the middle of a card."""


class EvolisEmulator:
    """The state machine of one emulated printer. Thread-safe; one command executes at a time."""

    model = "Evolis Dualys3 (printd emulator)"
    firmware = "EMU-1.0.0"

    def __init__(self, state_dir: Path, *, serial: str, time_scale: float = 1.0, seconds_single: float = 35.0,
                 seconds_dual: float = 50.0, ribbon: str = "ymcko", ack_nack: bool = False,
                 data_timeout_s: float = DATA_TIMEOUT_S, dialect: str = "guide") -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown emulator dialect {dialect!r}; known: {', '.join(DIALECTS)}")
        self.dialect = dialect
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.dir / STATE_FILE
        self.cards_path = self.dir / CARDS_LOG
        self.time_scale = time_scale
        self.seconds_single = seconds_single
        self.seconds_dual = seconds_dual
        self.ack_nack = ack_nack
        self.data_timeout_s = data_timeout_s
        self._cond = threading.Condition()
        self._inbuf = bytearray()
        self._last_rx = time.monotonic()
        self._resync_until = 0.0
        self._sink: Callable[[bytes], None] | None = None
        self._faults: dict[str, _Fault] = {}
        self._armed: list[tuple[str, int, float | None]] = []
        self._seq: _Sequence | None = None
        self._pem = 0          # the guide: error management returns to "printer" at power on
        self.supervised = False   # primacy: the Evolis supervision service owns the printer
        self._scs_feeds = 0       # primacy: armed `Scs` side effects (an extra blank fed and rejected)
        #: what `Rco;p` counts: "panels" (the guide) or "cards" (what some sources say of some models)
        self.rco_p_counts = "panels"
        self._last = "OK"
        self._stop = False
        self._thread: threading.Thread | None = None
        #: what the host sent, newest last (Db data replaced by its size), for tests and diagnostics
        self.commands: deque[str] = deque(maxlen=200)
        #: protocol mistakes the host made (wrong order, size, panel...)
        self.protocol_errors: list[str] = []
        #: the panels of the last card that left the printer: [(side, panel, levels, data), ...]
        self.last_card: list[tuple[str, str, int, bytes]] = []
        self.link_epoch = 0    # bumps on every simulated cable pull
        self.state = self._load(serial, ribbon)
        self._recover_card()

    # ------------------------------------------------------------------ the printer's memory

    def _load(self, serial: str, ribbon: str) -> dict[str, Any]:
        if self.state_path.exists():
            stored: dict[str, Any] = json.loads(self.state_path.read_text())
            return stored
        ribbon = ribbon.lower()
        state = {"serial": serial, "cards_inserted": 0, "panels_printed": 0, "cards_ejected": 0,
                 "cards_rejected": 0, "cleanings": 0, "since_cleaning": 0,
                 "hopper": 0, "hopper_card_type": None,
                 "ribbon_type": ribbon, "ribbon_set": ribbon, "ribbon_left": RIBBON_TYPES.get(ribbon, 200),
                 "card": None}
        self._save(state)
        return state

    def _save(self, state: dict[str, Any] | None = None) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump(state if state is not None else self.state, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_path)

    def _recover_card(self) -> None:
        # The host (and this emulator with it) went away with a card in the mechanism. A real printer
        # keeps power and finishes it; a card stopped by an error is taken out when the printer is
        # seen to again, so it goes to the reject box.
        card = self.state.get("card")
        if not card:
            return
        if card.get("error") or not card.get("started", True):
            self.state["cards_rejected"] += 1   # stopped on an error, or fed at Ss and never printed
        else:
            self.state["panels_printed"] += card["total"] - card["done"]
            self.state["cards_ejected"] += 1
            self._log_card({"recovered": True, "panels": card["total"]})
        self.state["card"] = None
        self._save()

    def _log_card(self, record: dict[str, Any]) -> None:
        with open(self.cards_path, "a") as fh:
            fh.write(json.dumps({"at": time.time(), **record}, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    @property
    def serial(self) -> str:
        return str(self.state["serial"])

    @property
    def hopper_card_type(self) -> str | None:
        loaded = self.state["hopper_card_type"]
        return str(loaded) if loaded is not None else None

    # ------------------------------------------------------------------ life cycle and links

    def start(self) -> None:
        """Power on: deal with a card left in the mechanism, then start executing commands."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._recover_card()
            self._stop = False
            self._pem = SUPERVISED_MODE if self.supervised else 0
            self._seq = None
            self._thread = threading.Thread(target=self._run, name=f"evolis-emulator-{self.serial}",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Power off (a card in the mechanism is dealt with at the next power on, see `_recover_card`)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def set_sink(self, sink: Callable[[bytes], None] | None) -> None:
        """Where replies go (the USB IN endpoint, the pty master)."""
        self._sink = sink

    @property
    def link_up(self) -> bool:
        """False while an `offline` fault holds the cable out.

        Lock-free on purpose: the USB backend asks while holding its own lock, and the emulator
        delivers replies into that backend while holding this one.
        """
        fault = self._faults.get("offline")
        return fault is None or (fault.until is not None and fault.until <= time.monotonic())

    def receive(self, data: bytes) -> None:
        """Bytes from the host."""
        with self._cond:
            now = time.monotonic()
            if "offline" in self._active_locked(now):
                return
            if now < self._resync_until:
                self._resync_until = now + 0.2   # still garbage: wait for the host to fall silent
                return
            self._inbuf += data
            self._last_rx = now
            self._cond.notify_all()

    @property
    def primacy(self) -> bool:
        return self.dialect == "primacy"

    def _send(self, text: str, *, query: bool) -> None:
        if self.primacy and not (self.ack_nack and text in ERRORS and not query):
            text = PRIMACY_ANSWERS.get(text, text)
        if self.ack_nack:
            if text in ERRORS and not query:
                payload = NACK + ERRORS[text].encode()
            else:
                payload = (b"" if text == "OK" else text.encode("ascii")) + ACK
        else:
            payload = text.encode("ascii")
        sink = self._sink
        if sink is not None and self.link_up:
            sink(payload)

    # ------------------------------------------------------------------ faults (the Simulated controls)

    def _active_locked(self, now: float | None = None) -> dict[str, _Fault]:
        now = time.monotonic() if now is None else now
        for kind in [k for k, f in self._faults.items() if f.until is not None and f.until <= now]:
            self._cleared(kind)
        return self._faults

    def _active(self) -> dict[str, _Fault]:
        with self._cond:
            return dict(self._active_locked())

    def _cleared(self, kind: str) -> None:
        self._faults.pop(kind, None)
        card = self.state.get("card")
        if kind == "marker-supply-empty":
            self.state["ribbon_left"] = RIBBON_TYPES.get(self.state["ribbon_type"], 200)  # a new ribbon
            self._save()
        elif kind == "media-jam" and card and card.get("error") == "ERR MECHANICAL":
            self.state["card"] = None          # the technician took the jammed card out
            self.state["cards_rejected"] += 1
            self._save()
        self._cond.notify_all()

    def inject_fault(self, kind: str, duration_s: float | None) -> None:
        """Start a fault now; it ends by itself after `duration_s` seconds (None: until cleared)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self._cond:
            self._faults[kind] = _Fault(kind, None if duration_s is None else time.monotonic() + duration_s)
            if kind == "offline":
                self.link_epoch += 1
            self._cond.notify_all()

    def arm_fault(self, kind: str, after_panels: int, duration_s: float | None = None) -> None:
        """Make `kind` strike during the next card, after `after_panels` panels have been printed."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._cond:
            self._armed.append((kind, after_panels, duration_s))

    def clear_faults(self) -> None:
        """End every fault (and armed fault), as a technician at the printer would."""
        with self._cond:
            self._armed.clear()
            for kind in list(self._faults):
                self._cleared(kind)

    def load_cards(self, card_type: str, count: int) -> None:
        """Put blanks in the feeder (one card type at a time)."""
        if count < 0:
            raise ValueError("count must not be negative")
        with self._cond:
            st = self.state
            if st["hopper"] > 0 and st["hopper_card_type"] not in (None, card_type):
                raise ValueError("the feeder holds another card type; unload it first")
            st["hopper_card_type"] = card_type
            st["hopper"] = min(10_000, st["hopper"] + count)
            self._save()

    def supervise(self, on: bool) -> None:
        """Primacy: the supervision service takes the printer (`Rem` answers 38) or lets it go."""
        with self._cond:
            self.supervised = on
            self._pem = SUPERVISED_MODE if on else 0

    def arm_scs_feed(self) -> None:
        """Primacy: make the next `Scs` feed a blank and reject it (seen on Primacy 2 after a fault)."""
        with self._cond:
            self._scs_feeds += 1

    def unload_cards(self, count: int) -> None:
        """Take blanks out of the feeder."""
        with self._cond:
            self.state["hopper"] = max(0, self.state["hopper"] - count)
            self._save()

    # ------------------------------------------------------------------ the command loop

    def _run(self) -> None:
        # Commands execute with the lock held; mechanical waits release it (Condition.wait), so
        # the Simulated controls and incoming bytes are never blocked for long.
        while True:
            with self._cond:
                if self._stop:
                    return
                frame = self._next_frame()
                if frame is None:
                    self._cond.wait(0.1)
                    continue
                try:
                    self._wait_while_hung()
                    self._execute(*frame)
                except _Stopped:
                    return

    def _next_frame(self) -> tuple[str, list[str], bytes | None] | None:
        """Cut one command off the input buffer (called with the lock held); None when incomplete."""
        buf = self._inbuf
        start = 0
        while start < len(buf) and buf[start] in (0x00, CR, 0x0A):
            start += 1   # padding and line ends between commands
        if start:
            del buf[:start]
        if not buf:
            return None
        body = 1 if buf[0] == ESC else 0   # ESC is optional after a CR (guide, "Communication Protocol")
        if buf[body:body + 3] == b"Db;":
            return self._next_download(body)
        end = buf.find(b"\r", body)
        if end < 0:
            if len(buf) > 4096:
                self._protocol_error("no CR within 4096 bytes", "ERR CMD")
            return None
        text = bytes(buf[body:end]).decode("ascii", "replace")
        del buf[:end + 1]
        name, *params = text.split(";")
        self.commands.append(text)
        return name, params, None

    def _next_download(self, body: int) -> tuple[str, list[str], bytes | None] | None:
        buf = self._inbuf
        header_end, seps = body, 0
        while header_end < len(buf) and seps < 3 and header_end - body < 16:
            if buf[header_end] == 0x3B:
                seps += 1
            header_end += 1
        if seps < 3:
            if header_end - body >= 16:
                self._protocol_error("malformed Db header", "ERR PARAMETRES")
            elif time.monotonic() - self._last_rx > self.data_timeout_s:
                self._protocol_error("Db header never finished", "ERR DATA")
            return None
        _, panel, levels_text, _ = bytes(buf[body:header_end]).decode("ascii", "replace").split(";")
        if not levels_text.isdigit() or int(levels_text) not in LEVEL_BITS:
            self._protocol_error(f"Db levels {levels_text!r} not one of {sorted(LEVEL_BITS)}",
                                 "ERR PARAMETRES")
            return None
        size = panel_size(int(levels_text))
        if len(buf) < header_end + size + 1:
            if time.monotonic() - self._last_rx > self.data_timeout_s:
                got = len(buf) - header_end
                self._protocol_error(f"Db;{panel};{levels_text}: {got} bytes then silence, {size} expected",
                                     "ERR DATA")
            return None
        if buf[header_end + size] != CR:
            self._protocol_error(f"Db;{panel};{levels_text}: more than {size} bytes before CR", "ERR DATA")
            return None
        data = bytes(buf[header_end:header_end + size])
        del buf[:header_end + size + 1]
        self.commands.append(f"Db;{panel};{levels_text};<{size} bytes>")
        return "Db", [panel, levels_text], data

    def _protocol_error(self, what: str, answer: str) -> None:
        """Garbage on the line: answer, then ignore input until the host falls silent (lock held)."""
        self.protocol_errors.append(what)
        self._inbuf.clear()
        self._resync_until = time.monotonic() + 0.2
        self._last = answer
        self._send(answer, query=False)

    def _wait_while_hung(self) -> None:
        with self._cond:
            while True:
                if self._stop:
                    raise _Stopped
                fault = self._active_locked().get("hang")
                if fault is None:
                    return
                wait = 0.5 if fault.until is None else max(0.0, fault.until - time.monotonic())
                self._cond.wait(min(wait, 0.5))

    def _sleep(self, seconds: float) -> None:
        """Mechanical time; a `hang` freezes the mechanism too."""
        deadline = time.monotonic() + seconds
        while True:
            self._wait_while_hung()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with self._cond:
                if self._stop:
                    raise _Stopped
                self._cond.wait(min(remaining, 0.05))

    def _execute(self, name: str, params: list[str], data: bytes | None) -> None:
        handler = getattr(self, f"_cmd_{name}", None)
        # reads (R...) and the feeder sensors (Sk) answer a value; they do not become the "last answer"
        query = handler is not None and (name.startswith("R") or name == "Sk")
        answer = "ERR CMD" if handler is None else handler(params, data) if name == "Db" else handler(params)
        if not query:
            self._last = answer
        self._send(answer, query=query)
        if name == "Pcom" and answer == "OK" and len(params) >= 6:
            self.ack_nack = params[5].upper() == "ACK/NACK"   # the new protocol starts after this answer

    # ------------------------------------------------------------------ read commands

    def _cmd_Rfv(self, p: list[str]) -> str:
        return self.firmware

    def _cmd_Rsn(self, p: list[str]) -> str:
        return self.serial

    def _cmd_Rtp(self, p: list[str]) -> str:
        return self.model

    def _cmd_Rr(self, p: list[str]) -> str:
        return str(self.state["ribbon_set"])

    def _cmd_Rem(self, p: list[str]) -> str:
        return str(self._pem) if self.primacy else f"{self._pem};0"

    def _cmd_Rco(self, p: list[str]) -> str:
        st = self.state
        ribbon_left = 0 if "marker-supply-empty" in self._active() else st["ribbon_left"]
        printed = st["panels_printed"] if self.rco_p_counts == "panels" else st["cards_ejected"]
        values = {"c": st["cards_inserted"], "p": printed, "l": ribbon_left,
                  "n": st["cleanings"], "a": CLEANING_EVERY, "m": CLEANING_EVERY}
        key = p[0] if p else ""
        return str(values[key]) if key in values else "ERR PARAMETRES"

    def _cmd_Rcr(self, p: list[str]) -> str:
        at_end = "marker-supply-empty" in self._active() or self.state["ribbon_left"] <= 0
        return "ERR RIBBON" if at_end else "OK"

    def _cmd_Rlr(self, p: list[str]) -> str:
        option = p[0] if p else ""
        if option == "p":
            if self.primacy:
                return "CARD" if self.state["card"] else "OK"
            return "ERR CARD" if self.state["card"] else "NO CARD"
        if option == "r":
            faults = self._active()
            if "media-jam" in faults or (self.state["card"] or {}).get("error") == "ERR MECHANICAL":
                return "ERR MECHANICAL"
            if "overheat" in faults:
                return "ERR HEAD TEMP"
            if self.state["since_cleaning"] >= CLEANING_EVERY:
                return "ERR NEED CLEANING"
        return self._last

    def _cmd_Rse(self, p: list[str]) -> str:
        faults = self._active()
        if self.primacy:
            # a sensor's voltage; the emulator's choice: low = cover open / no card under the sensor
            if p[:1] == ["o"]:
                return VOLTS_LOW if "cover-open" in faults else VOLTS_HIGH
            if p[:1] == ["f"]:
                empty = self.state["hopper"] <= 0 or "media-empty" in faults
                return VOLTS_LOW if empty else VOLTS_HIGH
            return VOLTS_HIGH if p else "ERR PARAMETRES"
        if p[:1] == ["o"]:
            return "OPEN" if "cover-open" in faults else "CLOSE"
        return "ERR PARAMETRES"

    # ------------------------------------------------------------------ parameter commands

    def _cmd_Pem(self, p: list[str]) -> str:
        if not p or p[0] not in ("0", "1", "2", "3", "4", "5", "16", "18"):
            return "ERR PARAMETRES"
        if self.supervised:
            self.protocol_errors.append(f"Pem;{p[0]} sent to a supervised printer")
        self._pem = int(p[0])
        return "OK"

    def _cmd_Pr(self, p: list[str]) -> str:
        if not p or p[0].lower() not in RIBBON_TYPES:
            return "ERR PARAMETRES"
        self.state["ribbon_set"] = p[0].lower()
        return "OK"

    def _cmd_Pmi(self, p: list[str]) -> str:
        return "OK" if p and p[0] in ("F", "M", "B") else "ERR PARAMETRES"

    def _cmd_Pc(self, p: list[str]) -> str:
        return "OK" if len(p) >= 2 else "ERR PARAMETRES"

    _cmd_Pl = _cmd_Pc
    _cmd_Ps = _cmd_Pc

    def _cmd_Pcom(self, p: list[str]) -> str:
        if len(p) < 5 or p[0] not in ("1", "2") or not p[1].isdigit():
            return "ERR PARAMETRES"
        return "OK"

    # ------------------------------------------------------------------ sequence commands

    def _cmd_Sk(self, p: list[str]) -> str:
        if self.primacy:
            return "ERR CMD"   # Quantum/Kiosk only; ERROR CDE on the other models
        option = p[0] if p else ""
        empty = self.state["hopper"] <= 0 or "media-empty" in self._active()
        if option == "f":
            return "1" if empty else "0"
        if option == "w":
            return "1" if empty or self.state["hopper"] <= FEEDER_WARNING else "0"
        return "OK" if option == "s" else "ERR PARAMETRES"

    def _plan(self) -> tuple[str, str]:
        try:
            return plan_for_ribbon(self.state["ribbon_set"])
        except ValueError:
            return PANEL_ORDER, "k"   # ribbons printd does not drive (hologram, half panel): any panel

    def _sequence_error(self, what: str) -> str:
        self.protocol_errors.append(what)
        return "ERR SEQUENCE"

    def _cmd_Ss(self, p: list[str]) -> str:
        if self.primacy:
            # these printers take the blank at Ss: a refusal here leaves the feeder untouched
            if self._seq is not None and self.state["card"]:
                self._reject_card()   # an unfinished sequence's blank goes to the reject box
            refused = self._before_feed()
            if refused:
                self._seq = None
                return refused
            self._feed(started=False)
            self._sleep(self.seconds_single / self.time_scale * 0.15)
        self._seq = _Sequence()   # guide: a new Ss abandons an unfinished sequence (nothing was fed yet)
        return "OK"

    def _cmd_Sr(self, p: list[str]) -> str:
        if self._seq is None or self._seq.side is not None:
            return self._sequence_error("Sr outside a sequence or after a side was chosen")
        self._seq.side = "front"
        return "OK"

    def _cmd_Sv(self, p: list[str]) -> str:
        if self._seq is None or self._seq.side == "back":
            return self._sequence_error("Sv outside a sequence or twice")
        self._seq.side = "back"
        return "OK"

    def _cmd_Db(self, p: list[str], data: bytes | None) -> str:
        panel, levels = p[0], int(p[1])
        seq = self._seq
        if seq is None or seq.side is None:
            return self._sequence_error(f"Db;{panel} before Ss and Sr/Sv")
        front_plan, back_plan = self._plan()
        allowed = front_plan if seq.side == "front" else back_plan
        if panel not in allowed:
            ribbon = self.state["ribbon_set"]
            self.protocol_errors.append(f"panel {panel!r} not on the {seq.side} of a {ribbon} ribbon")
            return "ERR PARAMETRES"
        if (panel in "ymc") != (levels != 2):
            self.protocol_errors.append(f"panel {panel} cannot be sent at {levels} levels")
            return "ERR PARAMETRES"
        done = [d["panel"] for d in seq.panels[seq.side]]
        if done and PANEL_ORDER.index(panel) <= PANEL_ORDER.index(done[-1]):
            return self._sequence_error(f"panel {panel} after {done[-1]} on the {seq.side}")
        assert data is not None
        seq.panels[seq.side].append({"panel": panel, "levels": levels, "data": data,
                                     "sha256": hashlib.sha256(data).hexdigest()})
        return "OK"

    def _cmd_Se(self, p: list[str]) -> str:
        seq, self._seq = self._seq, None
        if seq is None or (not seq.panels["front"] and not seq.panels["back"]):
            return self._sequence_error("Se without a sequence holding panels")
        return self._print_card([("front", seq.panels["front"]), ("back", seq.panels["back"])])

    def _cmd_St(self, p: list[str]) -> str:
        if self.primacy and self.state["card"] and not self.state["card"].get("started", True):
            return "ERR CARD"
        """The printer's own test card: a blank from the feeder, every panel of the ribbon."""
        front, _ = self._plan()
        panels = [{"panel": x, "levels": 2 if x in "ko" else 128, "data": b"", "sha256": "test"}
                  for x in front]
        return self._print_card([("front", panels), ("back", [])], test=True)

    def _cmd_Ser(self, p: list[str]) -> str:
        card = self.state["card"]
        if card is None:
            return "OK"
        if "media-jam" in self._active():
            return "ERR MECHANICAL"
        self.state["card"] = None
        self.state["cards_rejected"] += 1
        self._save()
        return "OK"

    def _cmd_Scs(self, p: list[str]) -> str:
        self._last = "OK"
        if self.primacy and self._scs_feeds > 0 and self.state["hopper"] > 0 and not self.state["card"]:
            # esup-sgc-client: a clear status after a fault rejects the card and feeds another
            self._scs_feeds -= 1
            self._feed(started=True)
            self._reject_card()
        return "OK"

    def _cmd_Srs(self, p: list[str]) -> str:
        self._seq = None
        if self.primacy and self.state["card"] and not self.state["card"].get("started", True):
            self._reject_card()
        return "OK"

    def _cmd_Scp(self, p: list[str]) -> str:
        if self.state["card"]:
            return "ERR CARD"
        self._sleep(self.seconds_single / self.time_scale / 2)
        self.state["cleanings"] += 1
        self.state["since_cleaning"] = 0
        self._save()
        return "OK"

    # ------------------------------------------------------------------ the mechanism

    def _feed(self, *, started: bool) -> None:
        """A blank leaves the feeder: the printer's card counter moves now, before anything else."""
        st = self.state
        st["hopper"] -= 1
        st["cards_inserted"] += 1
        st["since_cleaning"] += 1
        st["card"] = {"total": 0, "done": 0, "error": None, "test": False, "started": started}
        self._save()

    def _reject_card(self) -> None:
        self.state["card"] = None
        self.state["cards_rejected"] += 1
        self._save()

    def _before_feed(self) -> str | None:
        st, faults = self.state, self._active()
        if st["card"]:
            return "ERR CARD"
        if "cover-open" in faults:
            return "ERR COVER OPEN"
        if "overheat" in faults:
            return "ERR HEAD TEMP"
        if "media-jam" in faults:
            return "ERR MECHANICAL"
        if st["hopper"] <= 0 or "media-empty" in faults:
            return "ERR FEEDER EMPTY"
        if "marker-supply-empty" in faults or st["ribbon_left"] <= 0:
            return "ERR RIBBON"
        if st["ribbon_set"] != st["ribbon_type"]:
            return "ERR RIBBON TYPE"
        return None

    def _strike(self, done: int) -> str | None:
        """Faults that stop a card in the mechanism (armed ones become active here)."""
        with self._cond:
            for entry in [a for a in self._armed if a[1] <= done]:
                self._armed.remove(entry)
                kind, _, duration = entry
                self._faults[kind] = _Fault(kind, None if duration is None else time.monotonic() + duration)
                if kind == "offline":
                    self.link_epoch += 1
        self._wait_while_hung()
        faults = self._active()
        for kind, answer in (("media-jam", "ERR MECHANICAL"), ("cover-open", "ERR COVER OPEN"),
                             ("marker-supply-empty", "ERR RIBBON"), ("overheat", "ERR HEAD TEMP")):
            if kind in faults:
                return answer
        return None

    def _print_card(self, sides: list[tuple[str, list[dict[str, Any]]]], test: bool = False) -> str:
        st = self.state
        fed_at_ss = self.primacy and not test and bool(st["card"]) and not st["card"].get("started", True)
        if not fed_at_ss:
            refused = self._before_feed()
            if refused:
                return refused
        total = sum(len(panels) for _, panels in sides)
        dual = bool(sides[1][1])
        seconds = (self.seconds_dual if dual else self.seconds_single) / self.time_scale
        feed_s, eject_s, flip_s = seconds * 0.15, seconds * 0.10, (seconds * 0.10 if dual else 0.0)
        panel_s = (seconds - feed_s - eject_s - flip_s) / max(1, total)
        if fed_at_ss:
            st["card"].update(total=total, started=True)
            self._save()
        else:
            self._feed(started=True)
            st["card"].update(total=total, test=test)
            self._save()
            self._sleep(feed_s)
        printed: list[tuple[str, str, int, bytes]] = []
        for index, (side, panels) in enumerate(sides):
            if not panels:
                continue
            if index == 1:
                self._sleep(flip_s)
            # a YMCKO ribbon spends a whole panel set on each side; YMCKOK carries the back's K
            if index == 0 or st["ribbon_type"] != "ymckok":
                if st["ribbon_left"] <= 0:
                    return self._stop_card("ERR RIBBON")
                st["ribbon_left"] -= 1
            for panel in panels:
                problem = self._strike(st["card"]["done"])
                if problem:
                    return self._stop_card(problem)
                self._sleep(panel_s)
                st["panels_printed"] += 1
                st["card"]["done"] += 1
                self._save()
                printed.append((side, panel["panel"], panel["levels"], panel["data"]))
        self._sleep(eject_s)
        st["card"] = None
        st["cards_ejected"] += 1
        self._save()
        self.last_card = printed
        self._log_card({"test": test, "panels": [
            {"side": s, "panel": n, "levels": lv, "sha256": hashlib.sha256(d).hexdigest()}
            for s, n, lv, d in printed]})
        return "OK"

    def _stop_card(self, answer: str) -> str:
        self.state["card"]["error"] = answer
        self._save()
        return answer

    # ------------------------------------------------------------------ for diagnostics and tests

    def snapshot(self) -> dict[str, Any]:
        """The printer's memory and live conditions."""
        with self._cond:
            faults = {k: f.until for k, f in self._active_locked().items()}
            return {"state": json.loads(json.dumps(self.state)), "faults": faults, "armed": list(self._armed),
                    "ack_nack": self.ack_nack, "pem": self._pem, "dialect": self.dialect,
                    "supervised": self.supervised,
                    "protocol_errors": list(self.protocol_errors[-20:])}
