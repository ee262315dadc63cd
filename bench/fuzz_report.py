"""Summarise a schemathesis run (its JSON and JUnit reports) as a markdown table or JSON.

    .venv/bin/python bench/fuzz_report.py REPORT_DIR [--json]

Used by `bench/fuzz.sh`. One row per (operation, check, status received): how many distinct failing
cases schemathesis kept, and the error code printd answered with, so the list reads as a to-do for
the owners of each router. 5xx answers come first: those are bugs; an undocumented 4xx is a gap in the OpenAPI document.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

_STATUS = re.compile(r"^\[(\d{3})\]", re.MULTILINE)
_ERROR_CODE = re.compile(r'"error":\s*\{\s*"code":\s*"([^"]+)"')
_CHECK_TITLE = re.compile(r"^- (ST\d+) (.+)$", re.MULTILINE)
#: failures that are defects in behaviour (5xx, a response that breaks the schema, auth not enforced,
#: bad input accepted); every other check finds gaps in the OpenAPI document
DEFECTS = frozenset({"ST101", "ST102", "ST108", "ST109", "ST110", "ST201", "ST401", "ST402"})


def _latest(directory: Path, prefix: str) -> Path | None:
    found = sorted(directory.glob(f"{prefix}-*")) + sorted(directory.glob(f"{prefix}.*"))
    return found[-1] if found else None


def parse(directory: Path) -> dict[str, Any]:
    """Read the newest JSON and JUnit reports in `directory`."""
    run = json.loads(p.read_text()) if (p := _latest(directory, "json")) else {}
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    junit = _latest(directory, "junit")
    if junit is not None:
        for case in ET.parse(junit).getroot().iter("testcase"):
            operation = case.get("name", "?")
            for failure in list(case.iter("failure")) + list(case.iter("error")):
                text = failure.text or ""
                # one <failure> may hold several numbered cases; split on the case headers
                for chunk in re.split(r"\n(?=\d+\. Test Case ID:)", text):
                    titles = _CHECK_TITLE.findall(chunk)
                    check = f"{titles[0][0]} {titles[0][1]}" if titles else (failure.get("message") or "error")
                    status = m.group(1) if (m := _STATUS.search(chunk)) else "-"
                    code = m.group(1) if (m := _ERROR_CODE.search(chunk)) else ""
                    kind = "defect" if check.split(" ")[0] in DEFECTS or status.startswith("5") else "doc gap"
                    row = rows.setdefault((operation, check, status), {"operation": operation, "check": check,
                                                                       "status": status, "kind": kind,
                                                                       "error_codes": set(), "cases": 0})
                    row["cases"] += 1
                    if code:
                        row["error_codes"].add(code)
    failures = sorted(({**r, "error_codes": sorted(r["error_codes"])} for r in rows.values()),
                      key=lambda r: (r["kind"] != "defect", r["check"], r["operation"]))
    return {
        "schemathesis": run.get("schemathesis_version"), "seconds": run.get("running_time"),
        "operations_tested": (run.get("operations") or {}).get("tested"),
        "test_cases": (run.get("test_cases") or {}).get("generated"),
        "server_errors": sum(r["cases"] for r in failures if r["status"].startswith("5")),
        "defects": sum(r["cases"] for r in failures if r["kind"] == "defect"),
        "by_check": {f["code"] + " " + f["title"]: f["count"] for f in run.get("failures", [])},
        "errors": run.get("errors", []), "failures": failures,
    }


def render(summary: dict[str, Any]) -> str:
    head = (f"schemathesis {summary['schemathesis']}: {summary['test_cases']} test cases over "
            f"{summary['operations_tested']} operations in {summary['seconds'] or 0:.0f} s; "
            f"5xx answers: {summary['server_errors']}; defects: {summary['defects']}; "
            f"gaps in the OpenAPI document: {sum(f['cases'] for f in summary['failures']) - summary['defects']}.\n\n")
    if not summary["failures"]:
        return head + "No failures."
    rows = [(f["kind"], f["operation"], f["check"], f["status"], ", ".join(f["error_codes"]) or "-", f["cases"])
            for f in summary["failures"]]
    from bench.harness import table

    return head + table(("kind", "operation", "check", "status", "printd error code", "cases"), rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report_dir", type=Path)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    summary = parse(args.report_dir)
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return summary


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    # exit 1 on defects (5xx, schema-breaking answers, auth not enforced); documentation gaps only inform
    sys.exit(1 if main()["defects"] else 0)
