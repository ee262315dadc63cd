"""Issue 14, item 4: two daemons on one state directory printed cards twice; the second now refuses to start."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from printd.ops.statelock import StateDirBusy, StateLock
from tests.e2e.outsider import daemon, env, serve_cmd
from tests.support import ROOT, free_port, job_payload, printed_log, wait_for

pytestmark = pytest.mark.e2e


def test_a_second_daemon_on_the_same_state_dir_exits_with_one_line_naming_the_first(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with daemon(tmp_path, state) as first:
        assert first.process is not None
        second = subprocess.run(serve_cmd(tmp_path / "printd.toml", state, free_port()), capture_output=True,
                                text=True, env=env(), cwd=str(ROOT), timeout=60)
        assert second.returncode != 0
        lines = [line for line in (second.stdout + second.stderr).splitlines() if line.strip()]
        assert len(lines) == 1, lines
        assert f"pid {first.process.pid}" in lines[0] and str(state) in lines[0]
        # the first daemon carries on alone: each card printed once
        with first.client(first.enrollment) as c:
            jobs = [c.post("/api/v1/jobs", json=job_payload(i)).json()["id"] for i in range(6)]
            wait_for(lambda: all(c.get(f"/api/v1/jobs/{j}").json()["state"] == "printed" for j in jobs),
                     timeout=60, what="printed")
        printed = [r["job_id"] for p in ("card1", "card2") for r in printed_log(state, p)]
        assert sorted(printed) == sorted(jobs)
    # stopped: the lock went with the process, a new daemon starts
    with daemon(tmp_path, state) as again:
        assert again.process is not None and again.process.poll() is None


def test_the_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    with StateLock(tmp_path):
        with pytest.raises(StateDirBusy) as busy:
            StateLock(tmp_path).acquire()
        assert busy.value.pid is not None
    with StateLock(tmp_path):
        pass
