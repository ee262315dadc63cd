"""Logging: NIK masking everywhere a NIK can hide, and the journald/console line formats."""
from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Iterator

import pytest

from printd.ops.logs import mask_nik, mask_niks, setup_logging, syslog_priority, under_systemd

NIK = "3274011203900001"
MASKED = "3274********0001"
OTHER_NIK = "3171024509870002"
OTHER_MASKED = "3171********0002"
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: "
)


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """setup_logging changes process-wide state: put the root logger back after each test."""
    for var in ("JOURNAL_STREAM", "INVOCATION_ID"):
        monkeypatch.delenv(var, raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    libs = {name: (list(lg.handlers), lg.propagate)
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi")
            for lg in [logging.getLogger(name)]}
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
    for name, (lib_handlers, propagate) in libs.items():
        logging.getLogger(name).handlers[:] = lib_handlers
        logging.getLogger(name).propagate = propagate
    logging.captureWarnings(False)


def _setup(level: str = "DEBUG", **kw) -> io.StringIO:
    out = io.StringIO()
    setup_logging(level, stream=out, **kw)
    return out


def _lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


# --- mask_nik / mask_niks -------------------------------------------------------------------


def test_mask_nik() -> None:
    assert mask_nik(NIK) == MASKED
    assert mask_nik(f" {NIK}\n") == MASKED


@pytest.mark.parametrize("bad", ["327401120390000", "32740112039000012", "3274O11203900001", ""])
def test_mask_nik_masks_malformed_input_whole(bad: str) -> None:
    assert mask_nik(bad) == "*" * len(bad)


def test_mask_niks_in_text() -> None:
    text = f"nik={NIK},kk:{OTHER_NIK}; 12345; ts=1764390000123456789 card=CR{NIK}X"
    assert mask_niks(text) == (
        f"nik={MASKED},kk:{OTHER_MASKED}; 12345; ts=1764390000123456789 card=CR{MASKED}X"
    )


# --- the filter on every path a NIK can take into a log line -------------------------------------


def test_nik_in_message_is_masked() -> None:
    out = _setup()
    # deliberately an f-string: the NIK is in the message text itself, not in the arguments
    logging.getLogger("printd.test").info(f"job for NIK {NIK} queued")  # noqa: G004
    assert NIK not in out.getvalue()
    assert _lines(out)[0].endswith(f"printd.test: job for NIK {MASKED} queued")


@pytest.mark.parametrize(
    ("fmt", "args"),
    [
        ("job for %s queued", (NIK,)),
        ("job for %d queued", (int(NIK),)),
        ("job for %r queued", ({"nik": NIK, "name": "Budi"},)),
        ("job for %(nik)s queued", ({"nik": NIK},)),
        ("GET %s", (f"/api/v1/jobs?nik={NIK}&page=2",)),
    ],
)
def test_nik_in_arguments_is_masked(fmt: str, args: tuple) -> None:
    out = _setup()
    logging.getLogger("printd.test").info(fmt, *args)
    text = out.getvalue()
    assert NIK not in text
    assert MASKED in text


def test_nik_in_exception_text_is_masked_and_on_one_line() -> None:
    out = _setup()
    log = logging.getLogger("printd.test")
    try:
        try:
            raise KeyError(NIK)
        except KeyError as exc:
            raise ValueError(f"card for {NIK} rejected by the printer") from exc
    except ValueError:
        log.exception("printing failed")
    text = out.getvalue()
    assert NIK not in text
    lines = _lines(out)
    assert len(lines) == 1, "the traceback stays on its event's line"
    assert "printing failed\\nTraceback (most recent call last):" in lines[0]
    assert f"ValueError: card for {MASKED} rejected by the printer" in lines[0]
    assert f"KeyError: '{MASKED}'" in lines[0]


def test_nik_in_unformattable_record_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    handler = setup_logging("DEBUG", stream=out)
    # only our handler: pytest's own capture handler (on the root) raises on a bad format string
    log = logging.getLogger("printd.test.badformat")
    monkeypatch.setattr(log, "propagate", False)
    monkeypatch.setattr(log, "handlers", [handler])
    log.info("two %s %s", NIK)  # noqa: PLE1206 - deliberately one argument short
    text = out.getvalue()
    assert NIK not in text
    assert MASKED in text


def test_nik_in_stack_info_is_masked() -> None:
    out = _setup()
    logging.getLogger("printd.test").info("where", stack_info=True)  # 3274011203900001 (in source)
    text = out.getvalue()
    assert "Stack (most recent call last)" in text
    assert NIK not in text and MASKED in text


def test_nik_in_a_library_logger_and_in_warnings_is_masked() -> None:
    noisy = logging.getLogger("uvicorn.access")
    stray = logging.StreamHandler(io.StringIO())
    noisy.addHandler(stray)  # as uvicorn's own logging config would
    noisy.propagate = False
    out = _setup()
    noisy.info('127.0.0.1 - "GET /api/v1/jobs?nik=%s HTTP/1.1" 200', NIK)
    warnings.warn(f"deprecated field nik={NIK}", UserWarning, stacklevel=1)
    text = out.getvalue()
    assert NIK not in text
    assert f"uvicorn.access: 127.0.0.1 - \"GET /api/v1/jobs?nik={MASKED} HTTP/1.1\" 200" in text
    assert "py.warnings: " in text and f"nik={MASKED}" in text
    assert stray not in noisy.handlers


# --- line formats -----------------------------------------------------------------------------


def test_console_format_has_timestamp_level_and_logger() -> None:
    out = _setup("INFO", journald=False)
    log = logging.getLogger("printd.station")
    log.debug("not shown at INFO")
    log.info("card1 is back online")
    log.warning("card2 ribbon low")
    lines = _lines(out)
    assert len(lines) == 2
    assert TEXT_LINE.match(lines[0]) and lines[0].endswith(" INFO printd.station: card1 is back online")
    assert TEXT_LINE.match(lines[1]) and lines[1].endswith(" WARNING printd.station: card2 ribbon low")


@pytest.mark.parametrize("var", ["JOURNAL_STREAM", "INVOCATION_ID"])
def test_journald_format_is_selected_under_systemd(var: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, "8:123456" if var == "JOURNAL_STREAM" else "0123456789abcdef0123456789abcdef")
    assert under_systemd()
    out = _setup("DEBUG")
    log = logging.getLogger("printd.station")
    log.debug("poll")
    log.info("ready")
    log.warning("ribbon low")
    log.error("card jam")
    log.critical("database unwritable")
    assert _lines(out) == [
        "<7>printd.station: poll",
        "<6>printd.station: ready",
        "<4>printd.station: ribbon low",
        "<3>printd.station: card jam",
        "<2>printd.station: database unwritable",
    ]


def test_console_format_is_selected_outside_systemd() -> None:
    assert not under_systemd({})
    out = _setup("INFO")
    logging.getLogger("printd").info("hello")
    assert TEXT_LINE.match(_lines(out)[0])


def test_a_newline_in_data_cannot_forge_a_log_line() -> None:
    out = _setup("INFO", journald=True)
    logging.getLogger("printd.api").info("client name %s", "siak\n<2>printd: fake emergency\r")
    assert _lines(out) == ["<6>printd.api: client name siak\\n<2>printd: fake emergency\\r"]


def test_setup_twice_does_not_duplicate_lines_and_takes_the_new_level() -> None:
    _setup("INFO")
    out = _setup("warning")
    log = logging.getLogger("printd.test")
    log.info("dropped")
    log.warning("kept")
    assert len(_lines(out)) == 1 and _lines(out)[0].endswith("kept")
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_printd", False)]
    assert len(ours) == 1


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        setup_logging("LOUD")


def test_syslog_priority_of_in_between_levels() -> None:
    assert syslog_priority(logging.INFO + 5) == 6
    assert syslog_priority(logging.DEBUG - 5) == 7
    assert syslog_priority(logging.CRITICAL + 10) == 2
