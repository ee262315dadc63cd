"""config/prometheus/printd-rules.yml and config/grafana/printd-fleet.json, checked with Debian's promtool.

`promtool check rules` (syntax, PromQL, templates), `promtool test rules` (the unit tests in
tests/ops/prometheus/printd-rules.test.yml, promtool's own format) and `promtool check metrics` on a real
scrape of a real daemon (Prometheus' naming lint). A missing promtool is a failure, never a skip:
scripts/install-test-deps installs it (Debian package `prometheus`).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support import all_jobs, config_text, daemon_thread, job_payload, wait_for

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "config" / "prometheus" / "printd-rules.yml"
RULE_TESTS = REPO / "tests" / "ops" / "prometheus" / "printd-rules.test.yml"
DASHBOARD = REPO / "config" / "grafana" / "printd-fleet.json"
#: the alerts issue 15 asks for; each must have a unit test that sees it fire
REQUIRED_ALERTS = {"PrinterJammed", "PrinterStopped", "BlangkoBelowDaysOfStock", "CardsInDoubt",
                   "NotificationsFailing", "WorkerTaskFailing"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: apt-get install prometheus (scripts/install-test-deps); a real check, "
                    "not optional")
    return path


def _run(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, cwd=cwd, input=stdin)


def _alerts(rules_text: str) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(rules_text)
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}


def printd_metric_names(expr: str) -> set[str]:
    """The printd metric names an expression reads (`printd_...`), without histogram/counter suffixes."""
    names = set(re.findall(r"\bprintd_[a-z_]+", expr))
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}


def dashboard_exprs() -> list[str]:
    """Every PromQL expression of the dashboard's panels, as Grafana sends them ($station: all stations)."""
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", []) if "expr" in t]
    return [e.replace("$station", ".*") for e in exprs]


def dashboard_variable_metrics() -> set[str]:
    """Metrics the dashboard's template variables read (Grafana's `label_values(METRIC, LABEL)`)."""
    board = json.loads(DASHBOARD.read_text())
    out = set()
    for var in board["templating"]["list"]:
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if var.get("type") == "query":
            m = re.fullmatch(r"label_values\((\w+), station\)", str(query))
            assert m, f"variable {var['name']}: {query!r}"
            out.add(m.group(1))
    return out


def test_rules_pass_promtool_check_rules() -> None:
    result = _run("check", "rules", str(RULES))
    n = len(_alerts(RULES.read_text()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {n} rules found" in result.stdout, result.stdout


def test_rules_unit_tests_pass() -> None:
    result = _run("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_unit_tests_would_catch_a_changed_rule(tmp_path: Path) -> None:
    """Control: the same tests against rules whose jam alert waits 1 minute instead of 5 must fail."""
    text = RULES.read_text()
    jam = re.search(r"- alert: PrinterJammed\n(?:.*\n)*?\s+for: 5m\n", text)
    assert jam
    changed = text[:jam.start()] + jam.group(0).replace("for: 5m", "for: 1m") + text[jam.end():]
    (tmp_path / "config" / "prometheus").mkdir(parents=True)
    (tmp_path / "config" / "prometheus" / RULES.name).write_text(changed)
    tests_dir = tmp_path / "tests" / "ops" / "prometheus"
    tests_dir.mkdir(parents=True)
    shutil.copy(RULE_TESTS, tests_dir / RULE_TESTS.name)
    result = _run("test", "rules", RULE_TESTS.name, cwd=tests_dir)
    assert result.returncode != 0
    assert "PrinterJammed" in result.stdout + result.stderr


def test_every_required_alert_exists_and_is_unit_tested_firing() -> None:
    alerts = _alerts(RULES.read_text())
    assert set(alerts) >= REQUIRED_ALERTS
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {case["alertname"] for t in tests for case in t.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert fired >= REQUIRED_ALERTS, REQUIRED_ALERTS - fired
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        if name != "PrintdDown":   # `up` is Prometheus' own series; the target names the station
            assert "station" in rule["annotations"]["summary"], f"{name}: the summary must name the station"


def test_the_dashboard_filters_every_panel_by_station() -> None:
    board = json.loads(DASHBOARD.read_text())
    panels = board["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    station = next(v for v in board["templating"]["list"] if v["name"] == "station")
    assert station["multi"] and station["includeAll"] and station["allValue"] == ".*"
    targets = [t for p in panels for t in p.get("targets", [])]
    assert targets and all(t["datasource"]["uid"] == "${datasource}" for t in targets)
    for t in targets:
        # every series selector, printd's and Prometheus' ALERTS, is narrowed to the chosen stations
        selectors = re.findall(r"\b(?:printd_[a-z_]+|ALERTS)(\{[^}]*\})?", t["expr"])
        assert selectors, t["expr"]
        assert all('station=~"$station"' in sel for sel in selectors), t["expr"]
    # panels sit side by side on Grafana's 24-column grid without overlapping
    cells = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & area, p["title"]
        cells |= area


@pytest.mark.e2e
def test_a_real_scrape_passes_promtool_check_metrics_and_feeds_every_rule_and_panel(tmp_path: Path) -> None:
    config = config_text(hopper=200, seed=400).replace("[station]\n", '[station]\nname = "kota-uji"\n')
    with daemon_thread(config, tmp_path / "state") as d, d.client(d.enrollment) as c, d.client() as admin:
        for i in range(6):
            assert c.post("/api/v1/jobs", json=job_payload(i)).status_code == 201
        wait_for(lambda: all(j["state"] == "printed" for j in all_jobs(c)), timeout=60, what="cards printed")
        assert admin.post("/api/v1/printers/card1/faults", json={"kind": "media-jam"}).status_code == 200
        text = httpx.get(d.url + "/metrics").text
    result = _run("check", "metrics", stdin=text)
    # promtool prints one line per finding (e.g. "printd_printer_counter metric name should not include
    # type 'counter'") and exits non-zero
    assert (result.returncode, result.stdout + result.stderr) == (0, "")

    exported = set()
    for family in text_string_to_metric_families(text):
        # the parser names a counter's family without `_total`; a family without samples yet still counts
        exported.update({family.name, f"{family.name}_total"} if family.type == "counter" else {family.name})
        exported.update(s.name for s in family.samples)
    referenced: dict[str, set[str]] = {}
    for name, rule in _alerts(RULES.read_text()).items():
        for metric in printd_metric_names(rule["expr"]):
            referenced.setdefault(metric, set()).add(f"rule {name}")
    for expr in dashboard_exprs():
        for metric in printd_metric_names(expr):
            referenced.setdefault(metric, set()).add("dashboard")
    for metric in dashboard_variable_metrics():
        referenced.setdefault(metric, set()).add("dashboard variable")
    missing = {m: where for m, where in referenced.items() if m not in exported}
    assert not missing, f"rules or panels read metrics printd does not export: {missing}"
    # the new families are there (task_up is empty until the station supervises its tasks)
    assert {"printd_webhook_backlog", "printd_webhook_failing", "printd_webhook_failed", "printd_station_open",
            "printd_task_up", "printd_printer_reported_cards"} <= exported
    assert "printd_printer_counter" not in exported
