"""Helpers for the issue-14 tests: the real daemon as a subprocess, with limits an outsider would meet."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import ROOT, Daemon, config_text, free_port, stop, wait_healthy


def serve_cmd(config: Path, state: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "printd", "serve", "--config", str(config), "--state-dir", str(state),
            "--listen", f"127.0.0.1:{port}"]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


@contextmanager
def daemon(tmp: Path, state: Path, *, nofile: int | None = None, config: str | None = None) -> Iterator[Daemon]:
    """`printd serve` in a subprocess; `nofile` sets its RLIMIT_NOFILE (soft and hard), as systemd would."""
    cfg = tmp / "printd.toml"
    cfg.write_text(config if config is not None else config_text(time_scale=50))
    port = free_port()
    log = tmp / f"daemon-{port}.log"

    cmd = serve_cmd(cfg, state, port)
    if nofile is not None:
        # set in the child before printd starts (no preexec_fn: unsafe with threads)
        shim = ("import resource, runpy, sys; "
                f"resource.setrlimit(resource.RLIMIT_NOFILE, ({nofile}, {nofile})); "
                "sys.argv = ['printd', *sys.argv[1:]]; runpy.run_module('printd', run_name='__main__')")
        cmd = [sys.executable, "-c", shim, *cmd[3:]]
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env(), cwd=str(ROOT))
    d = Daemon(url=f"http://127.0.0.1:{port}", state_dir=state, process=proc, log=log)
    try:
        wait_healthy(d.url, proc=proc)
        d.read_tokens()
        yield d
    finally:
        stop(d)


def mount_tmpfs(path: Path, size: str) -> None:
    """A small real filesystem (root only; CI runs as root, see CI-NOTES): a missing right fails the test."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False)
