"""`/metrics`: parsed with prometheus_client's own parser, values equal to the API's, no personal data."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from printd.app import build_app
from printd.clock import StationClock
from printd.config import parse
from printd.drivers.base import Counters
from printd.queue import ledger
from printd.queue.aggregates import Aggregates, days_left
from printd.queue.db import Database
from printd.queue.ledger import EntryKind
from printd.queue.models import AttemptOutcome, Priority
from printd.queue.store import NewJob, Store
from tests.support import all_jobs, config_text, daemon_thread, job_payload, wait_for

STATION = "kota-uji"


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """{sample name: [(labels, value)]} from the exposition text, via the official parser."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def _value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    matches = [v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items())]
    assert matches, f"no sample {name}{labels}"
    return sum(matches)




@pytest.mark.e2e
def test_metrics_after_a_simulated_day_match_the_api_and_carry_no_personal_data(tmp_path: Path) -> None:
    config = config_text(time_scale=300, hopper=200, seed=400).replace("[station]\n", f'[station]\nname = "{STATION}"\n')
    with daemon_thread(config, tmp_path / "state") as d:
        with d.client(d.enrollment) as c, d.client() as admin:
            for i in range(40):
                assert c.post("/api/v1/jobs", json=job_payload(i)).status_code == 201
            wait_for(lambda: sum(j["state"] == "printed" for j in all_jobs(c)) >= 6, timeout=60, what="first cards")
            assert admin.post("/api/v1/printers/card1/faults", json={"kind": "media-jam"}).status_code == 200
            wait_for(lambda: all(j["state"] == "printed" for j in all_jobs(c)), timeout=90, interval=0.3,
                     what="all printed despite the jam")
            wait_for(lambda: admin.get("/api/v1/printers/card1").json()["state"] == "stopped", timeout=10,
                     what="card1 stopped by the jam")
            jobs = all_jobs(admin)
            one = jobs[0]
            assert admin.get(f"/api/v1/jobs/{one['id']}").status_code == 200
            assert admin.get("/api/v1/jobs/j_NOSUCHJOB000000000000000").status_code == 404
            assert httpx.get(d.url + "/no/such/path/3274011203900001").status_code == 404
            printers = {p["name"]: p for p in admin.get("/api/v1/printers").json()}
            stock = {s["card_type"]: s for s in admin.get("/api/v1/stock").json()["card_types"]}
            r = httpx.get(d.url + "/metrics")   # no credential
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        text = r.text
        m = _samples(text)

        # no personal data, and no job ids or request ids either
        for j in jobs:
            for secret in (j["name"], j["id"], j["request_id"], j["nik_masked"]):
                assert secret not in text, secret
        for i in range(40):
            assert job_payload(i)["nik"] not in text
        # every series names its station
        assert all(lab.get("station") == STATION for series in m.values() for lab, _ in series)

        # jobs by state = the API's list
        by_state = Counter(j["state"] for j in jobs)
        assert by_state == {"printed": 40}
        for state in ("queued", "held", "printing", "in_doubt", "printed", "failed", "canceled"):
            assert _value(m, "printd_jobs", state=state) == by_state.get(state, 0)
        assert _value(m, "printd_queue_depth") == 0
        assert _value(m, "printd_queue_oldest_age_seconds") == 0

        # cards per printer = the API's counters and the jobs' printers
        per_printer = Counter(j["printer"] for j in jobs)
        spoiled = Counter(a["printer"] for j in jobs for a in j["attempts"] if a["outcome"] == "spoiled")
        for name, p in printers.items():
            assert _value(m, "printd_cards_printed_total", printer=name) == p["counters"]["today"] == per_printer[name]
            assert _value(m, "printd_cards_printed_today", printer=name, card_type="ktp-el") == per_printer[name]
            assert sum(v for lab, v in m.get("printd_cards_spoiled_total", []) if lab["printer"] == name) \
                == spoiled[name]
            assert _value(m, "printd_cards_spoiled_today", printer=name) == spoiled[name]
            # hopper and supplies = the API's printer object and stock
            assert _value(m, "printd_blangko_cards", location=f"hopper:{name}", card_type="ktp-el") \
                == p["hopper"]["count"] == stock["ktp-el"]["hoppers"][name]
            assert _value(m, "printd_hopper_sensor_cards", printer=name) == p["hopper"]["sensor_count"]
            assert _value(m, "printd_supply_remaining_prints", printer=name, supply="ribbon") \
                == p["ribbon"]["remaining"]
            assert _value(m, "printd_printer_reported_cards", printer=name, counter="printed") == p["counters"]["total"]
            states = {lab["state"]: v for lab, v in m["printd_printer_state"] if lab["printer"] == name}
            assert states[p["state"]] == 1 and sum(states.values()) == 1
            reasons = {lab["reason"] for lab, v in m["printd_printer_reason"] if lab["printer"] == name and v == 1}
            assert reasons == set(p["reasons"])
        assert "media-jam" in printers["card1"]["reasons"]
        assert _value(m, "printd_printer_faults_total", printer="card1", reason="media-jam") >= 1
        assert _value(m, "printd_blangko_cards", location="safe", card_type="ktp-el") == stock["ktp-el"]["safe"]
        assert sum(v for lab, v in m["printd_blangko_cards"] if lab["card_type"] == "ktp-el") \
            == stock["ktp-el"]["total"] == 400 - 40 - sum(spoiled.values())

        # event-driven histograms: one time-to-print per job, one claim per attempt, API requests by template
        assert _value(m, "printd_job_time_to_print_seconds_count") == 40
        attempts = sum(len(j["attempts"]) for j in jobs)
        assert _value(m, "printd_dispatch_claim_seconds_count") == attempts
        assert _value(m, "printd_http_request_duration_seconds_count", method="POST", route="/api/v1/jobs",
                      status="2xx") == 40
        assert _value(m, "printd_http_request_duration_seconds_count", route="/api/v1/jobs/{job_id}",
                      status="4xx") == 1
        assert _value(m, "printd_http_request_duration_seconds_count", route="<unmatched>", status="4xx") == 1
        routes = {lab["route"] for lab, _ in m["printd_http_request_duration_seconds_count"]}
        assert all(not r.startswith("/no/") for r in routes)


def test_two_apps_in_one_process_keep_their_own_registries(tmp_path: Path) -> None:
    settings = parse(config_text(), "<test>")
    a = build_app(settings, tmp_path / "a")
    b = build_app(settings, tmp_path / "b")
    assert a.state.metrics.registry is not b.state.metrics.registry
    a.state.metrics.observe_request("GET", "/healthz", 200, 0.01)
    assert a.state.metrics.registry.get_sample_value(
        "printd_http_request_duration_seconds_count",
        {"station": "printd", "method": "GET", "route": "/healthz", "status": "2xx"}) == 1
    assert b.state.metrics.registry.get_sample_value(
        "printd_http_request_duration_seconds_count",
        {"station": "printd", "method": "GET", "route": "/healthz", "status": "2xx"}) is None


# ---------------------------------------------------------------------------------------------- aggregates

class _Clock(StationClock):
    """A station clock the test moves."""

    def __init__(self, t: float) -> None:
        super().__init__("Asia/Jakarta")
        self.t = t

    def now(self) -> float:
        return self.t


def _naive(db: Database, day_start: float) -> tuple[Counter[tuple[str, ...]], Counter[tuple[str, ...]]]:
    """The same counts the slow way: one full scan."""
    total: Counter[tuple[str, ...]] = Counter()
    today: Counter[tuple[str, ...]] = Counter()
    for printer, card_type, outcome, reason, ended in db.query(
            "SELECT a.printer, j.card_type, a.outcome, COALESCE(a.reason, ''), a.ended_at FROM attempts a"
            " JOIN jobs j ON j.id = a.job_id WHERE a.outcome IN ('printed', 'spoiled')"):
        key = (printer, card_type, outcome, reason if outcome == "spoiled" else "")
        total[key] += 1
        if ended >= day_start:
            today[key] += 1
    return total, today


def test_incremental_aggregates_equal_a_full_scan_through_open_attempts_and_midnight(tmp_path: Path) -> None:
    clock = _Clock(1_795_000_000.0)   # 2026-11-19 WIB, mid-afternoon
    db = Database(tmp_path / "printd.sqlite3")
    store = Store(db, clock, max_attempts=1)   # a spoiled card fails its job: each claim takes a new job
    day = clock.day()
    store.book([dict(day=day, kind=EntryKind.RECEIVED, card_type="ktp-el", count=500, src="external", dst="safe",
                     actor="t"),
                dict(day=day, kind=EntryKind.LOADED, card_type="ktp-el", count=200, src="safe", dst="hopper:card1",
                     actor="t", printer="card1")])
    agg = Aggregates(db, clock)
    i = 0

    def submit_and_claim() -> str:
        nonlocal i
        i += 1
        job, _ = store.submit(NewJob("c", f"r{i}", f"32740112039{i:05d}", f"N{i}", "ktp-el", "new",
                                     Priority.NORMAL, f"{i:064x}", None, None))
        claimed = store.claim_next("card1", ["ktp-el"], Counters(i, i))
        assert claimed is not None and claimed.id == job.id
        return job.id

    def check() -> None:
        snap = agg.snapshot()
        total, today = _naive(db, clock.day_bounds(clock.day())[0])
        assert snap.cards_total == dict(total)
        assert {k: v for k, v in snap.cards_today.items() if v} == {k: v for k, v in today.items() if v}

    for _ in range(3):
        store.finish_attempt(submit_and_claim(), 1, AttemptOutcome.PRINTED)
    check()
    doubt = submit_and_claim()
    store.finish_attempt(doubt, 1, AttemptOutcome.IN_DOUBT, reason="offline")   # stays open for a while
    for outcome in (AttemptOutcome.PRINTED, AttemptOutcome.SPOILED, AttemptOutcome.PRINTED):
        clock.t += 60
        store.finish_attempt(submit_and_claim(), 1, outcome, reason="media-jam")
        check()
    # past midnight: yesterday's cards leave "today", the card in doubt is settled today
    clock.t += 86400
    check()
    store.finish_attempt(doubt, 1, AttemptOutcome.SPOILED, reason="counter")
    check()
    store.finish_attempt(submit_and_claim(), 1, AttemptOutcome.PRINTED)
    check()
    snap = agg.snapshot()
    assert snap.cards_today == {("card1", "ktp-el", "spoiled", "counter"): 1, ("card1", "ktp-el", "printed", ""): 1}
    # the ledger balances, kept incrementally, equal the ledger's own derivation
    assert snap.balances == ledger.balances(db.conn)
    db.close()


def test_blangko_use_rate_and_days_left_come_from_the_last_full_days(tmp_path: Path) -> None:
    clock = _Clock(1_795_000_000.0)
    db = Database(tmp_path / "printd.sqlite3")
    store = Store(db, clock)
    today = clock.today()
    entries = [dict(day=(today - timedelta(days=10)).isoformat(), kind=EntryKind.RECEIVED, card_type="kia",
                    count=1000, src="external", dst="safe", actor="t")]
    # 7 full days before today: 20 blanks a day taken from the safe; today's use does not count yet
    entries.extend(dict(day=(today - timedelta(days=back)).isoformat(), kind=EntryKind.SPOILED,
                        card_type="kia", count=20, src="safe", dst="spoiled", actor="t",
                        category="rusak_fisik")
                   for back in range(1, 8))
    entries.append(dict(day=today.isoformat(), kind=EntryKind.SPOILED, card_type="kia", count=500, src="safe",
                        dst="spoiled", actor="t", category="rusak_fisik"))
    store.book(entries)
    snap = Aggregates(db, clock).snapshot()
    assert snap.use_per_day == {"kia": 20.0}
    assert snap.balances[("safe", "kia")] == 1000 - 140 - 500
    assert days_left(360, 20.0) == 18.0
    assert days_left(360, 0.0) is None
    db.close()
