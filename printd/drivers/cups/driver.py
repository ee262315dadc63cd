"""A card printer behind its own CUPS queue (the vendor's CUPS driver, e.g. HID Fargo HDP5000).

One queue per physical printer, never a CUPS class: printd does the balancing and the failover,
because a class prints a card twice or reports a card that never printed (docs/drivers.md).

`print_card` renders the card as a CR80 PDF, submits it with the printd job id in the CUPS job title,
and follows the CUPS job to its end while probing the printer's device URI. What counts as printed,
not fed or in doubt is decided by `evidence` (rules table in docs/drivers.md, "CUPS driver").
CUPS has no card counter, so `Counters()` are always unknown: a card in flight when printd crashed
waits for the operator's word.
"""
from __future__ import annotations

import collections
import http.client
import logging
import os
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from printd.config import CupsPrinterConfig
from printd.drivers.base import (
    Card,
    Counters,
    PrinterIdentity,
    PrinterStatus,
    PrintOutcome,
    Reason,
    Severity,
)
from printd.drivers.cups.client import CupsCallTimeout, CupsClient, CupsRequestError, get_ppd, resolve_server
from printd.drivers.cups.evidence import (
    COMPLETED,
    FINAL,
    Evidence,
    JobSnapshot,
    Kind,
    Verdict,
    judge_abandoned,
    judge_final,
)
from printd.drivers.cups.ipp_probe import ProbeResult, printer_jobs, probe, probeable
from printd.drivers.cups.render import render_card_pdf
from printd.drivers.cups.status import QueueView, as_list, map_reason, markers, queue_view, supply
from printd.drivers.cups.stream import WAITING_REASON, StreamEvidence, ppd_filters, queue_kind, waiteof_off
from printd.errors import PrinterError, PrinterFault, PrinterOffline, PrinterTimeout

log = logging.getLogger("printd.drivers.cups.driver")

QUEUE_ATTRS = [
    "printer-name", "printer-state", "printer-state-reasons", "printer-state-message",
    "printer-is-accepting-jobs", "device-uri", "printer-make-and-model", "printer-info", "printer-location",
    "printer-uri-supported", "printer-uuid", "media-supported", "media-default", "sides-supported",
    "marker-names", "marker-levels", "marker-types", "marker-colors", "marker-change-time",
    "queued-job-count",
    "printer-error-policy",
]
#: what the job-following loop needs of the queue on every poll
POLL_ATTRS = ["printer-state", "printer-state-reasons", "printer-state-message", "printer-is-accepting-jobs",
              "device-uri"]
#: error policies under which CUPS never sends a job a second time by itself
SAFE_ERROR_POLICIES = frozenset({"abort-job"})
JOB_ATTRS = [
    "job-id", "job-name", "job-state", "job-state-reasons", "job-printer-state-reasons",
    "job-printer-state-message", "time-at-creation", "time-at-processing", "time-at-completed",
    "job-impressions-completed", "job-printer-uri",
]


@dataclass(frozen=True)
class _Queue:
    """One reading of the queue and (where it can be probed) its device."""

    attrs: dict[str, Any]
    device: ProbeResult | None
    view: QueueView

    @property
    def device_uri(self) -> str:
        return str(self.attrs.get("device-uri") or "")


class CupsPrinter:
    """The Driver seam for a printer reached through a CUPS queue."""

    def __init__(self, name: str, cfg: CupsPrinterConfig) -> None:
        self.name = name
        self.cfg = cfg
        self.server = resolve_server(cfg.cups_server)
        self.client = CupsClient(self.server, cfg.call_timeout_s)
        self.probe_timeout_s = min(cfg.call_timeout_s, 5.0)
        #: the driver ends a card itself (stall, vanish...) well before the station's own limit
        self.card_timeout_s = (max(cfg.seconds_single, cfg.seconds_dual) + cfg.timeout_s + cfg.probe_grace_s
                               + 6 * cfg.call_timeout_s + 10.0)
        self.status_timeout_s = 2 * cfg.call_timeout_s + self.probe_timeout_s + 1.0
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=20)
        self._lock = threading.Lock()
        self._job_id: int | None = None
        self._cancel = threading.Event()
        self._warned = False
        self._filters: list[str] | None = None

    # ------------------------------------------------------------------ reading CUPS

    def _queue_attrs(self, requested: list[str] = QUEUE_ATTRS) -> dict[str, Any]:
        q = self.cfg.queue
        try:
            attrs = self.client.call("Get-Printer-Attributes",
                                     lambda c: c.getPrinterAttributes(q, requested_attributes=requested))
        except CupsRequestError as exc:
            if exc.not_found:
                raise PrinterOffline(f"{self.client.label} has no queue named {q!r} (check "
                                     f"[printers.{self.name}] queue; `lpstat -p` lists the queues)",
                                     card_fed=False) from exc
            raise PrinterOffline(f"CUPS queue {q}: {exc}", card_fed=False) from exc
        return dict(attrs)

    def _probe(self, device_uri: str) -> ProbeResult | None:
        if not self.cfg.probe_device or not probeable(device_uri):
            return None
        return probe(device_uri, self.probe_timeout_s)

    def _read_queue(self) -> _Queue:
        attrs = self._queue_attrs()
        device = self._probe(str(attrs.get("device-uri") or ""))
        live = device.attrs if device is not None and device.reachable and device.attrs else None
        return _Queue(attrs, device, queue_view(self.cfg.queue, attrs, live))

    def _job(self, job_id: int) -> JobSnapshot:
        attrs = self.client.call("Get-Job-Attributes",
                                 lambda c: c.getJobAttributes(job_id, requested_attributes=JOB_ATTRS))
        return JobSnapshot.from_attrs(job_id, attrs)

    # ------------------------------------------------------------------ Driver: open, status

    def open(self) -> PrinterIdentity:
        """Check that CUPS answers and the queue exists; identify the printer from the queue."""
        attrs = self._queue_attrs()
        uri = str(attrs.get("device-uri") or "")
        device = self._probe(uri)
        live = device.attrs if device is not None and device.reachable else {}
        dev_id = _device_id(str((live.get("printer-device-id") or [""])[0] or ""))
        serial = (parse_qs(urlsplit(uri).query).get("serial", [None])[0] or dev_id.get("SN")
                  or dev_id.get("SERN") or str((live.get("printer-uuid") or [""])[0] or "")
                  or str(attrs.get("printer-uuid") or "") or "unknown")
        model = str((live.get("printer-make-and-model") or [None])[0] or attrs.get("printer-make-and-model")
                    or self.cfg.queue)
        self._check_queue_setup(attrs)
        return PrinterIdentity(
            model=model, serial=serial,
            firmware=(live.get("printer-firmware-string-version") or [None])[0],
            vendor=dev_id.get("MFG") or dev_id.get("MANUFACTURER") or model.split(" ")[0],
            link={"cups_server": self.client.label, "queue": self.cfg.queue, "device_uri": uri,
                  "printer_uri": as_list(attrs.get("printer-uri-supported"))[:1],
                  "queue_kind": queue_kind(uri), "ppd_filters": self._ppd_filters(),
                  "device_probe": ("none" if not (self.cfg.probe_device and probeable(uri))
                                   else "tcp" if queue_kind(uri) == "stream" else "ipp")})

    def _ppd_filters(self) -> list[str]:
        """The filter programs the queue's PPD names (the vendor's raster filter); [] if none or unknown."""
        if self._filters is not None:
            return self._filters
        try:
            text = get_ppd(self.server, self.cfg.queue, self.probe_timeout_s)
        except (OSError, http.client.HTTPException) as exc:   # not known now; asked again next time
            log.debug("%s: could not read the PPD of CUPS queue %s: %s", self.name, self.cfg.queue, exc)
            return []
        self._filters = ppd_filters(text or "")
        return self._filters

    def _check_queue_setup(self, attrs: dict[str, Any]) -> None:
        """Warn once about queue settings that work against printd (see docs/drivers.md)."""
        if self._warned:
            return
        self._warned = True
        if self._media_option(attrs) is None and self.cfg.media:
            log.warning("%s: CUPS queue %s does not list media %s; cards are sent with the queue's default "
                        "media (%s)", self.name, self.cfg.queue, self.cfg.media, attrs.get("media-default"))
        uri = str(attrs.get("device-uri") or "")
        if queue_kind(uri) == "stream" and waiteof_off(uri):
            log.warning("%s: CUPS queue %s sends with waiteof=false: CUPS then reports a card done as soon as "
                        "its bytes left this PC; remove waiteof=false from the device URI", self.name,
                        self.cfg.queue)
        policy = str(attrs.get("printer-error-policy") or "")
        if policy and policy not in SAFE_ERROR_POLICIES:
            log.warning("%s: CUPS queue %s has printer-error-policy %s: CUPS may send a card job twice; set "
                        "`lpadmin -p %s -o printer-error-policy=abort-job`",
                        self.name, self.cfg.queue, policy, self.cfg.queue)

    def status(self) -> PrinterStatus:
        """The queue's state and reasons merged with the device's own answer; PrinterOffline if gone."""
        q = self._read_queue()
        if q.device is not None and not q.device.reachable:
            raise PrinterOffline(f"printer of CUPS queue {self.cfg.queue} at {q.device_uri} does not answer "
                                 f"({q.device.error})", card_fed=False)
        source = q.device.attrs if q.device is not None and q.device.attrs.get("marker-names") else q.attrs
        found = markers(source)
        empty = any(r.keyword == Reason.MEDIA_EMPTY and r.severity != Severity.REPORT for r in q.view.reasons)
        return PrinterStatus(
            state=q.view.state, reasons=q.view.reasons,
            ribbon=supply(found, ("ribbon",), self.cfg.ribbon_capacity),
            film=supply(found, ("film", "retransfer"), self.cfg.film_capacity),
            hopper_card_type=self.cfg.card_type,
            hopper_empty=True if empty else None,
            counters=Counters(),     # CUPS has no card counter
            raw={"cups_state": q.attrs.get("printer-state"),
                 "cups_reasons": as_list(q.attrs.get("printer-state-reasons")),
                 "cups_message": q.view.message, "accepting": q.view.accepting, "enabled": q.view.enabled,
                 "device_uri": q.device_uri,
                 "device_reasons": (q.device.attrs.get("printer-state-reasons") if q.device else None),
                 "markers": [m.__dict__ for m in found]})

    # ------------------------------------------------------------------ Driver: print_card

    def print_card(self, card: Card) -> PrintOutcome:
        """Submit the card to the queue and block until the CUPS job's end proves what happened."""
        t0 = time.monotonic()
        self._cancel.clear()
        q = self._precheck()
        baseline = frozenset(str(r) for r in as_list(q.attrs.get("printer-state-reasons")))
        stream = queue_kind(q.device_uri) == "stream"
        ev = Evidence(baseline_queue_reasons=baseline, stream=StreamEvidence() if stream else None)
        ev.observe_device(q.device)
        options = self._options(card, q.attrs)
        # lpstat and the printer's log are matched to printd jobs by this title
        title = card.title if card.job_id in card.title else f"printd {card.job_id} #{card.attempt}"
        job_id = self._submit(card, title, options)
        try:
            verdict = self._follow(job_id, card, title, ev, t0)
        finally:
            with self._lock:
                self._job_id = None
        self._remember(card, job_id, verdict)
        if verdict.printed:
            return PrintOutcome(counters_before=Counters(), counters_after=Counters(),
                                duration_s=time.monotonic() - t0,
                                detail={"cups_job_id": job_id, "queue": self.cfg.queue, "job_name": title,
                                        "options": options, "device_uri": q.device_uri, "rule": verdict.rule,
                                        "job": ev.last.as_dict() if ev.last else None,
                                        "printer_record": next(iter(ev.printer_records or []), None),
                                        "printer_record_note": ev.printer_records_note})
        raise _exception(verdict)

    def _precheck(self) -> _Queue:
        """Refuse (card_fed=False) when the queue or the printer cannot take the card now."""
        q = self._read_queue()
        name = self.cfg.queue
        if not q.view.accepting or not q.view.enabled:
            blocking = [r for r in q.view.reasons if r.keyword == Reason.PAUSED]
            raise PrinterFault("; ".join(r.message or r.keyword for r in blocking) + "; card not sent",
                               reasons=("paused", *(r.vendor_code or "" for r in blocking)), card_fed=False)
        if q.device is not None and not q.device.reachable:
            raise PrinterOffline(f"printer of CUPS queue {name} at {q.device_uri} does not answer "
                                 f"({q.device.error}); card not sent", card_fed=False)
        errors = [r for r in q.view.reasons if r.severity == Severity.ERROR]
        if errors:
            said = ", ".join(r.vendor_code or r.keyword for r in errors)
            raise PrinterFault(f"printer of CUPS queue {name} reports {said}; card not sent",
                               reasons=tuple(r.keyword for r in errors), card_fed=False,
                               vendor_code=errors[0].vendor_code)
        return q

    def _media_option(self, attrs: dict[str, Any]) -> str | None:
        supported = [str(m) for m in as_list(attrs.get("media-supported"))]
        # an unsupported media makes an IPP printer cancel the job after it reached it (measured):
        # better the queue's own default, which for a card printer is the card
        if self.cfg.media and (not supported or self.cfg.media in supported):
            return self.cfg.media
        return None

    def _options(self, card: Card, attrs: dict[str, Any]) -> dict[str, str]:
        options = {"copies": "1",      # a queue default of 2 copies would feed two blanks
                   "sides": "two-sided-long-edge" if card.back_png is not None else "one-sided"}
        media = self._media_option(attrs)
        if media:
            options["media"] = media
        return options

    def _submit(self, card: Card, title: str, options: dict[str, str]) -> int:
        """Print-Job with the card as a PDF; the job id, or PrinterFault/PrinterOffline."""
        pdf = render_card_pdf(card.front_png, card.back_png)
        # personal data: a private file (mode 0600), removed as soon as CUPS has its copy
        fd, path = tempfile.mkstemp(prefix="printd-card-", suffix=".pdf")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pdf)
            try:
                job_id = int(self.client.call(
                    "Print-Job", lambda c: c.printFile(self.cfg.queue, path, title, options)))
            except CupsRequestError as exc:
                if exc.definite:
                    reason = "paused" if exc.status == 0x0506 else "other"    # not-accepting-jobs
                    raise PrinterFault(f"CUPS queue {self.cfg.queue} refused the card: {exc}",
                                       reasons=(reason,), card_fed=False) from exc
                return self._find_submitted(title, exc)
            except CupsCallTimeout as exc:
                return self._find_submitted(title, exc)
        finally:
            os.unlink(path)
        with self._lock:
            self._job_id = job_id
        log.info("%s: card %s sent as CUPS job %d on %s", self.name, title, job_id, self.cfg.queue)
        return job_id

    def _find_submitted(self, title: str, cause: Exception) -> int:
        """The submission's answer was lost: find the job by its title, or give the card up as in doubt."""
        time.sleep(min(1.0, self.cfg.call_timeout_s))
        try:
            jobs = self.client.call("Get-Jobs", lambda c: c.getJobs(
                which_jobs="all", requested_attributes=["job-id", "job-name", "job-printer-uri"]))
        except (PrinterError, CupsRequestError) as exc:
            raise PrinterFault(f"CUPS did not confirm the card ({cause}) and cannot be asked ({exc}); "
                               f"the card may print later", reasons=("offline",), card_fed=None) from exc
        mine = [jid for jid, a in jobs.items() if a.get("job-name") == title]
        if mine:
            job_id = int(max(mine))
            with self._lock:
                self._job_id = job_id
            log.warning("%s: lost answer to Print-Job (%s); found CUPS job %d by its title",
                        self.name, cause, job_id)
            return job_id
        # the abandoned request may still create the job: nobody can say no card will be fed
        raise PrinterFault(f"CUPS did not confirm the card ({cause}) and has no job titled {title!r} yet; "
                           f"it may still print", reasons=("offline",), card_fed=None) from cause

    def _follow(self, job_id: int, card: Card, title: str, ev: Evidence, t0: float) -> Verdict:
        """Poll the job (and the device) until CUPS ends it or the evidence says give up."""
        cfg = self.cfg
        expected = cfg.seconds_dual if card.back_png is not None else cfg.seconds_single
        hard_deadline = t0 + expected + cfg.timeout_s
        last_progress = time.monotonic()
        last_key: tuple[Any, ...] | None = None
        cups_error: str | None = None
        while True:
            if self._cancel.is_set():
                return self._abandon(job_id, ev, kind="fault", reason="other", rule="X1",
                                     why=f"printd canceled CUPS job {job_id}")
            now = time.monotonic()
            try:
                snap = self._job(job_id)
                queue = self._queue_attrs(POLL_ATTRS)
                cups_error = None
            except CupsRequestError as exc:
                if exc.not_found:
                    ev.cups_lost_track = True
                    return Verdict("fault", None, ("other",),
                                   f"CUPS no longer knows job {job_id} (its history was purged or cupsd "
                                   f"lost it); whether the card printed is unknown", "L1")
                cups_error = str(exc)
                if ev.stream is not None and ev.started:
                    return self._cancel_when_cups_returns(job_id, ev, cups_error)
            except PrinterOffline as exc:     # cupsd restarting or hung: keep trying until the deadlines
                cups_error = str(exc)
                if ev.stream is not None and ev.started:
                    return self._cancel_when_cups_returns(job_id, ev, cups_error)
            else:
                ev.observe(snap)
                ev.observe_queue(str(r) for r in as_list(queue.get("printer-state-reasons")))
                if ev.stream is not None:
                    self._observe_stream(ev, ev.stream, snap, queue)
                if snap.progress_key != last_key:
                    last_key, last_progress = snap.progress_key, now
                if snap.final:
                    if snap.state == COMPLETED and ev.stream is not None:
                        ev.stream_waited_s = ev.stream.waited_for() if ev.stream.waiting_since else None
                        self._settle_stream(ev, str(queue.get("device-uri") or ""))
                    elif snap.state == COMPLETED:
                        self._ask_printer(ev, title, str(queue.get("device-uri") or ""))
                    else:      # the printer's own word on why (a jam, ribbon out...) names the fault
                        ev.observe_device(self._probe(str(queue.get("device-uri") or "")))
                    return judge_final(snap, ev)
                if ev.stream is not None and ev.stream.sent_again:
                    return self._abandon(job_id, ev, kind="fault", reason="other", rule="K2",
                                         why=f"CUPS job {job_id}: CUPS began sending the card to the printer a "
                                             f"second time after it had sent every byte (cupsd restarted?)")
                if ev.stream is not None and ev.stream.write_failed:
                    return self._abandon(job_id, ev, kind="fault", reason="other", rule="K1",
                                         why=f"CUPS job {job_id}: the connection to the printer broke mid-card "
                                             f"({ev.stream.write_failed})")
                if ev.stream is not None and ev.stream.failing_for() >= cfg.probe_grace_s:
                    return self._abandon(job_id, ev, kind="offline", reason="offline", rule="N1",
                                         why=f"CUPS could not reach the printer at {queue.get('device-uri')} "
                                             f"for {ev.stream.failing_for():.0f} s "
                                             f"({ev.stream.connect_failure})")
                if ev.resent or ev.regressed:
                    why = "CUPS sent the job to the printer a second time" if ev.resent else ev.regressed
                    return self._abandon(job_id, ev, kind="fault", reason="other", rule="R1",
                                         why=f"CUPS job {job_id}: {why} (queue stopped or cupsd "
                                             f"restarted mid-card)")
                if not ev.started and (int(queue.get("printer-state") or 3) == 5
                                       or not queue.get("printer-is-accepting-jobs", True)):
                    return self._abandon(job_id, ev, kind="fault", reason="paused", rule="Q1",
                                         why=f"CUPS queue {cfg.queue} was stopped before it sent the card "
                                             f"({queue.get('printer-state-message') or 'no reason given'})")
                if ev.stream is None:
                    # a port-9100 printer serves one connection: never probe it while the backend holds it
                    ev.observe_device(self._probe(str(queue.get("device-uri") or "")))
                lost_for = ev.device_lost_for(time.time())
                if lost_for >= cfg.probe_grace_s:
                    return self._abandon(job_id, ev, kind="offline", reason="offline", rule="V1",
                                         why=f"the printer at {queue.get('device-uri')} stopped answering "
                                             f"({ev.device_lost_error}) for {lost_for:.0f} s with CUPS job "
                                             f"{job_id} {snap.state_name}")
                if ev.device_restarted:
                    return self._abandon(job_id, ev, kind="fault", reason="offline", rule="V2",
                                         why=f"CUPS job {job_id}: {ev.device_restarted}")
            if now - last_progress > cfg.timeout_s or now > hard_deadline:
                where = f"CUPS unreachable: {cups_error}" if cups_error else \
                    f"CUPS job {job_id} {ev.last.state_name if ev.last else 'unknown'}"
                what = (f"no progress for {now - last_progress:.0f} s" if now <= hard_deadline
                        else f"card not done within {expected + cfg.timeout_s:.0f} s")
                return self._abandon(job_id, ev, kind="timeout", reason="offline", rule="T1",
                                     why=f"{what} ({where})")
            self._cancel.wait(cfg.poll_interval_s)

    def _cancel_when_cups_returns(self, job_id: int, ev: Evidence, cups_error: str) -> Verdict:
        """CUPS went away with a stream card in flight: cancel the job the moment CUPS answers again.

        A cupsd that restarts puts every job it was printing back to pending and sends it again from
        the start at once (measured; `scheduler/job.c` of CUPS 2.4 turns processing jobs into pending
        ones when it loads them). If the printer had the whole stream already, that second send is a
        second card, so printd retries Cancel-Job every 50 ms until cupsd takes it: the second stream
        is then cut off while the vendor filter is still rendering it. The card stays in doubt (K2).
        """
        assert ev.stream is not None
        ev.stream.cups_gone = cups_error
        deadline = time.monotonic() + self.cfg.timeout_s
        while time.monotonic() < deadline:
            try:
                self.client.call("Cancel-Job", lambda c: c.cancelJob(job_id), timeout=self.cfg.call_timeout_s)
                break
            except CupsRequestError as exc:       # cupsd answered: the job has ended (or is gone)
                log.info("%s: cancel of CUPS job %d after cupsd came back: %s", self.name, job_id, exc)
                break
            except PrinterOffline:
                time.sleep(0.05)
        log.warning("%s: CUPS was unreachable with card job %d in flight (%s); canceled it as CUPS came back",
                    self.name, job_id, cups_error)
        return self._abandon(job_id, ev, kind="fault", reason="other", rule="K2",
                             why=f"CUPS did not answer with CUPS job {job_id} in flight ({cups_error}); a "
                                 f"restarted cupsd sends the card again")

    def _observe_stream(self, ev: Evidence, st: StreamEvidence, snap: JobSnapshot, queue: dict[str, Any]) -> None:
        """Read the backend's phase and the status monitor's word for a stream queue."""
        reasons = {str(r) for r in as_list(queue.get("printer-state-reasons"))}
        st.observe((snap.message, str(queue.get("printer-state-message") or "")),
                   reasons - ev.baseline_queue_reasons)
        if st.waiting_since is None and ev.started and WAITING_REASON in reasons:
            # the keyword may be a leftover of the last card (then the wait is counted from earlier,
            # which only makes K3 stricter; it is not taken as "all sent"); it is not translated
            st.waiting_since = time.monotonic()
        for raw in sorted(ev.new_queue_reasons):
            mapped = map_reason(raw, source="status monitor")
            if mapped is not None and mapped.severity == Severity.ERROR and not raw.startswith("cups-") \
                    and mapped.keyword != Reason.PAUSED and raw not in st.monitor_errors:
                st.monitor_errors.append(raw)

    def _settle_stream(self, ev: Evidence, device_uri: str) -> None:
        """After a stream queue's completion: does the printer still answer? (up to probe_grace_s)

        CUPS completes a socket job when the printer closes the connection, and also when the
        printer resets or loses power after the last byte (measured): a printer that does not answer
        right after is the sign of the second.
        """
        if not self.cfg.probe_device or not probeable(device_uri):
            ev.printer_records_note = "stream queue; printer not probed after the card"
            return
        deadline = time.monotonic() + self.cfg.probe_grace_s
        while True:
            result = self._probe(device_uri)
            ev.observe_device(result)
            if result is None or result.reachable or time.monotonic() >= deadline:
                return
            time.sleep(min(self.cfg.poll_interval_s, 0.5))

    def _ask_printer(self, ev: Evidence, title: str, device_uri: str) -> None:
        """Read the printer's own record of the job (IPP Get-Jobs), matched by its job-name.

        CUPS's IPP backend has been seen to report a job completed although the printer aborted it
        (a race between its two ways of watching the job), so for IPP printers the printer's record
        is the proof. Unavailable (usb, probe off, no Get-Jobs, names hidden): CUPS's word stands.
        """
        if not self.cfg.probe_device or not probeable(device_uri):
            ev.printer_records_note = "device cannot be asked"
            return
        deadline = time.monotonic() + max(2.0, 4 * self.cfg.poll_interval_s)
        while True:
            try:
                jobs = printer_jobs(device_uri, self.probe_timeout_s, "all")
            except (OSError, http.client.HTTPException, struct.error) as exc:
                ev.device_lost_since = ev.device_lost_since or time.time()
                ev.device_lost_error = f"Get-Jobs: {type(exc).__name__}: {exc}"
                return
            except ValueError as exc:      # the printer refuses Get-Jobs: it cannot tell
                ev.printer_records_note = f"printer does not list jobs: {exc}"
                return
            if jobs is None:
                ev.printer_records_note = "device URI is not IPP"
                return
            if jobs and not any(isinstance(j.get("job-name"), str) and j.get("job-name") for j in jobs):
                ev.printer_records_note = "printer hides job names"
                return
            mine = [j for j in jobs if j.get("job-name") == title]
            if all(j.get("job-state") in FINAL for j in mine) or time.monotonic() > deadline:
                ev.printer_records = mine
                return
            time.sleep(self.cfg.poll_interval_s)

    def _abandon(self, job_id: int, ev: Evidence, *, kind: Kind, reason: str, why: str, rule: str) -> Verdict:
        """Cancel the CUPS job (so it cannot print later, unseen) and judge what is left."""
        try:
            self.client.call("Cancel-Job", lambda c: c.cancelJob(job_id))
        except (PrinterError, CupsRequestError) as exc:   # already ended, or CUPS away: judged below
            log.debug("%s: could not cancel CUPS job %d: %s", self.name, job_id, exc)
        after: JobSnapshot | None = None
        deadline = time.monotonic() + max(2.0, 2 * self.cfg.call_timeout_s)
        while time.monotonic() < deadline:
            try:
                after = self._job(job_id)
            except (PrinterError, CupsRequestError):
                after = None
            if after is not None and after.final:
                break
            time.sleep(min(0.2, self.cfg.poll_interval_s))
        if after is not None:
            ev.observe(after)
        return judge_abandoned(after, ev, kind=kind, reason=reason, why=why, rule=rule)

    def _remember(self, card: Card, job_id: int, verdict: Verdict) -> None:
        with self._lock:
            self.recent.append({"at": time.time(), "job_id": card.job_id, "attempt": card.attempt,
                                "cups_job_id": job_id,
                                "outcome": verdict.kind, "card_fed": verdict.card_fed, "rule": verdict.rule,
                                "reasons": list(verdict.reasons), "message": verdict.message})
        if not verdict.printed:
            log.warning("%s: %s [rule %s, card_fed=%s]", self.name, verdict.message, verdict.rule,
                        verdict.card_fed)

    # ------------------------------------------------------------------ Driver: cancel, diagnostics, close

    def cancel(self) -> None:
        """Cancel the CUPS job in flight; returns at once (print_card then reports how the card ended).

        The print loop sees the request within one poll and cancels the job itself; the request sent
        from here too covers a print thread that is stuck in a CUPS call. Never blocks the caller (the
        station calls this from its event loop).
        """
        self._cancel.set()
        with self._lock:
            job_id = self._job_id
        if job_id is None:
            return

        def send() -> None:
            try:
                self.client.call("Cancel-Job", lambda c: c.cancelJob(job_id))
            except (PrinterError, CupsRequestError) as exc:
                log.debug("%s: cancel of CUPS job %d: %s", self.name, job_id, exc)

        threading.Thread(target=send, name=f"cups-cancel-{self.name}", daemon=True).start()

    def diagnostics(self) -> dict[str, Any]:
        """Queue attributes, device URI and probe, state, reasons, markers, recent CUPS jobs of this queue."""
        out: dict[str, Any] = {"driver": "cups", "queue": self.cfg.queue, "cups_server": self.client.label,
                               "card_timeout_s": self.card_timeout_s}
        with self._lock:
            out["recent_cards"] = list(self.recent)
        try:
            q = self._read_queue()
        except (PrinterError, CupsRequestError) as exc:
            out["error"] = str(exc)
            return out
        out["queue_attributes"] = _jsonable(q.attrs)
        out["device_uri"] = q.device_uri
        out["queue_kind"] = queue_kind(q.device_uri)
        out["ppd_filters"] = self._ppd_filters()
        out["device_probe"] = None if q.device is None else {
            "reachable": q.device.reachable, "error": q.device.error, "attributes": _jsonable(q.device.attrs)}
        out["state"] = q.view.state.value
        out["accepting"] = q.view.accepting
        out["enabled"] = q.view.enabled
        out["reasons"] = [{"keyword": r.keyword, "severity": r.severity.value, "raw": r.vendor_code,
                           "message": r.message} for r in q.view.reasons]
        out["markers"] = [m.__dict__ for m in markers(q.attrs)]
        out["media_sent"] = self._media_option(q.attrs)
        try:
            jobs = self.client.call("Get-Jobs",
                                    lambda c: c.getJobs(which_jobs="all", requested_attributes=JOB_ATTRS))
        except (PrinterError, CupsRequestError) as exc:
            out["jobs_error"] = str(exc)
            jobs = {}
        suffix = f"/{self.cfg.queue}"
        mine = sorted((jid for jid, a in jobs.items() if str(a.get("job-printer-uri", "")).endswith(suffix)),
                      reverse=True)[:20]
        out["recent_jobs"] = [JobSnapshot.from_attrs(jid, jobs[jid]).as_dict()
                              | {"job_name": jobs[jid].get("job-name")} for jid in mine]
        return out

    def close(self) -> None:
        """Nothing to release: every CUPS call has its own connection."""


def _exception(v: Verdict) -> PrinterError:
    """The seam's exception for a verdict that is not `printed`."""
    if v.kind == "timeout" and v.card_fed is None:
        return PrinterTimeout(v.message, reasons=v.reasons or ("offline",))
    if v.kind == "offline" and v.card_fed is False:
        return PrinterOffline(v.message, card_fed=False, reasons=v.reasons or ("offline",))
    return PrinterFault(v.message, reasons=v.reasons or ("other",), card_fed=v.card_fed)


def _device_id(text: str) -> dict[str, str]:
    """IEEE 1284 device id `MFG:HID;MDL:HDP5000;SN:123;` as a dict."""
    out = {}
    for part in text.split(";"):
        key, sep, value = part.partition(":")
        if sep:
            out[key.strip().upper()] = value.strip()
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
