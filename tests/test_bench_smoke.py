"""The benchmarks in their smallest configuration, so the scripts keep working as the code changes.

No timing is asserted (the machines are shared); only that every figure is produced and is positive.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import card_chain, footprint, fuzz_report, latency, submit
from bench.harness import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_submit_smallest() -> None:
    # 20 jobs, not fewer: CPU is read in 10 ms clock ticks, and the floor's share of 5 jobs can be none
    res = submit.run(jobs=20, clients=2, repeat=1)
    m = res["median"]
    for key in ("floor_total_s", "printd_total_s", "floor_p50_ms", "printd_p50_ms", "printd_p99_ms",
                "floor_cpu_ms", "printd_cpu_ms", "floor_single_p50_ms", "printd_single_p50_ms",
                "image_check_ms", "image_store_ms", "ratio_total", "ratio_cpu"):
        assert m[key] > 0, key
    assert res["runs"][0]["printd"]["statuses"] == {201: 20}
    assert 250 < m["png_kb"] < 350   # the noisy cards really are ~300 KB
    assert "| total time (s) |" in submit.render(res)


async def test_card_chain_smallest() -> None:
    from printd.cards.art import sample_card

    assert card_chain.printer_alone(3, sample_card("BENCH", 1)) > 0
    assert await card_chain.through_station(5, 3) > 0


def test_latency_smallest() -> None:
    res = latency.run(samples=2, fault_samples=1, kinds=["media-jam"], own_samples=1)
    assert res["dispatch"]["from_accept"]["n"] == 2 and res["dispatch"]["from_accept"]["median_ms"] > 0
    assert res["dispatch"]["baseline_commit_ms"] > 0
    fp = res["fault_to_page"]
    assert fp["by_kind"]["media-jam"]["n"] == 1 and fp["by_kind"]["media-jam"]["median_ms"] > 0
    assert fp["pause_baseline"]["n"] == 2 and fp["pause_baseline"]["median_ms"] > 0
    assert fp["printer_own_jam"]["n"] == 1 and fp["printer_own_jam"]["median_ms"] > 0
    assert "| dispatch: job durable -> print_card |" in latency.render(res)


def test_footprint_smallest() -> None:
    res = footprint.run(starts=1, idle_s=1.5, settle_s=0.2)
    st = res["start"]
    for key in ("printd_healthz_s", "printd_ready_s", "floor_healthz_s", "import_fastapi_uvicorn_s", "import_printd_s"):
        assert st[key] > 0, key
    assert res["rss"]["printd_mb"] > 0 and res["rss"]["floor_mb"] > 0
    assert res["idle_cpu"]["printd_pct"] >= 0 and len(res["idle_cpu"]["printd_slices_pct"]) == 3
    assert "READY" in res["notify_keys"]
    assert "| idle RSS (MiB) |" in footprint.render(res)


def test_fuzz_script_smallest(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "REPORT_DIR": str(tmp_path / "report")}
    run = subprocess.run([str(ROOT / "bench" / "fuzz.sh"), "--max-time", "3", "--json"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode in (0, 1), run.stderr[-2000:]   # 1 = defects found; 2 = the run itself failed
    summary = json.loads(run.stdout)
    assert summary["test_cases"] > 0 and summary["operations_tested"] > 0
    assert summary == fuzz_report.parse(tmp_path / "report")
    assert (tmp_path / "report" / "printd.log").exists()
