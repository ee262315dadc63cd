"""The CUPS driver's pure parts: reason mapping, evidence rules, rendering, the IPP probe's codec.

Fast and CUPS-free; the attribute values are the ones measured on CUPS 2.4.2 + ippeveprinter.
"""
from __future__ import annotations

import io
import re
import socket
import struct

import pytest
from PIL import Image

from printd.drivers.base import PrinterState, Severity
from printd.drivers.cups.client import CupsRequestError, split_server
from printd.drivers.cups.evidence import (
    CANCELED,
    COMPLETED,
    PENDING,
    PROCESSING,
    Evidence,
    JobSnapshot,
    judge_abandoned,
    judge_final,
)
from printd.drivers.cups.ipp_probe import ProbeResult, decode_response, encode_request, probe
from printd.drivers.cups.render import card_pixels, render_card_pdf
from printd.drivers.cups.status import map_reason, markers, queue_view, supply

# ---------------------------------------------------------------------- reasons


@pytest.mark.parametrize(("raw", "keyword", "severity"), [
    ("media-empty-error", "media-empty", Severity.ERROR),
    ("media-empty-warning", "media-empty", Severity.WARNING),
    ("media-empty-report", "media-empty", Severity.REPORT),
    ("media-empty", "media-empty", Severity.ERROR),
    ("media-low", "media-low", Severity.WARNING),
    ("media-needed-warning", "media-empty", Severity.WARNING),
    ("toner-empty-error", "marker-supply-empty", Severity.ERROR),
    ("marker-supply-low-report", "marker-supply-low", Severity.REPORT),
    ("door-open-error", "cover-open", Severity.ERROR),
    ("media-jam", "media-jam", Severity.ERROR),
    ("paused", "paused", Severity.ERROR),
    ("offline-report", "offline", Severity.REPORT),
    ("cups-ipp-missing-job-history", "other", Severity.REPORT),
    ("com.hid-ribbon-mismatch", "other", Severity.ERROR),
    ("connecting-to-device", "other", Severity.REPORT),
])
def test_reason_suffix_becomes_severity(raw: str, keyword: str, severity: Severity) -> None:
    r = map_reason(raw, source="test")
    assert r is not None and (r.keyword, r.severity, r.vendor_code) == (keyword, severity, raw)


@pytest.mark.parametrize("raw", ["none", "cups-waiting-for-job-completed", ""])
def test_cups_bookkeeping_is_not_a_reason(raw: str) -> None:
    assert map_reason(raw, source="test") is None


def test_disabled_queue_is_stopped_with_an_actionable_reason() -> None:
    v = queue_view("card1", {"printer-state": 5, "printer-state-reasons": "paused",
                             "printer-state-message": "ribbon change"}, None)
    assert v.state == PrinterState.STOPPED and not v.enabled
    (paused,) = v.reasons
    assert paused.severity == Severity.ERROR and "cupsenable card1" in (paused.message or "")
    assert "ribbon change" in (paused.message or "")


def test_rejecting_queue_is_stopped() -> None:
    v = queue_view("card2", {"printer-state": 3, "printer-state-reasons": ["none"],
                             "printer-is-accepting-jobs": False}, None)
    assert v.state == PrinterState.STOPPED and not v.accepting
    assert [r.vendor_code for r in v.reasons] == ["cups-queue-rejecting-jobs"]


def test_the_device_decides_over_the_queue_memory() -> None:
    queue = {"printer-state": 3,
             "printer-state-reasons": ["media-empty-report", "cups-ipp-missing-job-history"]}
    # no device answer: the queue's reports are all there is, and they do not stop printing
    v = queue_view("card1", queue, None)
    assert v.state == PrinterState.IDLE and {r.severity for r in v.reasons} == {Severity.REPORT}
    # the device says the hopper is fine: the queue's leftovers are dropped
    assert queue_view("card1", queue, {"printer-state": [3], "printer-state-reasons": ["none"]}).reasons == ()
    # the device reports an empty hopper while idle (ippeveprinter: -report): it still stops the next card
    v = queue_view("card1", queue, {"printer-state": [3], "printer-state-reasons": ["media-empty-report"]})
    assert v.state == PrinterState.STOPPED
    assert [(r.keyword, r.severity) for r in v.reasons] == [("media-empty", Severity.ERROR)]


def test_markers_become_supplies() -> None:
    found = markers({"marker-names": ["Ribbon YMCKK", "Retransfer Film"],
                     "marker-types": ["ribbon-wax", "film"], "marker-levels": [50, -1]})
    ribbon = supply(found, ("ribbon",), 500)
    film = supply(found, ("film",), 1500)
    assert ribbon is not None
    assert (ribbon.type, ribbon.remaining, ribbon.capacity) == ("Ribbon YMCKK", 250, 500)
    assert film is not None and film.remaining is None               # level unknown
    assert supply(found, ("ribbon",), None) is not None and supply(found, ("ribbon",), None).remaining is None  # type: ignore[union-attr]
    assert supply(markers({}), ("ribbon",), 500) is None


# ---------------------------------------------------------------------- evidence rules


def snap(state: int, *, tap: int | None = 1000, reasons: tuple[str, ...] = ("processing-to-stop-point",),
         printer: tuple[str, ...] = ("none",), message: str = "") -> JobSnapshot:
    return JobSnapshot(7, state, reasons, tap, printer, message)


def test_clean_completion_is_printed() -> None:
    ev = Evidence()
    ev.observe(snap(PROCESSING))
    v = judge_final(snap(COMPLETED), ev)
    assert v.printed and v.rule == "C1"


def test_completion_after_the_printer_lost_the_job_is_in_doubt() -> None:
    ev = Evidence()
    ev.observe(snap(PROCESSING))
    v = judge_final(snap(COMPLETED, printer=("cups-ipp-conformance-failure-report",
                                             "cups-ipp-missing-job-history")), ev)
    assert not v.printed and v.card_fed is None and v.rule == "C2"
    assert "cups-ipp-missing-job-history" in v.reasons


def test_lost_track_reasons_left_from_an_earlier_card_do_not_count() -> None:
    ev = Evidence(baseline_queue_reasons=frozenset({"cups-ipp-missing-job-history"}))
    v = judge_final(snap(COMPLETED, printer=("cups-ipp-missing-job-history",)), ev)
    assert v.printed


def test_completion_after_a_printer_restart_is_in_doubt() -> None:
    ev = Evidence()
    ev.observe_device(ProbeResult(True, 1000.0, attrs={"printer-up-time": [500]}))      # booted at 500
    ev.observe(snap(PROCESSING))
    ev.observe_device(ProbeResult(True, 1010.0, attrs={"printer-up-time": [2]}))        # booted at 1008
    v = judge_final(snap(COMPLETED), ev)
    assert v.card_fed is None and v.rule == "C3"


def test_steady_printer_up_time_is_no_restart() -> None:
    ev = Evidence()
    ev.observe_device(ProbeResult(True, 1000.0, attrs={"printer-up-time": [500]}))
    ev.observe(snap(PROCESSING))
    ev.observe_device(ProbeResult(True, 1030.4, attrs={"printer-up-time": [529]}))
    assert ev.device_restarted is None and judge_final(snap(COMPLETED), ev).printed


def test_completion_while_the_printer_does_not_answer_is_in_doubt() -> None:
    ev = Evidence()
    ev.observe(snap(PROCESSING))
    ev.observe_device(ProbeResult(False, 1000.0, error="refused"))
    assert judge_final(snap(COMPLETED), ev).card_fed is None


def test_job_sent_twice_is_in_doubt() -> None:
    ev = Evidence()
    ev.observe(snap(PROCESSING, tap=1000))
    ev.observe(snap(PENDING, tap=1000))
    assert ev.regressed
    ev.observe(snap(PROCESSING, tap=1006))
    assert ev.resent
    v = judge_final(snap(COMPLETED, tap=1006), ev)
    assert v.card_fed is None and v.rule == "C4"


def test_odd_completion_reasons_are_in_doubt() -> None:
    v = judge_final(snap(COMPLETED, reasons=("job-completed-with-errors",)), Evidence())
    assert v.card_fed is None and v.rule == "C5"


def test_the_printers_own_record_confirms_or_denies_a_completion() -> None:
    ok = Evidence(printer_records=[{"job-name": "t", "job-state": COMPLETED}])
    assert judge_final(snap(COMPLETED), ok).printed
    # measured: CUPS's IPP backend reported completed while the printer had aborted the job
    aborted = Evidence(printer_records=[{"job-name": "t", "job-state": 8,
                                         "job-state-reasons": "aborted-by-system"}])
    v = judge_final(snap(COMPLETED), aborted)
    assert v.card_fed is None and v.rule == "C6" and "aborted-by-system" in v.reasons
    twice = Evidence(printer_records=[{"job-state": COMPLETED}, {"job-state": COMPLETED}])
    assert judge_final(snap(COMPLETED), twice).rule == "C6"
    missing = Evidence(printer_records=[])
    assert judge_final(snap(COMPLETED), missing).rule == "C7"
    # the printer could not be asked: CUPS's word stands
    assert judge_final(snap(COMPLETED), Evidence(printer_records_note="printer hides job names")).printed


def test_job_ended_before_processing_was_not_fed() -> None:
    v = judge_final(snap(CANCELED, tap=None), Evidence())
    assert v.card_fed is False and v.rule == "A1"


def test_job_ended_at_the_printer_is_in_doubt_with_the_printer_reason() -> None:
    ev = Evidence()
    ev.observe(snap(PROCESSING))
    v = judge_final(snap(CANCELED, printer=("media-jam-error",), message="Print job canceled at printer."),
                    ev)
    assert v.card_fed is None and v.reasons[0] == "media-jam" and v.rule == "A2"


def test_printer_reason_from_the_device_names_a_fault_cups_has_not_copied_yet() -> None:
    """Measured: a jam reported with the aborted job was on the printer, not yet in CUPS's job copy."""
    ev = Evidence()
    ev.observe_device(ProbeResult(True, 1000.0, attrs={"printer-state-reasons": ["media-low-report"]}))
    ev.observe(snap(PROCESSING))
    ev.observe_device(ProbeResult(True, 1001.0, attrs={"printer-state-reasons": ["media-low-report",
                                                                                 "media-jam-report"]}))
    v = judge_final(snap(CANCELED, message="Print job canceled at printer."), ev)
    assert v.card_fed is None and v.rule == "A2"
    assert v.reasons[0] == "media-jam" and "media-jam-report" in v.reasons
    assert "media-low-report" not in v.reasons          # it was there before the card: not about it
    # CUPS's own copy, when it has one, comes first
    v = judge_final(snap(CANCELED, printer=("cover-open-error",)), ev)
    assert v.reasons[0] == "cover-open"


def test_abandoned_unsent_job_was_not_fed() -> None:
    ev = Evidence()
    ev.observe(snap(PENDING, tap=None))
    v = judge_abandoned(snap(CANCELED, tap=None), ev, kind="timeout", reason="offline", why="stall",
                        rule="T1")
    assert v.card_fed is False and v.rule == "T1a"


def test_abandoned_started_job_is_in_doubt() -> None:
    ev = Evidence()
    ev.observe(snap(PROCESSING))
    v = judge_abandoned(snap(CANCELED), ev, kind="offline", reason="offline", why="gone", rule="V1")
    assert v.card_fed is None and v.rule == "V1b"
    unconfirmed = judge_abandoned(None, Evidence(), kind="fault", reason="other", why="x", rule="X1")
    assert unconfirmed.card_fed is None


def test_abandoned_job_that_completed_first_is_judged_as_completed() -> None:
    ev = Evidence()
    ev.observe(snap(PROCESSING))
    assert judge_abandoned(snap(COMPLETED), ev, kind="fault", reason="other", why="cancel", rule="X1").printed


# ---------------------------------------------------------------------- rendering


def _png(w: int, h: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h)).save(buf, "PNG")
    return buf.getvalue()


def _media_boxes(pdf: bytes) -> list[tuple[float, float]]:
    return [(float(m[2]), float(m[3])) for m in
            re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)]


def test_card_pdf_has_one_cr80_page_per_side() -> None:
    single = render_card_pdf(_png(324, 204))
    dual = render_card_pdf(_png(1011, 638), _png(2022, 1276, "RGBA"))
    assert len(_media_boxes(single)) == 1 and len(_media_boxes(dual)) == 2
    for w, h in _media_boxes(dual):
        assert w == pytest.approx(85.6 / 25.4 * 72, abs=0.5)
        assert h == pytest.approx(53.98 / 25.4 * 72, abs=0.5)
    assert card_pixels() == (1011, 638)


def test_portrait_artwork_gives_a_portrait_card_page() -> None:
    ((w, h),) = _media_boxes(render_card_pdf(_png(204, 324)))
    assert h > w


# ---------------------------------------------------------------------- IPP probe codec, server strings


def _ipp_attr(tag: int, name: str, value: bytes) -> bytes:
    n = name.encode()
    return struct.pack(">BH", tag, len(n)) + n + struct.pack(">H", len(value)) + value


def test_ipp_response_decoding_keeps_lists_and_skips_collections() -> None:
    body = struct.pack(">BBHI", 2, 0, 0, 1) + b"\x01" + _ipp_attr(0x47, "attributes-charset", b"utf-8")
    body += b"\x04"
    body += _ipp_attr(0x23, "printer-state", struct.pack(">i", 3))
    body += _ipp_attr(0x44, "printer-state-reasons", b"media-empty-report")
    body += _ipp_attr(0x44, "", b"cover-open-warning")
    body += _ipp_attr(0x34, "media-col-default", b"") + _ipp_attr(0x4A, "", b"media-size")
    body += _ipp_attr(0x34, "", b"") + _ipp_attr(0x4A, "", b"x-dimension")
    body += _ipp_attr(0x21, "", struct.pack(">i", 8560)) + _ipp_attr(0x37, "", b"") + _ipp_attr(0x37, "", b"")
    body += _ipp_attr(0x21, "printer-up-time", struct.pack(">i", 42)) + b"\x03"
    status, attrs = decode_response(body)
    assert status == 0
    assert attrs["printer-state"] == [3] and attrs["printer-up-time"] == [42]
    assert attrs["printer-state-reasons"] == ["media-empty-report", "cover-open-warning"]
    assert attrs["media-col-default"] == [None]


def test_ipp_request_names_the_printer() -> None:
    req = encode_request(0x000B, "ipp://printer.local/ipp/print", ("printer-state", "printer-up-time"))
    assert req[:2] == b"\x02\x00" and req[2:4] == b"\x00\x0b" and req.endswith(b"\x03")
    assert b"ipp://printer.local/ipp/print" in req and b"printer-up-time" in req


def test_probe_of_a_closed_port_and_of_usb() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # bound but not listening: refused
        r = probe(f"ipp://127.0.0.1:{port}/ipp/print", 1.0)
        assert r is not None and not r.reachable and r.error
        r = probe(f"socket://127.0.0.1:{port}", 1.0)
        assert r is not None and not r.reachable
    assert probe("usb://HID%20Global/HDP5000?serial=C1234", 1.0) is None


@pytest.mark.parametrize(("server", "expected"), [
    ("/run/cups/cups.sock", ("/run/cups/cups.sock", None)),
    ("printserver:631", ("printserver", 631)),
    ("printserver", ("printserver", None)),
    ("[::1]:8631", ("::1", 8631)),
    (None, (None, None)),
])
def test_server_strings(server: str | None, expected: tuple[str | None, int | None]) -> None:
    assert split_server(server) == expected


def test_which_cups_errors_prove_nothing_was_created() -> None:
    assert CupsRequestError(0x0506, "not accepting").definite        # cupsd refused
    assert CupsRequestError(0x0406, "not found").definite and CupsRequestError(0x0406, "").not_found
    assert not CupsRequestError(0x0500, "No such file or directory").definite   # libcups: link lost
    assert not CupsRequestError(0x0502, "Service Unavailable").definite
