"""Response bodies, as pydantic models: what /openapi.json promises each operation answers.

The routers build plain dicts (the station's views); these models describe them for integrators and
generated clients. They are not used to filter responses at run time: the contract test
(tests/api/test_openapi.py) validates real responses against them instead, so a field the station adds is
never silently dropped, and a field the documentation promises can never silently go missing.

Every object allows additional properties: the contract says "add what users need, never rename", so a
client must accept fields it does not know yet.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from printd.api.error_codes import ErrorCode


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# ------------------------------------------------------------------------------------------------ errors
class ErrorDetail(_Out):
    """What went wrong, in a form a program can branch on and a person can act on."""

    code: ErrorCode = Field(description="stable machine-readable code; the page translates it")
    message: str = Field(description="what went wrong and what to do, in English")
    field: str | None = Field(None, description="the request field at fault, when there is one")
    details: dict[str, object] | None = Field(None, description="figures behind the error, e.g. "
                                                                "{\"available\": 3, \"needed\": 5} for insufficient_stock")


class Error(_Out):
    """Every 4xx/5xx answer of the API."""

    error: ErrorDetail


# ------------------------------------------------------------------------------------------------ jobs
class Attempt(_Out):
    """One physical try at printing a job's card."""

    n: int = Field(description="1 for the first try")
    printer: str
    outcome: Literal["printing", "printed", "spoiled", "not_fed", "in_doubt", "canceled"]
    reason: str | None = Field(None, description="IPP printer-state-reason keyword when a fault ended it")
    started_at: str
    ended_at: str | None = None


class NotificationSummary(_Out):
    """Where the job's webhook notifications stand (present when the job has a callback_url)."""

    pending: int = 0
    delivered: int = 0
    failed: int = 0


class Chip(_Out):
    """One blank's chip: which job it went to and what became of it (see docs/chips.md)."""

    uid: str
    job_id: str | None = None
    attempt: int | None = None
    state: Literal["encoded", "encode_failed", "handed_over", "destroyed"]
    detail: str | None = None
    ledger_entry_id: int | None = None
    encoded_at: str | None = None
    handed_over_at: str | None = None
    handed_over_by: str | None = None
    destruction_id: int | None = None


class Job(_Out):
    """A card to print. `name` is null once the job's personal data was purged (retention)."""

    id: str
    request_id: str
    client: str
    nik_masked: str | None = Field(description="e.g. 3274********0001")
    name: str | None
    card_type: Literal["ktp-el", "kia"]
    reason: str
    priority: Literal["normal", "urgent"]
    state: Literal["queued", "held", "printing", "printed", "failed", "canceled", "in_doubt"]
    state_reason: str | None = None
    printer: str | None = None
    position: int | None = Field(None, description="1 = next to print; only while queued")
    estimated_done_at: str | None = None
    dual: bool | None = Field(None, description="the card has a back side")
    attempts: list[Attempt] = []
    created_at: str
    updated_at: str
    printed_at: str | None = None
    purged: bool | None = None
    notifications: NotificationSummary | None = Field(None, description="webhook deliveries for this job")
    chip_uid: str | None = Field(None, description="the chip of the card the citizen holds or will hold")
    handed_over_at: str | None = Field(None, description="when the card was handed to the citizen")
    chips: list[Chip] = Field([], description="every chip this job's blanks had, with its state")


class JobPage(_Out):
    """One page of jobs; pass `next_cursor` as `cursor` for the next one."""

    items: list[Job]
    next_cursor: str | None
    total: int | None = Field(None, description="on the first page (no cursor): how many jobs match the filters")


# ------------------------------------------------------------------------------------------------ printers
class Ribbon(_Out):
    type: str | None = None
    remaining: int | None = None
    capacity: int | None = None


class Film(_Out):
    remaining: int | None = None
    capacity: int | None = None


class Hopper(_Out):
    card_type: str | None = None
    count: int | None = Field(None, description="blanks the ledger says are in the hopper")
    sensor_count: int | None = None
    sensor_empty: bool | None = None


class Counters(_Out):
    total: int | None = None
    today: int | None = None
    since_cleaning: int | None = None


class ReasonDetail(_Out):
    keyword: str
    severity: str
    vendor_code: str | None = None
    message: str | None = None


class Printer(_Out):
    """A card printer as the station sees it."""

    name: str
    driver: str
    technology: Literal["retransfer", "direct"] | None = Field(
        None, description="how it prints: a card type is only sent to a printer of the technology it needs")
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    state: Literal["idle", "printing", "paused", "stopped", "offline"]
    reasons: list[str] = Field(description="IPP printer-state-reasons keywords, e.g. media-jam")
    reason_details: list[ReasonDetail] = []
    accepting: bool
    enabled: bool
    pause_after_current: bool | None = None
    simulated: bool | None = None
    ribbon: Ribbon | None = None
    film: Film | None = None
    hopper: Hopper | None = None
    counters: Counters | None = None
    current_job: str | None = None
    last_seen_at: str | None = None
    fitness: Fitness | None = None
    duty: Duty | None = None
    cleaning: Cleaning | None = None
    card_seconds: dict[str, CardSeconds] | None = Field(
        None, description="seconds a card takes, single and dual sided: measured (moving average) once enough"
        " cards printed, else configured")


class PrinterCheck(_Out):
    """A start-of-day check of a printer."""

    id: int
    at: str | None = None
    day: str
    printer: str
    temperature_c: float | None = None
    cleaned: bool
    settings_unchanged: bool
    note: str | None = None
    actor: str


class Fitness(_Out):
    fit: bool
    unfit_reasons: list[Literal["no-check-today", "temperature", "settings-changed"]]
    temperature_window_c: list[float] | None = None
    last_check: PrinterCheck | None = None


class Duty(_Out):
    state: Literal["cooling", "hour_limit"] | None = Field(None, description="resting: no card until it ends")
    seconds_left: float | None = Field(None, description="countdown of the rest")
    until: str | None = Field(None, description="when the rest ends")
    cards_last_hour: int
    cards_in_a_row: int
    max_cards_per_hour: int | None = None
    cool_down_after: int | None = None
    cool_down_s: float


class Cleaning(_Out):
    since: int = Field(description="cards since the last cleaning")
    basis: Literal["printer", "ledger"]
    every: int | None = None
    due: bool


class CardSeconds(_Out):
    seconds: float
    measured: int = Field(description="cards measured (the configured time stands until 3)")


class CheckRecorded(_Out):
    check: PrinterCheck
    fitness: Fitness
    cleaning: Cleaning


class CheckList(_Out):
    items: list[PrinterCheck]


# ------------------------------------------------------------------------------------------------ stock
class StockAlert(_Out):
    code: str
    message: str
    card_type: str | None = None
    printer: str | None = None


class CardTypeStock(_Out):
    """Blanks of one card type: in the safe, in each hopper, in all, and how many days they last."""

    card_type: str
    safe: int
    hoppers: dict[str, int]
    total: int
    days_left: float | None = None
    spoiled_today_by_category: dict[str, int] = Field(default_factory=dict,
                                                      description="today's spoilage by the ministry's category")
    rusak: int = Field(0, description="spoiled and surrendered cards in custody (not usable stock)")
    rusak_by_category: dict[str, int] = Field(default_factory=dict)


class Stock(_Out):
    card_types: list[CardTypeStock]
    alerts: list[StockAlert]


class StockChange(Stock):
    """The stock after a booking, with the ledger entries it made."""

    entry_ids: list[int]
    document_id: int | None = Field(None, description="a delivery's hand-over document (BAST)")
    berita_acara: str | None = Field(None, description="URL of the document's printable A4 page")


class StockDocument(_Out):
    """A destruction, return, delivery (BAST) or surrendered-cards record, with the cards by category."""

    id: int
    kind: Literal["destruction", "return", "receipt", "surrendered"]
    day: str
    card_type: str
    count: int
    from_: str | None = Field(None, alias="from", description="brankas, rusak or external")
    method: Literal["potong", "bakar"] | None = None
    witnesses: list[str]
    reference: str | None = None
    reason: str | None = None
    party: str | None = Field(None, description="sender of a delivery, recipient of a return")
    job_id: str | None = None
    actor: str
    by_category: dict[str, int] = Field(description="cards taken out of custody by category "
                                        "(`surrendered` for old cards taken in)")
    chip_uids: list[str]
    berita_acara: str | None = Field(None, description="URL of the printable berita acara (A4 HTML)")


class StockDocumentPage(_Out):
    items: list[StockDocument]


class StockDocumentCreated(StockDocument):
    """A new document, with the stock after it."""

    stock: Stock


class LedgerEntry(_Out):
    id: int
    at: str
    day: str
    kind: str
    card_type: str
    count: int
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    printer: str | None = None
    job_id: str | None = None
    attempt: int | None = None
    reason: str | None = None
    reference: str | None = None
    actor: str | None = None
    category: str | None = Field(None, description="the ministry's spoilage category (spoiled entries)")
    document_id: int | None = None


class LedgerPage(_Out):
    items: list[LedgerEntry]


# ------------------------------------------------------------------------------------------------ supplies
class SupplyLot(_Out):
    """A delivery (or loan in) of ribbon or film rolls, with the yield its rolls gave."""

    id: int
    kind: Literal["ribbon", "film"]
    source: str = Field(description="APBD, DAK, pusat or pinjaman (borrowed)")
    count: int
    day: str
    reference: str | None = None
    party: str | None = None
    nominal_yield: int
    in_store: int
    lent: int
    installed: int
    returned_unused: int
    cards_printed: int = Field(description="cards fed by printers while rolls of this lot were on them")
    yields: list[int] = Field(description="cards each used-up roll of this lot gave")
    average_yield: float | None = None


class SupplyKindView(_Out):
    kind: Literal["ribbon", "film"]
    store: int = Field(description="rolls in the store")
    prints_left: int = Field(description="on the printers plus the store's rolls at their nominal yield")
    rate_per_day: float | None = None
    days_left: float | None = None
    lots: list[SupplyLot]


class SupplyOnPrinter(_Out):
    printer: str
    kind: Literal["ribbon", "film"]
    lot_id: int | None = None
    installed_at: str | None = None
    detected: bool = Field(description="booked because the printer reported a new roll")
    cards: int = Field(description="cards fed since it was fitted")
    remaining: int
    remaining_basis: Literal["printer", "nominal"]


class SupplyInstallation(_Out):
    printer: str
    kind: Literal["ribbon", "film"]
    lot_id: int | None = None
    detected: bool
    installed_at: str | None = None
    removed_at: str | None = None
    removal: Literal["used_up", "unused"] | None = None
    cards: int
    nominal_yield: int | None = None


class SupplyAlert(_Out):
    code: str
    message: str
    kind: Literal["ribbon", "film"]
    printer: str | None = None


class Supplies(_Out):
    """Ribbon and film: the store, the rolls on printers, yields, days left and alerts."""

    kinds: list[SupplyKindView]
    printers: list[SupplyOnPrinter]
    installations: list[SupplyInstallation]
    alerts: list[SupplyAlert]


class SuppliesChange(Supplies):
    move_ids: list[int]


class SupplyMove(_Out):
    id: int
    at: str | None = None
    day: str
    kind: Literal["ribbon", "film"]
    action: Literal["received", "lent", "installed", "removed"]
    lot_id: int | None = None
    count: int
    source: str | None = None
    nominal_yield: int | None = None
    printer: str | None = None
    party: str | None = None
    reference: str | None = None
    reason: str | None = None
    detected: bool
    ledger_mark: int = Field(description="the blank ledger's last entry id when the move was made")
    actor: str


class SupplyLedgerPage(_Out):
    items: list[SupplyMove]


# ------------------------------------------------------------------------------------------------ reports
class CardTypeDayReport(_Out):
    card_type: str
    opening: int
    received: int
    consumed: int = Field(description="blank cards that became printed ID cards")
    spoiled: int
    spoiled_by_reason: dict[str, int]
    spoiled_by_category: dict[str, int]
    test: int
    adjusted: int
    returned: int = Field(description="unused blanks sent back from the brankas")
    returned_by_source: dict[str, int]
    closing: int
    custody_opening: int
    custody_in: int
    surrendered: int
    destroyed: int
    custody_closing: int


class PrinterDayReport(_Out):
    name: str
    consumed: int
    spoiled: int
    test: int


class DailyReport(_Out):
    """The blangko report of one station day (WIB by default)."""

    date: str
    station: str
    card_types: list[CardTypeDayReport]
    printers: list[PrinterDayReport]
    in_doubt: list[Job]
    printer_checks: list[PrinterCheck] = Field([], description="each printer's start-of-day checks that day")


class CardTypeMonthReport(_Out):
    """One card type over a month: closing = opening + received - consumed - spoiled - test + adjusted - returned."""

    card_type: str
    opening: int
    received: int
    printed: int
    consumed: int
    spoiled: int
    spoiled_by_category: dict[str, int]
    test: int
    surrendered: int
    destroyed: int
    destroyed_by_method: dict[str, int]
    returned: int = Field(description="unused blanks sent back from the brankas")
    returned_by_source: dict[str, int]
    adjusted: int
    closing: int = Field(description="usable stock (brankas and hoppers)")
    custody_opening: int
    spoiled_to_custody: int
    custody_closing: int = Field(description="cards in custody (rusak)")


class PrinterMonthReport(_Out):
    name: str
    printed: int
    spoiled: int
    test: int


class DayMonthReport(_Out):
    date: str
    printed: int
    spoiled: int
    test: int


class SupplyMonthReport(_Out):
    """Ribbon or film rolls over a month: closing = opening + received - lent - installed + returned_unused."""

    kind: Literal["ribbon", "film"]
    opening: int
    received: int
    received_by_source: dict[str, int]
    lent: int
    installed: int
    returned_unused: int
    closing: int
    yields: list[int] = Field(description="cards each roll used up this month gave")
    average_yield: float | None = None


class MonthlyReport(_Out):
    """The blangko report of one month, for the chain above."""

    month: str
    station: str
    office: str
    final: bool
    card_types: list[CardTypeMonthReport]
    printers: list[PrinterMonthReport]
    days: list[DayMonthReport]
    supplies: list[SupplyMonthReport] = Field([], description="ribbon and film rolls of the month")
    days_printed: int


# ------------------------------------------------------------------------------------------------ webhooks
class Delivery(_Out):
    """One webhook notification and where its delivery stands."""

    event_id: str
    job_id: str
    client: str
    url: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    created_at: str
    next_attempt_at: str | None = None
    delivered_at: str | None = None
    gave_up_at: str | None = None
    last_error: str | None = None


class DeliveryPage(_Out):
    items: list[Delivery]
    next_cursor: str | None


class JobStateChanged(_Out):
    """The body POSTed to a job's callback_url on every state change (signed: X-Printd-Signature)."""

    event_id: str = Field(description="stable across redeliveries: deduplicate on it")
    type: Literal["job.state_changed"]
    occurred_at: str
    job: Job


# ------------------------------------------------------------------------------------------------ health
class Health(_Out):
    status: Literal["ok", "degraded"]
    printers_ready: int


class Ack(_Out):
    ok: bool = True


# ------------------------------------------------------------------------------------------------ technician
class Diagnostics(_Out):
    """Everything a technician needs about one printer (the same document as `printd diag NAME --json`)."""

    printer: str
    driver: str
    simulated: bool
    generated_at: str
    identity: dict[str, str | None]
    link: dict[str, object]
    state: dict[str, object]
    counters: dict[str, int | None]
    supplies: dict[str, object]
    recent_errors: list[dict[str, object]]
    communication: dict[str, object]
    history: object = None
    raw_status: object = None
    driver_report: object = None


class CardTestResult(_Out):
    """What happened to a test card; `ledger_entry_ids` book its blank (empty when none was used)."""

    printer: str
    test_id: str
    card_type: str
    outcome: Literal["printed", "spoiled", "not_fed", "in_doubt"]
    reason: str | None = None
    message: str
    at: str | None = None
    duration_s: float
    ledger_entry_ids: list[int]
    vendor_code: str | None = None


class RawReply(_Out):
    """A vendor command's reply (audited)."""

    printer: str
    command: str
    reply: str
    duration_ms: float


# ------------------------------------------------------------------------------------------------ accounts
class User(_Out):
    """A person who logs in to the page."""

    name: str
    role: Literal["operator", "technician", "admin"]
    disabled: bool


class UserPage(_Out):
    items: list[User]


class Client(_Out):
    """An API client (a token's name and role; the token itself is never shown again)."""

    name: str
    role: Literal["enrollment", "operator", "technician", "admin"]
    active: bool


class ClientPage(_Out):
    items: list[Client]


class NewToken(_Out):
    """A token, shown this once: store it now."""

    name: str
    token: str
    role: str | None = None
    previous_valid_for_s: float | None = Field(None, description="after a rotation: how long the old one works")


class AccessChange(_Out):
    """The result of changing a user's or client's access; open sessions and streams end at once."""

    name: str
    disabled: bool | None = None
    active: bool | None = None
    sessions_ended: int | None = None
    streams_ended: int | None = None


# ------------------------------------------------------------------------------------------------ chips
class Reader(_Out):
    """The desk reader: `configured` false when the station has none."""

    configured: bool
    name: str | None = None
    present: bool | None = None
    reader: str | None = None
    card_uid: str | None = None
    problem: str | None = None
    message: str | None = None
    last_uid: str | None = None
    last_uid_at: str | None = None


class ReadUid(_Out):
    """The UID of the card on the reader, and what printd knows of that chip."""

    uid: str
    chip: Chip | None = None


class DestructionCards(StockDocument):
    """A destruction with the chip UIDs of its cards; `added` says how many were new."""

    added: int


# ------------------------------------------------------------------------------------------------ policy
class PolicyValues(_Out):
    """A rationing policy (the keys of `[policy]` in the config file)."""

    ration_print: list[Literal["new", "data_change", "lost", "damaged", "other"]]
    ration_blanks_below: int
    ration_ribbon_below: int
    ration_film_below: int
    quota_per_reason: dict[str, int]
    quota_per_client: dict[str, int]


class Policy(_Out):
    """The rationing policy in force and where it comes from; a saved one wins over the config file's."""

    source: Literal["saved", "config"] = Field(description="saved from the page (API), or the config file's")
    effective: PolicyValues
    config: PolicyValues = Field(description="the config file's [policy], which applies again after a reset")
    saved: PolicyValues | None = None
    saved_at: str | None = None
    saved_by: str | None = None
    rationing: dict[str, list[Literal["blanks", "ribbon", "film"]]] = Field(
        description="card types rationed now and for what")
