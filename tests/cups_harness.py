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
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from tests.appsocket_printer import SocketPrinter

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


#: the vendor-style raster filter of the socket queues: PDF or PNG in, an opaque card raster out. It
#: stands in for HID's `rastertofargoHDP5000` (which takes CUPS raster from gstoraster and writes the
#: printer's own panel stream): what matters to printd is that the bytes on the wire are the vendor's,
#: not the document, so nothing downstream of CUPS can say which job they were except by their header.
_FILTER = r'''#!/usr/bin/python3
"""rastertoprintdcard: the vendor-style filter of printd's CUPS test harness (written by tests/cups_harness.py)."""
import hashlib, json, os, re, sys, time

job_id, user, title, copies, options = sys.argv[1:6]
data = open(sys.argv[6], "rb").read() if len(sys.argv) > 6 else sys.stdin.buffer.read()
opts = dict(o.split("=", 1) for o in options.split() if "=" in o)
ribbon = opts.get("Ribbon")
if not ribbon:
    try:
        ppd = open(os.environ.get("PPD", ""), encoding="latin-1").read()
        m = re.search(r"^\*DefaultRibbon:\s*(\S+)", ppd, re.M)
        ribbon = m.group(1) if m else "unknown"
    except OSError:
        ribbon = "unknown"
name = re.sub(r'["\r\n]', "_", title)
sys.stderr.write("INFO: Rendering card for the printer\n")
# what the vendor's status monitor told the driver about the printer's supplies, if anything
try:
    with open(os.path.join({monitor!r}, os.environ.get("PRINTER", "") + ".json")) as f:
        for line in json.load(f).get("attr", []):
            sys.stderr.write("ATTR: " + line + "\n")
except (OSError, ValueError):
    pass
sys.stderr.flush()
payload = hashlib.shake_256(data + ribbon.encode()).digest({size})
out = sys.stdout.buffer
out.write(('@PJL JOB NAME="%s" BYTES=%d RIBBON=%s\r\n' % (name, len(payload), ribbon)).encode())
# rendered band by band, as a vendor filter does: slower than the wire, so the stream is never
# all in the kernel's buffers at once (as with a real raster over a LAN)
for i in range(0, len(payload), 65536):
    out.write(payload[i:i + 65536])
    out.flush()
    time.sleep({band_s})
out.write(b"@PJL EOJ\r\n")
out.flush()
'''
#: bytes of raster per card: a YMC panel set of a CR80 card at 300 dpi (1012 x 638 x 3)
RASTER_BYTES = 1012 * 638 * 3
#: seconds the filter takes per 64 KiB band (about 0.45 s a card)
BAND_S = 0.015
_PPD = """*PPD-Adobe: "4.3"
*FormatVersion: "4.3"
*FileVersion: "1.0"
*LanguageVersion: English
*LanguageEncoding: ISOLatin1
*PCFileName: "PRINTDCD.PPD"
*Manufacturer: "printd-test"
*Product: "(Card Printer)"
*ModelName: "printd-test socket card printer"
*ShortNickName: "printd-test card printer"
*NickName: "printd-test socket card printer (vendor filter)"
*PSVersion: "(3010.000) 0"
*LanguageLevel: "3"
*ColorDevice: True
*DefaultColorSpace: RGB
*FileSystem: False
*Throughput: "1"
*LandscapeOrientation: Plus90
*TTRasterizer: Type42
*cupsVersion: 2.4
*cupsModelNumber: 0
*cupsFilter2: "application/pdf application/vnd.printd-card-raster 0 {filter}"
*cupsFilter2: "image/png application/vnd.printd-card-raster 0 {filter}"
*OpenUI *PageSize/Card Size: PickOne
*OrderDependency: 10 AnySetup *PageSize
*DefaultPageSize: CR80
*PageSize CR80/CR80 Card: "<</PageSize[243 153]>>setpagedevice"
*CloseUI: *PageSize
*OpenUI *PageRegion/Card Size: PickOne
*OrderDependency: 10 AnySetup *PageRegion
*DefaultPageRegion: CR80
*PageRegion CR80/CR80 Card: "<</PageSize[243 153]>>setpagedevice"
*CloseUI: *PageRegion
*DefaultImageableArea: CR80
*ImageableArea CR80/CR80 Card: "0 0 243 153"
*DefaultPaperDimension: CR80
*PaperDimension CR80/CR80 Card: "243 153"
*OpenUI *Duplex/Print Both Sides: PickOne
*OrderDependency: 15 AnySetup *Duplex
*DefaultDuplex: None
*Duplex None/Front only: ""
*Duplex DuplexNoTumble/Both sides: ""
*CloseUI: *Duplex
*OpenUI *Ribbon/Ribbon Type: PickOne
*OrderDependency: 20 AnySetup *Ribbon
*DefaultRibbon: YMCKK
*Ribbon YMCKK/YMCKK: ""
*Ribbon YMCK/YMCK: ""
*Ribbon K/Black only: ""
*CloseUI: *Ribbon
"""


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


Printer: TypeAlias = "FakePrinter | SocketPrinter"
#: the kinds of test printer a harness can run its queues on
DEVICES = ("ipp", "socket")


class CupsHarness:
    """A private cupsd with one queue per fake printer; clients reach it through `server`."""

    def __init__(self, root: Path, queues: Iterable[str] = ("card1", "card2"), device: str = "ipp",
                 error_policy: str = "abort-job") -> None:
        if device not in DEVICES:
            raise HarnessError(f"unknown device kind {device!r} (one of {', '.join(DEVICES)})")
        if device == "socket" and not os.access("/usr/bin/python3", os.X_OK):
            raise HarnessError("the socket:// queues' filter needs /usr/bin/python3 (cupsd runs it as lp). "
                               "Install with: apt-get install -y --no-install-recommends python3")
        self.tools = require_tools()
        self.root = root
        self.queue_names = tuple(queues)
        self.device = device
        self.error_policy = error_policy
        self.cupsd: subprocess.Popen[bytes] | None = None
        self.printers: dict[str, Printer] = {}
        for d in ("etc/ppd", "spool/tmp", "cache", "state", "log", "run", "printers", "filter", "monitor"):
            (root / d).mkdir(parents=True, exist_ok=True)

    @classmethod
    @contextlib.contextmanager
    def started(cls, queues: Iterable[str] = ("card1", "card2"), device: str = "ipp",
                error_policy: str = "abort-job") -> Iterator[CupsHarness]:
        """A running harness in a fresh temporary directory, torn down (and deleted) on exit.

        device "ipp": each queue is an IPP Everywhere queue on an ippeveprinter; "socket": each queue
        is `socket://127.0.0.1:PORT` on an AppSocket test printer, through the vendor-style filter
        and PPD (`vendor_ppd`). `error_policy`: the queues' printer-error-policy.
        """
        require_tools()   # fail before creating anything
        # not under pytest's tmp_path: its parents are mode 0700, and cupsd's backends run as `lp`
        root = Path(tempfile.mkdtemp(prefix="printd-cups-"))
        harness: CupsHarness | None = None
        try:
            harness = cls(root, queues, device, error_policy)
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
            printer: Printer
            if self.device == "socket":
                printer = SocketPrinter(name, free_port(), self.root / "printers" / name)
            else:
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
        # the vendor-style filter: cupsd runs filters only from root-owned, not group/world-writable files
        filt = r / "filter" / "rastertoprintdcard"
        filt.write_text(_FILTER.format(monitor=str(r / "monitor"), size=RASTER_BYTES, band_s=BAND_S))
        filt.chmod(0o755)
        self.vendor_ppd.write_text(_PPD.format(filter=filt))
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

    @property
    def vendor_ppd(self) -> Path:
        """The PPD of the socket queues (names the vendor-style filter with *cupsFilter2)."""
        return self.root / "filter" / "printd-card.ppd"

    def add_queue(self, queue: str, uri: str) -> None:
        """Create an enabled, accepting queue for `uri` and wait for its PPD.

        ipp:// : IPP Everywhere (`-m everywhere`); socket:// : the vendor-style PPD (`-P`), as HID's
        HDP5000 driver is installed.
        """
        ppd = self.root / "etc" / "ppd" / f"{queue}.ppd"
        ppd.unlink(missing_ok=True)
        model = ["-P", str(self.vendor_ppd), "-o", "Ribbon=YMCKK"] if uri.startswith("socket://") \
            else ["-m", "everywhere"]
        # abort-job, as printd's stations are set up: CUPS must never re-send a card job by itself
        self.lp("lpadmin", "-p", queue, "-E", "-v", uri, *model,
                "-o", f"printer-error-policy={self.error_policy}")
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
            (self.root / "monitor" / f"{name}.json").unlink(missing_ok=True)
            if any(not r.startswith(("cups-", "none", "paused")) for r in self.queue_reasons(name)):
                self.set_status(name, [])
            self.enable(name)
            self.accept(name)

    # ------------------------------------------------------------------ a vendor status monitor

    def set_status(self, queue: str, reasons: Sequence[str], message: str | None = None) -> None:
        """Report the printer's condition into the queue, as a vendor status monitor does (IPP)."""
        set_queue_status(self.server, queue, reasons, message)

    def set_markers(self, queue: str, names: Sequence[str], types: Sequence[str], levels: Sequence[int]) -> None:
        """Supply levels the vendor's filter reports with the queue's next job (`ATTR:` lines).

        CUPS takes marker-* attributes only from a job's filters and backend, never over IPP: a vendor
        status monitor's levels reach CUPS the same way.
        """
        attr = [f"marker-names={','.join(names)}", f"marker-types={','.join(types)}",
                f"marker-levels={','.join(str(v) for v in levels)}"]
        path = self.root / "monitor" / f"{queue}.json"
        path.write_text(json.dumps({"attr": attr}))
        os.chmod(path, 0o644)


def set_queue_status(server: str, queue: str, reasons: Sequence[str], message: str | None = None) -> None:
    """Set a queue's printer-state-reasons (and message) with CUPS-Add-Modify-Printer over IPP.

    This is what a vendor status monitor does when it reports the printer's condition into CUPS
    (lpadmin has no option for it). `reasons` empty: `none`.
    """
    import http.client

    def attr(tag: int, name: str, value: str) -> bytes:
        n, v = name.encode(), value.encode()
        return struct.pack(">BH", tag, len(n)) + n + struct.pack(">H", len(v)) + v

    body = struct.pack(">BBHI", 2, 0, 0x4003, 1) + b"\x01"
    body += attr(0x47, "attributes-charset", "utf-8") + attr(0x48, "attributes-natural-language", "en")
    body += attr(0x45, "printer-uri", f"ipp://localhost/printers/{queue}")
    body += attr(0x42, "requesting-user-name", "root") + b"\x04"
    for i, r in enumerate(reasons or ["none"]):
        body += attr(0x44, "printer-state-reasons" if i == 0 else "", r)
    if message is not None:
        body += attr(0x41, "printer-state-message", message)
    body += b"\x03"

    class _Unix(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(10)
            self.sock.connect(server)

    conn = _Unix("localhost")
    try:
        conn.request("POST", "/admin/", body, {"Content-Type": "application/ipp"})
        reply = conn.getresponse().read()
    finally:
        conn.close()
    status = struct.unpack(">H", reply[2:4])[0] if len(reply) >= 4 else -1
    if status >= 0x0100 or status < 0:
        raise HarnessError(f"CUPS-Add-Modify-Printer {queue}: IPP status 0x{status:04x}")


def _lp_gid() -> int:
    import grp

    try:
        return grp.getgrnam("lp").gr_gid
    except KeyError:
        return os.getgid()
