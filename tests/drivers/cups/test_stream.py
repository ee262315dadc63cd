"""The stream-queue rules (printd/drivers/cups/stream.py and their verdicts in evidence.py), without CUPS.

The messages are CUPS 2.4.2's socket backend's (backend/socket.c, backend/runloop.c), as
`bench/cups_socket_facts.py` recorded them from a real cupsd; the verdicts are the K/N rows of the
rule table in docs/drivers.md.
"""
from __future__ import annotations

from printd.drivers.cups.evidence import (
    COMPLETED,
    PROCESSING,
    Evidence,
    JobSnapshot,
    judge_abandoned,
    judge_final,
)
from printd.drivers.cups.stream import (
    WAITEOF_GAVE_UP_S,
    StreamEvidence,
    phase,
    ppd_filters,
    queue_kind,
    waiteof_off,
)


def snap(state: int, message: str = "", reasons: tuple[str, ...] = ("processing-to-stop-point",)) -> JobSnapshot:
    return JobSnapshot(job_id=7, state=state, reasons=reasons, time_at_processing=1000, printer_reasons=(),
                       message=message)


def started_stream() -> Evidence:
    ev = Evidence(stream=StreamEvidence())
    ev.observe(snap(PROCESSING, "Connected to printer.", ("job-printing",)))
    return ev


def test_queue_kind_by_device_uri_scheme() -> None:
    assert queue_kind("socket://10.0.0.5:9100") == "stream"
    assert queue_kind("socket://127.0.0.1:9100/?snmp=false") == "stream"
    assert queue_kind("lpd://10.0.0.5/queue") == "stream"
    assert queue_kind("ipp://printer.local/ipp/print") == "ipp"
    assert queue_kind("ipps://printer.local/ipp/print") == "ipp"
    assert queue_kind("usb://HID/HDP5000?serial=B1234") == "local"
    assert queue_kind("fargousb://HDP5000") == "local"


def test_waiteof_off_only_when_the_uri_says_so() -> None:
    assert waiteof_off("socket://10.0.0.5:9100/?waiteof=false")
    assert not waiteof_off("socket://10.0.0.5:9100/?waiteof=true")
    assert not waiteof_off("socket://10.0.0.5:9100")


def test_ppd_filters_names_the_vendor_filter() -> None:
    ppd = ('*PPD-Adobe: "4.3"\n*cupsFilter: "application/vnd.cups-raster 0 rastertofargoHDP5000"\n'
           '*cupsFilter2: "application/pdf application/vnd.x-card 0 /opt/x/rastertox"\n*DefaultRibbon: YMCKO\n')
    assert ppd_filters(ppd) == ["rastertofargoHDP5000", "/opt/x/rastertox"]
    assert ppd_filters('*PPD-Adobe: "4.3"\n') == []


def test_backend_phases_from_its_messages() -> None:
    assert phase("Connected to printer.") == "connected"
    assert phase("Waiting for printer to finish.") == "connected"
    assert phase("The printer is in use.") == "connecting"
    assert phase("The printer may not exist or is unavailable at this time.") == "connecting"
    assert phase("Unable to write print data: Broken pipe") == "write-failed"
    assert phase("Rendering card") is None
    assert phase("") is None


def test_stream_evidence_tracks_connection_and_wait() -> None:
    st = StreamEvidence()
    st.observe(("The printer is in use.", ""), set(), now=10.0)
    assert not st.connected and st.failing_for(now=14.0) == 4.0
    st.observe(("The printer is in use.", "Connected to printer."), set(), now=15.0)
    assert st.connected and st.failing_for(now=16.0) == 0.0
    st.observe(("", ""), {"cups-waiting-for-job-completed"}, now=16.0)
    assert st.waited_for(now=20.0) == 4.0
    st.observe(("Unable to write print data: Broken pipe", ""), set(), now=21.0)
    assert st.write_failed == "Unable to write print data: Broken pipe"


def test_clean_stream_completion_is_printed() -> None:
    ev = started_stream()
    ev.stream_waited_s = 0.4
    v = judge_final(snap(COMPLETED), ev)
    assert v.printed and v.rule == "C1"


def test_completion_after_a_write_failure_is_in_doubt() -> None:
    # retry-current-job sends the card again at once; CUPS then reports completed (measured)
    ev = started_stream()
    assert ev.stream is not None
    ev.stream.observe(("Unable to write print data: Broken pipe", ""), set())
    v = judge_final(snap(COMPLETED), ev)
    assert (v.kind, v.card_fed, v.rule) == ("fault", None, "K1")


def test_completion_with_cupsd_gone_mid_card_is_in_doubt() -> None:
    ev = started_stream()
    assert ev.stream is not None
    ev.stream.cups_gone = "cannot connect to the CUPS server"
    v = judge_final(snap(COMPLETED), ev)
    assert (v.card_fed, v.rule) == (None, "K2")


def test_completion_after_cups_gave_up_waiting_is_in_doubt() -> None:
    # a stalled printer: the socket backend reports the job done after 90 s of silence (measured 90.1 s)
    ev = started_stream()
    ev.stream_waited_s = WAITEOF_GAVE_UP_S + 1
    v = judge_final(snap(COMPLETED), ev)
    assert (v.card_fed, v.rule) == (None, "K3")


def test_completion_with_a_status_monitor_error_is_in_doubt_with_its_reason() -> None:
    ev = started_stream()
    assert ev.stream is not None
    ev.stream.monitor_errors.append("media-jam-error")
    v = judge_final(snap(COMPLETED), ev)
    assert (v.card_fed, v.rule, v.reasons[0]) == (None, "K4", "media-jam")


def test_completion_with_the_printer_gone_right_after_is_in_doubt() -> None:
    ev = started_stream()
    ev.device_lost_since, ev.device_lost_error = 1.0, "ConnectionRefusedError"
    v = judge_final(snap(COMPLETED), ev)
    assert (v.card_fed, v.rule) == (None, "K5")


def test_aborted_while_never_connected_is_not_fed() -> None:
    ev = Evidence(stream=StreamEvidence())
    ev.observe(snap(PROCESSING, "The printer is in use.", ("job-printing",)))
    assert ev.stream is not None
    ev.stream.observe(("The printer is in use.", "The printer is in use."), set())
    v = judge_final(snap(8, "The printer is not responding.", ("aborted-by-system",)), ev)
    assert (v.card_fed, v.rule) == (False, "N2")


def test_aborted_after_connecting_is_in_doubt() -> None:
    ev = started_stream()
    assert ev.stream is not None
    ev.stream.observe(("Unable to write print data: Broken pipe", ""), set())
    v = judge_final(snap(8, "Unable to write print data: Broken pipe", ("aborted-by-system",)), ev)
    assert (v.card_fed, v.rule) == (None, "A2")


def test_canceled_while_still_connecting_is_not_fed_but_a_later_phase_is_in_doubt() -> None:
    ev = Evidence(stream=StreamEvidence())
    ev.observe(snap(PROCESSING, "The printer is in use.", ("job-printing",)))
    assert ev.stream is not None
    ev.stream.observe(("The printer is in use.", ""), set())
    gone = judge_abandoned(snap(7, "The printer is in use.", ("job-canceled-by-user",)), ev, kind="offline",
                           reason="offline", why="printer refused", rule="N1")
    assert (gone.card_fed, gone.rule) == (False, "N1a")
    late = judge_abandoned(snap(7, "Connected to printer.", ("job-canceled-by-user",)), ev, kind="offline",
                           reason="offline", why="printer refused", rule="N1")
    assert (late.card_fed, late.rule) == (None, "N1b")


def test_a_second_connection_after_the_last_byte_is_a_second_send() -> None:
    # cupsd restarted while the backend waited for the printer: the job runs again from the start
    st = StreamEvidence()
    st.observe(("Connected to printer.", "Connected to printer."), set(), now=1.0)
    assert not st.sent_again
    st.observe(("Waiting for printer to finish.", ""), {"cups-waiting-for-job-completed"}, now=2.0)
    st.observe(("Connected to printer.", "Connected to printer."), set(), now=3.0)
    assert st.sent_again


def test_a_leftover_waiting_reason_is_not_a_second_send() -> None:
    # the queue still carried cups-waiting-for-job-completed from the last card when this one began
    # (measured); only this card's own "waiting" makes a later "Connected to printer." a second send
    st = StreamEvidence()
    st.waiting_since = 1.0           # what the driver records from the leftover keyword
    st.observe(("Connected to printer.", "Connected to printer."), set(), now=2.0)
    assert not st.sent_again and st.connected
