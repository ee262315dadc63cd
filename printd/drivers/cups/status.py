"""CUPS queue attributes (and the device's own IPP answer) -> printd's PrinterStatus vocabulary.

Two sources describe a CUPS printer:
- the CUPS queue: printer-state (idle/processing/stopped), printer-is-accepting-jobs, and the
  printer-state-reasons its backend last reported. CUPS downgrades a backend's reasons to `-report`
  once the job that carried them ends (measured: `media-empty-warning` while printing, then
  `media-empty-report`), so a queue's reasons are a memory, not the printer's present state;
- the device itself, when its URI can be probed over IPP: its present printer-state-reasons.
When the device answered, its reasons decide and the queue's `-report` leftovers are dropped; a
stopping condition the device reports now (media-empty, media-jam, marker-supply-empty, cover-open,
film-empty, overheat, offline) is an error whatever suffix the printer gave it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from printd.drivers.base import (
    DEFAULT_SEVERITY,
    PrinterState,
    Reason,
    Severity,
    StateReason,
    Supply,
)

SUFFIXES = {"-error": Severity.ERROR, "-warning": Severity.WARNING, "-report": Severity.REPORT}
_RANK = {Severity.REPORT: 0, Severity.WARNING: 1, Severity.ERROR: 2}

#: IPP/CUPS keywords -> printd reasons (printd's own keywords map to themselves)
KEYWORDS: dict[str, str] = {
    "media-needed": Reason.MEDIA_EMPTY,
    "input-tray-missing": Reason.MEDIA_EMPTY,
    "toner-empty": Reason.MARKER_SUPPLY_EMPTY,
    "marker-ink-empty": Reason.MARKER_SUPPLY_EMPTY,
    "toner-low": Reason.MARKER_SUPPLY_LOW,
    "marker-ink-almost-empty": Reason.MARKER_SUPPLY_LOW,
    "door-open": Reason.COVER_OPEN,
    "interlock-open": Reason.COVER_OPEN,
    "shutdown": Reason.OFFLINE,
    "moving-to-paused": Reason.PAUSED,
    **{r.value: r.value for r in Reason},
}
#: CUPS bookkeeping that says nothing about the printer
IGNORED = frozenset({"none", "cups-waiting-for-job-completed"})
#: keywords that are information even without a suffix
INFORMATIONAL = frozenset({"connecting-to-device", "cups-remote-pending", "cups-remote-pending-held",
                           "cups-remote-processing", "cups-remote-stopped", "cups-remote-canceled",
                           "cups-remote-aborted", "cups-remote-completed"})


def split_suffix(raw: str) -> tuple[str, Severity | None]:
    """`media-empty-error` -> (`media-empty`, ERROR); no suffix -> (keyword, None)."""
    for suffix, severity in SUFFIXES.items():
        if raw.endswith(suffix):
            return raw[: -len(suffix)], severity
    return raw, None


def map_reason(raw: str, *, source: str) -> StateReason | None:
    """One IPP printer-state-reasons keyword as a printd StateReason; None for CUPS bookkeeping.

    A suffix gives the severity. Without one, printd's table gives it for the keywords it knows,
    RFC 8011 says "error" for the rest, except CUPS's own informational keywords. `paused` is an
    error here: a disabled CUPS queue sends nothing.
    """
    raw = raw.strip()
    if not raw or raw in IGNORED:
        return None
    keyword, severity = split_suffix(raw)
    mapped = KEYWORDS.get(keyword)
    if severity is None:
        if keyword == Reason.PAUSED:
            severity = Severity.ERROR
        elif mapped is not None:
            severity = DEFAULT_SEVERITY.get(mapped, Severity.ERROR)
        elif keyword in INFORMATIONAL or keyword.startswith("cups-"):
            severity = Severity.REPORT
        else:
            severity = Severity.ERROR
    return StateReason(mapped or Reason.OTHER, severity, vendor_code=raw, message=f"{source}: {raw}")


def as_list(value: Any) -> list[Any]:
    """pycups gives a lone value for one-valued attributes and a list for several."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def merge(reasons: Iterable[StateReason]) -> tuple[StateReason, ...]:
    """One reason per printd keyword (the most severe); `other` and `paused` are kept per vendor code."""
    best: dict[tuple[str, str | None], StateReason] = {}
    for r in reasons:
        key = (r.keyword, r.vendor_code if r.keyword in (Reason.OTHER, Reason.PAUSED) else None)
        if key not in best or _RANK[r.severity] > _RANK[best[key].severity]:
            best[key] = r
    return tuple(sorted(best.values(), key=lambda r: (-_RANK[r.severity], r.keyword)))


@dataclass(frozen=True)
class QueueView:
    """What a CUPS queue and its device say, turned into printd terms."""

    state: PrinterState
    reasons: tuple[StateReason, ...]
    accepting: bool
    enabled: bool
    message: str


def queue_view(queue: str, attrs: Mapping[str, Any], device: Mapping[str, Sequence[Any]] | None) -> QueueView:
    """Combine the queue's attributes with the device's own IPP attributes (None: not probed)."""
    cups_state = int(attrs.get("printer-state", 3) or 3)
    accepting = bool(attrs.get("printer-is-accepting-jobs", True))
    message = str(attrs.get("printer-state-message") or "")
    enabled = cups_state != 5
    reasons: list[StateReason] = []
    for raw in as_list(attrs.get("printer-state-reasons")):
        r = map_reason(str(raw), source=f"CUPS queue {queue}")
        # with the device's present word, the queue's -report leftovers are only history
        if r is None or (device is not None and r.severity == Severity.REPORT):
            continue
        reasons.append(r)
    if not enabled:
        # one clear reason instead of CUPS's bare `paused`
        reasons = [r for r in reasons if r.keyword != Reason.PAUSED]
        reasons.append(StateReason(Reason.PAUSED, Severity.ERROR, "cups-queue-disabled",
                                   f"CUPS queue {queue} is disabled ({message or 'no reason given'}); "
                                   f"enable it with `cupsenable {queue}`"))
    if not accepting:
        reasons.append(StateReason(Reason.PAUSED, Severity.ERROR, "cups-queue-rejecting-jobs",
                                   f"CUPS queue {queue} is rejecting jobs ({message or 'no reason given'}); "
                                   f"accept jobs again with `cupsaccept {queue}`"))
    device_state = 3
    if device is not None:
        device_state = int((device.get("printer-state") or [3])[0] or 3)
        for raw in device.get("printer-state-reasons") or []:
            r = map_reason(str(raw), source="printer")
            if r is None:
                continue
            # IPP printers grade a condition by their own activity (ippeveprinter: -report when idle,
            # -warning while printing, -error when stopped). An empty hopper, a jam, ribbon out or an
            # open cover present *now* stops the next card whatever the printer's grade.
            if DEFAULT_SEVERITY.get(r.keyword) == Severity.ERROR and r.keyword != Reason.OTHER:
                r = StateReason(r.keyword, Severity.ERROR, r.vendor_code, r.message)
            reasons.append(r)
    merged = merge(reasons)
    if not enabled or device_state == 5 or any(r.severity == Severity.ERROR for r in merged):
        state = PrinterState.STOPPED
    elif cups_state == 4 or device_state == 4:
        state = PrinterState.PRINTING
    else:
        state = PrinterState.IDLE
    return QueueView(state, merged, accepting, enabled, message)


@dataclass(frozen=True)
class Marker:
    """One marker (supply) as IPP reports it; level in percent, negative when unknown."""

    name: str
    type: str
    level: int


def markers(attrs: Mapping[str, Any]) -> list[Marker]:
    """The marker-names/-types/-levels triples of a queue or device."""
    names = [str(n) for n in as_list(attrs.get("marker-names"))]
    types = [str(t) for t in as_list(attrs.get("marker-types"))]
    levels = as_list(attrs.get("marker-levels"))
    out = []
    for i, name in enumerate(names):
        level = levels[i] if i < len(levels) and isinstance(levels[i], int) else -1
        out.append(Marker(name, types[i] if i < len(types) else "", level))
    return out


def supply(found: Sequence[Marker], words: tuple[str, ...], capacity: int | None) -> Supply | None:
    """The supply whose marker name or type contains one of `words` (ribbon, film).

    IPP gives percent; printd counts prints. With the configured capacity (prints per full roll)
    the percent becomes an estimate, otherwise `remaining` stays unknown.
    """
    for m in found:
        text = f"{m.name} {m.type}".lower()
        if any(w in text for w in words):
            remaining = round(m.level / 100 * capacity) if capacity and m.level >= 0 else None
            return Supply(type=m.name, remaining=remaining, capacity=capacity)
    return None
