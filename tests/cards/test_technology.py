"""Card type vs printer technology: config refusal at start-up, defaults, and the dispatcher's filter.

Why it matters: a KIA card (PVC, direct-to-card) run through a KTP-el retransfer printer broke the printer
in Bangli (issue 18, from the office's report); KTP-el blanks are printed by retransfer (HDP5000-class).
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from printd.cards.technology import NO_FIT_PRINTER, fit_by_printer, printer_technology
from printd.config import load, parse
from printd.errors import ConfigError
from printd.queue.models import JobState
from printd.station import Station
from tests.support import config_text
from tests.test_station import submit, until


async def _printed(st: Station, job_id: str) -> bool:
    return (await st.get_job(job_id)).state == JobState.PRINTED


CUPS = '[printers.{n}]\ndriver = "cups"\nqueue = "Q{n}"\n'
EVOLIS = '[printers.{n}]\ndriver = "evolis"\ntransport = "emulator"\n'
MOCK = '[printers.{n}]\ndriver = "mock"\n'


def test_driver_defaults() -> None:
    s = parse(CUPS.format(n="a") + 'card_type = "ktp-el"\n' + EVOLIS.format(n="b") + 'card_type = "kia"\n'
              + MOCK.format(n="c") + MOCK.format(n="d") + 'card_type = "kia"\n', "<t>")
    assert {n: printer_technology(s, n) for n in s.printers} == {
        "a": "retransfer", "b": "direct", "c": "retransfer", "d": "direct"}
    assert fit_by_printer(s) == {"a": frozenset({"ktp-el"}), "b": frozenset({"kia"}),
                                 "c": frozenset({"ktp-el"}), "d": frozenset({"kia"})}


def test_the_embedded_default_and_the_sample_config_are_valid() -> None:
    assert set(fit_by_printer(load(None)).values()) == {frozenset({"ktp-el"})}
    sample = load(Path(__file__).resolve().parents[2] / "config" / "printd.toml")
    assert fit_by_printer(sample) == {"card1": frozenset({"ktp-el"}), "card2": frozenset({"kia"})}


@pytest.mark.parametrize("table, printer, tech, card_type", [
    (CUPS.format(n="card1") + 'card_type = "kia"\n', "card1", "retransfer", "kia"),
    (EVOLIS.format(n="evo1"), "evo1", "direct", "ktp-el"),          # Evolis with the default ktp-el hopper
    (MOCK.format(n="sim") + 'technology = "direct"\n', "sim", "direct", "ktp-el"),
])
def test_a_hopper_on_an_unfit_printer_stops_start_up_with_one_line(table: str, printer: str, tech: str,
                                                                   card_type: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(table, "printd.toml")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"printd.toml: [printers.{printer}] printer {printer} is a {tech}")
    assert card_type in msg


def test_card_types_table_overrides_one_and_keeps_the_other_default() -> None:
    # an office whose KIA printer is a retransfer one may say so
    s = parse('[card_types.kia]\ntechnology = "retransfer"\n' + CUPS.format(n="a") + 'card_type = "kia"\n', "<t>")
    assert fit_by_printer(s) == {"a": frozenset({"ktp-el", "kia"})}
    with pytest.raises(ConfigError, match=r"\[card_types.kia.technology\]"):
        parse('[card_types.kia]\ntechnology = "inkjet"\n' + MOCK.format(n="a"), "<t>")
    with pytest.raises(ConfigError, match=r"\[printers.a.technology\]"):
        parse(MOCK.format(n="a") + 'technology = "laser"\n', "<t>")
    with pytest.raises(ConfigError, match=r"\[card_types.sim-a\]"):
        parse('[card_types.sim-a]\ntechnology = "direct"\n' + MOCK.format(n="a"), "<t>")


async def test_a_kia_job_waits_for_a_direct_printer_and_never_goes_to_a_retransfer_one(tmp_path: Path) -> None:
    st = Station(parse(config_text(time_scale=500, seed=200), "<t>"), tmp_path / "s")   # two retransfer mocks
    await st.start()
    try:
        assert [st.printer_view(w)["technology"] for w in st.workers.values()] == ["retransfer", "retransfer"]
        kia = await submit(st, 1, card_type="kia")
        ktp = await submit(st, 2)
        await until(lambda: _printed(st, ktp), what="ktp job printed")
        view = st.job_view(await st.get_job(kia))
        assert (view["state"], view["state_reason"], view["estimated_done_at"]) == ("queued", NO_FIT_PRINTER, None)
        # even kia blanks booked into card1's hopper by hand (bypassing the load check) are never fed to it
        st.stock.fits = None
        left = (await st.db(st.stock.balances))["ktp-el"]["hoppers"]["card1"]
        await st.unload("card1", "ktp-el", left, "t")
        await st.load("card1", "kia", 5, "t")
        st.stock.fits = st.fits
        assert await st.dispatch_once() == 0
        await asyncio.sleep(0.3)
        job = await st.get_job(kia)
        assert (job.state, job.attempts) == (JobState.QUEUED, [])
        assert st.job_view(job)["state_reason"] == NO_FIT_PRINTER
    finally:
        await st.stop()
