"""`printd webhooks deliveries|retry` against the real daemon."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from printd.cli.main import main
from tests.support import config_text, daemon_thread, free_port, job_payload, wait_for
from tests.webhook_receiver import Receiver

WEBHOOKS = "[webhooks]\nretry_for_s = 0.2\nbackoff_initial_s = 0.02\nbackoff_max_s = 0.05\n"


def test_list_failed_notifications_and_retry_them(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with daemon_thread(config_text(time_scale=1000.0, extra=WEBHOOKS), state) as d:
        # the CLI finds the daemon through [server] listen and the admin token in the state dir
        cli_config = tmp_path / "cli.toml"
        cli_config.write_text(config_text(port=int(d.url.rsplit(":", 1)[1]), extra=WEBHOOKS))
        where = ["--config", str(cli_config), "--state-dir", str(state)]
        rx = Receiver(free_port())
        job = d.client(d.enrollment).post("/api/v1/jobs", json=job_payload(1, callback_url=rx.url())).json()
        wait_for(lambda: d.client().get(f"/api/v1/jobs/{job['id']}").json()["notifications"]["failed"] == 3,
                 timeout=20, what="notifications given up")
        runner = CliRunner()
        table = runner.invoke(main, ["webhooks", "deliveries", "--state", "failed", *where])
        assert table.exit_code == 0, table.output
        assert table.output.count(job["id"]) == 3 and "ConnectError" in table.output
        listed = json.loads(runner.invoke(main, ["webhooks", "deliveries", "--job", job["id"], "--json", *where]).output)
        events = [x["event_id"] for x in reversed(listed)]
        with rx:
            out = runner.invoke(main, ["webhooks", "retry", *events, *where])
            assert out.exit_code == 0, out.output
            assert out.output.splitlines() == [f"{e}: pending" for e in events]
            wait_for(lambda: len(rx.snapshot()) == 3, timeout=10, what="retried notifications delivered")
        assert [r.state for r in rx.snapshot()] == ["queued", "printing", "printed"]
        again = runner.invoke(main, ["webhooks", "retry", events[0], *where])
        assert again.exit_code != 0 and "409 illegal_state" in again.output
