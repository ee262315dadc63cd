"""TOML -> typed, validated settings.

Every problem is one line that names the file and the key, and the daemon does not start:
`printd.toml: [printers.card1.time_scale] Input should be a valid number`.
"""
from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from printd.cards.technology import check_config
from printd.errors import ConfigError

CARD_TYPES = ("ktp-el", "kia")
CardType = Literal["ktp-el", "kia"]
#: how a printer puts the picture on the card (printd/cards/technology.py)
Technology = Literal["retransfer", "direct"]
#: why a card is requested (API `reason`): pemula, data change, lost, damaged, other
REQUEST_REASONS = ("new", "data_change", "lost", "damaged", "other")
RequestReason = Literal["new", "data_change", "lost", "damaged", "other"]
PRINTER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
DEFAULT_CONFIG_NAME = "default.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    """`[server]`: the HTTP listener."""

    listen: str = "127.0.0.1:8740"
    max_body_mb: float = Field(12.0, gt=0, le=64)
    #: hosts (besides loopback) that a job's callback_url may name
    callback_hosts: tuple[str, ...] = ()
    session_hours: float = Field(12.0, gt=0)
    #: open HTTP connections at most (lowered to stay under the descriptor limit; see api/connections.py)
    max_connections: int = Field(512, ge=16, le=65536)
    #: seconds a connection may take to send a complete request line and headers
    header_timeout_s: float = Field(10.0, gt=0, le=300)
    #: reverse proxies (addresses or networks) whose X-Forwarded-For / X-Forwarded-Proto printd believes;
    #: empty: nobody's. The login throttle, sessions and the audit log then see the real client's address
    trusted_proxies: tuple[str, ...] = ()
    #: after `printd token rotate`, how long the previous token keeps working (seconds; 0 = ends at once)
    token_overlap_s: float = Field(86400.0, ge=0, le=30 * 86400)

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for item in v:
            try:
                net = ipaddress.ip_network(item.strip(), strict=True)
            except ValueError as exc:
                raise ValueError(f"{exc} (an IP address or network, e.g. \"127.0.0.1\")") from None
            if net.prefixlen == 0:
                # trusting everyone lets any client choose the address it is throttled and audited under
                raise ValueError(f"{item!r} would trust every client; name the proxy's own address")
            out.append(str(net.network_address) if net.num_addresses == 1 else str(net))
        return tuple(out)

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8740")
        return v

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class StationConfig(_Section):
    """`[station]`: the office and its working day."""

    name: str = "printd"
    #: the office named on the reports, the berita acara and the public board: one printable line
    office: str = Field("Dinas Kependudukan dan Pencatatan Sipil", min_length=3, max_length=160,
                        pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$")
    timezone: str = "Asia/Jakarta"
    daily_capacity: int = Field(250, gt=0, le=10000)
    max_attempts: int = Field(3, ge=1, le=10)
    #: ISO weekdays the office prints (1 = Monday)
    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    opens: time = time(8, 0)
    closes: time = time(16, 0)
    #: days a final job keeps its images, NIK and name before they are deleted (UU 27/2022)
    retention_days: float = Field(7.0, ge=0)
    #: the desk's PC/SC contactless reader (its name, or the start of it, as pcsc_scan lists it), for chip
    #: UIDs at hand-over and destruction; none: the page hides those steps
    reader: str | None = Field(None, min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")
    #: seconds between status polls of an idle printer
    poll_interval_s: float = Field(1.0, gt=0, le=60)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}, e.g. Asia/Jakarta") from exc
        return v

    @field_validator("working_days")
    @classmethod
    def _days(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(d < 1 or d > 7 for d in v):
            raise ValueError("must list ISO weekdays 1 (Monday) to 7 (Sunday)")
        return tuple(sorted(set(v)))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class StockConfig(_Section):
    """`[stock]`: blangko alert thresholds and the demo seed."""

    safe_low: int = Field(50, ge=0)
    hopper_low: int = Field(10, ge=0)
    #: book this delivery and fill simulated hoppers when the ledger is empty (demo / first start only)
    seed: dict[CardType, int] = Field(default_factory=dict)


class SuppliesConfig(_Section):
    """`[supplies]`: ribbon and film rolls (printd/supplies/)."""

    #: prints a roll gives when the printer does not report its level (a lot may say otherwise)
    ribbon_yield: int = Field(500, gt=0)
    film_yield: int = Field(1500, gt=0)
    #: alert when the roll on a printer has this many prints left or fewer
    low_prints: int = Field(50, ge=0)
    #: alert when the store holds this many rolls of a kind in use or fewer
    store_low: int = Field(1, ge=0)


class PolicyConfig(_Section):
    """`[policy]`: rationing when supplies run low, and daily quotas (printd/queue/rationing.py)."""

    #: request reasons that still print while rationing; the others wait with `rationed`
    ration_print: tuple[RequestReason, ...] = ("new", "data_change")
    #: ration a card type when its usable blanks (safe and hoppers) fall below this; 0: never
    ration_blanks_below: int = Field(0, ge=0)
    #: ration when the ribbon / film prints left (on printers and in the store) fall below this; 0: never
    ration_ribbon_below: int = Field(0, ge=0)
    ration_film_below: int = Field(0, ge=0)
    #: cards a station day per request reason / per client; over it a job waits for the next day
    quota_per_reason: dict[RequestReason, int] = Field(default_factory=dict)
    quota_per_client: dict[str, int] = Field(default_factory=dict)

    @field_validator("quota_per_reason", "quota_per_client")
    @classmethod
    def _positive(cls, v: dict[str, int]) -> dict[str, int]:
        bad = [k for k, n in v.items() if n < 0]
        if bad:
            raise ValueError(f"a quota is 0 or more cards a day (not for {', '.join(bad)})")
        return v


class LoggingConfig(_Section):
    """`[logging]`."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class WebhookConfig(_Section):
    """`[webhooks]`: delivery of job state changes to callback_url."""

    retry_for_s: float = Field(86400.0, gt=0)
    timeout_s: float = Field(5.0, gt=0, le=60)
    #: the first retry waits this long; each further one twice as long, up to backoff_max_s
    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(300.0, gt=0)


class CardTypeConfig(_Section):
    """`[card_types.NAME]`: what a card type needs of a printer."""

    technology: Technology


class _PrinterBase(_Section):
    #: the card type in this printer's hopper
    card_type: CardType = "ktp-el"
    #: "retransfer" or "direct"; unset: CUPS retransfer, Evolis direct, mock what its card_type needs
    technology: Technology | None = None
    #: transfer temperature window (°C) of the start-of-day check; unset: 160-170 on a retransfer printer
    transfer_temp_min: float | None = Field(None, ge=0, le=400)
    transfer_temp_max: float | None = Field(None, ge=0, le=400)
    #: unfit (takes no card) until today's start-of-day check is recorded
    require_daily_check: bool = False
    #: duty cycle: at most this many cards an hour; a rest of cool_down_s after cool_down_after cards in a row
    max_cards_per_hour: int | None = Field(None, gt=0)
    cool_down_after: int | None = Field(None, gt=0)
    cool_down_s: float = Field(600.0, gt=0)
    #: a cleaning reminder after this many cards since the last cleaning
    cleaning_every: int | None = Field(None, gt=0)
    #: start with the printer enabled (dispatching) and accepting
    enabled: bool = True


class MockPrinterConfig(_PrinterBase):
    """`[printers.NAME] driver = "mock"`: the simulated card printer."""

    driver: Literal["mock"]
    time_scale: float = Field(1.0, gt=0, le=100000)
    seconds_single: float = Field(35.0, gt=0)
    seconds_dual: float = Field(50.0, gt=0)
    ribbon_capacity: int = Field(500, gt=0)
    film_capacity: int = Field(1500, gt=0)
    hopper_capacity: int = Field(100, gt=0)
    model: str = "Simulated HDP5000"
    serial: str | None = None
    #: probability per card of a random fault (seeded by fault_seed)
    fault_rate: float = Field(0.0, ge=0, le=1)
    fault_seed: int | None = None
    fault_kinds: tuple[str, ...] = ("media-jam", "marker-supply-empty", "cover-open", "overheat", "offline")
    #: seconds a random fault lasts before it clears by itself (simulated time, scaled)
    fault_duration_s: float = Field(60.0, gt=0)
    #: write each printed card's PNGs beside printed.jsonl
    write_images: bool = False

    @field_validator("fault_kinds")
    @classmethod
    def _kinds(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from printd.drivers.base import FAULT_KINDS

        bad = [k for k in v if k not in FAULT_KINDS]
        if bad:
            raise ValueError(f"unknown fault kind(s) {bad}; known: {', '.join(FAULT_KINDS)}")
        return v


class CupsPrinterConfig(_PrinterBase):
    """`[printers.NAME] driver = "cups"`: a printer behind its own CUPS queue (never a class)."""

    driver: Literal["cups"]
    queue: str
    #: CUPS server (host:port or socket path); default: $CUPS_SERVER as for `lp`
    cups_server: str | None = None
    seconds_single: float = Field(35.0, gt=0)
    seconds_dual: float = Field(50.0, gt=0)
    #: seconds without progress after which a card in flight is given up as in doubt
    timeout_s: float = Field(180.0, gt=0)
    #: seconds each CUPS call may take
    call_timeout_s: float = Field(10.0, gt=0)
    media: str = "om_cr80_53.98x85.6mm"
    #: probe the printer's device URI while a card is in flight (catches a vanished printer)
    probe_device: bool = True
    #: seconds the device must stay unreachable before a card in flight is given up (in doubt)
    probe_grace_s: float = Field(10.0, gt=0)
    #: seconds between readings of a CUPS job in flight
    poll_interval_s: float = Field(0.5, gt=0, le=10)
    #: prints per full ribbon / retransfer film: turns IPP marker percentages into prints left
    ribbon_capacity: int | None = Field(None, gt=0)
    film_capacity: int | None = Field(None, gt=0)


class EvolisPrinterConfig(_PrinterBase):
    """`[printers.NAME] driver = "evolis"`: direct USB/serial link with the Evolis command set."""

    driver: Literal["evolis"]
    transport: Literal["usb", "serial", "emulator"]
    serial_number: str | None = None
    port: str | None = None
    baudrate: int = Field(115200, gt=0)
    flow_control: Literal["none", "rtscts", "xonxoff"] = "none"
    ribbon: str = "ymcko"
    timeout_s: float = Field(120.0, gt=0)
    command_timeout_s: float = Field(5.0, gt=0)
    seconds_single: float = Field(35.0, gt=0)
    seconds_dual: float = Field(50.0, gt=0)
    #: emulator only: speed-up of the emulated mechanics
    time_scale: float = Field(1.0, gt=0, le=100000)
    #: emulator only: "guide" (the 2003 guide's answers) or "primacy" (current firmware's vocabulary)
    dialect: Literal["guide", "primacy"] = "guide"

    @model_validator(mode="after")
    def _needs(self) -> EvolisPrinterConfig:
        if self.transport == "usb" and not self.serial_number:
            raise ValueError("transport 'usb' needs serial_number (the printer is chosen by serial, not bus address)")
        if self.transport == "serial" and not self.port:
            raise ValueError("transport 'serial' needs port, e.g. /dev/serial/by-id/usb-Evolis_...")
        return self


PrinterConfig = Annotated[
    MockPrinterConfig | CupsPrinterConfig | EvolisPrinterConfig, Field(discriminator="driver")
]


class Settings(_Section):
    """The whole configuration."""

    server: ServerConfig = ServerConfig()
    station: StationConfig = StationConfig()
    stock: StockConfig = StockConfig()
    supplies: SuppliesConfig = SuppliesConfig()
    policy: PolicyConfig = PolicyConfig()
    logging: LoggingConfig = LoggingConfig()
    webhooks: WebhookConfig = WebhookConfig()
    #: what each card type needs; unset ones keep their defaults (ktp-el retransfer, kia direct)
    card_types: dict[CardType, CardTypeConfig] = Field(default_factory=dict)
    printers: dict[str, PrinterConfig] = Field(default_factory=dict, validate_default=True)
    #: where the config came from (for messages); not a TOML key
    source: str = Field("<embedded default>", exclude=True)

    @field_validator("printers")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not PRINTER_NAME_RE.match(name):
                raise ValueError(f"printer name {name!r} must be 1-32 of a-z 0-9 _ - (starting with a letter or digit)")
        if not v:
            raise ValueError("at least one [printers.NAME] table is needed")
        return v


def _format_error(err: ErrorDetails) -> str:
    # pydantic marks a bad dict key with a "[key]" step: the key itself is the place to name
    loc = [str(p) for p in err["loc"] if p != "[key]"]
    # drop the discriminator tag pydantic inserts into union locations (printers.card1.mock.x)
    if len(loc) >= 3 and loc[0] == "printers" and loc[2] in ("mock", "cups", "evolis"):
        del loc[2]
    key = ".".join(loc)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see config/printd.toml for every key)"
    elif err["type"] == "union_tag_invalid" or err["type"] == "union_tag_not_found":
        msg = 'driver must be "mock", "cups" or "evolis"'
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return f"[{key}] {msg}"


def parse(text: str, source: str) -> Settings:
    """Parse and validate TOML text; raise ConfigError naming the key and the file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=source) from exc
    try:
        settings = Settings.model_validate({**data, "source": source})
    except ValidationError as exc:
        # every problem at once, one line each: fixing a file one error per restart is slow on a print PC
        lines = list(dict.fromkeys(_format_error(e) for e in exc.errors()))
        message = lines[0] if len(lines) == 1 else f"{len(lines)} problems:\n  " + "\n  ".join(lines)
        raise ConfigError(message, file=source) from exc
    check_config(settings)
    return settings


def embedded_default_text() -> str:
    """The embedded default: two simulated printers card1 and card2."""
    return resources.files("printd").joinpath(DEFAULT_CONFIG_NAME).read_text(encoding="utf-8")


def load(path: str | os.PathLike[str] | None) -> Settings:
    """Load the config file at `path`, or the embedded default when `path` is None."""
    if path is None:
        return parse(embedded_default_text(), "<embedded default>")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("config file not found", file=str(p)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", file=str(p)) from exc
    return parse(text, str(p))
