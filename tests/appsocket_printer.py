"""A card printer on raw TCP (AppSocket/JetDirect, "port 9100"), as the HDP5000 is reached by HID's driver.

Run as a process of its own (so a test can cut its power with SIGKILL)::

    python tests/appsocket_printer.py --port PORT --root DIR

and steered from the test through `SocketPrinter` (the handle `tests/cups_harness.py` keeps). Like a
real port-9100 printer it takes one connection at a time (others wait in the listen backlog), reads a
job's byte stream at a mechanical pace through a small TCP window, and has no job records, no IPP and
no way to answer questions: everything a host learns is whether the connection was accepted, whether
the bytes went in, and when the printer closed the connection.

The stream is what the harness's vendor-style filter (`rastertoprintdcard`, written by the harness)
sends: one header line `@PJL JOB NAME="<title>" BYTES=<n> RIBBON=<r>`, n opaque raster bytes, and the
trailer line `@PJL EOJ`. A stream whose trailer never came is incomplete: nothing is printed. A
complete stream is printed after the rule's `delay` (the card in the mechanism), recorded, and only
then is the connection closed (the printer's "done"; CUPS's socket backend waits for that close).

Per job the printer picks an instruction (first match wins): a rule whose marker is in the job name
(`on_job`), the one-shot `on_next_job`, the standing `set_default`, or "print after 0.2 s". A rule can
stop reading and drop the connection (TCP reset) once `drop_at` of the stream is in (`drop_at=1.0`:
after the whole stream, while the card is printing; nothing is printed either way), or stop reading
once `stall_at` is in, until `release()` (then it reads on and prints). Printer-wide: `refuse()`
closes the listening port (connections refused), `come_back()` opens it again; `kill()` is a power cut.

Output, in `out/` (one JSON object a line): `started.jsonl` (a job's header arrived), `received.jsonl`
(its whole stream is in: the card is printing), `printed.jsonl`
(a card came out: job name, sha256 of the whole stream, bytes), `dropped.jsonl` (the printer dropped
the connection), `incomplete.jsonl` (the host closed before the trailer), `connections.jsonl` (every
connection, including the empty ones a TCP probe makes).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: seconds a card takes when no rule says otherwise
DEFAULT_DELAY_S = 0.2
#: bytes per second the mechanism takes in (a real printer paces its raster by the print head)
DEFAULT_RATE = 8 * 1024 * 1024
#: the printer's TCP receive window: small, as on an embedded network card
RCVBUF = 32 * 1024
HEADER_RE = re.compile(rb'@PJL JOB NAME="([^"]*)" BYTES=(\d+)(?: RIBBON=(\S+))?')
TRAILER = b"@PJL EOJ\r\n"


# ---------------------------------------------------------------------- the printer process


def _log(out: Path, name: str, **rec: Any) -> None:
    rec["at"] = time.time()
    rec["pid"] = os.getpid()       # which power-on of the printer wrote it
    with open(out / name, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (FileNotFoundError, ValueError):
        return None


def _pick(ctrl: Path, job_name: str) -> tuple[dict[str, Any], str]:
    for p in sorted((ctrl / "rules").glob("*.json")):
        rule = _read_json(p)
        if rule and rule["match"] in job_name:
            return rule, "rule:" + rule["match"]
    taken = ctrl / f"next.{os.getpid()}.taken"
    try:
        os.rename(ctrl / "next.json", taken)
    except FileNotFoundError:
        pass
    else:
        rule = _read_json(taken) or {}
        taken.unlink()
        return rule, "next"
    return _read_json(ctrl / "default.json") or {"delay": DEFAULT_DELAY_S}, "default"


class _Dropped(Exception):
    """The printer dropped the connection (a rule said so)."""


def _reset(conn: socket.socket) -> None:
    """Close with a TCP reset, as a printer whose network card gave up does."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _handle(conn: socket.socket, ctrl: Path, out: Path) -> None:
    """One connection: read the stream at the mechanism's pace, then print, record and close."""
    buf = bytearray()
    header: re.Match[bytes] | None = None
    hlen = 0
    rule: dict[str, Any] = {}
    total = 0
    job_name = ""
    conn.settimeout(0.2)
    stalled_logged = False
    while True:
        if header is not None and total:
            payload_in = max(0, len(buf) - hlen)
            fraction = payload_in / total
            if rule.get("stall_at") is not None and fraction >= float(rule["stall_at"]) \
                    and not (ctrl / "release").exists():
                if not stalled_logged:
                    _log(out, "stalled.jsonl", job_name=job_name, bytes_in=len(buf))
                    stalled_logged = True
                time.sleep(0.1)          # the mechanism stopped taking data: the TCP window fills
                continue
            if rule.get("drop_at") is not None and float(rule["drop_at"]) < 1.0 \
                    and fraction >= float(rule["drop_at"]):
                _log(out, "dropped.jsonl", job_name=job_name, bytes_in=len(buf), total=total)
                _reset(conn)
                raise _Dropped
        try:
            chunk = conn.recv(16384)
        except TimeoutError:
            continue
        except OSError:
            chunk = b""
        if not chunk:
            break
        buf += chunk
        if header is None:
            nl = buf.find(b"\n")
            if nl >= 0:
                hlen = nl + 1
                header = HEADER_RE.match(bytes(buf[:hlen]))
                if header is None:       # not a card stream: a real printer would print garbage
                    _log(out, "garbage.jsonl", bytes_in=len(buf))
                    header = re.match(rb"(.*)", b"")
                else:
                    job_name = header.group(1).decode("utf-8", "replace")
                    total = int(header.group(2)) + len(TRAILER)
                    rule, source = _pick(ctrl, job_name)
                    _log(out, "started.jsonl", job_name=job_name, rule=source,
                         ribbon=(header.group(3) or b"").decode())
                    conn.setblocking(True)
                    conn.settimeout(0.2)
        rate = float(rule.get("rate", DEFAULT_RATE))
        time.sleep(len(chunk) / rate)
    stream = bytes(buf)
    _log(out, "connections.jsonl", bytes=len(stream), job_name=job_name)
    if header is None or not job_name:
        conn.close()
        return
    if not stream.endswith(TRAILER) or len(stream) - hlen != total:
        _log(out, "incomplete.jsonl", job_name=job_name, bytes_in=len(stream), total=total + hlen)
        conn.close()
        return
    _log(out, "received.jsonl", job_name=job_name, bytes=len(stream))     # the card goes into the mechanism
    if rule.get("drop_at") is not None and float(rule["drop_at"]) >= 1.0:
        time.sleep(float(rule.get("delay", DEFAULT_DELAY_S)) / 2)     # the card half printed
        _log(out, "dropped.jsonl", job_name=job_name, bytes_in=len(stream), total=total, printing=True)
        _reset(conn)
        raise _Dropped
    time.sleep(float(rule.get("delay", DEFAULT_DELAY_S)))
    _log(out, "printed.jsonl", job_name=job_name, sha256=hashlib.sha256(stream).hexdigest(), bytes=len(stream),
         ribbon=(header.group(3) or b"").decode())
    conn.close()       # the printer says "done" by closing: CUPS's socket backend waits for this


def _listener(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)     # inherited by accepted connections
    s.bind(("127.0.0.1", port))
    s.listen(4)
    return s


def serve(port: int, root: Path) -> None:
    """The printer's main loop: one connection at a time; `ctrl/refuse` closes the port."""
    ctrl, out = root / "ctrl", root / "out"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    lsock: socket.socket | None = _listener(port)
    (out / "ready").write_text(str(os.getpid()))
    while True:
        refuse = (ctrl / "refuse").exists()
        if refuse and lsock is not None:
            lsock.close()
            lsock = None
        elif not refuse and lsock is None:
            lsock = _listener(port)
        if lsock is None:
            time.sleep(0.05)
            continue
        ready, _, _ = select.select([lsock], [], [], 0.05)
        if not ready:
            continue
        conn, _ = lsock.accept()
        try:
            _handle(conn, ctrl, out)
        except _Dropped:
            pass
        finally:
            conn.close()


# ---------------------------------------------------------------------- the test's handle


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def socket_rule(*, delay: float = DEFAULT_DELAY_S, drop_at: float | None = None, stall_at: float | None = None,
                rate: float = DEFAULT_RATE) -> dict[str, Any]:
    """One job instruction: `delay` s to print; drop the connection at `drop_at` of the stream (1.0:
    while printing); stop reading at `stall_at` until `release()`; take `rate` bytes a second."""
    return {"delay": delay, "drop_at": drop_at, "stall_at": stall_at, "rate": rate}


@dataclass
class SocketPrinter:
    """One AppSocket test printer process, its instructions and its output record."""

    name: str
    port: int
    root: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    dirty: bool = False
    kind: str = "socket"

    def __post_init__(self) -> None:
        for d in (self.out_dir, self.ctrl_dir / "rules"):
            d.mkdir(parents=True, exist_ok=True)

    @property
    def out_dir(self) -> Path:
        return self.root / "out"

    @property
    def ctrl_dir(self) -> Path:
        return self.root / "ctrl"

    @property
    def uri(self) -> str:
        """The device URI of this printer's CUPS queue."""
        return f"socket://127.0.0.1:{self.port}/?snmp=false"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Power on: start the process and wait until it listens."""
        if self.alive:
            return
        (self.out_dir / "ready").unlink(missing_ok=True)
        with open(self.root / "printer.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port), "--root", str(self.root)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 15
        while not (self.out_dir / "ready").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"AppSocket printer {self.name} did not start "
                                   f"({(self.root / 'printer.log').read_text(errors='replace')[-500:]})")
            time.sleep(0.02)

    def kill(self) -> None:
        """A power cut: the process dies at once with whatever it was printing."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.come_back()
        self.release_stall(False)
        self.start()
        self.dirty = False

    # ------------------------------------------------------------------ instructions

    def on_job(self, marker: str, **rule: Any) -> None:
        data = self._rule(rule)
        data["match"] = marker
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in marker)
        _write_json(self.ctrl_dir / "rules" / f"{safe}.json", data)

    def on_next_job(self, **rule: Any) -> None:
        _write_json(self.ctrl_dir / "next.json", self._rule(rule))

    def set_default(self, **rule: Any) -> None:
        _write_json(self.ctrl_dir / "default.json", self._rule(rule))

    def _rule(self, rule: dict[str, Any]) -> dict[str, Any]:
        self.dirty = True
        return socket_rule(**rule)

    def clear_rules(self) -> None:
        for p in [*self.ctrl_dir.glob("rules/*.json"), self.ctrl_dir / "next.json", self.ctrl_dir / "default.json"]:
            p.unlink(missing_ok=True)

    def refuse(self) -> None:
        """Close the printer's port: connections are refused (the printer is up but not listening)."""
        (self.ctrl_dir / "refuse").touch()
        self.dirty = True

    def come_back(self) -> None:
        (self.ctrl_dir / "refuse").unlink(missing_ok=True)

    def release_stall(self, on: bool = True) -> None:
        """Let a stalled job read on (`on=False` re-arms stalls for later jobs)."""
        if on:
            (self.ctrl_dir / "release").touch()
        else:
            (self.ctrl_dir / "release").unlink(missing_ok=True)

    # ------------------------------------------------------------------ what happened

    def printed(self) -> list[dict[str, Any]]:
        """One record per card that came out: job_name, sha256 of the stream, bytes, at."""
        return _read_jsonl(self.out_dir / "printed.jsonl")

    def printed_names(self) -> list[str]:
        return [r["job_name"] for r in self.printed()]

    def started(self) -> list[dict[str, Any]]:
        """One record per job stream whose header arrived (printed, dropped, incomplete or running)."""
        return _read_jsonl(self.out_dir / "started.jsonl")

    def failed(self) -> list[dict[str, Any]]:
        """Streams that did not become a card: dropped by the printer or cut short by the host."""
        return _read_jsonl(self.out_dir / "dropped.jsonl") + _read_jsonl(self.out_dir / "incomplete.jsonl")

    def received(self) -> list[dict[str, Any]]:
        """One record per complete stream (the card then prints for the rule's delay)."""
        return _read_jsonl(self.out_dir / "received.jsonl")

    def dropped(self) -> list[dict[str, Any]]:
        return _read_jsonl(self.out_dir / "dropped.jsonl")

    def incomplete(self) -> list[dict[str, Any]]:
        return _read_jsonl(self.out_dir / "incomplete.jsonl")

    def running(self) -> list[dict[str, Any]]:
        """Jobs this power-on of the printer started and has not ended (printed, dropped, incomplete)."""
        if self.proc is None or not self.alive:
            return []
        pid = self.proc.pid
        ended: dict[str, int] = {}
        for r in self.printed() + self.failed():
            if r.get("pid") == pid:
                ended[r["job_name"]] = ended.get(r["job_name"], 0) + 1
        out = []
        for r in (r for r in self.started() if r.get("pid") == pid):
            if ended.get(r["job_name"], 0) > 0:
                ended[r["job_name"]] -= 1
            else:
                out.append(r)
        return out

    def wait_started(self, marker: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.started() if marker in r["job_name"]]
            if found:
                return found[0]
            time.sleep(0.05)
        raise TimeoutError(f"no job named *{marker}* started on {self.name}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="AppSocket (port 9100) test card printer")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", type=Path, required=True)
    args = ap.parse_args(argv)
    serve(args.port, args.root)


if __name__ == "__main__":
    main()
