"""What the print PC itself says, for the support bundle: USB devices, printer links, CUPS, the service.

Each fact comes from a standard tool (`lsusb`, `ls`, `lpstat`, `systemctl`, `id`). A tool that is not
installed, or not allowed, is no error: the bundle then says so in that fact's file, so a technician
knows it was looked for and what to install.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

SERVICE = "printd"
SERVICE_USER = "printd"
DEVICE_DIR = "/dev/card-printer/"


@dataclass(frozen=True)
class Fact:
    """One command whose output becomes `system/<file>` in the bundle."""

    file: str
    argv: tuple[str, ...]
    package: str          # the Debian package that has the tool
    why: str              # one line, written above the output


FACTS: tuple[Fact, ...] = (
    Fact("lsusb.txt", ("lsusb",), "usbutils", "USB devices on this PC (card printers by vendor id)"),
    Fact("card-printer-devices.txt", ("ls", "-l", DEVICE_DIR), "coreutils",
         "printer links made by the udev rules (60-printd-card-printers.rules)"),
    Fact("lpstat.txt", ("lpstat", "-l", "-p", "-v"), "cups-client", "CUPS queues, their state and device URIs"),
    Fact("service.txt", ("systemctl", "show", SERVICE, "-p", "NRestarts", "-p", "ActiveState", "-p", "SubState",
                         "-p", "ActiveEnterTimestamp", "-p", "ExecMainStatus", "-p", "Result", "-p", "StatusText"),
         "systemd", "the service's restarts and state"),
    Fact("printd-user.txt", ("id", SERVICE_USER), "coreutils",
         "the service user's groups (lp for CUPS, dialout for serial adapters, printd for udev's nodes)"),
)


def run_fact(fact: Fact, timeout: float = 10.0) -> str:
    """The fact's text: its output, or why there is none."""
    head = f"# {fact.why}\n$ {' '.join(fact.argv)}\n"
    if shutil.which(fact.argv[0]) is None:
        return head + f"{fact.argv[0]} is not installed on this PC (apt-get install {fact.package})\n"
    try:
        done = subprocess.run(list(fact.argv), capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return head + f"no answer within {timeout:g} s\n"
    except OSError as exc:
        return head + f"could not run: {exc.strerror}\n"
    body = done.stdout
    if done.returncode != 0:
        body += f"{done.stderr.strip()}\n(exit status {done.returncode})\n"
    return head + (body or "(no output)\n")


def system_files() -> dict[str, str]:
    """Every fact as `system/<file>` -> text."""
    return {f"system/{fact.file}": run_fact(fact) for fact in FACTS}
