"""What a CUPS job's history proves about the card: the evidence rules of the CUPS driver.

CUPS's word "completed" is not proof that a card was printed (a printer that restarts without the
job is reported completed), and its "processing" is not proof that the printer has the job (the
backend may still be waiting for the printer). These rules decide, from what the driver saw while
following the job, whether to report the card printed, not fed (`card_fed=False`, the job may go to
the other printer) or in doubt (`card_fed=None`, the operator settles it). The table in
docs/drivers.md ("CUPS driver") lists them with the same rule ids; keep the two in step.

The principle: printed only on a clean CUPS completion with nothing that contradicts it; not fed
only when CUPS shows the job never started processing (so no byte reached the printer); in doubt
for everything else.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from printd.drivers.base import DEFAULT_SEVERITY, Reason, Severity
from printd.drivers.cups.ipp_probe import ProbeResult
from printd.drivers.cups.status import as_list, map_reason, split_suffix
from printd.drivers.cups.stream import WAITEOF_GAVE_UP_S, StreamEvidence, phase

PENDING, HELD, PROCESSING, STOPPED, CANCELED, ABORTED, COMPLETED = 3, 4, 5, 6, 7, 8, 9
FINAL = frozenset({CANCELED, ABORTED, COMPLETED})
STATE_NAMES = {PENDING: "pending", HELD: "pending-held", PROCESSING: "processing",
               STOPPED: "processing-stopped", CANCELED: "canceled", ABORTED: "aborted",
               COMPLETED: "completed"}
#: job-state-reasons a cleanly completed CUPS job carries (measured on CUPS 2.4: processing-to-stop-point)
CLEAN_COMPLETION = frozenset({"none", "job-completed-successfully", "job-completed-with-warnings",
                              "processing-to-stop-point", "job-printing"})
#: printer reasons with which CUPS's IPP backend says it lost track of the job at the printer
LOST_TRACK_PREFIX = "cups-ipp-"
#: seconds of printer-up-time jitter tolerated before a probe counts as "the printer restarted"
RESTART_TOLERANCE_S = 3.0

Kind = Literal["printed", "fault", "timeout", "offline"]


@dataclass(frozen=True)
class JobSnapshot:
    """One reading of a CUPS job's attributes."""

    job_id: int
    state: int
    reasons: tuple[str, ...]
    time_at_processing: int | None
    printer_reasons: tuple[str, ...]     # job-printer-state-reasons: the queue's reasons, as of this job
    message: str
    impressions: int | None = None

    @classmethod
    def from_attrs(cls, job_id: int, attrs: Mapping[str, Any]) -> JobSnapshot:
        tap = attrs.get("time-at-processing")
        imp = attrs.get("job-impressions-completed")
        return cls(job_id=job_id, state=int(attrs.get("job-state") or 0),
                   reasons=tuple(str(r) for r in as_list(attrs.get("job-state-reasons"))),
                   time_at_processing=tap if isinstance(tap, int) and tap > 0 else None,
                   printer_reasons=tuple(str(r) for r in as_list(attrs.get("job-printer-state-reasons"))),
                   message=str(attrs.get("job-printer-state-message") or ""),
                   impressions=imp if isinstance(imp, int) else None)

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, str(self.state))

    @property
    def progress_key(self) -> tuple[Any, ...]:
        """What changes when a job makes progress (a stall is `timeout_s` without a change)."""
        return (self.state, self.reasons, self.time_at_processing, self.printer_reasons, self.impressions)

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "state": self.state_name, "job_state_reasons": list(self.reasons),
                "time_at_processing": self.time_at_processing, "printer_reasons": list(self.printer_reasons),
                "message": self.message}


@dataclass
class Evidence:
    """Everything seen while following one CUPS job; the rules judge from this."""

    baseline_queue_reasons: frozenset[str] = frozenset()
    last: JobSnapshot | None = None
    first_processing: int | None = None
    seen_processing: bool = False
    regressed: str | None = None          # went back to pending/held/stopped after processing
    resent: bool = False                  # time-at-processing changed: CUPS sent the job again
    new_queue_reasons: set[str] = field(default_factory=set)
    device_booted_at: float | None = None
    device_lost_since: float | None = None
    device_lost_error: str | None = None
    device_restarted: str | None = None
    device_probed_while_started: bool = False
    baseline_device_reasons: frozenset[str] = frozenset()
    #: printer-state-reasons the printer itself reported after the job started (and not before)
    new_device_reasons: list[str] = field(default_factory=list)
    cups_lost_track: bool = False         # CUPS no longer knows the job
    #: the printer's own records of jobs with this card's title (IPP Get-Jobs); None: not available
    printer_records: list[dict[str, Any]] | None = None
    printer_records_note: str | None = None   # why the printer was not asked, or could not tell
    #: the backend's story on a stream queue (socket://, lpd://); None on IPP and local queues
    stream: StreamEvidence | None = None
    #: on a stream queue: seconds between the backend's "waiting for printer to finish" and completion
    stream_waited_s: float | None = None

    @property
    def started(self) -> bool:
        """CUPS began processing the job: from here on the printer may have it."""
        return self.seen_processing or self.first_processing is not None

    def observe(self, snap: JobSnapshot) -> None:
        """Record one reading of the job."""
        if snap.time_at_processing is not None:
            if self.first_processing is None:
                self.first_processing = snap.time_at_processing
            elif snap.time_at_processing != self.first_processing:
                self.resent = True
        if snap.state == PROCESSING:
            self.seen_processing = True
        elif self.started and snap.state in (PENDING, HELD, STOPPED) and self.regressed is None:
            self.regressed = f"job went back to {snap.state_name} after processing"
        self.last = snap

    def observe_queue(self, reasons: Iterable[str]) -> None:
        """Record the queue's printer-state-reasons during the job (new ones only)."""
        self.new_queue_reasons |= set(reasons) - self.baseline_queue_reasons

    def observe_device(self, result: ProbeResult | None) -> None:
        """Record one probe of the device (None: the device URI cannot be probed)."""
        if result is None:
            return
        if not result.reachable:
            if self.device_lost_since is None:
                self.device_lost_since = result.at
            self.device_lost_error = result.error
            return
        self.device_lost_since = None
        said = [str(r) for r in result.attrs.get("printer-state-reasons") or []]
        if not self.started:
            self.baseline_device_reasons = frozenset(said)
        else:
            self.new_device_reasons.extend(r for r in said if r not in self.baseline_device_reasons
                                           and r not in self.new_device_reasons)
        booted = result.booted_at
        if booted is None:
            return
        if self.started:
            self.device_probed_while_started = True
            if self.device_booted_at is not None and booted > self.device_booted_at + RESTART_TOLERANCE_S \
                    and self.device_restarted is None:
                up = result.first("printer-up-time")
                self.device_restarted = f"the printer restarted while the job was at it (up {up} s)"
        else:
            self.device_booted_at = booted     # a restart before CUPS sends the job does not matter

    def device_lost_for(self, now: float) -> float:
        return 0.0 if self.device_lost_since is None else now - self.device_lost_since


@dataclass(frozen=True)
class Verdict:
    """The driver's conclusion about the card."""

    kind: Kind
    card_fed: bool | None
    reasons: tuple[str, ...]
    message: str
    rule: str

    @property
    def printed(self) -> bool:
        return self.kind == "printed"


def _printer_side_reasons(snap: JobSnapshot | None, default: str,
                          device: Iterable[str] = ()) -> tuple[str, ...]:
    """printd keyword first (the most telling reason the printer gave), then the raw keywords.

    `device`: reasons the printer itself reported during the job (device probe). CUPS's copy of them
    on the job often lags (measured: a jam the printer reported with the job it aborted was not yet
    in job-printer-state-reasons), so a stopping condition the printer reported names the fault when
    CUPS's copy does not.
    """
    said = snap.printer_reasons if snap else ()
    raw = [r for r in dict.fromkeys((*said, *device)) if r not in ("none", "cups-waiting-for-job-completed")]
    best = None
    for r in said:
        mapped = map_reason(r, source="job")
        if mapped and mapped.keyword != Reason.OTHER and mapped.severity != Severity.REPORT \
                and mapped.keyword != Reason.PAUSED:
            best = mapped.keyword
            break
    if best is None:
        for r in device:
            mapped = map_reason(r, source="printer")
            # graded by the printer's own activity (ippeveprinter: -report once idle): the keyword counts
            if mapped and mapped.keyword != Reason.OTHER \
                    and DEFAULT_SEVERITY.get(mapped.keyword) == Severity.ERROR:
                best = mapped.keyword
                break
    return (best or default, *raw)


def judge_final(snap: JobSnapshot, ev: Evidence, *, canceled_by_printd: str | None = None) -> Verdict:
    """Judge a job CUPS reports final (completed, canceled, aborted)."""
    jid = snap.job_id
    if snap.state == COMPLETED:
        # these keywords stick to the queue (even across cupsd restarts, until it is re-created):
        # only the ones that appeared during this card speak about it
        lost = sorted({r for r in (*snap.printer_reasons, *ev.new_queue_reasons)
                       if split_suffix(r)[0].startswith(LOST_TRACK_PREFIX)} - ev.baseline_queue_reasons)
        if lost:
            return Verdict("fault", None, ("other", *lost),
                           f"CUPS job {jid} reported completed, but CUPS lost track of it at the printer "
                           f"({', '.join(lost)}): the printer may have restarted without printing it", "C2")
        if ev.device_restarted:
            return Verdict("fault", None, ("offline",),
                           f"CUPS job {jid} reported completed, but {ev.device_restarted}", "C3")
        if ev.device_lost_since is not None and ev.stream is None:     # stream queues: K5
            return Verdict("fault", None, ("offline",),
                           f"CUPS job {jid} reported completed while the printer did not answer "
                           f"({ev.device_lost_error})", "C3")
        if ev.resent or ev.regressed:
            why = "CUPS sent it to the printer more than once" if ev.resent else ev.regressed
            return Verdict("fault", None, ("other",),
                           f"CUPS job {jid} completed, but {why}: the card may have printed twice or not "
                           f"at all", "C4")
        if ev.stream is not None:
            verdict = _judge_stream_completion(snap, ev, ev.stream)
            if verdict is not None:
                return verdict
        odd = sorted(set(snap.reasons) - CLEAN_COMPLETION)
        if odd:
            return Verdict("fault", None, ("other", *odd),
                           f"CUPS job {jid} completed with job-state-reasons {', '.join(odd)}", "C5")
        records = ev.printer_records
        if records is not None:
            if not records:
                return Verdict("fault", None, ("other",),
                               f"CUPS job {jid} reported completed, but the printer has no record of it "
                               f"(it restarted or lost the job)", "C7")
            states = [STATE_NAMES.get(r.get("job-state") or 0, str(r.get("job-state"))) for r in records]
            if len(records) > 1 or records[0].get("job-state") != COMPLETED:
                said = [str(x) for r in records for x in as_list(r.get("job-state-reasons"))]
                return Verdict("fault", None, ("other", *said),
                               f"CUPS job {jid} reported completed, but the printer's own record says "
                               f"{', '.join(states)} ({', '.join(said) or 'no reasons'})", "C6")
            return Verdict("printed", True, (), f"CUPS job {jid} completed, confirmed by the printer", "C1")
        if ev.stream is not None:
            return Verdict("printed", True, (), f"CUPS job {jid} completed: every byte sent in one go, the "
                           f"printer closed the connection and still answers", "C1")
        return Verdict("printed", True, (), f"CUPS job {jid} completed", "C1")
    # canceled or aborted
    started = ev.started or snap.time_at_processing is not None
    who = f"printd canceled it ({canceled_by_printd})" if canceled_by_printd else f"CUPS {snap.state_name} it"
    if not started:
        return Verdict("fault", False, ("other", *snap.reasons),
                       f"CUPS job {jid} ended before it was sent to the printer: {who}", "A1")
    if ev.stream is not None and never_connected(ev.stream, snap):
        return Verdict("offline", False, ("offline",),
                       f"CUPS job {jid} {snap.state_name} while its backend was still trying to reach the "
                       f"printer ({ev.stream.connect_failure}): no byte was sent", "N2")
    reasons = _printer_side_reasons(snap, "other", ev.new_device_reasons)
    detail = f" ({snap.message})" if snap.message else ""
    return Verdict("fault", None, reasons,
                   f"CUPS job {jid} {snap.state_name} after it reached the printer{detail}: {who}; "
                   f"whether the card was fed is unknown", "A2")


def judge_abandoned(after: JobSnapshot | None, ev: Evidence, *, kind: Kind, reason: str, why: str,
                    rule: str) -> Verdict:
    """Judge a job printd gave up on and canceled; `after` is the job read back after the cancel."""
    if after is not None and after.state == COMPLETED:
        return judge_final(after, ev)   # it finished before the cancel took effect: judge that
    if after is not None and after.final and not ev.started and after.time_at_processing is None:
        return Verdict(kind, False, (reason,), f"{why}; CUPS job {after.job_id} was canceled before it "
                       f"was sent to the printer", rule + "a")
    if after is not None and after.final and ev.stream is not None and never_connected(ev.stream, after):
        return Verdict(kind, False, (reason,), f"{why}; CUPS job {after.job_id} was canceled while its "
                       f"backend was still trying to reach the printer: no byte was sent", rule + "a")
    shown = f" (CUPS: {after.state_name})" if after is not None else " (CUPS did not confirm the cancel)"
    said = _printer_side_reasons(ev.last, reason, ev.new_device_reasons) if kind == "fault" else (reason,)
    return Verdict(kind, None, said, f"{why}{shown}; the card may have been fed", rule + "b")


def never_connected(stream: StreamEvidence, last: JobSnapshot) -> bool:
    """Positive evidence that a stream backend never reached the printer: it said it was retrying the
    connection, never that it was connected, and the job's last message is not a later phase."""
    return (not stream.connected and stream.write_failed is None and stream.connect_failure is not None
            and phase(last.message) in (None, "connecting"))


def _judge_stream_completion(snap: JobSnapshot, ev: Evidence, st: StreamEvidence) -> Verdict | None:
    """A stream queue's `completed` only says the bytes were written: what contradicts a printed card."""
    jid = snap.job_id
    if st.write_failed:
        return Verdict("fault", None, ("other",),
                       f"CUPS job {jid} completed, but the connection to the printer broke mid-card "
                       f"({st.write_failed}) and CUPS sent the card again: one card, two, or a spoiled "
                       f"one", "K1")
    if st.cups_gone:
        return Verdict("fault", None, ("other",),
                       f"CUPS job {jid} completed, but CUPS did not answer while the card was being sent "
                       f"({st.cups_gone}): a restarted cupsd sends the card again from the start", "K2")
    if ev.stream_waited_s is not None and ev.stream_waited_s >= WAITEOF_GAVE_UP_S:
        return Verdict("fault", None, ("other",),
                       f"CUPS job {jid} completed {ev.stream_waited_s:.0f} s after the last byte without the "
                       f"printer ever closing the connection: CUPS stopped waiting, the printer never said "
                       f"done", "K3")
    if st.monitor_errors:
        said = _printer_side_reasons(None, "other", st.monitor_errors)
        return Verdict("fault", None, said,
                       f"CUPS job {jid} completed, but the printer reported {', '.join(st.monitor_errors)} "
                       f"during the card", "K4")
    if ev.device_lost_since is not None:
        return Verdict("fault", None, ("offline",),
                       f"CUPS job {jid} completed (every byte sent), but the printer stopped answering "
                       f"right after ({ev.device_lost_error}): it may have reset or lost power with the "
                       f"card in it", "K5")
    return None
