"""The whole daemon over two socket:// CUPS queues: the e-KTP printer's real path (issue 22).

Each queue is `socket://127.0.0.1:PORT` with the vendor-style filter and PPD (as HID's HDP5000 driver is
installed), on its own AppSocket test printer (`tests/appsocket_printer.py`) that records every card it
put out with the hash of its stream. printd runs as in production (uvicorn, the HTTP API, the station,
one CUPS driver per printer). The accounts checked against each other: the daemon's job states, what
each test printer printed, and the blangko ledger. The test plays the operator for cards in doubt, and
answers from what the printer shows.

No timing assertions: the waits are bounded, the asserts are about outcomes.
"""
from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.appsocket_printer import SocketPrinter
from tests.cups_daemon import jobs, ledger_entries, physical_prints
from tests.cups_harness import CupsHarness
from tests.e2e.test_cups_station import (
    FINAL,
    assert_accounts_agree,
    printer,
    resolve,
    station,
    submit,
    wait_states,
)
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.cups]


def sprinter(h: CupsHarness, name: str) -> SocketPrinter:
    p = h.printers[name]
    assert isinstance(p, SocketPrinter)
    return p


def operator_answers(h: CupsHarness, job: dict[str, Any]) -> str:
    """What the operator says after looking at the printer: card in the tray, card stuck, or nothing."""
    title = f"printd {job['id']} #{job['attempts'][-1]['n']}"
    p = sprinter(h, job["printer"])
    if any(r["job_name"] == title for r in p.printed()):
        return "printed"
    if any(r["job_name"] == title for r in p.started()):
        return "spoiled"       # its stream reached the printer: the blank may have been picked
    return "not_fed"


def settle_in_doubt(admin: httpx.Client, h: CupsHarness, ids: list[str]) -> list[dict[str, Any]]:
    """Every job final or in doubt; no card called printed that its printer did not print; then the
    operator answers each job in doubt. Returns the answers."""
    found = wait_states(admin, ids, FINAL | {"in_doubt"}, timeout=120, what="every job printed or in doubt")
    out = physical_prints(h, ids)
    for i, j in found.items():
        assert len(out.get(i, [])) <= 1, f"{i} printed twice: {out[i]}"
        if j["state"] == "printed":
            assert out.get(i) == [j["printer"]], f"{i}: printd says printed on {j['printer']}, printers: {out.get(i)}"
    wait_for(lambda: not any(p.running() for p in h.printers.values()), timeout=30, interval=0.2,
             what="the printers finished what they had")
    answers = []
    for j in jobs(admin, ids).values():
        if j["state"] != "in_doubt":
            continue
        assert j["attempts"][-1]["outcome"] == "in_doubt"
        said = operator_answers(h, j)
        resolve(admin, j["id"], said, f"operator looked at {j['printer']}")
        answers.append({"job": j["id"], "printer": j["printer"], "said": said,
                        "reason": j["attempts"][-1]["reason"]})
    return answers


def test_dropped_connection_and_cupsd_restart_on_socket_queues(cups_socket: CupsHarness, tmp_path: Path) -> None:
    p1 = sprinter(cups_socket, "card1")
    # card1's first card: the printer drops the connection when 40 % of its stream is in
    p1.on_next_job(drop_at=0.4)
    with station(cups_socket, tmp_path, {"card1": 20, "card2": 20}) as (_, admin):
        for name in ("card1", "card2"):
            assert printer(admin, name)["state"] == "idle"
        ids = submit(admin, 16)
        wait_for(lambda: [r for r in p1.dropped() if any(i in r["job_name"] for i in ids)], timeout=60,
                 interval=0.1, what="card1 to drop a connection")
        wait_for(lambda: sum(j["state"] == "printed" for j in jobs(admin, ids).values()) >= 6, timeout=90,
                 interval=0.2, what="6 cards printed")
        cups_socket.restart_cupsd()                                   # mid-day, cards in flight
        answers = settle_in_doubt(admin, cups_socket, ids)
        dropped = {r["job_name"] for r in p1.dropped() if any(i in r["job_name"] for i in ids)}
        doubt_titles = {f"printd {a['job']} #1" for a in answers}
        assert dropped <= doubt_titles, (dropped, answers)             # the dropped card was asked about
        wait_states(admin, ids, {"printed"}, timeout=90, what="every job printed")
        spoiled = collections.Counter(a["printer"] for a in answers if a["said"] == "spoiled")
        final = assert_accounts_agree(admin, cups_socket, ids, spoiled=dict(spoiled))
        assert {j["printer"] for j in final.values()} == {"card1", "card2"}
        for e in ledger_entries(admin, "spoiled"):
            assert e["job_id"] in {a["job"] for a in answers}
        for name in ("card1", "card2"):
            assert printer(admin, name)["state"] == "idle"


def test_printer_off_on_one_socket_queue_moves_the_work_and_asks_about_the_card_in_it(
        cups_socket: CupsHarness, tmp_path: Path) -> None:
    p1 = sprinter(cups_socket, "card1")
    p1.on_next_job(delay=4.0)                                         # a card in the mechanism when the power goes
    with station(cups_socket, tmp_path, {"card1": 10, "card2": 10}) as (_, admin):
        ids = submit(admin, 6)
        wait_for(lambda: [r for r in p1.started() if any(i in r["job_name"] for i in ids)], timeout=30,
                 interval=0.05, what="a card to start on card1")
        p1.kill()
        wait_for(lambda: printer(admin, "card1")["state"] == "offline", timeout=30, interval=0.2,
                 what="card1 shown offline")
        answers = settle_in_doubt(admin, cups_socket, ids)
        assert [a["printer"] for a in answers] == ["card1"], answers
        assert physical_prints(cups_socket, [answers[0]["job"]]) == {}
        p1.start()
        wait_for(lambda: printer(admin, "card1")["state"] == "idle", timeout=30, interval=0.2,
                 what="card1 back")
        wait_states(admin, ids, {"printed"}, timeout=60, what="every job printed")
        assert_accounts_agree(admin, cups_socket, ids, spoiled={"card1": 1})
