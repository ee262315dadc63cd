"""`bench/cups_vs_class.py` still runs end to end: a few cards, both sides, the same faults.

No timing assertions (the figures belong in docs/benchmarks.md); only what must hold on any machine:
every card is accounted for, and printd never prints a card twice nor reports one it did not print.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = [pytest.mark.cups, pytest.mark.e2e]


def test_cups_vs_class_bench_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cups_vs_class.py"), "--jobs", "6", "--card-s", "0.2",
         "--down-s", "2", "--disable-s", "1", "--operator-s", "1", "--deadline-s", "90", "--json"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["jobs"] == 6 and "cores" in result["machine"]
    runs = {r["system"]: r for r in result["runs"]}
    assert set(runs) == {"CUPS class", "printd"}
    for r in runs.values():
        assert r["jobs"] == 6
        never = r["jobs"] - r["printed_once"] - r["printed_twice"]     # jobs no printer put out
        assert never >= 0 and r["false_completed"] <= never and r["stranded"] <= never
        assert r["events"], "the fault schedule did not run"
        assert r["events"][0]["event"].startswith("card1 printer killed")
    printd = runs["printd"]
    assert printd["makespan_s"] is not None and printd["completed"] == 6 and printd["printed_once"] == 6
    assert printd["printed_twice"] == 0 and printd["false_completed"] == 0 and printd["stranded"] == 0
    assert printd["wrong_printer"] == 0
    # the ledger agrees with the printers: one consumed blank per card out, a spoiled one per card lost
    assert printd["ledger"]["consumed"] == printd["per_printer"]
    spoiled = sum(1 for x in printd["resolutions"] if x["outcome"] == "spoiled")
    assert sum(printd["ledger"]["spoiled"].values()) == spoiled
