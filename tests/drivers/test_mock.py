"""The simulated printer as a driver: counters that persist, printed.jsonl, faults, recovery."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from printd.config import parse
from printd.drivers.base import Card, Driver, PrinterState, Simulated
from printd.drivers.mock import MockPrinter
from printd.errors import PrinterFault, PrinterOffline


def make(tmp_path: Path, **over: object) -> MockPrinter:
    values = {"time_scale": 1000, **over}
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
    cfg = parse(f'[printers.p1]\ndriver = "mock"\n{extra}', "<t>").printers["p1"]
    return MockPrinter("p1", cfg, tmp_path / "p1")  # type: ignore[arg-type]


def card(i: int = 1, back: bool = False) -> Card:
    return Card(job_id=f"j_{i}", attempt=1, card_type="ktp-el", front_png=b"front%d" % i,
                back_png=b"back" if back else None)


def test_is_a_driver_and_simulated(tmp_path: Path) -> None:
    p = make(tmp_path)
    assert isinstance(p, Driver) and isinstance(p, Simulated)
    ident = p.open()
    assert ident.serial.startswith("SIM") and ident.model


def test_prints_log_counters_and_supplies(tmp_path: Path) -> None:
    p = make(tmp_path)
    p.open()
    p.load_cards("ktp-el", 5)
    out = p.print_card(card(1, back=True))
    assert (out.counters_before.printed, out.counters_after.printed) == (0, 1)
    assert out.counters_after.fed == 1
    st = p.status()
    assert st.state == PrinterState.IDLE and st.hopper_count == 4
    assert st.ribbon and st.ribbon.remaining == 499 and st.film and st.film.remaining == 1498
    [rec] = [json.loads(x) for x in (tmp_path / "p1" / "printed.jsonl").read_text().splitlines()]
    assert rec["job_id"] == "j_1" and rec["attempt"] == 1 and rec["back_sha256"] and rec["front_sha256"]
    # counters survive a restart, like a real printer's
    again = make(tmp_path)
    assert again.status().counters.printed == 1


def test_empty_hopper_is_media_empty_without_feeding(tmp_path: Path) -> None:
    p = make(tmp_path)
    p.open()
    st = p.status()
    assert st.hopper_empty and "media-empty" in [r.keyword for r in st.reasons] and not st.can_print
    with pytest.raises(PrinterFault) as exc:
        p.print_card(card())
    assert exc.value.card_fed is False and exc.value.reasons == ("media-empty",)
    assert p.status().counters.fed == 0


@pytest.mark.parametrize("kind,fed", [("cover-open", False), ("overheat", False), ("media-jam", False),
                                      ("marker-supply-empty", False)])
def test_standing_faults_refuse_before_feeding(tmp_path: Path, kind: str, fed: bool) -> None:
    p = make(tmp_path)
    p.open()
    p.load_cards("ktp-el", 3)
    p.inject_fault(kind, None)
    assert p.status().state == PrinterState.STOPPED
    with pytest.raises(PrinterFault) as exc:
        p.print_card(card())
    assert exc.value.card_fed is fed
    p.clear_faults()
    assert p.status().state == PrinterState.IDLE


def test_jam_during_a_card_spoils_it(tmp_path: Path) -> None:
    p = make(tmp_path, time_scale=10)  # 3.5 s a card
    p.open()
    p.load_cards("ktp-el", 3)
    threading.Timer(0.2, p.inject_fault, args=("media-jam", None)).start()
    with pytest.raises(PrinterFault) as exc:
        p.print_card(card())
    assert exc.value.card_fed is True and exc.value.reasons == ("media-jam",)
    st = p.status()
    assert st.counters.fed == 1 and st.counters.printed == 0 and st.hopper_count == 2
    assert not (tmp_path / "p1" / "printed.jsonl").exists()


def test_fault_with_duration_clears_by_itself(tmp_path: Path) -> None:
    p = make(tmp_path)
    p.open()
    p.load_cards("ktp-el", 1)
    p.inject_fault("overheat", 0.1)
    assert p.status().state == PrinterState.STOPPED
    time.sleep(0.15)
    assert p.status().state == PrinterState.IDLE


def test_offline_raises_and_card_in_flight_finishes_on_reconnect(tmp_path: Path) -> None:
    p = make(tmp_path, time_scale=10)
    p.open()
    p.load_cards("ktp-el", 2)
    threading.Timer(0.2, p.inject_fault, args=("offline", None)).start()
    with pytest.raises(PrinterOffline) as exc:
        p.print_card(card(7))
    assert exc.value.card_fed is None
    with pytest.raises(PrinterOffline):
        p.status()
    p.clear_faults()
    p.open()  # the mechanism finished the card it held
    st = p.status()
    assert (st.counters.fed, st.counters.printed) == (1, 1)
    lines = (tmp_path / "p1" / "printed.jsonl").read_text().splitlines()
    assert [json.loads(x)["job_id"] for x in lines] == ["j_7"]


def test_restart_after_crash_completes_in_flight_card_once(tmp_path: Path) -> None:
    p = make(tmp_path)
    p.open()
    p.load_cards("ktp-el", 2)
    state = json.loads((tmp_path / "p1" / "state.json").read_text())
    state.update(fed=1, hopper=1, in_flight={"job_id": "j_9", "attempt": 2, "front_sha256": "f", "back_sha256": None})
    (tmp_path / "p1" / "state.json").write_text(json.dumps(state))
    for _ in range(2):  # opening twice must not print it twice
        q = make(tmp_path)
        q.open()
    st = q.status()
    assert (st.counters.fed, st.counters.printed) == (1, 1)
    assert len((tmp_path / "p1" / "printed.jsonl").read_text().splitlines()) == 1


def test_hang_blocks_calls_until_it_ends(tmp_path: Path) -> None:
    p = make(tmp_path)
    p.open()
    p.inject_fault("hang", 0.3)
    t0 = time.monotonic()
    p.status()
    assert time.monotonic() - t0 >= 0.25


def test_seeded_random_faults_are_repeatable(tmp_path: Path) -> None:
    def run(d: Path) -> list[str]:
        p = make(d, fault_rate=0.5, fault_seed=7, fault_kinds=["media-jam", "cover-open"], fault_duration_s=0.001)
        p.open()
        p.load_cards("ktp-el", 50)
        out = []
        for i in range(12):
            try:
                p.print_card(card(i))
                out.append("ok")
            except PrinterFault as exc:
                out.append(exc.reasons[0])
                time.sleep(0.002)
        return out

    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    assert a == b and "ok" in a and len(set(a)) > 1
