"""Fault soak: 1,000 cards with a seeded 10 % fault rate over every fault kind the simulator has."""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from printd.cards.art import sample_card
from printd.config import parse
from printd.queue.models import FINAL, JobState, Priority
from printd.queue.store import NewJob
from printd.station import Station
from tests.support import printed_log

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KINDS = ["media-jam", "media-empty", "marker-supply-empty", "cover-open", "offline", "hang", "overheat"]
N = 1000


def _config() -> str:
    printers = "".join(
        f'[printers.{n}]\ndriver = "mock"\ntime_scale = 1000\nhopper_capacity = 2000\nribbon_capacity = 5000\n'
        f"film_capacity = 5000\nfault_rate = 0.1\nfault_seed = {seed}\nfault_kinds = {json.dumps(KINDS)}\n"
        # 0.8 s real: longer than the card timeout, so hangs really go in doubt and are settled late
        f"fault_duration_s = 800\n\n" for n, seed in (("card1", 11), ("card2", 12)))
    return '[station]\npoll_interval_s = 0.05\nmax_attempts = 10\n[stock]\nseed = { "ktp-el" = 3000 }\n' + printers


async def test_thousand_cards_with_faults_all_end_final_and_spoilage_matches(tmp_path: Path) -> None:
    st = Station(parse(_config(), "<soak>"), tmp_path / "s")
    await st.start()
    try:
        # a real card: the station decodes every accepted image and fails one that does not decode
        sha = st.images.put(sample_card("SOAK", 1))
        for i in range(N):
            await st.submit(NewJob(client="soak", request_id=f"s{i}", nik=f"327401120390{i + 1:04d}", name=f"S{i}",
                                   card_type="ktp-el", reason="new", priority=Priority.NORMAL, front_sha=sha,
                                   back_sha=None, callback_url=None))
        bound = time.monotonic() + 240
        while time.monotonic() < bound:
            counts = await st.db(st.store.counts_by_state)
            if sum(v for k, v in counts.items() if JobState(k) in FINAL) == N:
                break
            await asyncio.sleep(0.25)
        counts = await st.db(st.store.counts_by_state)
        assert sum(v for k, v in counts.items() if JobState(k) in FINAL) == N, f"stuck: {counts}"
        jobs = await st.db(st.store.list, limit=N)
        outcomes = Counter(a.outcome.value for j in jobs for a in j.attempts)
        reasons = Counter(a.reason for j in jobs for a in j.attempts)
        # the soak really exercised the fault paths
        assert outcomes["spoiled"] > 5 and outcomes["not_fed"] > 5, outcomes
        # hangs and lost links put cards in doubt; the printer's counter or its late answer settled each one
        assert reasons["counter"] + reasons["late-answer"] > 0, reasons
        printed = [j for j in jobs if j.state == JobState.PRINTED]
        # every printed job left a printer exactly once, and nothing else did
        logged = printed_log(st.state_dir, "card1") + printed_log(st.state_dir, "card2")
        assert Counter(r["job_id"] for r in logged) == Counter({j.id: 1 for j in printed})
        # spoilage booked in the ledger equals what each simulated printer physically wasted
        for name in ("card1", "card2"):
            mock = json.loads((st.state_dir / "printers" / name / "state.json").read_text())
            wasted = mock["fed"] - mock["printed"]
            booked = (await st.db(st.store.db.query,
                                  "SELECT COALESCE(SUM(count),0) FROM ledger WHERE kind='spoiled' AND printer=?",
                                  (name,)))[0][0]
            consumed = (await st.db(st.store.db.query,
                                    "SELECT COALESCE(SUM(count),0) FROM ledger WHERE kind='consumed' AND printer=?",
                                    (name,)))[0][0]
            assert booked == wasted and consumed == mock["printed"], (name, booked, wasted, consumed, mock)
    finally:
        await st.stop()
