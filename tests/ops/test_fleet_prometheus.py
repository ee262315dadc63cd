"""Two real stations scraped by the real Prometheus (Debian's `prometheus`): a jam at one raises the alert.

Prometheus runs on loopback with a free port, a 1 s scrape and evaluation interval and its storage in
tmp_path. It loads config/prometheus/printd-rules.yml with every `for:` shortened to 1 s (the hold times
themselves are covered by `promtool test rules` in test_prometheus_rules.py); everything else, the
expressions, labels and annotation templates, is the shipped file. A missing binary fails the test:
scripts/install-test-deps installs it.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ops.test_prometheus_rules import RULES, dashboard_exprs
from tests.support import Daemon, config_text, daemon_thread, free_port, job_payload, wait_for

STATIONS = ("kota-uji", "kec-uji")


@contextmanager
def prometheus(tmp_path: Path, targets: list[str]) -> Iterator[str]:
    """A private Prometheus scraping `targets` every second; yields its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: apt-get install prometheus (scripts/install-test-deps)")
    tmp_path.mkdir(parents=True, exist_ok=True)
    rules = tmp_path / "printd-rules.yml"
    rules.write_text(re.sub(r"(?m)^(\s+for:) \S+$", r"\1 1s", RULES.read_text()))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {rules}\n"
        "scrape_configs:\n  - job_name: printd\n    static_configs:\n"
        f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
    port = free_port()
    log = tmp_path / "prometheus.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                                stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                return httpx.get(url + "/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        wait_for(ready, timeout=60, interval=0.2, what="prometheus ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _query(url: str, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(url + "/api/v1/query", params={"query": expr}, timeout=10).json()
    assert r["status"] == "success", (expr, r)
    result: list[dict[str, Any]] = r["data"]["result"]
    return result


def _alerts(url: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = httpx.get(url + "/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return alerts


@pytest.mark.e2e
@pytest.mark.slow
def test_prometheus_scraping_two_stations_fires_the_jam_alert_for_the_jammed_one_only(tmp_path: Path) -> None:
    with ExitStack() as stack:
        daemons: dict[str, Daemon] = {}
        for name in STATIONS:
            config = config_text(hopper=200, seed=400).replace("[station]\n", f'[station]\nname = "{name}"\n')
            daemons[name] = stack.enter_context(daemon_thread(config, tmp_path / name))
        jammed, quiet = daemons[STATIONS[0]], daemons[STATIONS[1]]
        for d in daemons.values():
            with d.client(d.enrollment) as c:
                for i in range(3):
                    assert c.post("/api/v1/jobs", json=job_payload(i)).status_code == 201
        targets = [d.url.removeprefix("http://") for d in daemons.values()]
        url = stack.enter_context(prometheus(tmp_path / "prom", targets))

        wait_for(lambda: len(_query(url, 'up{job="printd"} == 1')) == 2, timeout=60, interval=0.5,
                 what="both stations scraped")
        stations = {r["metric"]["station"] for r in _query(url, "printd_build_info")}
        assert stations == set(STATIONS)

        # a technician's simulated jam (first-start admin token) at one station
        with jammed.client() as admin:
            r = admin.post("/api/v1/printers/card1/faults", json={"kind": "media-jam"})
            assert r.status_code == 200, r.text

        def jam_firing() -> list[dict[str, Any]]:
            return [a for a in _alerts(url) if a["labels"]["alertname"] == "PrinterJammed" and a["state"] == "firing"]

        firing = wait_for(jam_firing, timeout=60, interval=0.5, what="PrinterJammed firing")
        assert [(a["labels"]["station"], a["labels"]["printer"], a["labels"]["severity"]) for a in firing] == [
            (STATIONS[0], "card1", "warning")]
        assert firing[0]["annotations"]["summary"] == f"{STATIONS[0]}/card1: a card is jammed"
        # the quiet station raises nothing about its printers
        assert not [a for a in _alerts(url) if a["labels"].get("station") == STATIONS[1]
                    and a["labels"]["alertname"] in {"PrinterJammed", "PrinterStopped"}]

        # every panel of the fleet dashboard is valid PromQL on this Prometheus and most have data
        time.sleep(2)   # a few more scrapes, so rate() and increase() have two points
        empty = [e for e in dashboard_exprs() if not _query(url, e)]
        # on two fresh stations nothing was spoiled yet, no full day of use gives a days-left figure, and
        # task supervision may export no task: everything else must have data
        may_be_empty = ("printd_cards_spoiled_total", "printd_blangko_days_left", "printd_task_up")
        assert [e for e in empty if not any(m in e for m in may_be_empty)] == []

        # the jam cleared: the alert resolves
        with jammed.client() as admin:
            assert admin.delete("/api/v1/printers/card1/faults").status_code == 200
        wait_for(lambda: not jam_firing(), timeout=60, interval=0.5, what="PrinterJammed resolved")
        assert quiet.url != jammed.url
