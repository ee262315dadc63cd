"""A real PC/SC stack with no hardware: a private `pcscd` (Debian's) with the `vsmartcard-vpcd` virtual
reader driver, and a virtual contactless card that connects to that reader over vpcd's TCP framing.

pcscd 1.9.9 always serves /run/pcscd/pcscd.comm, so each test's pcscd runs in its own mount namespace
(`unshare --mount`) with a private directory bound there; clients find it with PCSCLITE_CSOCK_NAME. The
vpcd reader's port is its CHANNELID in a private reader.conf, so tests never share a reader.

vpcd framing (vsmartcard's vpcd.c, and CI-NOTES.md "PC/SC with no hardware"): every message is a 2-byte
big-endian length and the data. A 1-byte message is a control: 0 power off, 1 power on, 2 reset, 4 = send
the ATR. Anything longer is an APDU, answered with the response APDU.
"""
from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import free_port

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
#: PC/SC part 3 ATR of a contactless ISO 14443-A card (MIFARE Classic 1K), as readers synthesise it
ATR_14443 = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
#: a contact smart card's ATR (not contactless: no UID to read through FF CA)
ATR_CONTACT = bytes.fromhex("3B9F958131FE9F006465F1")
GET_UID = bytes.fromhex("FFCA000000")


def require_pcsc() -> None:
    """Fail (never skip) when the PC/SC parts are missing: the test command installs them."""
    missing = [what for what, ok in (("pcscd (apt: pcscd)", shutil.which("pcscd")),
                                     ("vpcd driver (apt: vsmartcard-vpcd)", VPCD_DRIVER.exists()),
                                     ("unshare (util-linux)", shutil.which("unshare"))) if not ok]
    if missing:
        raise RuntimeError(f"the PC/SC tests need {', '.join(missing)}; scripts/install-test-deps installs them")


class Pcscd:
    """A private pcscd with one vpcd reader (two slots: "Virtual PCD 00 00" on `port`, "... 00 01")."""

    def __init__(self, root: Path) -> None:
        require_pcsc()
        self.root = root
        self.port = free_port()
        self.run_dir = root / "run"
        self.conf_dir = root / "reader.conf.d"
        self.proc: subprocess.Popen[bytes] | None = None
        self.socket_path = self.run_dir / "pcscd.comm"

    @property
    def env(self) -> dict[str, str]:
        """What a client (printd) needs in its environment to use this pcscd."""
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    def start(self, *, with_reader: bool = True) -> Pcscd:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        for old in self.conf_dir.iterdir():
            old.unlink()
        if with_reader:
            (self.conf_dir / "vpcd").write_text(
                f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x{self.port:X}\n'
                f"LIBPATH {VPCD_DRIVER}\nCHANNELID 0x{self.port:X}\n")
        if self.socket_path.exists():
            self.socket_path.unlink()
        log = open(self.root / "pcscd.log", "ab")   # noqa: SIM115 - the child keeps its own descriptor
        script = f"mkdir -p /run/pcscd && mount --bind {self.run_dir} /run/pcscd && exec pcscd -f -c {self.conf_dir}"
        self.proc = subprocess.Popen(["unshare", "--mount", "sh", "-c", script], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 15
        while not self.socket_path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pcscd did not start: {(self.root / 'pcscd.log').read_text()[-2000:]}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@dataclass
class VirtualCard:
    """A contactless card on the vpcd reader at `port` answering GET DATA (UID) with `uid`.

    `iso14443=False` makes it a contact card (its ATR says so and it does not know FF CA: 6A 81)."""

    port: int
    uid: bytes
    iso14443: bool = True
    apdus: list[bytes] = field(default_factory=list)
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def insert(self, timeout: float = 10.0) -> VirtualCard:
        """Put the card on the reader (connect to vpcd and start answering)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def remove(self) -> None:
        """Take the card off the reader."""
        self._stop.set()
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        if self._thread is not None:
            self._thread.join(5)
        self._sock = None

    def _recv_exact(self, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n and not self._stop.is_set():
            try:
                assert self._sock is not None
                chunk = self._sock.recv(n - len(buf))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return buf if len(buf) == n else None

    def _answer(self, data: bytes) -> bytes | None:
        if len(data) == 1:
            return (ATR_14443 if self.iso14443 else ATR_CONTACT) if data[0] == 4 else None
        self.apdus.append(data)
        if data[:4] == GET_UID[:4]:
            return self.uid + b"\x90\x00" if self.iso14443 else b"\x6a\x81"
        return b"\x6d\x00"   # INS not supported

    def _serve(self) -> None:
        while not self._stop.is_set():
            head = self._recv_exact(2)
            if head is None:
                return
            data = self._recv_exact(struct.unpack(">H", head)[0])
            if data is None:
                return
            reply = self._answer(data)
            if reply is not None:
                assert self._sock is not None
                try:
                    self._sock.sendall(struct.pack(">H", len(reply)) + reply)
                except OSError:
                    return


def pcsc_env(pcscd: Pcscd) -> dict[str, str]:
    """The process environment with this pcscd's socket (for subprocess daemons)."""
    return {**os.environ, **pcscd.env}
