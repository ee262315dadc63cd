"""The driver seam: a card printer as printd needs it, and the values that cross it.

A driver knows nothing of jobs, SQL or HTTP. Every method is blocking and is called from the
printer's own worker thread, one call at a time; the station puts a timeout around each call.

Drivers that simulate hardware (the mock printer, the Evolis emulator) also implement
`Simulated`, the fault-injection and hopper-refill controls used by tests, demos and technicians.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard, runtime_checkable


class PrinterState(enum.StrEnum):
    """Printer states, IPP-aligned, plus the operator's `paused`."""

    IDLE = "idle"
    PRINTING = "printing"
    PAUSED = "paused"      # operator switch (set by the station, never by a driver)
    STOPPED = "stopped"    # a fault the printer reports
    OFFLINE = "offline"    # no answer


#: States in which a printer can take a card.
READY_STATES = frozenset({PrinterState.IDLE, PrinterState.PRINTING})


class Reason(enum.StrEnum):
    """IPP `printer-state-reasons` keywords used by printd."""

    MEDIA_EMPTY = "media-empty"              # hopper empty
    MEDIA_LOW = "media-low"
    MEDIA_JAM = "media-jam"                  # card jam
    MARKER_SUPPLY_EMPTY = "marker-supply-empty"  # ribbon out
    MARKER_SUPPLY_LOW = "marker-supply-low"
    COVER_OPEN = "cover-open"
    OFFLINE = "offline"
    PAUSED = "paused"
    OVERHEAT = "overheat"                    # print head too hot; clears by itself
    FILM_EMPTY = "film-empty"                # retransfer film out (printd extension)
    OTHER = "other"


class Severity(enum.StrEnum):
    """IPP severity suffixes: a `report` is information, a `warning` still prints, an `error` stops."""

    REPORT = "report"
    WARNING = "warning"
    ERROR = "error"


#: The severity each reason has unless a driver says otherwise.
DEFAULT_SEVERITY: dict[str, Severity] = {
    Reason.MEDIA_EMPTY: Severity.ERROR,
    Reason.MEDIA_LOW: Severity.WARNING,
    Reason.MEDIA_JAM: Severity.ERROR,
    Reason.MARKER_SUPPLY_EMPTY: Severity.ERROR,
    Reason.MARKER_SUPPLY_LOW: Severity.WARNING,
    Reason.COVER_OPEN: Severity.ERROR,
    Reason.OFFLINE: Severity.ERROR,
    Reason.PAUSED: Severity.REPORT,
    Reason.OVERHEAT: Severity.ERROR,
    Reason.FILM_EMPTY: Severity.ERROR,
    Reason.OTHER: Severity.ERROR,
}


@dataclass(frozen=True)
class StateReason:
    """One printer-state-reason with its severity and, where known, the vendor's raw code."""

    keyword: str
    severity: Severity = Severity.ERROR
    vendor_code: str | None = None
    message: str | None = None

    @classmethod
    def of(cls, keyword: str, vendor_code: str | None = None, message: str | None = None) -> StateReason:
        """A reason with the default severity of its keyword."""
        return cls(keyword, DEFAULT_SEVERITY.get(keyword, Severity.ERROR), vendor_code, message)


@dataclass(frozen=True)
class PrinterIdentity:
    """Who the printer says it is."""

    model: str
    serial: str
    firmware: str | None = None
    vendor: str | None = None
    link: dict[str, Any] = field(default_factory=dict)   # transport details (port, bus, URI...)


@dataclass(frozen=True)
class Supply:
    """A consumable level; `remaining` and `capacity` in cards (prints), None when unknown."""

    type: str | None
    remaining: int | None
    capacity: int | None


@dataclass(frozen=True)
class Counters:
    """The printer's own card counters. `fed` and `printed` settle cards in doubt after a crash."""

    fed: int | None = None           # blanks picked from the hopper, ever
    printed: int | None = None       # cards that left the printer printed, ever
    since_cleaning: int | None = None


@dataclass(frozen=True)
class PrinterStatus:
    """A snapshot of the printer as the driver sees it."""

    state: PrinterState
    reasons: tuple[StateReason, ...] = ()
    ribbon: Supply | None = None
    film: Supply | None = None
    hopper_card_type: str | None = None
    hopper_count: int | None = None        # the printer's own sensor/count, None when it cannot tell
    hopper_empty: bool | None = None       # the sensor's word on emptiness, when that is all it knows
    counters: Counters = field(default_factory=Counters)
    raw: dict[str, Any] = field(default_factory=dict)   # driver-specific raw status for technicians

    @property
    def errors(self) -> tuple[StateReason, ...]:
        """The reasons that stop printing."""
        return tuple(r for r in self.reasons if r.severity == Severity.ERROR)

    @property
    def can_print(self) -> bool:
        """True when the printer answered and nothing stops it."""
        return self.state in READY_STATES and not self.errors and self.hopper_empty is not True


@dataclass(frozen=True)
class Card:
    """One card to print: the images and what identifies the attempt."""

    job_id: str
    attempt: int
    card_type: str
    front_png: bytes
    back_png: bytes | None = None
    title: str = ""          # shown in printer queues and logs; contains the job id, never personal data
    test: bool = False
    #: the card already in this driver's own form, made ahead by the station (printd/cards/prepare.py):
    #: Evolis panels, a CUPS document. A driver uses it only when it is of its own kind and settings,
    #: and makes its form from the images otherwise.
    prepared: object | None = None


@dataclass(frozen=True)
class PrintOutcome:
    """What happened to a card the printer accepted."""

    counters_before: Counters
    counters_after: Counters
    duration_s: float
    detail: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Driver(Protocol):
    """A card printer. Blocking; called from the printer's worker thread, one call at a time."""

    name: str
    #: seconds a card may take before the station gives up on the call (card_fed unknown)
    card_timeout_s: float
    #: seconds a status call may take
    status_timeout_s: float

    def open(self) -> PrinterIdentity:
        """Connect (or reconnect) and identify the printer. Raises PrinterOffline."""
        ...

    def status(self) -> PrinterStatus:
        """Read state, reasons, supplies and counters. Raises PrinterOffline."""
        ...

    def print_card(self, card: Card) -> PrintOutcome:
        """Print one card and return when it has left the printer.

        Raises PrinterFault(card_fed=...), PrinterOffline or PrinterTimeout.
        """
        ...

    def cancel(self) -> None:
        """Abandon the card in progress if the printer can (best effort)."""
        ...

    def diagnostics(self) -> dict[str, Any]:
        """Everything a technician may want: raw status, link details, recent errors."""
        ...

    def close(self) -> None:
        """Release the link to the printer."""
        ...


@runtime_checkable
class Simulated(Protocol):
    """Controls that only simulated or emulated printers have."""

    def inject_fault(self, kind: str, duration_s: float | None) -> None:
        """Start a simulated fault: media-jam, media-empty, marker-supply-empty, cover-open,
        offline, hang, overheat. It clears by itself after `duration_s` (None: until cleared)."""
        ...

    def clear_faults(self) -> None:
        """End every simulated fault, as if a technician fixed the printer."""
        ...

    def load_cards(self, card_type: str, count: int) -> None:
        """Put blanks into the simulated hopper (booked loads do this on simulated printers)."""
        ...

    def unload_cards(self, count: int) -> None:
        """Take blanks out of the simulated hopper."""
        ...


#: fault kinds the API accepts for simulated printers
FAULT_KINDS = ("media-jam", "media-empty", "marker-supply-empty", "cover-open", "offline", "hang", "overheat")


class RawCommands(Protocol):
    """A driver with a vendor command set (Evolis): send one raw command, get the printer's reply."""

    def raw_command(self, cmd: str) -> str:
        ...


def supports_raw(driver: object) -> TypeGuard[RawCommands]:
    """True when the driver can send a raw vendor command (technician use)."""
    return callable(getattr(driver, "raw_command", None))
