"""A private CUPS for tests: one cupsd and fake card printers (ippeveprinter), never the system's.

Everything lives under one temporary directory (readable by group `lp`, because cupsd runs its
backends as `lp`): cupsd's config, spool, logs and socket, each fake printer's spool, and the
directories the fake printers' print command reads its instructions from and records its output in.
Nothing touches /etc/cups, /run/cups or the system cupsd.

Usage (the pytest fixtures in `tests/conftest_cups.py` do this)::

    with CupsHarness.started(("card1", "card2")) as cups:
        cups.printers["card1"].on_job("J-42", delay=2.0, fail=True)   # the job whose name has J-42 fails
        ...  # point a driver at cups.server, queue "card1"
        assert cups.printers["card2"].printed_names() == [...]

Each fake printer runs a small Python print command (`-c`) written by the harness. Per job it picks an
instruction, first match wins:
  1. `on_job(marker, ...)`: a rule for every job whose IPP job-name contains `marker`;
  2. `on_next_job(...)`: a one-shot rule for the next job that no marker rule matched;
  3. `set_default(...)`: the printer's standing rule (default: print after `DEFAULT_DELAY_S`).
A rule can wait (`delay`), set or clear printer-state-reasons before and after (`states`,
`states_after`: "+media-empty", "-media-empty", "media-jam,cover-open" as `STATE:` lines), set
printer attributes (`attrs`: "marker-levels=80,40" as `ATTR:` lines), hang until killed (`hang`), and
end the job with an error (`fail=True`: exit status 1, nothing recorded as printed). Every job the
command starts is logged in `started.jsonl`; every document it "prints" is copied to `docs/` and
logged in `printed.jsonl` of that printer's output directory.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: seconds a fake printer takes for a job that has no rule
DEFAULT_DELAY_S = 0.2
#: document formats the fake printers accept (as the brief for the station's real printers says)
FORMATS = "application/pdf,image/png,image/jpeg,image/pwg-raster"
TOOLS = ("cupsd", "ippeveprinter", "lpadmin", "cupsenable", "cupsdisable", "cupsaccept", "cupsreject",
         "dbus-daemon")
_HANDLER = r'''#!{python}
"""Print command of fake printer {name!r} (written by tests/cups_harness.py)."""
import json, os, re, shutil, sys, time
from pathlib import Path

CTRL = Path({ctrl!r})
OUT = Path({out!r})


def log(log_name, **rec):
    rec["at"] = time.time()
    with open(OUT / log_name, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


def pick(job_name):
    for p in sorted((CTRL / "rules").glob("*.json")):
        rule = json.loads(p.read_text())
        if rule["match"] in job_name:
            return rule, "rule:" + rule["match"]
    nxt = CTRL / "next.json"
    taken = CTRL / ("next.%d.taken" % os.getpid())
    try:
        os.rename(nxt, taken)          # atomic: one job takes the one-shot rule
    except FileNotFoundError:
        pass
    else:
        rule = json.loads(taken.read_text())
        taken.unlink()
        return rule, "next"
    default = CTRL / "default.json"
    if default.exists():
        return json.loads(default.read_text()), "default"
    return {{"delay": {delay!r}}}, "builtin"


def say(prefix, lines):
    for line in lines:
        sys.stderr.write(prefix + line + "\n")
    sys.stderr.flush()


doc = sys.argv[1] if len(sys.argv) > 1 else ""
job_name = os.environ.get("IPP_JOB_NAME", "")
job_id = os.environ.get("IPP_JOB_ID", "")
ctype = os.environ.get("CONTENT_TYPE", "")
rule, source = pick(job_name)
log("started.jsonl", job_id=job_id, job_name=job_name, content_type=ctype, rule=source, pid=os.getpid())
say("STATE: ", rule.get("states", []))
say("ATTR: ", rule.get("attrs", []))
deadline = time.time() + (86400.0 if rule.get("hang") else float(rule.get("delay", 0.0)))
while time.time() < deadline:   # sleeps; ends when killed with the printer's process group
    time.sleep(min(0.5, max(0.0, deadline - time.time())))
say("STATE: ", rule.get("states_after", []))
if rule.get("exit", 0):
    log("failed.jsonl", job_id=job_id, job_name=job_name, exit=rule["exit"])
    sys.stderr.write("ERROR: fake printer told to fail this job\n")
    sys.exit(int(rule["exit"]))
safe = re.sub(r"[^A-Za-z0-9_.#-]+", "_", job_name)[:80]
ext = {{"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}}.get(ctype, ".bin")
dest = OUT / "docs" / ("%s-%s%s" % (job_id, safe, ext))
shutil.copyfile(doc, dest)
log("printed.jsonl", job_id=job_id, job_name=job_name, content_type=ctype, file=str(dest),
    size=dest.stat().st_size, sides=os.environ.get("IPP_SIDES"), media=os.environ.get("IPP_MEDIA"))
'''


class HarnessError(RuntimeError):
    """The private CUPS could not be set up; the message says what is missing."""


def require_tools() -> dict[str, str]:
    """Paths of the programs the harness needs; raise HarnessError naming what is missing."""
    found = {t: shutil.which(t) or shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") for t in TOOLS}
    missing = [t for t, p in found.items() if p is None]
    if missing:
        raise HarnessError(
            f"CUPS test harness needs {', '.join(missing)}, which is not installed. Install with: "
            "apt-get install -y --no-install-recommends cups cups-ipp-utils libcups2-dev dbus")
    return {t: p for t, p in found.items() if p is not None}


def ensure_dbus() -> None:
    """Start the system D-Bus if none answers: ippeveprinter refuses to start without it.

    It is left running afterwards: it is the machine's bus, and other test sessions may use it.
    """
    sock = Path("/run/dbus/system_bus_socket")
    if sock.exists():
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(sock))
            return
    Path("/run/dbus").mkdir(parents=True, exist_ok=True)
    Path("/run/dbus/pid").unlink(missing_ok=True)     # stale after a container restart
    proc = subprocess.run([require_tools()["dbus-daemon"], "--system", "--fork"],
                          capture_output=True, text=True, timeout=20)
    if proc.returncode != 0:
        raise HarnessError(f"dbus-daemon --system --fork failed: {proc.stderr.strip()}")
    _wait_for(sock.exists, 10, "the system D-Bus socket")


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _wait_for(cond: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _kill_group(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
    """Kill a process started with its own session, and every child it left (print commands)."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class FakePrinter:
    """One ippeveprinter playing a card printer, with its per-job instructions and output record."""

    name: str
    port: int
    root: Path
    binary: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    handler: Path = field(init=False)
    #: the printer was given rules: `CupsHarness.reset` restarts it
    dirty: bool = False

    def __post_init__(self) -> None:
        for d in (self.spool_dir, self.out_dir / "docs", self.ctrl_dir / "rules"):
            d.mkdir(parents=True, exist_ok=True)
        self.handler = self.root / "print-command.py"
        self.handler.write_text(_HANDLER.format(python=sys.executable, name=self.name,
                                                ctrl=str(self.ctrl_dir), out=str(self.out_dir),
                                                delay=DEFAULT_DELAY_S))
        self.handler.chmod(0o755)

    # ------------------------------------------------------------------ where things are

    @property
    def spool_dir(self) -> Path:
        return self.root / "spool"

    @property
    def out_dir(self) -> Path:
        """What this printer printed: `docs/`, `printed.jsonl`, `started.jsonl`, `failed.jsonl`."""
        return self.root / "out"

    @property
    def ctrl_dir(self) -> Path:
        return self.root / "ctrl"

    @property
    def uri(self) -> str:
        """The device URI a CUPS queue uses for this printer."""
        return f"ipp://localhost:{self.port}/ipp/print"

    @property
    def log_path(self) -> Path:
        return self.root / "ippeveprinter.log"

    # ------------------------------------------------------------------ life cycle

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the printer and wait until it accepts connections."""
        if self.alive:
            return
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-p", str(self.port), "-n", "localhost", "-r", "off", "-k", "-2",
                 "-d", str(self.spool_dir), "-f", FORMATS, "-c", str(self.handler),
                 "-M", "Fake", "-m", "Card Printer", self.name],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise HarnessError(f"ippeveprinter {self.name} exited with {self.proc.returncode}:\n"
                                   f"{_tail(self.log_path)}")
            return port_open(self.port)

        _wait_for(up, 15, f"ippeveprinter {self.name} on port {self.port}")

    def kill(self) -> None:
        """Kill the printer at once (SIGKILL), with the print command it may be running: a power cut."""
        _kill_group(self.proc)
        self.proc = None
        _wait_for(lambda: not port_open(self.port), 5, f"port {self.port} to close")

    def restart(self) -> None:
        """Kill and start again on the same port: a printer that lost its jobs and state."""
        self.kill()
        self.start()
        self.dirty = False

    # ------------------------------------------------------------------ instructions

    def on_job(self, marker: str, **rule: Any) -> None:
        """Instruct the printer for every job whose job-name contains `marker` (see `rule_for`)."""
        data = self._rule(rule)
        data["match"] = marker
        _write_json(self.ctrl_dir / "rules" / f"{_safe(marker)}.json", data)

    def on_next_job(self, **rule: Any) -> None:
        """Instruct the printer for the next job that no `on_job` marker matches (one shot)."""
        _write_json(self.ctrl_dir / "next.json", self._rule(rule))

    def set_default(self, **rule: Any) -> None:
        """Instruct the printer for every job that nothing else matches."""
        _write_json(self.ctrl_dir / "default.json", self._rule(rule))

    def _rule(self, rule: dict[str, Any]) -> dict[str, Any]:
        # a rule may leave reasons/markers set or a job still running at the printer after CUPS
        # gave up on it (a busy printer makes CUPS retry the next job): reset() restarts the printer
        self.dirty = True
        return rule_for(**rule)

    def clear_rules(self) -> None:
        """Back to the built-in behaviour: every job prints after DEFAULT_DELAY_S."""
        for p in [*self.ctrl_dir.glob("rules/*.json"), self.ctrl_dir / "next.json",
                  self.ctrl_dir / "default.json"]:
            p.unlink(missing_ok=True)

    # ------------------------------------------------------------------ what happened

    def printed(self) -> list[dict[str, Any]]:
        """Records of the documents this printer printed (job_id, job_name, content_type, file, sides...)."""
        return _read_jsonl(self.out_dir / "printed.jsonl")

    def printed_names(self) -> list[str]:
        """Job names of the documents this printer printed, oldest first."""
        return [r["job_name"] for r in self.printed()]

    def started(self) -> list[dict[str, Any]]:
        """Records of the jobs whose print command started (printed, failed, hung or killed)."""
        return _read_jsonl(self.out_dir / "started.jsonl")

    def failed(self) -> list[dict[str, Any]]:
        """Records of the jobs the printer was told to fail."""
        return _read_jsonl(self.out_dir / "failed.jsonl")

    def running(self) -> list[dict[str, Any]]:
        """Records of the jobs whose print command is still running (a card still moving).

        A command killed by a cancel or a cupsd restart logs neither `printed` nor `failed`, so
        "started but not finished" is not "still running": this looks at the process itself.
        """
        return [r for r in self.started() if _alive(int(r["pid"]))]

    def wait_started(self, marker: str, timeout: float = 20.0) -> dict[str, Any]:
        """Wait until a job whose name contains `marker` reaches the print command; its record."""
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = [r for r in self.started() if marker in r["job_name"]]
            return bool(found)

        _wait_for(seen, timeout, f"a job named *{marker}* to start on {self.name}", interval=0.1)
        return found[0]


def _alive(pid: int) -> bool:
    """Whether `pid` is a running (not zombie) fake print command."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z" and b"print-command" in cmdline


def rule_for(*, delay: float = DEFAULT_DELAY_S, fail: bool = False, exit_code: int = 1,
             states: Sequence[str] = (), states_after: Sequence[str] = (), attrs: Sequence[str] = (),
             hang: bool = False) -> dict[str, Any]:
    """One job instruction for the fake printer's print command.

    delay: seconds the job takes; fail: end with `exit_code` (the printer aborts the job, nothing
    printed); states / states_after: `STATE:` lines before / after the delay ("+media-empty" adds,
    "-media-empty" removes a printer-state-reason); attrs: `ATTR:` lines ("marker-levels=80,40");
    hang: never finish (until the printer is killed).
    """
    return {"delay": delay, "exit": exit_code if fail else 0, "states": list(states),
            "states_after": list(states_after), "attrs": list(attrs), "hang": hang}


def _safe(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in s)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)      # the print command never reads half a rule


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


class CupsHarness:
    """A private cupsd with one queue per fake printer; clients reach it through `server`."""

    def __init__(self, root: Path, queues: Iterable[str] = ("card1", "card2")) -> None:
        self.tools = require_tools()
        self.root = root
        self.queue_names = tuple(queues)
        self.cupsd: subprocess.Popen[bytes] | None = None
        self.printers: dict[str, FakePrinter] = {}
        for d in ("etc/ppd", "spool/tmp", "cache", "state", "log", "run", "printers"):
            (root / d).mkdir(parents=True, exist_ok=True)

    @classmethod
    @contextlib.contextmanager
    def started(cls, queues: Iterable[str] = ("card1", "card2")) -> Iterator[CupsHarness]:
        """A running harness in a fresh temporary directory, torn down (and deleted) on exit."""
        require_tools()   # fail before creating anything
        # not under pytest's tmp_path: its parents are mode 0700, and cupsd's backends run as `lp`
        root = Path(tempfile.mkdtemp(prefix="printd-cups-"))
        harness: CupsHarness | None = None
        try:
            harness = cls(root, queues)
            harness.start()
            yield harness
        finally:
            if harness is not None:
                harness.stop()
            shutil.rmtree(root, ignore_errors=True)

    # ------------------------------------------------------------------ addresses

    @property
    def server(self) -> str:
        """What CUPS_SERVER (or a cups_server config key) must say to reach this cupsd."""
        return str(self.root / "run" / "cups.sock")

    @property
    def env(self) -> dict[str, str]:
        """The environment for CUPS command-line tools aimed at this cupsd."""
        return {**os.environ, "CUPS_SERVER": self.server}

    @property
    def error_log(self) -> Path:
        return self.root / "log" / "error_log"

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Start D-Bus if needed, cupsd, the fake printers, and one queue per printer."""
        ensure_dbus()
        self._write_config()
        self.start_cupsd()
        for name in self.queue_names:
            printer = FakePrinter(name, free_port(), self.root / "printers" / name,
                                  self.tools["ippeveprinter"])
            self.printers[name] = printer
            printer.start()
            self.add_queue(name, printer.uri)

    def stop(self) -> None:
        """Kill the printers and cupsd (and whatever they started)."""
        for printer in self.printers.values():
            _kill_group(printer.proc)
            printer.proc = None
        self.stop_cupsd()

    def start_cupsd(self) -> None:
        """Start the private cupsd and wait until it answers on its socket."""
        with open(self.root / "log" / "cupsd.out", "ab") as log:
            self.cupsd = subprocess.Popen(
                [self.tools["cupsd"], "-f", "-c", str(self.root / "etc" / "cupsd.conf"),
                 "-s", str(self.root / "etc" / "cups-files.conf")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

        def answers() -> bool:
            if self.cupsd is not None and self.cupsd.poll() is not None:
                raise HarnessError(f"cupsd exited with {self.cupsd.returncode}:\n"
                                   f"{_tail(self.root / 'log' / 'cupsd.out')}"
                                   f"\n{_tail(self.error_log)}")
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(self.server)
                return True
            return False

        _wait_for(answers, 20, "the private cupsd to answer")

    def stop_cupsd(self, sig: int = signal.SIGTERM) -> None:
        """Stop the private cupsd (SIGTERM: an orderly shutdown, as `systemctl restart cups` does)."""
        _kill_group(self.cupsd, sig)
        self.cupsd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.server)

    def restart_cupsd(self) -> None:
        """Stop and start cupsd again; queues and job history survive (they are on disk)."""
        self.stop_cupsd()
        self.start_cupsd()

    def _write_config(self) -> None:
        r = self.root
        (r / "etc" / "cupsd.conf").write_text(textwrap.dedent(f"""\
            # private cupsd of the printd test harness
            LogLevel info
            MaxLogSize 0
            Listen {self.server}
            Browsing No
            WebInterface No
            DefaultAuthType None
            PreserveJobFiles No
            JobRetryInterval 2
            <Location />
              Order allow,deny
              Allow all
            </Location>
            <Policy default>
              JobPrivateAccess all
              JobPrivateValues none
              SubscriptionPrivateAccess all
              SubscriptionPrivateValues none
              <Limit All>
                Order deny,allow
              </Limit>
            </Policy>
            """))
        (r / "etc" / "cups-files.conf").write_text(textwrap.dedent(f"""\
            ServerRoot {r}/etc
            RequestRoot {r}/spool
            TempDir {r}/spool/tmp
            CacheDir {r}/cache
            StateDir {r}/state
            AccessLog {r}/log/access_log
            ErrorLog {r}/log/error_log
            PageLog {r}/log/page_log
            Printcap {r}/printcap
            FileDevice No
            """))
        # cupsd runs backends and filters as lp: the tree must be reachable by group lp
        lp_gid = _lp_gid()
        for dirpath, dirnames, filenames in os.walk(r):
            for n in [*dirnames, *filenames, ""]:
                p = Path(dirpath) / n if n else Path(dirpath)
                with contextlib.suppress(OSError):
                    os.chown(p, 0, lp_gid)
                    mode = p.stat().st_mode
                    os.chmod(p, mode | stat.S_IRGRP | (stat.S_IXGRP if stat.S_ISDIR(mode) else 0))

    # ------------------------------------------------------------------ queues

    def lp(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a CUPS command-line tool against this cupsd."""
        tool = self.tools.get(argv[0]) or shutil.which(argv[0]) or argv[0]
        proc = subprocess.run([tool, *argv[1:]], env=self.env, capture_output=True, text=True, timeout=30)
        if check and proc.returncode != 0:
            raise HarnessError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def add_queue(self, queue: str, uri: str) -> None:
        """Create an enabled, accepting IPP Everywhere queue for `uri` and wait for its PPD."""
        ppd = self.root / "etc" / "ppd" / f"{queue}.ppd"
        ppd.unlink(missing_ok=True)
        # abort-job, as printd's stations are set up: CUPS must never re-send a card job by itself
        self.lp("lpadmin", "-p", queue, "-E", "-v", uri, "-m", "everywhere",
                "-o", "printer-error-policy=abort-job")
        # lpadmin returns before cupsd has written the PPD (about a second later)
        _wait_for(ppd.exists, 30, f"the PPD of queue {queue} ({_tail(self.error_log, 5)})", interval=0.1)

    def recreate_queue(self, queue: str) -> None:
        """Delete and add the queue again: the only way to clear the `cups-ipp-*` reasons CUPS keeps."""
        self.lp("lpadmin", "-x", queue)
        self.add_queue(queue, self.printers[queue].uri)

    def queue_reasons(self, queue: str) -> list[str]:
        """The queue's printer-state-reasons as CUPS reports them."""
        value = self.connection().getPrinterAttributes(queue, requested_attributes=["printer-state-reasons"])
        reasons = value.get("printer-state-reasons", [])
        return [reasons] if isinstance(reasons, str) else list(reasons)

    def disable(self, queue: str, reason: str = "disabled by test") -> None:
        """`cupsdisable`: the queue keeps accepting jobs but does not send them."""
        self.lp("cupsdisable", "-r", reason, queue)

    def enable(self, queue: str) -> None:
        self.lp("cupsenable", queue)

    def reject(self, queue: str, reason: str = "rejecting by test") -> None:
        """`cupsreject`: the queue refuses new jobs."""
        self.lp("cupsreject", "-r", reason, queue)

    def accept(self, queue: str) -> None:
        self.lp("cupsaccept", queue)

    def connection(self) -> Any:
        """A pycups connection to this cupsd (imported here: the harness itself does not need pycups)."""
        import cups

        return cups.Connection(host=self.server)

    def job(self, job_id: int) -> dict[str, Any]:
        """The CUPS attributes of one job."""
        return dict(self.connection().getJobAttributes(job_id))

    def jobs(self, queue: str | None = None) -> dict[int, dict[str, Any]]:
        """Every job CUPS remembers (of `queue`, when given), with its state and name."""
        conn = self.connection()
        jobs = conn.getJobs(which_jobs="all", requested_attributes=[
            "job-id", "job-name", "job-state", "job-state-reasons", "job-printer-uri"])
        if queue is not None:
            jobs = {k: v for k, v in jobs.items() if str(v.get("job-printer-uri", "")).endswith(f"/{queue}")}
        return jobs

    def cancel_all(self) -> None:
        """Cancel every unfinished job on every queue."""
        self.lp("cancel", "-a", check=False)

    def reset(self) -> None:
        """Bring every queue and printer back to a clean, working state between tests."""
        if self.cupsd is None or self.cupsd.poll() is not None:
            self.start_cupsd()
        self.cancel_all()
        for name, printer in self.printers.items():
            printer.clear_rules()
            if printer.dirty:
                printer.restart()     # forget printer-state-reasons and markers a rule set
            elif not printer.alive:
                printer.start()
            if any(r.startswith("cups-ipp-") for r in self.queue_reasons(name)):
                self.recreate_queue(name)
            self.enable(name)
            self.accept(name)


def _lp_gid() -> int:
    import grp

    try:
        return grp.getgrnam("lp").gr_gid
    except KeyError:
        return os.getgid()
