"""`printd simulate --backlog`: the planning model (printd/planning.py) and its command line.

Figures from issue 18: a ribbon ~500 prints, film ~1,500, a daily quota (Kab. Cirebon: 650 a day
online), a KIA card needs a direct-to-card printer."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from printd.cli.main import main
from printd.planning import PlanInput, PlanPrinter, parse_outage, parse_printer, plan

TWO = [PlanPrinter("card1", "retransfer", 36.0), PlanPrinter("card2", "retransfer", 36.0)]   # 800 cards a day each


def test_days_to_clear_with_a_quota_and_an_outage() -> None:
    r = plan(PlanInput(printers=TWO, backlog={"ktp-el": 3000}, quota=650, outages={"card2": {2}}))
    assert [sum(d["printed"].values()) for d in r["days"]] == [650, 650, 650, 650, 400]
    assert (r["cleared"], r["working_days"]) == (True, 5)
    # no quota: 1,600 a day, but card2 is out on day 2
    r = plan(PlanInput(printers=TWO, backlog={"ktp-el": 3000}, outages={"card2": {2}}))
    assert [sum(d["printed"].values()) for d in r["days"]] == [1600, 800, 600]


def test_when_ribbon_film_and_blanks_run_out() -> None:
    # one ribbon fitted per printer plus 1 in the store: 1,500 prints; film: 2 fitted + 0 = 3,000
    r = plan(PlanInput(printers=TWO, backlog={"ktp-el": 3000}, ribbon_rolls=1, film_rolls=0))
    assert r["runs_out"] == {"ribbon": 1}
    assert (r["cleared"], r["stopped_by"], r["days"][-1]["waiting"]["ktp-el"]) == (False, "ribbon", 1500)
    r = plan(PlanInput(printers=TWO, backlog={"ktp-el": 3000}, blanks={"ktp-el": 2000}))
    assert (r["runs_out"], r["stopped_by"]) == ({"blanks:ktp-el": 2}, "blanks:ktp-el")


def test_kia_needs_a_direct_printer() -> None:
    r = plan(PlanInput(printers=TWO, backlog={"ktp-el": 100, "kia": 40}))
    assert (r["cleared"], r["unprintable"], r["working_days"]) == (True, ["kia"], 1)   # the ktp-el part clears
    mixed = [PlanPrinter("card1", "retransfer", 36.0), PlanPrinter("evo1", "direct", 30.0)]
    r = plan(PlanInput(printers=mixed, backlog={"ktp-el": 100, "kia": 40}))
    assert r["days"][0]["printed"] == {"ktp-el": 100, "kia": 40} and r["working_days"] == 1


def test_arrivals_keep_the_backlog_growing_when_they_exceed_capacity() -> None:
    r = plan(PlanInput(printers=TWO[:1], backlog={"ktp-el": 2000}, arrivals={"ktp-el": 900}))   # 800 a day
    assert r["cleared"] is False and len(r["days"]) == 366
    assert r["days"][-1]["waiting"]["ktp-el"] == 2000 + 365 * 900 - 366 * 800
    r = plan(PlanInput(printers=TWO, backlog={"ktp-el": 2000}, arrivals={"ktp-el": 900}))       # 1,600 a day
    assert (r["cleared"], r["working_days"]) == (True, 2)                # 400 left + 900 new on day 2


@pytest.mark.parametrize("bad", ["card1", "card1:laser", "Card1:direct", "card1:direct:x"])
def test_bad_printer_specs(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_printer(bad)


def test_outage_specs() -> None:
    assert parse_outage("card1:3-4") == ("card1", {3, 4})
    with pytest.raises(ValueError):
        parse_outage("card1:4-3")


def test_the_command_line() -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["simulate", "--backlog", "3000", "--quota", "650", "--outage", "card2:2",
                             "--ribbon", "4", "--blanks", "ktp-el=2500", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert (doc["cleared"], doc["runs_out"], doc["stopped_by"]) == (False, {"blanks:ktp-el": 4}, "blanks:ktp-el")
    r = runner.invoke(main, ["simulate", "--backlog", "300", "--printer", "card1:retransfer:36"])
    assert r.exit_code == 0 and "cleared in 1 working day(s)" in r.output
    r = runner.invoke(main, ["simulate", "--backlog", "3", "--outage", "card9:1"])
    assert r.exit_code == 2 and "no printer named card9" in r.output
