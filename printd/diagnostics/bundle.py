"""`printd support-bundle`: one .tar.gz a technician can send, with no personal data in it.

It holds versions, the config with secrets removed, every printer's diagnostics (from the running
daemon), recent logs, and a check of the database made on a copy taken with SQLite's online backup.
The database itself, card images, names and NIKs never go in. As a second line of defence every file
is scrubbed before it is written: each name and NIK of the station's jobs (read from the copy) and any
16-digit run are replaced, so even a log line that leaked one does not travel; so are credentials
(diagnostics/secrets.py). The PC's own view (USB devices, printer links, CUPS queues, the service's
restarts, the service user's groups) comes from diagnostics/system.py.
"""
from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from printd import __version__
from printd.clock import StationClock
from printd.config import Settings
from printd.diagnostics.render import render_text
from printd.diagnostics.secrets import SecretScrubber, known_secrets
from printd.diagnostics.system import system_files
from printd.queue import ledger
from printd.queue.db import Database

#: packages whose versions matter when something goes wrong
KEY_PACKAGES = ("fastapi", "starlette", "uvicorn", "pydantic", "httpx", "click", "pillow", "jinja2",
                "prometheus_client", "pyusb", "pyserial", "pycups", "tzdata")
SECRET_WORDS = frozenset({"secret", "secrets", "token", "tokens", "password", "passwd", "pass", "key",
                          "apikey", "credential", "credentials", "auth", "cookie", "private", "pin"})
LOG_LINES = 5000
NIK_RUN = re.compile(r"(?<!\d)\d{16}(?!\d)")
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^/@\s:]+):([^/@\s]+)@")
_ASSIGN = re.compile(r"""(?P<key>[A-Za-z0-9_.\-"']+)(?P<eq>\s*=\s*)"""
                     r"""(?P<value>"(?:[^"\\]|\\.)*"|'[^']*'|\[[^\]]*\]|\{[^}]*\}|[^,}\s#]+)""")


def secret_key(key: str) -> bool:
    """True for config keys that hold secrets (`webhook_secret`, `api-token`, `password` ...)."""
    parts = re.split(r"[_\-.\s]+", key.strip("\"'").lower())
    return any(p in SECRET_WORDS for p in parts)


def redact_toml(text: str) -> str:
    """The config text with every secret value replaced and passwords taken out of URLs; comments kept."""
    def assign(m: re.Match[str]) -> str:
        if secret_key(m.group("key")):
            return f'{m.group("key")}{m.group("eq")}"<removed>"'
        value = m.group("value")
        if value.startswith("{"):  # an inline table: its own keys may be secrets
            return f'{m.group("key")}{m.group("eq")}{{{_ASSIGN.sub(assign, value[1:-1])}}}'
        return m.group(0)

    # whole lines, so a '#' inside a quoted secret cannot hide the rest of it as a "comment"
    return "\n".join(_USERINFO.sub(r"\1\2:<removed>@", _ASSIGN.sub(assign, line))
                     for line in text.splitlines()) + "\n"


def redact_value(value: Any, key: str = "") -> Any:
    """A settings tree with secret values replaced (by key name) and URL passwords removed."""
    if key and secret_key(key) and value not in (None, "", [], {}):
        return "<removed>"
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, str):
        return _USERINFO.sub(r"\1\2:<removed>@", value)
    return value


class Scrubber:
    """Replaces the station's personal data in text: job names (whole words, any case) and NIKs."""

    def __init__(self, names: Iterable[str], niks: Iterable[str]) -> None:
        unique = sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True)
        # whole words, any case, any run of spaces between the parts of the name
        self._names = [re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, n.split())) + r"(?!\w)",
                                  re.IGNORECASE) for n in unique]
        self._niks = sorted({n for n in niks if n}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for nik in self._niks:
            text = text.replace(nik, "<nik>")
        text = NIK_RUN.sub("<nik>", text)
        for pattern in self._names:
            text = pattern.sub("<name>", text)
        return text


@dataclass
class BundleResult:
    """What went into the archive, for the command's summary."""

    path: Path
    files: list[str] = field(default_factory=list)
    daemon: bool = False
    integrity: str | None = None
    notes: list[str] = field(default_factory=list)


def _run(cmd: list[str], timeout: float = 20.0) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def versions() -> dict[str, Any]:
    """printd, Python, key packages, OS."""
    packages: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    os_release = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            k, _, v = line.partition("=")
            if k in ("PRETTY_NAME", "ID", "VERSION_ID"):
                os_release[k] = v.strip('"')
    except OSError:
        pass
    try:
        import usb.backend.libusb1

        libusb = usb.backend.libusb1.get_backend() is not None
    except Exception:  # noqa: BLE001 - a probe: any failure (import, ctypes, OS) means no usable libusb
        libusb = False
    return {"printd": __version__, "python": sys.version.split()[0], "python_executable": sys.executable,
            "platform": platform.platform(), "machine": platform.machine(), "os_release": os_release,
            "packages": packages, "libusb": libusb,
            "cups_scheduler": (_run(["lpstat", "-r"]) or "").strip() or None}


def database_report(db_path: Path, workdir: Path, secrets: list[str] | None = None,
                    ) -> tuple[dict[str, Any], list[str], list[str]]:
    """Integrity, schema and row counts of a backup copy; also the names and NIKs to scrub.

    `secrets`, when given, receives the station's own secrets found in the copy (to scrub them too).

    The copy is made with SQLite's online backup API, so the daemon may keep printing meanwhile.
    """
    if not db_path.exists():
        return {"present": False, "path": str(db_path)}, [], []
    copy = workdir / "copy.sqlite3"
    source = Database(db_path)
    try:
        source.backup_to(copy)
    finally:
        source.close()
    conn = sqlite3.connect(str(copy))
    conn.row_factory = sqlite3.Row
    try:
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                             " AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
        wal = db_path.with_name(db_path.name + "-wal")
        report: dict[str, Any] = {
            "present": True, "path": str(db_path), "size_bytes": db_path.stat().st_size,
            "wal_bytes": wal.stat().st_size if wal.exists() else 0,
            "schema_version": conn.execute("PRAGMA user_version").fetchone()[0],
            "integrity_check": integrity if integrity != ["ok"] else "ok",
            "row_counts": counts,
        }
        names: list[str] = []
        niks: list[str] = []
        if "jobs" in tables:
            report["jobs_by_state"] = {r[0]: r[1] for r in conn.execute(
                "SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")}
            for row in conn.execute("SELECT name, nik FROM jobs"):
                if row["name"]:
                    names.append(row["name"])
                if row["nik"]:
                    niks.append(row["nik"])
        if "ledger" in tables:
            report["stock_balances"] = [{"location": loc, "card_type": ct, "count": n}
                                        for (loc, ct), n in sorted(ledger.balances(conn).items())]
        if secrets is not None:
            secrets += known_secrets(copy, db_path.parent)
        return report, names, niks
    finally:
        conn.close()
        copy.unlink(missing_ok=True)


def collect_logs(state_dir: Path, log_files: Iterable[Path]) -> tuple[dict[str, str], list[str]]:
    """Recent log lines: the journal of printd.service if it has any, else the given or found log files."""
    notes: list[str] = []
    logs: dict[str, str] = {}
    journal = _run(["journalctl", "-u", "printd", "--no-pager", "-q", "-o", "short-iso",
                    "-n", str(LOG_LINES)])
    if journal and journal.strip():
        logs["journal-printd.log"] = journal
    files = list(log_files) or sorted(state_dir.glob("*.log")) + sorted(state_dir.glob("logs/*.log"))
    for path in files:
        try:
            with open(path, "rb") as fh:
                lines = fh.read().decode("utf-8", "replace").splitlines()[-LOG_LINES:]
        except OSError as exc:
            notes.append(f"log file {path}: {exc.strerror}")
            continue
        logs[f"file-{path.name}"] = "\n".join(lines) + "\n"
    if not logs:
        notes.append("no logs found: no journal entries for printd.service and no log file "
                     "(pass --log-file if the daemon writes one)")
    return logs, notes


def daemon_diagnostics(client_factory: Callable[[], Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """Health and every printer's diagnostics from the running daemon, or why not."""
    if client_factory is None:
        return None, "no admin token on this PC, so the daemon was not asked"
    try:
        with client_factory() as client:
            health = client.health()
            printers = client.printers()
            docs = {p["name"]: client.diagnostics(p["name"]) for p in printers}
    except Exception as exc:  # noqa: BLE001 - any failure is reported in the bundle instead of the data
        return None, f"the daemon did not answer ({type(exc).__name__}: {exc}); is `printd serve` running?"
    return {"health": health, "printers": printers, "diagnostics": docs}, None


def make_bundle(settings: Settings, state_dir: Path, output: Path, *, log_files: Iterable[Path] = (),
                client_factory: Callable[[], Any] | None = None) -> BundleResult:
    """Write the support bundle to `output` (atomically, mode 0600)."""
    result = BundleResult(path=output)
    files: dict[str, str] = {}
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    station_secrets = known_secrets(None, state_dir)
    with tempfile.TemporaryDirectory(prefix="printd-bundle-") as tmp:
        db, names, niks = database_report(state_dir / "printd.sqlite3", Path(tmp), station_secrets)
    scrub_people = Scrubber(names, niks)
    scrub_secrets = SecretScrubber(station_secrets)

    def scrub(text: str) -> str:
        return scrub_secrets(scrub_people(text))
    result.integrity = db.get("integrity_check") if db.get("present") else None
    files["database.json"] = json.dumps(db, indent=2, sort_keys=True)
    files["versions.json"] = json.dumps(versions(), indent=2, sort_keys=True)

    source = settings.source
    if source and not source.startswith("<") and Path(source).exists():
        files["config/printd.toml"] = redact_toml(Path(source).read_text(encoding="utf-8", errors="replace"))
    else:
        from printd.config import embedded_default_text

        files["config/printd.toml"] = "# the embedded default config (no --config given)\n" + \
            redact_toml(embedded_default_text())
    files["config/effective.json"] = json.dumps(redact_value(settings.model_dump(mode="json")), indent=2,
                                                sort_keys=True)

    daemon, why = daemon_diagnostics(client_factory)
    if daemon is None:
        result.notes.append(f"printer diagnostics missing: {why}")
        files["diagnostics/NOT-INCLUDED.txt"] = (
            f"Printer diagnostics are not in this bundle: {why}\n"
            "Start the daemon and make the bundle again to include them.\n")
    else:
        result.daemon = True
        summary = {"health": daemon["health"], "printers": daemon["printers"]}
        files["diagnostics/health.json"] = json.dumps(summary, indent=2, sort_keys=True)
        for name, doc in daemon["diagnostics"].items():
            files[f"diagnostics/{name}.json"] = json.dumps(doc, indent=2, sort_keys=True)
            files[f"diagnostics/{name}.txt"] = render_text(doc)

    files.update(system_files())
    logs, notes = collect_logs(state_dir, log_files)
    result.notes += notes
    for name, text in logs.items():
        files[f"logs/{name}"] = text

    made = StationClock(settings.station.timezone).iso(now)
    files["README.txt"] = (
        f"printd support bundle, station {settings.station.name!r}, made {made}\n"
        "No personal data: no names, NIKs or card images; job ids only. Names and NIKs of the station's\n"
        "jobs and any 16-digit number were replaced by <name> / <nik> in every file; API tokens, webhook\n"
        "secrets, cookies and passwords by <token>, <webhook-secret>, <secret> or <removed>.\n\n"
        + "".join(f"note: {n}\n" for n in result.notes)
        + "\nfiles:\n" + "".join(f"  {f}\n" for f in sorted(files)))
    root = f"printd-support-{stamp}"
    tmp_out = output.with_name(f".{output.name}.tmp{os.getpid()}")
    output.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w:gz") as tar:
        for name in sorted(files):
            data = scrub(files[name]).encode("utf-8")
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size, info.mtime, info.mode = len(data), int(now), 0o600
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp_out, output)
    result.files = sorted(files)
    return result
