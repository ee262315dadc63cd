"""The CUPS driver on socket:// queues: a real private cupsd, the vendor-style filter and PPD, and the
AppSocket test printer (tests/appsocket_printer.py), the way HID's HDP5000 driver is installed.

Each case checks the driver's verdict against what the test printer itself did with the card's byte
stream (printed, dropped, incomplete). The behaviour of CUPS these rules rest on was measured with
`bench/cups_socket_facts.py` (docs/drivers.md, "socket:// queues").
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from printd.config import CupsPrinterConfig
from printd.drivers.base import Card, PrinterState, Reason
from printd.drivers.cups.driver import CupsPrinter
from printd.errors import PrinterFault, PrinterOffline, PrinterTimeout
from tests.appsocket_printer import SocketPrinter
from tests.cups_harness import CupsHarness, _wait_for
from tests.drivers.cups.test_driver import FRONT, failure

pytestmark = pytest.mark.cups


def card() -> Card:
    job_id = f"J{uuid.uuid4().hex[:10].upper()}"
    return Card(job_id=job_id, attempt=1, card_type="ktp-el", front_png=FRONT, back_png=None,
                title=f"printd {job_id} #1")


def driver(h: CupsHarness, queue: str = "card1", **over: Any) -> CupsPrinter:
    settings: dict[str, Any] = dict(driver="cups", queue=queue, cups_server=h.server, seconds_single=2.0,
                                    seconds_dual=3.0, timeout_s=15.0, call_timeout_s=3.0, probe_grace_s=1.0,
                                    poll_interval_s=0.2)
    settings.update(over)
    return CupsPrinter(queue, CupsPrinterConfig(**settings))


def sprinter(h: CupsHarness, name: str = "card1") -> SocketPrinter:
    p = h.printers[name]
    assert isinstance(p, SocketPrinter)
    return p


def outcome(p: SocketPrinter, c: Card) -> dict[str, int]:
    """What the test printer did with this card's stream."""
    return {k: sum(1 for r in getattr(p, k)() if c.job_id in r["job_name"])
            for k in ("started", "printed", "dropped", "incomplete")}


def cups_states(h: CupsHarness, c: Card) -> list[int]:
    return [int(a["job-state"]) for _, a in sorted(h.jobs().items()) if c.job_id in str(a.get("job-name"))]


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    ex = ThreadPoolExecutor(2)
    yield ex
    ex.shutdown(wait=True, cancel_futures=True)


def test_socket_queue_is_known_for_what_it_is_and_a_clean_card_prints(cups_socket: CupsHarness) -> None:
    d = driver(cups_socket)
    ident = d.open()
    assert ident.link["queue_kind"] == "stream" and ident.link["device_probe"] == "tcp"
    assert any(f.endswith("rastertoprintdcard") for f in ident.link["ppd_filters"])
    c = card()
    result = d.print_card(c)
    assert result.detail["rule"] == "C1"
    p = sprinter(cups_socket)
    assert outcome(p, c) == {"started": 1, "printed": 1, "dropped": 0, "incomplete": 0}
    rec = next(r for r in p.printed() if c.job_id in r["job_name"])
    assert rec["ribbon"] == "YMCKK" and len(rec["sha256"]) == 64     # the vendor filter's stream, not the PDF
    assert d.diagnostics()["queue_kind"] == "stream"


def test_connection_dropped_mid_stream_is_in_doubt_never_printed(cups_socket: CupsHarness) -> None:
    p = sprinter(cups_socket)
    c = card()
    p.on_job(c.job_id, drop_at=0.4)
    with pytest.raises(PrinterFault) as err:
        driver(cups_socket).print_card(c)
    assert err.value.card_fed is None                       # asked, not reprinted, not called printed
    assert outcome(p, c)["printed"] == 0 and outcome(p, c)["dropped"] == 1
    assert 9 not in cups_states(cups_socket, c)


@pytest.mark.parametrize("policy", ["retry-current-job", "stop-printer"])
def test_a_backend_retry_after_a_drop_is_in_doubt_and_cannot_print_twice(cups_socket: CupsHarness,
                                                                         policy: str) -> None:
    # measured: retry-current-job sends the card again at once and CUPS reports completed; stop-printer
    # stops the queue and sends it again in full on cupsenable
    cups_socket.lp("lpadmin", "-p", "card1", "-o", f"printer-error-policy={policy}")
    try:
        p = sprinter(cups_socket)
        c = card()
        p.on_job(c.job_id, drop_at=0.4)
        with pytest.raises(PrinterFault) as err:
            driver(cups_socket).print_card(c)
        assert err.value.card_fed is None
        cups_socket.enable("card1")                           # a technician re-enables the queue
        _wait_for(lambda: not p.running(), 20, "the printer to finish what it had")
        assert outcome(p, c)["printed"] <= 1                  # the retry may have printed it: the operator looks
        assert cups_states(cups_socket, c)[-1] in (7, 8, 9)    # nothing left in CUPS to send it again
    finally:
        cups_socket.lp("lpadmin", "-p", "card1", "-o", "printer-error-policy=abort-job")


def test_printer_refusing_connections_after_the_precheck_is_not_fed(cups_socket: CupsHarness) -> None:
    p = sprinter(cups_socket)
    p.refuse()
    c = card()
    # probe_device off: the precheck cannot see the closed port, the backend finds it
    with pytest.raises(PrinterOffline) as err:
        driver(cups_socket, probe_device=False, probe_grace_s=3.0).print_card(c)
    assert err.value.card_fed is False, err.value
    p.come_back()
    assert outcome(p, c)["started"] == 0
    assert cups_states(cups_socket, c) == [7]                 # canceled: the returning printer gets nothing


def test_precheck_refuses_a_card_when_the_printer_does_not_answer(cups_socket: CupsHarness) -> None:
    sprinter(cups_socket).refuse()
    with pytest.raises(PrinterOffline) as err:
        driver(cups_socket).print_card(card())
    assert err.value.card_fed is False


def test_stalled_printer_is_given_up_in_doubt(cups_socket: CupsHarness) -> None:
    p = sprinter(cups_socket)
    c = card()
    p.on_job(c.job_id, stall_at=0.3)
    with pytest.raises(PrinterTimeout) as err:
        driver(cups_socket, timeout_s=3.0, seconds_single=1.0).print_card(c)
    assert err.value.card_fed is None
    assert cups_states(cups_socket, c) == [7]
    assert outcome(p, c)["printed"] == 0


def test_power_cut_after_the_last_byte_is_in_doubt_although_cups_says_completed(
        cups_socket: CupsHarness, pool: ThreadPoolExecutor) -> None:
    p = sprinter(cups_socket)
    c = card()
    p.on_job(c.job_id, delay=5.0)
    fut = pool.submit(driver(cups_socket).print_card, c)
    p.wait_started(c.job_id)
    _wait_for(lambda: any(str(a.get("job-printer-state-message", "")).startswith("Waiting for printer")
                          for a in (cups_socket.job(j) for j in cups_socket.jobs("card1"))
                          if c.job_id in str(a.get("job-name"))), 20, "the whole stream sent")
    p.kill()
    err = failure(fut)
    assert isinstance(err, PrinterFault) and err.card_fed is None, err
    assert cups_states(cups_socket, c) == [9]                 # CUPS: completed; the printer: nothing
    assert outcome(p, c)["printed"] == 0


def test_status_monitor_reasons_and_markers_reach_the_status(cups_socket: CupsHarness) -> None:
    d = driver(cups_socket, ribbon_capacity=500)
    cups_socket.set_markers("card1", ["Ribbon-YMCKK"], ["ribbon-wax"], [40])
    d.print_card(card())                                       # the vendor filter reports levels with a job
    st = d.status()
    assert st.ribbon is not None and st.ribbon.remaining == 200
    cups_socket.set_status("card1", ["media-jam-error"], "Card jam at the print head")
    st = d.status()
    assert st.state == PrinterState.STOPPED and Reason.MEDIA_JAM in [r.keyword for r in st.reasons]
    with pytest.raises(PrinterFault) as err:
        d.print_card(card())
    assert err.value.card_fed is False                         # refused before it was sent


def test_status_monitor_error_during_a_card_makes_it_in_doubt(cups_socket: CupsHarness,
                                                              pool: ThreadPoolExecutor) -> None:
    p = sprinter(cups_socket)
    c = card()
    p.on_job(c.job_id, delay=2.0)
    fut = pool.submit(driver(cups_socket).print_card, c)
    p.wait_started(c.job_id)
    cups_socket.set_status("card1", ["media-jam-error"], "Card jam")
    err = failure(fut)
    assert isinstance(err, PrinterFault) and err.card_fed is None and err.reasons[0] == "media-jam", err


def test_cupsd_restart_after_the_last_byte_prints_the_card_once_and_asks(cups_socket: CupsHarness,
                                                                         pool: ThreadPoolExecutor) -> None:
    # measured: a restarted cupsd sends a processing job again from the start at once; the printer
    # already had the whole first stream, so the second send is a second card unless printd cuts it off
    p = sprinter(cups_socket)
    c = card()
    p.on_job(c.job_id, delay=2.0)
    fut = pool.submit(driver(cups_socket).print_card, c)
    _wait_for(lambda: [r for r in p.received() if c.job_id in r["job_name"]], 20, "the whole stream in")
    cups_socket.restart_cupsd()
    err = failure(fut)
    assert isinstance(err, PrinterFault) and err.card_fed is None, err
    assert "cupsd" in str(err), err                            # rule K2, in the words the operator sees
    _wait_for(lambda: not p.running(), 20, "the printer to finish what it had")
    assert outcome(p, c)["printed"] == 1                       # the first send; the second was cut off
    assert cups_states(cups_socket, c)[-1] == 7
