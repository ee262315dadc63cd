"""The emulator on its own: answers byte for byte, sequence checks, memory, faults, USB and pty cables."""
from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
import usb.core
import usb.util

from printd.drivers.evolis.emulator import CARDS_LOG, STATE_FILE, EvolisEmulator
from printd.drivers.evolis.emulator_links import EP_IN, EP_OUT, EmulatorUsbBackend, PtyServer
from printd.drivers.evolis.panels import panel_size
from printd.drivers.evolis.protocol import frame
from tests.drivers.evolis.support import FIXTURES, dialect, primacy, said, wait_until

K = b"\x00" * panel_size(2)
Y = b"\x00" * panel_size(32)


class Host:
    """Talks bytes to an emulator directly and collects its answers."""

    def __init__(self, emulator: EvolisEmulator) -> None:
        self.emulator = emulator
        self.answers: queue.Queue[bytes] = queue.Queue()
        emulator.set_sink(self.answers.put)

    def send(self, data: bytes) -> None:
        self.emulator.receive(data)

    def ask(self, data: bytes, timeout: float = 5.0) -> bytes:
        self.send(data)
        return self.answers.get(timeout=timeout)

    def cmd(self, text: str, data: bytes | None = None) -> str:
        name, *params = text.split(";")
        return self.ask(frame(name, *params, data=data)).decode()

    def silent(self, wait: float = 0.2) -> bool:
        try:
            self.answers.get(timeout=wait)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[EvolisEmulator]:
    e = EvolisEmulator(tmp_path, serial="EMUTEST01", time_scale=1000.0, data_timeout_s=0.2, dialect=dialect())
    e.start()
    yield e
    e.clear_faults()
    e.stop()


@pytest.fixture
def host(emu: EvolisEmulator) -> Host:
    return Host(emu)


def print_front_k(host: Host) -> str:
    for text in ("Ss", "Sr"):
        assert host.cmd(text) == "OK"
    assert host.cmd("Db;k;2", K) == "OK"
    return host.cmd("Se")


# ---------------------------------------------------------------------------------------- answers

def test_answers_match_the_recording_byte_for_byte(emu: EvolisEmulator, host: Host) -> None:
    emu.load_cards("ktp-el", 5)
    text = (FIXTURES / ("evolis-replies-primacy.txt" if primacy() else "evolis-replies.txt")).read_text()
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    for ln in lines:
        command, expected = ln.split("\t")
        assert host.ask(b"\x1b" + command.encode() + b"\r") == expected.encode(), command


def test_esc_is_optional_after_cr_and_padding_is_ignored(host: Host) -> None:
    host.send(b"\x1bRco;c\r")
    host.send(b"\x00\x00Rsn\r")
    assert [host.answers.get(timeout=5), host.answers.get(timeout=5)] == [b"0", b"EMUTEST01"]


def test_ack_nack_protocol_after_pcom(host: Host) -> None:
    assert host.cmd("Pcom;1;115200;N;8;1;ACK/NACK") == "OK"        # still answered the old way
    assert host.ask(frame("Rsn")) == b"EMUTEST01\x06"
    assert host.ask(frame("Pem", 2)) == b"\x06"
    if primacy():
        assert host.ask(frame("Sk", "f")) == b"ERROR CDE\x06"   # a query's error is a value then ACK
    assert host.ask(frame("Pem", 9)) == b"\x152"
    assert host.ask(frame("Xyz")) == b"\x151"
    assert host.ask(frame("Se")) == b"\x152"
    host.emulator.inject_fault("cover-open", None)
    host.emulator.load_cards("ktp-el", 1)
    if primacy():   # the blank is taken at Ss: the open cover refuses it there
        assert host.ask(frame("Ss")) == b"\x15C"
        return
    for text in ("Ss", "Sr"):
        assert host.ask(frame(text)) == b"\x06"
    assert host.ask(frame("Db", "k", 2, data=K)) == b"\x06"
    assert host.ask(frame("Se")) == b"\x15C"


# ---------------------------------------------------------------------------------------- sequence checks

def test_a_good_sequence_prints_a_card(emu: EvolisEmulator, host: Host) -> None:
    emu.load_cards("kia", 2)
    assert host.cmd("Ss") == "OK" and host.cmd("Sr") == "OK"
    # the guide's printer feeds at Se, current firmware at Ss
    assert emu.snapshot()["state"]["cards_inserted"] == (1 if primacy() else 0)
    for name in "ymc":
        assert host.cmd(f"Db;{name};32", Y) == "OK"
    assert host.cmd("Db;k;2", K) == "OK" and host.cmd("Db;o;2", K) == "OK"
    assert host.cmd("Sv") == "OK" and host.cmd("Db;k;2", K) == "OK"
    assert host.cmd("Se") == "OK"
    st = emu.snapshot()["state"]
    assert (st["cards_inserted"], st["panels_printed"], st["cards_ejected"], st["hopper"]) == (1, 6, 1, 1)
    assert st["ribbon_left"] == 198 and emu.protocol_errors == []
    logged = json.loads((emu.dir / CARDS_LOG).read_text().splitlines()[-1])
    assert [(p["side"], p["panel"], p["levels"]) for p in logged["panels"]] == [
        ("front", "y", 32), ("front", "m", 32), ("front", "c", 32), ("front", "k", 2), ("front", "o", 2),
        ("back", "k", 2)]


@pytest.mark.parametrize("steps, answer, problem", [
    ([("Db;k;2", K)], "ERR SEQUENCE", "before Ss"),
    ([("Ss", None), ("Db;k;2", K)], "ERR SEQUENCE", "before Ss and Sr"),
    ([("Ss", None), ("Sr", None), ("Db;k;2", K), ("Db;y;32", Y)], "ERR SEQUENCE", "after k"),
    ([("Ss", None), ("Sr", None), ("Db;k;32", Y)], "ERR PARAMETRES", "cannot be sent at 32"),
    ([("Ss", None), ("Sr", None), ("Db;y;2", K)], "ERR PARAMETRES", "cannot be sent at 2"),
    ([("Ss", None), ("Sv", None), ("Db;y;32", Y)], "ERR PARAMETRES", "not on the back"),
    ([("Ss", None), ("Sv", None), ("Sv", None)], "ERR SEQUENCE", "twice"),
    ([("Se", None)], "ERR SEQUENCE", "without a sequence"),
])
def test_sequence_mistakes_are_refused(emu: EvolisEmulator, host: Host, steps: list[tuple[str, bytes | None]],
                                       answer: str, problem: str) -> None:
    host.emulator.load_cards("ktp-el", 2)   # current firmware feeds at Ss and refuses it on an empty feeder
    answers = [host.cmd(text, data) for text, data in steps]
    assert answers[-1] == said(answer) and all(a == "OK" for a in answers[:-1])
    assert problem in emu.protocol_errors[-1]


def test_too_many_bytes_in_a_panel_are_refused_and_the_line_recovers(emu: EvolisEmulator, host: Host) -> None:
    emu.load_cards("ktp-el", 1)
    host.cmd("Ss")
    host.cmd("Sr")
    assert host.ask(frame("Db", "k", 2, data=K + b"\x00")) == said("ERR DATA").encode()
    assert "more than 82296 bytes" in emu.protocol_errors[-1]
    time.sleep(0.3)   # the emulator ignores input until the host has been quiet for a moment
    assert host.cmd("Rsn") == "EMUTEST01"


def test_a_panel_with_too_few_bytes_is_refused_when_the_data_stops(emu: EvolisEmulator, host: Host) -> None:
    emu.load_cards("ktp-el", 1)
    host.cmd("Ss")
    host.cmd("Sr")
    assert host.ask(b"\x1bDb;k;2;" + K[:1000] + b"\r") == said("ERR DATA").encode()
    assert "1001 bytes then silence, 82296 expected" in emu.protocol_errors[-1]


def test_a_bad_level_count_is_refused(emu: EvolisEmulator, host: Host) -> None:
    assert host.ask(b"\x1bDb;k;7;" + b"\x00" * 10 + b"\r") == said("ERR PARAMETRES").encode()


# ------------------------------------------------------------------------------------ the printer's memory

def test_counters_and_supplies_survive_a_restart(tmp_path: Path) -> None:
    first = EvolisEmulator(tmp_path, serial="EMUTEST01", time_scale=1000.0, dialect=dialect())
    first.start()
    first.load_cards("ktp-el", 3)
    assert print_front_k(Host(first)) == "OK"
    first.stop()
    second = EvolisEmulator(tmp_path, serial="IGNORED", time_scale=1000.0, dialect=dialect())
    assert second.serial == "EMUTEST01"
    st = second.snapshot()["state"]
    assert (st["cards_inserted"], st["panels_printed"], st["hopper"], st["ribbon_left"]) == (1, 1, 2, 199)


@pytest.mark.parametrize("error, ejected, rejected", [(None, 1, 0), ("ERR MECHANICAL", 0, 1)])
def test_a_card_left_in_the_mechanism_is_finished_or_rejected_at_power_on(
        tmp_path: Path, error: str | None, ejected: int, rejected: int) -> None:
    EvolisEmulator(tmp_path, serial="EMUTEST01", dialect=dialect())
    state = json.loads((tmp_path / STATE_FILE).read_text())
    card = {"total": 6, "done": 2, "error": error, "test": False}
    state.update(cards_inserted=1, panels_printed=2, card=card)
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    st = EvolisEmulator(tmp_path, serial="EMUTEST01", dialect=dialect()).snapshot()["state"]
    assert st["card"] is None and st["cards_ejected"] == ejected and st["cards_rejected"] == rejected
    assert st["panels_printed"] == (6 if error is None else 2)


def test_the_feeder_holds_one_card_type(emu: EvolisEmulator) -> None:
    emu.load_cards("ktp-el", 3)
    with pytest.raises(ValueError, match="another card type"):
        emu.load_cards("kia", 1)
    emu.unload_cards(5)
    emu.load_cards("kia", 1)
    assert emu.hopper_card_type == "kia"


def test_the_test_card_and_cleaning(emu: EvolisEmulator, host: Host) -> None:
    emu.load_cards("ktp-el", 1)
    assert host.cmd("St") == "OK"
    assert host.cmd("Rco;c") == "1" and host.cmd("Rco;p") == "5"
    assert host.cmd("Scp") == "OK" and host.cmd("Rco;n") == "1"


# ---------------------------------------------------------------------------------------- faults

def test_faults_clear_by_themselves(emu: EvolisEmulator, host: Host) -> None:
    emu.inject_fault("cover-open", 0.2)
    opened, closed = ("0,00 Volts", "5,00 Volts") if primacy() else ("OPEN", "CLOSE")
    assert host.cmd("Rse;o") == opened
    wait_until(lambda: host.cmd("Rse;o") == closed)
    with pytest.raises(ValueError, match="unknown fault"):
        emu.inject_fault("paper-jam", 1)


def test_a_hang_holds_answers_until_it_ends(emu: EvolisEmulator, host: Host) -> None:
    emu.inject_fault("hang", None)
    host.send(frame("Rsn"))
    assert host.silent()
    emu.clear_faults()
    assert host.answers.get(timeout=5) == b"EMUTEST01"   # the late answer


def test_offline_drops_the_line(emu: EvolisEmulator, host: Host) -> None:
    emu.inject_fault("offline", None)
    assert not emu.link_up
    host.send(frame("Rsn"))
    assert host.silent()
    emu.clear_faults()
    assert host.cmd("Rsn") == "EMUTEST01"


def test_a_jam_during_a_card_keeps_it_inside_until_cleared(emu: EvolisEmulator, host: Host) -> None:
    emu.load_cards("ktp-el", 2)
    emu.arm_fault("media-jam", after_panels=0)
    assert print_front_k(host) == said("ERR MECHANICAL")
    assert host.cmd("Rlr;p") == ("CARD" if primacy() else "ERR CARD") and host.cmd("Ser") == said("ERR MECHANICAL")
    assert host.cmd("Rco;c") == "1"
    emu.clear_faults()
    assert host.cmd("Rlr;p") == ("OK" if primacy() else "NO CARD")
    assert host.cmd("Rlr;r") == said("ERR MECHANICAL")   # the last answer stays until the status is cleared
    assert host.cmd("Scs") == "OK" and host.cmd("Rlr;r") == "OK"


# ---------------------------------------------------------------------------------------- the cables

def test_the_usb_backend_works_through_the_real_pyusb_api(emu: EvolisEmulator) -> None:
    backend = EmulatorUsbBackend(emu)
    dev = usb.core.find(idVendor=0x0F49, backend=backend)
    assert dev is not None and dev.serial_number == "EMUTEST01" and dev.manufacturer == "Evolis"
    dev.set_configuration()
    intf = dev.get_active_configuration()[(0, 0)]
    assert (intf.bInterfaceClass, intf.bInterfaceSubClass, intf.bInterfaceProtocol) == (7, 1, 2)
    out = usb.util.find_descriptor(intf, bEndpointAddress=EP_OUT)
    inp = usb.util.find_descriptor(intf, bEndpointAddress=EP_IN)
    out.write(b"\x1bRtp\r", timeout=1000)
    if primacy():   # a zero-length transfer comes first, as libevolis expects ("unexpected read of 0 bytes")
        assert bytes(inp.read(4096, timeout=2000)) == b""
    assert bytes(inp.read(4096, timeout=2000)) == b"Evolis Dualys3 (printd emulator)"
    with pytest.raises(usb.core.USBTimeoutError):
        inp.read(4096, timeout=50)
    address = dev.address
    backend.unplug()
    assert usb.core.find(idVendor=0x0F49, backend=backend) is None
    with pytest.raises(usb.core.USBError):
        out.write(b"\x1bRsn\r", timeout=1000)
    backend.replug()
    again = usb.core.find(idVendor=0x0F49, backend=backend)
    assert again is not None and again.address != address and again.serial_number == "EMUTEST01"
    usb.util.dispose_resources(dev)
    usb.util.dispose_resources(again)


def test_the_pty_serves_a_real_serial_port(emu: EvolisEmulator) -> None:
    pty = PtyServer(emu)
    try:
        with serial.Serial(pty.port, 115200, timeout=2) as port:
            port.write(b"\x1bRsn\r")
            assert port.read(9) == b"EMUTEST01"
            emu.load_cards("ktp-el", 1)
            port.write(frame("Ss") + frame("Sr"))
            assert port.read(4) == b"OKOK"
    finally:
        pty.close()
