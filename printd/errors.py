"""The error tree of printd, drawn once here.

```
PrintdError
├── ConfigError          bad config: names the key and the file
├── StoreUnavailable     the database cannot persist (disk full, read-only) -> 503
├── RequestError         the caller's fault -> 4xx (code, message, field)
│   ├── Unauthorized     401: no or bad credential
│   ├── Forbidden        403: right credential, wrong role
│   ├── NotFound         404
│   ├── Conflict         409
│   ├── Invalid          422
│   ├── UnsupportedMedia 415
│   └── TooLarge         413
└── PrinterError         the hardware's fault (raised by drivers)
    ├── PrinterOffline   the printer does not answer or is gone
    ├── PrinterFault     carries IPP reasons and card_fed: True | False | None
    └── PrinterTimeout   a command got no answer in time (card_fed unknown)
```
"""
from __future__ import annotations

from collections.abc import Sequence


class PrintdError(Exception):
    """Root of every error printd raises on purpose."""


class ConfigError(PrintdError):
    """The configuration is wrong; the message names the key and the file."""

    def __init__(self, message: str, *, key: str | None = None, file: str | None = None) -> None:
        where = ""
        if file:
            where = f"{file}: "
        if key:
            where += f"[{key}] "
        super().__init__(f"{where}{message}")
        self.key = key
        self.file = file


class StoreUnavailable(PrintdError):
    """The store cannot make a change durable (disk full, read-only file system)."""

    retry_after_s = 30


class RequestError(PrintdError):
    """A caller's mistake; becomes a 4xx response with the contract's error body."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None,
                 details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field
        #: figures a client (the page) can show in its own words, e.g. {"available": 3, "needed": 5}
        self.details = details

    def body(self) -> dict[str, dict[str, object]]:
        """The JSON body of the error response."""
        err: dict[str, object] = {"code": self.code, "message": self.message, "field": self.field}
        if self.details:
            err["details"] = self.details
        return {"error": err}


class Unauthorized(RequestError):
    status = 401
    code = "unauthorized"


class Forbidden(RequestError):
    status = 403
    code = "forbidden"


class NotFound(RequestError):
    status = 404
    code = "not_found"


class Conflict(RequestError):
    status = 409
    code = "conflict"


class Invalid(RequestError):
    status = 422
    code = "invalid"


class UnsupportedMedia(RequestError):
    status = 415
    code = "unsupported_media_type"


class TooLarge(RequestError):
    status = 413
    code = "too_large"


class PrinterError(PrintdError):
    """The printer (or the link to it) failed."""

    def __init__(self, message: str, *, reasons: Sequence[str] = (), vendor_code: str | None = None) -> None:
        super().__init__(message)
        self.reasons = tuple(reasons)
        self.vendor_code = vendor_code


class PrinterOffline(PrinterError):
    """The printer cannot be reached. Raised before a card is fed unless stated otherwise."""

    def __init__(self, message: str = "printer does not answer", *, card_fed: bool | None = False,
                 reasons: Sequence[str] = ("offline",), vendor_code: str | None = None) -> None:
        super().__init__(message, reasons=reasons, vendor_code=vendor_code)
        self.card_fed = card_fed


class PrinterFault(PrinterError):
    """The printer reported a fault. `card_fed` says whether a blank left the hopper.

    True: a blank was used (spoiled); False: no blank was touched, the job can go elsewhere;
    None: nobody knows (the job becomes `in_doubt`).
    """

    def __init__(self, message: str, *, reasons: Sequence[str] = ("other",), card_fed: bool | None,
                 vendor_code: str | None = None, unexplained_feeds: int = 0) -> None:
        super().__init__(message, reasons=reasons, vendor_code=vendor_code)
        self.card_fed = card_fed
        #: blanks the printer fed beyond this card with no command asking for one (booked spoiled)
        self.unexplained_feeds = unexplained_feeds


class PrinterTimeout(PrinterError):
    """A command got no answer in time; whether a card was fed is unknown."""

    def __init__(self, message: str = "printer did not answer in time", *,
                 reasons: Sequence[str] = ("offline",), vendor_code: str | None = None) -> None:
        super().__init__(message, reasons=reasons, vendor_code=vendor_code)
        self.card_fed: bool | None = None
