"""`printd discover`, `printd support-bundle` and `printd backup`, run as a technician would."""
from __future__ import annotations

import base64
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import tarfile
import time
import tty
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import serial
from click.testing import CliRunner

from printd.cards.art import sample_card
from printd.cli.main import main
from printd.config import CupsPrinterConfig, EvolisPrinterConfig, parse
from printd.diagnostics.bundle import Scrubber, redact_toml, redact_value
from printd.diagnostics.discover import Discovery, config_snippet, discover, find_cups, find_usb
from printd.queue.db import SCHEMA_VERSION, Database
from tests.fake_usb import FakeBackend, FakeDevice, station_backend
from tests.support import config_text, daemon_thread, job_payload, nik, wait_for

# ---------------------------------------------------------------------------------------------- discover


def test_usb_discovery_reads_serials_through_pyusb() -> None:
    backend = station_backend()
    notes: list[str] = []
    found = {d.vendor_id * 0x10000 + d.product_id: d for d in find_usb(backend, notes)}
    assert set(found) == {0x0F491001, 0x09B0BE01, 0x0F491011}, "the mouse receiver is no card printer"
    evolis = found[0x0F491001]
    assert (evolis.vendor, evolis.manufacturer, evolis.product, evolis.serial) == \
        ("Evolis", "Evolis", "Primacy 2", "PRI2-0042117")
    assert evolis.printer_class and (evolis.bus, evolis.address) == (1, 7)
    assert found[0x09B0BE01].serial == "C4500-77812" and found[0x09B0BE01].vendor == "HID Fargo"
    denied = found[0x0F491011]
    assert denied.serial is None and denied.note and "cannot read its strings" in denied.note
    assert backend.opened, "strings come from control transfers on the opened device"


def test_every_known_vendor_id_is_recognised() -> None:
    ids = {0x0F49: "Evolis", 0x09B0: "HID Fargo", 0x0A5F: "Zebra", 0x0A27: "Entrust Datacard",
           0x0C1F: "Magicard"}
    devices = [FakeDevice(vid, 0x0001, "M", "P", f"S{i}", address=10 + i) for i, vid in enumerate(ids)]
    found = find_usb(FakeBackend(devices))
    assert [(d.vendor_id, d.vendor) for d in found] == list(ids.items())


@pytest.fixture
def pty_by_id(tmp_path: Path) -> Iterator[tuple[Path, Path, int]]:
    """A real tty (a pty pair) behind a udev-style by-id link, plus an unknown adapter and a dangling link."""
    master, slave = os.openpty()
    tty.setraw(slave)
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    link = by_id / "usb-Evolis_Card_Printer_Primacy_PRI2-0099-if00"
    link.symlink_to(os.ttyname(slave))
    other_master, other_slave = os.openpty()
    (by_id / "usb-FTDI_FT232R_USB_UART_A10K7X-if00-port0").symlink_to(os.ttyname(other_slave))
    (by_id / "usb-Gone_Device-if00").symlink_to(tmp_path / "no-such-device")
    try:
        yield by_id, link, master
    finally:
        for fd in (master, slave, other_master, other_slave):
            os.close(fd)


def test_discover_prints_a_config_that_names_printers_by_serial_and_by_id(
        pty_by_id: tuple[Path, Path, int]) -> None:
    by_id, link, master = pty_by_id
    r = CliRunner().invoke(main, ["discover", "--no-cups", "--by-id-dir", str(by_id), "--toml",
                                  "--usb-backend", "tests.fake_usb:station_backend"])
    assert r.exit_code == 0, r.output
    snippet = r.output
    pty_path = os.path.realpath(link)
    # stable names only: no pty/tty kernel names, no bus addresses
    assert pty_path not in snippet and "ttyUSB" not in snippet and "bus" not in snippet.lower()
    assert "no-such-device" not in snippet and "Gone_Device" not in snippet
    settings = parse(snippet, "<discover>")   # the active tables are a valid config as they stand
    printers = settings.printers
    assert set(printers) == {"evolis-pri2-0042117", "evolis-pri2-0099"}
    usb = printers["evolis-pri2-0042117"]
    assert isinstance(usb, EvolisPrinterConfig)
    assert (usb.transport, usb.serial_number) == ("usb", "PRI2-0042117")
    ser = printers["evolis-pri2-0099"]
    assert isinstance(ser, EvolisPrinterConfig) and (ser.transport, ser.port) == ("serial", str(link))
    # the unknown adapter and the printers printd cannot drive directly are there, commented out
    assert '# port = "' + str(by_id / "usb-FTDI_FT232R_USB_UART_A10K7X-if00-port0") + '"' in snippet
    assert "DTC4500e" in snippet and "through CUPS" in snippet
    assert "cannot read its strings" in snippet
    # the port the config names is a working serial port for pyserial
    with serial.Serial(ser.port, timeout=1) as port:
        port.write(b"\x1bRfv\r")
        assert os.read(master, 16) == b"\x1bRfv\r"


def test_discover_human_listing_shows_where_things_are_now(pty_by_id: tuple[Path, Path, int]) -> None:
    by_id, link, _ = pty_by_id
    r = CliRunner().invoke(main, ["discover", "--no-cups", "--by-id-dir", str(by_id),
                                  "--usb-backend", "tests.fake_usb:station_backend"])
    assert r.exit_code == 0, r.output
    assert ("Evolis           0f49:1001  Evolis Primacy 2  serial PRI2-0042117  "
            "(printer class; now at bus 1 address 7)") in r.output
    assert f"{link} -> {os.path.realpath(link)}" in r.output
    assert "[Evolis]" in r.output
    assert "Config snippet:" in r.output


def test_discover_json_carries_everything(pty_by_id: tuple[Path, Path, int]) -> None:
    import json

    by_id, _, _ = pty_by_id
    r = CliRunner().invoke(main, ["discover", "--no-cups", "--by-id-dir", str(by_id), "--json",
                                  "--usb-backend", "tests.fake_usb:station_backend"])
    doc = json.loads(r.output)
    assert [d["serial"] for d in doc["usb"]] == ["PRI2-0042117", "C4500-77812", None]
    assert len([p for p in doc["serial"] if p["by_id"]]) == 2
    assert doc["config_snippet"].startswith("# printd discover")


def test_names_in_the_snippet_are_valid_and_unique() -> None:
    devices = [FakeDevice(0x0F49, 0x1001, "Evolis", "Primacy", "SAME/1", address=2),
               FakeDevice(0x0F49, 0x1001, "Evolis", "Primacy", "same 1", address=3),
               FakeDevice(0x0F49, 0x1001, "Evolis", "Primacy", "X" * 60, address=4)]
    found = discover(usb_backend=FakeBackend(devices), by_id_dir=Path("/nonexistent"), with_cups=False)
    found.serial = []
    names = list(parse(config_snippet(found), "<t>").printers)
    assert names == ["evolis-same-1", "evolis-same-1-2", "evolis-" + "x" * 25]


@pytest.fixture
def cupsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private cupsd on a unix socket with two queues; yields its socket path."""
    if not shutil.which("cupsd") or not shutil.which("lpadmin"):
        pytest.fail("CUPS is not installed: apt-get install cups (scripts/install-test-deps does)")
    d = tmp_path_factory.mktemp("cups")
    for sub in ("run", "log", "spool", "cache", "state"):
        (d / sub).mkdir()
    sock = d / "run" / "cups.sock"
    (d / "cupsd.conf").write_text(f"Listen {sock}\nBrowsing No\nWebInterface No\nLogLevel warn\n"
                                  "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
                                  "<Policy default>\n  JobPrivateAccess all\n  JobPrivateValues none\n"
                                  "  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n")
    (d / "cups-files.conf").write_text(
        f"ServerRoot {d}\nRequestRoot {d}/spool\nCacheDir {d}/cache\nStateDir {d}/state\n"
        f"ErrorLog {d}/log/error_log\nAccessLog {d}/log/access_log\nPageLog {d}/log/page_log\n"
        f"Printcap {d}/printcap\n")
    # cupsd reads its files as group lp (CI-NOTES)
    subprocess.run(["chgrp", "-R", "lp", str(d)], check=False)
    for p in [d, *d.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IRGRP | stat.S_IXGRP)
    proc = subprocess.Popen(["cupsd", "-f", "-c", str(d / "cupsd.conf"), "-s", str(d / "cups-files.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(sock.exists, timeout=15, what="cupsd socket")
        env = {**os.environ, "CUPS_SERVER": str(sock)}
        for name, uri in (("evolis_primacy", "usb://Evolis/Primacy%202?serial=PRI2-0042117"),
                          ("card_b", "socket://127.0.0.1:9100")):
            subprocess.run(["lpadmin", "-p", name, "-E", "-v", uri], check=True, env=env, capture_output=True)
        yield str(sock)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


@pytest.mark.cups
def test_discover_lists_the_queues_of_a_running_cupsd(cupsd: str) -> None:
    queues = {q.name: q for q in find_cups(cupsd)}
    assert set(queues) == {"evolis_primacy", "card_b"}
    assert queues["evolis_primacy"].device_uri == "usb://Evolis/Primacy%202?serial=PRI2-0042117"
    assert (queues["evolis_primacy"].serial, queues["evolis_primacy"].vendor) == ("PRI2-0042117", "Evolis")
    r = CliRunner().invoke(main, ["discover", "--cups-server", cupsd, "--by-id-dir", "/nonexistent", "--toml",
                                  "--usb-backend", "tests.fake_usb:station_backend"])
    printers = parse(r.output, "<t>").printers
    cups_tables = {k: v for k, v in printers.items() if isinstance(v, CupsPrinterConfig)}
    assert {v.queue for v in cups_tables.values()} == {"evolis_primacy", "card_b"}
    assert all(v.cups_server == cupsd for v in cups_tables.values())


def test_discover_without_cupsd_says_so() -> None:
    notes: list[str] = []
    assert find_cups("/nonexistent/cups.sock", notes) == []
    assert notes and "no cupsd answers" in notes[0]


# ------------------------------------------------------------------------------------ support bundle

PEOPLE = [("SITI AMINAH BINTI SUPARDI", nik(101)), ("I Gusti Ayu Putri Larasati", nik(102)),
          ("ANDI MAPPANYUKKI", nik(103)), ("Budi Santoso", nik(104))]


def _cfg(tmp_path: Path, url: str | None = None, extra: str = "") -> Path:
    cfg = tmp_path / "printd.toml"
    port = urlsplit(url).port if url else 9
    cfg.write_text(config_text(port=port, write_images=True, extra=extra))
    return cfg


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name.split("/", 1)[1]: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def test_support_bundle_holds_no_name_nik_or_image(tmp_path: Path) -> None:
    state = tmp_path / "state"
    images: list[bytes] = []
    with daemon_thread(config_text(write_images=True), state) as d:
        c = d.client()
        ids = []
        for i, (name, number) in enumerate(PEOPLE):
            front, back = sample_card(f"front {i}", 300 + i), sample_card(f"back {i}", 400 + i, back=True)
            images += [front, back]
            body = job_payload(500 + i, name=name, nik=number,
                               front={"content_type": "image/png", "data": base64.b64encode(front).decode()},
                               back={"content_type": "image/png", "data": base64.b64encode(back).decode()})
            r = c.post("/api/v1/jobs", json=body)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        wait_for(lambda: all(c.get(f"/api/v1/jobs/{j}").json()["state"] == "printed" for j in ids),
                 what="the jobs printed")
        assert list((state / "printers").rglob("*.png")), "the images are on disk for the bundle to avoid"
        # an old log that leaked personal data, as a careless log line would
        (state / "printd.log").write_text(f"INFO printing card for {PEOPLE[0][0]} nik {PEOPLE[0][1]}\n"
                                          f"INFO {PEOPLE[1][0].upper()} done; NIK={PEOPLE[1][1]}\n")
        out = tmp_path / "bundle.tar.gz"
        r = CliRunner().invoke(main, ["support-bundle", "--output", str(out),
                                      "--config", str(_cfg(tmp_path, d.url)), "--state-dir", str(state)])
        assert r.exit_code == 0, r.output
    assert "printer diagnostics: included" in r.output and "database integrity: ok" in r.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    files = _members(out)
    assert {"README.txt", "versions.json", "database.json", "config/printd.toml", "config/effective.json",
            "diagnostics/health.json", "diagnostics/card1.json", "diagnostics/card1.txt",
            "diagnostics/card2.json", "logs/file-printd.log"} <= set(files)
    needles: list[tuple[str, bytes]] = []
    for name, number in PEOPLE:
        needles += [(f"name {name}", name.encode()), (f"upper {name}", name.upper().encode()),
                    (f"lower {name}", name.lower().encode()), (f"nik {number}", number.encode())]
    for img in images:
        needles += [("image bytes", img), ("image base64", base64.b64encode(img)),
                    ("image base64 head", base64.b64encode(img)[:64])]
    needles += [("any PNG", b"\x89PNG"), ("any base64 PNG", b"iVBORw0KGgo")]
    for path, data in files.items():
        for what, needle in needles:
            assert needle not in data, f"{what} found in {path}"

    # what it should hold, it holds
    import json

    db = json.loads(files["database.json"])
    assert db["integrity_check"] == "ok" and db["schema_version"] == SCHEMA_VERSION
    assert db["row_counts"]["jobs"] == len(PEOPLE) and db["jobs_by_state"] == {"printed": len(PEOPLE)}
    versions = json.loads(files["versions.json"])
    assert versions["printd"] and versions["python"] and versions["packages"]["fastapi"]
    diag = json.loads(files["diagnostics/card1.json"])
    assert diag["printer"] == "card1" and "history" in diag
    log = files["logs/file-printd.log"].decode()
    assert log.count("<name>") == 2 and log.count("<nik>") == 2
    assert b"[printers.card1]" in files["config/printd.toml"]


def test_support_bundle_without_a_daemon_says_so(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Database(state / "printd.sqlite3").close()
    (state / "initial-tokens.txt").write_text("admin=pd_not-running\n")
    out = tmp_path / "b.tar.gz"
    r = CliRunner().invoke(main, ["support-bundle", "-o", str(out), "--config", str(_cfg(tmp_path)),
                                  "--state-dir", str(state)])
    assert r.exit_code == 0, r.output
    assert "printer diagnostics: not included" in r.output
    files = _members(out)
    assert "the daemon did not answer" in files["diagnostics/NOT-INCLUDED.txt"].decode()
    assert "diagnostics/card1.json" not in files
    assert b"no logs found" in files["README.txt"]


def test_config_secrets_are_removed() -> None:
    text = ('[webhooks]\nsecret = "ab#cd"  # comment\napi_token=\'t0k\'\ntokens = ["a", "b"]\n'
            'cups_server = "ipp://admin:hunter2@host:631/"\nqueue = "Evolis"\n'
            'creds = { password = "p4ss", user = "u" }\n')
    out = redact_toml(text)
    for secret in ("ab#cd", "t0k", '"a"', '"b"', "hunter2", "p4ss"):
        assert secret not in out
    assert 'queue = "Evolis"' in out and 'user = "u"' in out and "# comment" in out
    assert redact_value({"x": {"webhook_secret": "s", "url": "http://u:pw@h/"}, "n": 1}) == \
        {"x": {"webhook_secret": "<removed>", "url": "http://u:<removed>@h/"}, "n": 1}


def test_scrubber_replaces_whole_names_and_any_nik() -> None:
    scrub = Scrubber(["Budi Santoso", "ANI"], ["3274011203900001"])
    text = "BUDI  SANTOSO met Ani, not Anita; 3274011203900001 / 1234567890123456 / 12345678901234567"
    assert scrub(text) == "<name> met <name>, not Anita; <nik> / <nik> / 12345678901234567"


# ---------------------------------------------------------------------------------------------- backup


def test_backup_while_printing_is_consistent(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with daemon_thread(config_text(time_scale=50.0), state) as d:
        c = d.client()
        ids = [c.post("/api/v1/jobs", json=job_payload(i)).json()["id"] for i in range(12)]
        cfg = _cfg(tmp_path, d.url)
        wait_for(lambda: any(c.get(f"/api/v1/jobs/{j}").json()["state"] == "printing" for j in ids),
                 what="printing")
        copies = []
        for n in range(3):   # while cards print and the store writes
            out = tmp_path / f"backup-{n}.sqlite3"
            r = CliRunner().invoke(main, ["backup", str(out), "--config", str(cfg),
                                          "--state-dir", str(state)])
            assert r.exit_code == 0, r.output
            assert "integrity ok" in r.output
            copies.append(out)
            time.sleep(0.1)
        refused = CliRunner().invoke(main, ["backup", str(copies[0]), "--config", str(cfg),
                                            "--state-dir", str(state)])
        assert refused.exit_code == 1 and "--force" in refused.output
    for out in copies:
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        conn = sqlite3.connect(out)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 12
            # the ledger inside the copy balances: every consumed card left a hopper it was loaded into
            consumed = conn.execute("SELECT COUNT(*) FROM ledger WHERE kind = 'consumed'").fetchone()[0]
            printed = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'printed'").fetchone()[0]
            assert consumed == printed
        finally:
            conn.close()


def test_backup_without_a_database_fails_clearly(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["backup", str(tmp_path / "x.sqlite3"),
                                  "--state-dir", str(tmp_path / "empty")])
    assert r.exit_code == 1 and "no database" in r.output
    assert not (tmp_path / "x.sqlite3").exists()


def test_discover_finds_the_evolis_emulator_through_the_real_pyusb_path(tmp_path: Path) -> None:
    """The package's own Evolis emulator, plugged in as a pyusb backend, is found by vendor and serial."""
    from printd.drivers.evolis.emulator import EvolisEmulator
    from printd.drivers.evolis.emulator_links import EmulatorUsbBackend

    emulator = EvolisEmulator(tmp_path / "evo", serial="E4EMU0042")
    found = find_usb(backend=EmulatorUsbBackend(emulator))
    [printer] = [p for p in found if p.serial == "E4EMU0042"]
    assert printer.vendor_id == 0x0F49
    snippet = config_snippet(Discovery(usb=found))
    cfg = parse(snippet, "<snippet>")
    [evo] = [p for p in cfg.printers.values() if getattr(p, "serial_number", None) == "E4EMU0042"]
    assert evo.driver == "evolis" and evo.transport == "usb"
