"""The whole daemon over two real CUPS queues, each on its own fake card printer (issue 5 scenarios).

printd runs as in production (uvicorn, the HTTP API, the station, one CUPS driver per printer) against
the private cupsd of `tests/cups_harness.py`. Every scenario checks three accounts against each other:
the daemon's job states, what each fake printer actually put out (its own record, matched by the
printd job id in the CUPS job title), and the blangko ledger (cards consumed per printer, spoiled).
A card whose fate printd cannot know ends `in_doubt`; the test then plays the operator who looks at
the printer and resolves it, as the station's procedure says.

No timing assertions: the waits are bounded, the asserts are about outcomes.
"""
from __future__ import annotations

import collections
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cups_daemon import (
    book_blanks,
    jobs,
    ledger_by_printer,
    ledger_entries,
    physical_prints,
    started_jobs,
    station_config,
)
from tests.cups_harness import CupsHarness
from tests.support import Daemon, daemon_thread, job_payload, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.cups]

FINAL = {"printed", "failed", "canceled"}


@contextmanager
def station(harness: CupsHarness, tmp_path: Path, loads: dict[str, int], **driver: Any
            ) -> Iterator[tuple[Daemon, httpx.Client]]:
    """The daemon over queues card1/card2 with blanks booked into their hoppers; an admin client."""
    with (daemon_thread(station_config(harness.server, **driver), tmp_path / "state") as d,
          d.client() as admin):
        wait_for(lambda: all(admin.get(f"/api/v1/printers/{p}").json()["state"] == "idle" for p in loads),
                 timeout=20, interval=0.1, what="both CUPS printers idle")
        book_blanks(admin, loads)
        yield d, admin


def submit(client: httpx.Client, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        r = client.post("/api/v1/jobs", json=job_payload(i))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def wait_states(client: httpx.Client, ids: list[str], want: set[str], timeout: float = 60,
                what: str = "jobs") -> dict[str, dict[str, Any]]:
    """Wait until every job is in one of `want`; the jobs."""
    def done() -> dict[str, dict[str, Any]] | None:
        found = jobs(client, ids)
        return found if all(j["state"] in want for j in found.values()) else None

    return wait_for(done, timeout=timeout, interval=0.3, what=what)  # type: ignore[no-any-return]


def wait_in_doubt(client: httpx.Client, ids: list[str], timeout: float = 30) -> list[dict[str, Any]]:
    """Wait until the other jobs are final and at least one is in doubt; the jobs in doubt."""
    def settled() -> list[dict[str, Any]] | None:
        found = jobs(client, ids).values()
        doubt = [j for j in found if j["state"] == "in_doubt"]
        rest_final = all(j["state"] in FINAL for j in found if j["state"] != "in_doubt")
        return doubt if doubt and rest_final else None

    found = wait_for(settled, timeout=timeout, interval=0.3, what="one job in doubt, the others final")
    return found  # type: ignore[no-any-return]


def wait_started(harness: CupsHarness, printer: str, ids: list[str], timeout: float = 30) -> str:
    """The first of these jobs whose card the printer's print command started."""
    found = wait_for(lambda: started_jobs(harness, printer, ids), timeout=timeout, interval=0.05,
                     what=f"a card to start on {printer}")
    return found[0]  # type: ignore[no-any-return]


def printer(client: httpx.Client, name: str) -> dict[str, Any]:
    return client.get(f"/api/v1/printers/{name}").raise_for_status().json()  # type: ignore[no-any-return]


def resolve(client: httpx.Client, job_id: str, outcome: str, note: str) -> dict[str, Any]:
    r = client.post(f"/api/v1/jobs/{job_id}/resolve", json={"outcome": outcome, "note": note})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def cups_job_states(harness: CupsHarness, job_id: str) -> list[int]:
    """CUPS job-state of every CUPS job printd sent for this printd job, oldest first."""
    found = [(jid, a) for jid, a in harness.jobs().items() if job_id in str(a.get("job-name"))]
    return [int(a["job-state"]) for _, a in sorted(found)]


def assert_accounts_agree(client: httpx.Client, harness: CupsHarness, ids: list[str],
                          spoiled: dict[str, int] | None = None) -> dict[str, dict[str, Any]]:
    """Every job printed, each card put out exactly once by the printer printd says, ledger matching."""
    final = jobs(client, ids)
    assert {j["state"] for j in final.values()} == {"printed"}, {i: j["state"] for i, j in final.items()}
    out = physical_prints(harness, ids)
    twice = {i: p for i, p in out.items() if len(p) != 1}
    assert not twice, f"printed more than once: {twice}"
    assert set(out) == set(ids), f"never put out by any printer: {set(ids) - set(out)}"
    for i, j in final.items():
        assert out[i] == [j["printer"]], f"{i}: printd says {j['printer']}, the printers say {out[i]}"
    per_printer = collections.Counter(j["printer"] for j in final.values())
    books = ledger_by_printer(client)
    assert books["consumed"] == per_printer, (books["consumed"], per_printer)
    assert books["spoiled"] == collections.Counter(spoiled or {}), books["spoiled"]
    stock = client.get("/api/v1/stock").json()["card_types"]
    hoppers = next(c for c in stock if c["card_type"] == "ktp-el")["hoppers"]
    for name, loaded in books["loaded"].items():
        assert hoppers[name] == loaded - per_printer[name] - books["spoiled"][name]
    for name in harness.printers:
        assert printer(client, name)["counters"]["today"] == per_printer[name]
    return final


# ---------------------------------------------------------------------- 1. a normal run


def test_twenty_jobs_balanced_across_both_cups_printers(cups_harness: CupsHarness, tmp_path: Path) -> None:
    with station(cups_harness, tmp_path, {"card1": 15, "card2": 15}) as (_, admin):
        ids = submit(admin, 20)
        wait_states(admin, ids, {"printed"}, timeout=90, what="20 jobs printed")
        final = assert_accounts_agree(admin, cups_harness, ids)
        per_printer = collections.Counter(j["printer"] for j in final.values())
        assert 8 <= per_printer["card1"] <= 12 and 8 <= per_printer["card2"] <= 12, per_printer
        assert all(len(j["attempts"]) == 1 for j in final.values())
        assert cups_harness.printers["card1"].printed()[-1]["content_type"] == "application/pdf"


# ---------------------------------------------------------------------- 2. hopper runs empty


def test_media_empty_on_card1_sends_the_work_to_card2_and_shows_the_reason(
        cups_harness: CupsHarness, tmp_path: Path) -> None:
    p1 = cups_harness.printers["card1"]
    # the card card1 takes first is its last blank: its hopper sensor reports media-empty with it
    p1.on_next_job(states=["+media-empty"])
    with station(cups_harness, tmp_path, {"card1": 10, "card2": 10}) as (_, admin):
        ids = submit(admin, 8)
        wait_states(admin, ids, {"printed"}, timeout=60, what="8 jobs printed")
        final = assert_accounts_agree(admin, cups_harness, ids)
        on_card1 = [i for i, j in final.items() if j["printer"] == "card1"]
        assert len(on_card1) == 1, on_card1        # the card that emptied the hopper, and no other
        # a card card1 claimed before its poll saw the empty hopper was refused before it was sent,
        # then printed by card2
        for j in final.values():
            for a in j["attempts"][:-1]:
                assert (a["printer"], a["outcome"], a["reason"]) == ("card1", "not_fed", "media-empty"), a
        assert started_jobs(cups_harness, "card1", ids) == on_card1
        st = printer(admin, "card1")
        assert st["state"] == "stopped" and "media-empty" in st["reasons"], st
        assert st["hopper"]["sensor_empty"] is True
        detail = next(r for r in st["reason_details"] if r["keyword"] == "media-empty")
        assert detail["severity"] == "error"
        assert printer(admin, "card2")["state"] in ("idle", "printing")
        # blanks refilled: the printer clears the condition and card1 takes work again
        p1.restart()
        wait_for(lambda: printer(admin, "card1")["state"] == "idle", timeout=20, interval=0.2,
                 what="card1 idle after the refill")
        more = submit(admin, 4, start=100)
        wait_states(admin, more, {"printed"}, timeout=60, what="4 more jobs printed")
        assert "card1" in {j["printer"] for j in jobs(admin, more).values()}
        assert_accounts_agree(admin, cups_harness, ids + more)


# ---------------------------------------------------------------------- 3. printer killed mid-card


def test_printer_killed_mid_card_leaves_it_in_doubt_and_nothing_prints_twice(cups_harness: CupsHarness,
                                                                             tmp_path: Path) -> None:
    p1 = cups_harness.printers["card1"]
    p1.on_next_job(delay=30)          # card1's first card is still in the mechanism when the power goes
    with station(cups_harness, tmp_path, {"card1": 10, "card2": 10}) as (_, admin):
        ids = submit(admin, 6)
        lost = wait_started(cups_harness, "card1", ids)
        p1.kill()
        doubt = wait_in_doubt(admin, ids)
        assert [j["id"] for j in doubt] == [lost]
        job = doubt[0]
        assert job["printer"] == "card1" and job["attempts"][-1]["outcome"] == "in_doubt"
        assert job["attempts"][-1]["reason"] == "offline"
        assert printer(admin, "card1")["state"] == "offline"
        assert lost not in physical_prints(cups_harness, ids)
        others = [i for i in ids if i != lost]
        assert {j["printer"] for j in jobs(admin, others).values()} == {"card2"}
        assert not ledger_entries(admin, "spoiled")
        # the printer comes back without the job: CUPS must not print it now, nor call it a success
        p1.start()
        wait_for(lambda: printer(admin, "card1")["state"] == "idle", timeout=30, interval=0.2,
                 what="card1 back online")
        assert cups_job_states(cups_harness, lost) == [7]          # canceled by printd, never completed
        # the operator finds a half-printed card in the mechanism: spoiled, and the job prints again
        resolved = resolve(admin, lost, "spoiled", "card stuck in card1 after the power cut")
        assert resolved["state"] == "queued"
        wait_states(admin, [lost], {"printed"}, timeout=30, what="the resolved job printed")
        assert_accounts_agree(admin, cups_harness, ids, spoiled={"card1": 1})
        spoiled = ledger_entries(admin, "spoiled")
        assert [(e["job_id"], e["printer"], e["from"]) for e in spoiled] == [(lost, "card1", "hopper:card1")]
        assert cups_job_states(cups_harness, lost)[0] == 7


# ---------------------------------------------------------------------- 4. queue disabled mid-card


def test_queue_disabled_mid_card_prints_no_duplicate(cups_harness: CupsHarness, tmp_path: Path) -> None:
    p1 = cups_harness.printers["card1"]
    p1.on_next_job(delay=2.0)
    with station(cups_harness, tmp_path, {"card1": 10, "card2": 10}) as (_, admin):
        ids = submit(admin, 6)
        caught = wait_started(cups_harness, "card1", ids)
        cups_harness.disable("card1", "technician: ribbon check")
        doubt = wait_in_doubt(admin, ids)
        assert [j["id"] for j in doubt] == [caught]
        st = printer(admin, "card1")
        assert st["state"] == "stopped" and "paused" in st["reasons"], st
        # the printer had the document: it finishes the card although CUPS stopped the job
        wait_for(lambda: physical_prints(cups_harness, [caught]).get(caught), timeout=20, interval=0.2,
                 what="card1 to finish the card it had")
        cups_harness.enable("card1")
        wait_for(lambda: printer(admin, "card1")["state"] == "idle", timeout=20, interval=0.2,
                 what="card1 enabled again")
        # re-enabling the queue cannot send it again: printd canceled the CUPS job
        assert cups_job_states(cups_harness, caught) == [7]
        # a class would now print it on the other printer too; printd asks the operator, who sees it
        resolve(admin, caught, "printed", "card came out of card1")
        more = submit(admin, 2, start=50)
        wait_states(admin, more, {"printed"}, timeout=30, what="2 more jobs printed")
        final = assert_accounts_agree(admin, cups_harness, ids + more)
        assert final[caught]["printer"] == "card1" and len(final[caught]["attempts"]) == 1
        assert started_jobs(cups_harness, "card1", ids).count(caught) == 1
        assert caught not in started_jobs(cups_harness, "card2", ids)
        consumed = next(e for e in ledger_entries(admin, "consumed") if e["job_id"] == caught)
        assert consumed["printer"] == "card1" and consumed["actor"] != "station"


# ---------------------------------------------------------------------- 5. printer-side failure


def test_printer_side_failure_moves_the_job_to_card2_never_silently_canceled(cups_harness: CupsHarness,
                                                                             tmp_path: Path) -> None:
    p1 = cups_harness.printers["card1"]
    # the card jams in card1: the printer aborts the job and reports media-jam
    p1.on_next_job(delay=0.3, fail=True, states=["+media-jam"])
    with station(cups_harness, tmp_path, {"card1": 10, "card2": 10}) as (_, admin):
        ids = submit(admin, 6)
        doubt = wait_in_doubt(admin, ids)
        jammed = doubt[0]["id"]
        assert len(doubt) == 1 and doubt[0]["printer"] == "card1"
        # the printer's own reason when its probe answers in time after the abort, else "other" (seen
        # under CI load); the printer's state below must name the jam either way
        assert doubt[0]["attempts"][-1]["reason"] in ("media-jam", "other")
        st = printer(admin, "card1")
        assert st["state"] == "stopped" and "media-jam" in st["reasons"], st
        # CUPS aborts it (7, 8), or, under load, reports the printer-side abort as completed (9): the false
        # success measured in CI-NOTES.md. printd's answer above (in doubt, the jam shown) is what counts.
        assert cups_job_states(cups_harness, jammed)[0] in (7, 8, 9)
        assert [r for r in p1.failed() if jammed in r["job_name"]]
        # the operator pulls the jammed card out: spoiled; the job goes back to the queue, card2 prints it
        assert resolve(admin, jammed, "spoiled", "jammed card removed from card1")["state"] == "queued"
        final = wait_states(admin, [jammed], {"printed"}, timeout=30, what="the jammed job printed")[jammed]
        assert final["printer"] == "card2"
        assert [(a["printer"], a["outcome"]) for a in final["attempts"]] == [("card1", "spoiled"),
                                                                             ("card2", "printed")]
        assert_accounts_agree(admin, cups_harness, ids, spoiled={"card1": 1})
        # the jam cleared, card1 prints again
        p1.restart()
        wait_for(lambda: printer(admin, "card1")["state"] == "idle", timeout=20, interval=0.2,
                 what="card1 idle after the jam was cleared")


# ---------------------------------------------------------------------- 6. cupsd restarted


def test_cupsd_restart_during_the_day_the_daemon_reconnects_and_finishes(cups_harness: CupsHarness,
                                                                         tmp_path: Path) -> None:
    with station(cups_harness, tmp_path, {"card1": 15, "card2": 15}) as (_, admin):
        ids = submit(admin, 14)
        wait_for(lambda: sum(j["state"] == "printed" for j in jobs(admin, ids).values()) >= 4, timeout=60,
                 interval=0.2, what="4 cards printed")
        cups_harness.restart_cupsd()
        wait_states(admin, ids, FINAL | {"in_doubt"}, timeout=90, what="the day's jobs printed or in doubt")
        # cards in flight at the restart are in doubt; the operator looks at each printer's output tray
        doubt = [j for j in jobs(admin, ids).values() if j["state"] == "in_doubt"]

        def printers_quiet() -> bool:   # an operator looks once the printers have stopped moving
            return not any(p.running() for p in cups_harness.printers.values())

        wait_for(printers_quiet, timeout=30, interval=0.2, what="the printers finished what they had")
        for j in doubt:
            out = physical_prints(cups_harness, [j["id"]]).get(j["id"], [])
            assert out in ([], [j["printer"]]), (j["id"], out)
            resolve(admin, j["id"], "printed" if out else "not_fed",
                    "card in the output tray" if out else "no card came out")
        wait_states(admin, ids, {"printed"}, timeout=60, what="every job printed")
        final = assert_accounts_agree(admin, cups_harness, ids)
        assert {j["printer"] for j in final.values()} == {"card1", "card2"}
        for name in ("card1", "card2"):   # a printer reports idle on its next status after its last card
            wait_for(lambda n=name: printer(admin, n)["state"] == "idle", timeout=30, interval=0.2,
                     what=f"{name} idle")
