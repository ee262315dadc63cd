"""The Evolis driver against the emulator: over the real pyusb API (fake backend) and over a pty."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from printd.config import EvolisPrinterConfig
from printd.drivers.base import Driver, PrinterState, Reason, Severity, Simulated, supports_raw
from printd.drivers.evolis.driver import EmulatedEvolisDriver, EvolisDriver, create_evolis_driver
from printd.drivers.evolis.emulator_links import EmulatorUsbBackend
from printd.drivers.evolis.panels import panel_size, separate_back, separate_front
from printd.errors import ConfigError, PrinterFault, PrinterOffline, PrinterTimeout
from tests.drivers.evolis.support import BACK, FRONT, card, primacy, said, serial_rig, usb_driver, wait_until

DUAL_SEQUENCE = ["Pem;2", "Pr;ymcko", "Pmi;F", "Ss", "Sr",
                 f"Db;y;128;<{panel_size(128)} bytes>", f"Db;m;128;<{panel_size(128)} bytes>",
                 f"Db;c;128;<{panel_size(128)} bytes>", f"Db;k;2;<{panel_size(2)} bytes>",
                 f"Db;o;2;<{panel_size(2)} bytes>", "Sv", f"Db;k;2;<{panel_size(2)} bytes>", "Se"]


@pytest.fixture
def drv(tmp_path: Path) -> Iterator[EmulatedEvolisDriver]:
    driver = usb_driver(tmp_path)
    driver.open()
    driver.load_cards("ktp-el", 20)
    yield driver
    driver.clear_faults()
    driver.close()


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[EmulatedEvolisDriver]:
    """A driver that gives up quickly: for the tests where the printer stops answering."""
    driver = usb_driver(tmp_path, timeout_s=0.6, command_timeout_s=0.3)
    driver.open()
    driver.load_cards("ktp-el", 20)
    yield driver
    driver.clear_faults()
    driver.close()


def keywords(status: Any) -> set[str]:
    return {r.keyword for r in status.reasons}


# ---------------------------------------------------------------------------------------- identity

def test_the_factory_builds_an_emulated_printer_that_is_a_driver_and_simulated(tmp_path: Path) -> None:
    driver = usb_driver(tmp_path)
    assert isinstance(driver, Driver) and isinstance(driver, Simulated) and supports_raw(driver)
    assert isinstance(driver.link, EmulatorUsbBackend)
    assert driver.card_timeout_s > driver.cfg.timeout_s   # the driver answers before the station gives up
    driver.close()


def test_a_real_usb_printer_is_not_simulated_and_is_offline_when_absent(tmp_path: Path) -> None:
    cfg = EvolisPrinterConfig(driver="evolis", transport="usb", serial_number="NOPE123",
                              command_timeout_s=0.2)
    driver = create_evolis_driver("card9", cfg, tmp_path)
    assert isinstance(driver, EvolisDriver) and not isinstance(driver, Simulated)
    with pytest.raises(PrinterOffline):
        driver.open()


def test_open_identifies_the_printer_over_usb(drv: EmulatedEvolisDriver) -> None:
    ident = drv.open()
    assert ident.serial == drv.emulator.serial
    assert ident.model == "Evolis Dualys3 (printd emulator)"
    assert ident.firmware == "EMU-1.0.0" and ident.vendor == "Evolis"
    assert ident.link["transport"] == "usb" and ident.link["vendor_id"] == "0x0f49"
    assert ident.link["ep_out"] == "0x01" and ident.link["ep_in"] == "0x82"
    assert "Pem;2" in drv.emulator.commands   # the host handles errors
    assert drv.emulator.snapshot()["pem"] == 2


def test_open_refuses_a_printer_with_another_serial_number(tmp_path: Path) -> None:
    with (serial_rig(tmp_path, serial_number="SOMEONE-ELSE") as rig,
          pytest.raises(PrinterOffline, match="SOMEONE-ELSE")):
        rig.driver.open()


def test_an_unsupported_ribbon_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ribbon"):
        usb_driver(tmp_path, ribbon="hologram")


# ---------------------------------------------------------------------------------------- status

def test_status_of_an_idle_printer(drv: EmulatedEvolisDriver) -> None:
    st = drv.status()
    assert st.state == PrinterState.IDLE and st.can_print and not st.errors
    assert st.counters.fed == 0 and st.counters.printed == 0
    assert st.ribbon is not None and st.ribbon.type == "YMCKO" and st.ribbon.remaining == 200
    assert st.hopper_card_type == "ktp-el" and st.raw["Rco;c"] == "0"
    if primacy():   # no feeder sensor query (Sk is Quantum/Kiosk only); sensors answer voltages
        assert st.hopper_empty is None and st.raw["Rse;o"] == "5,00 Volts" and st.raw["Sk;f"] == "ERROR CDE"
    else:
        assert st.hopper_empty is False and st.raw["Rse;o"] == "CLOSE"


def test_status_reports_an_empty_then_a_low_feeder(drv: EmulatedEvolisDriver) -> None:
    drv.unload_cards(20)
    if primacy():
        # no feeder query: the refused feed is what tells, and it is held until the sensor's voltage moves
        assert Reason.MEDIA_EMPTY not in keywords(drv.status())
        with pytest.raises(PrinterFault) as info:
            drv.print_card(card())
        assert info.value.vendor_code == "FEEDER EMPTY" and info.value.card_fed is False
        for _ in range(2):
            st = drv.status()
            assert Reason.MEDIA_EMPTY in keywords(st) and st.hopper_empty is True and not st.can_print
        drv.load_cards("ktp-el", 3)
        st = drv.status()
        assert st.can_print and not keywords(st) and st.hopper_empty is None
        return
    st = drv.status()
    assert Reason.MEDIA_EMPTY in keywords(st) and st.hopper_empty is True and not st.can_print
    assert st.state == PrinterState.STOPPED
    drv.load_cards("ktp-el", 3)
    st = drv.status()
    low = next(r for r in st.reasons if r.keyword == Reason.MEDIA_LOW)
    assert low.severity == Severity.WARNING and st.can_print


@pytest.mark.parametrize("kind, reason, vendor", [
    ("cover-open", Reason.COVER_OPEN, "Rse;o OPEN"),
    ("media-empty", Reason.MEDIA_EMPTY, "Sk;f 1"),
    ("marker-supply-empty", Reason.MARKER_SUPPLY_EMPTY, "Rcr ERR RIBBON"),
    ("media-jam", Reason.MEDIA_JAM, "ERR MECHANICAL"),
    ("overheat", Reason.OVERHEAT, "ERR HEAD TEMP"),
])
def test_status_shows_each_fault_with_its_vendor_code(drv: EmulatedEvolisDriver, kind: str, reason: str,
                                                      vendor: str) -> None:
    if primacy() and kind in ("cover-open", "media-empty"):
        # these answer voltages whose meaning is unverified: a poll alone does not stop the printer
        drv.inject_fault(kind, None)
        st = drv.status()
        assert reason not in keywords(st) and st.raw[{"cover-open": "Rse;o", "media-empty": "Rse;f"}[kind]] == \
            "0,00 Volts"
        return
    vendor = said(vendor)
    drv.inject_fault(kind, None)
    st = drv.status()
    found = next(r for r in st.reasons if r.keyword == reason)
    assert found.vendor_code == vendor and found.severity == Severity.ERROR and found.message
    assert st.state == PrinterState.STOPPED and not st.can_print
    drv.clear_faults()
    assert drv.status().state == PrinterState.IDLE


def test_an_injected_fault_clears_by_itself(drv: EmulatedEvolisDriver) -> None:
    drv.inject_fault("cover-open", 1.0 if primacy() else 0.3)
    if primacy():   # the refused card shows it; the cover sensor's voltage moving clears it
        with pytest.raises(PrinterFault):
            drv.print_card(card())
    assert Reason.COVER_OPEN in keywords(drv.status())
    wait_until(lambda: drv.status().state == PrinterState.IDLE)


def test_a_ribbon_fault_clears_with_a_new_ribbon(drv: EmulatedEvolisDriver) -> None:
    drv.emulator.state["ribbon_left"] = 5
    assert Reason.MARKER_SUPPLY_LOW in keywords(drv.status())
    drv.inject_fault("marker-supply-empty", None)
    # the ribbon is read once per card or hour (its tag wears): a refused card makes it read again
    assert drv.status().ribbon.remaining == 5
    with pytest.raises(PrinterFault):
        drv.print_card(card())
    assert drv.status().ribbon.remaining == 0
    drv.clear_faults()
    st = drv.status()   # a stopped printer reads the ribbon at every poll, so the new one shows at once
    assert st.ribbon.remaining == 200 and not keywords(st)


# ---------------------------------------------------------------------------------------- printing

def test_a_dual_sided_card_sends_every_panel_in_order_and_the_emulator_accepts_them(
        drv: EmulatedEvolisDriver) -> None:
    drv.emulator.commands.clear()
    out = drv.print_card(card())
    sent = list(drv.emulator.commands)
    assert sent[sent.index("Pem;2"):] [:len(DUAL_SEQUENCE)] == DUAL_SEQUENCE
    assert drv.emulator.protocol_errors == []
    printed = drv.emulator.last_card
    assert [(side, name, levels) for side, name, levels, _ in printed] == [
        ("front", "y", 128), ("front", "m", 128), ("front", "c", 128), ("front", "k", 2), ("front", "o", 2),
        ("back", "k", 2)]
    expected = [p.data for p in separate_front(FRONT, "ymcko", 128)] + [p.data for p in separate_back(BACK)]
    assert [data for *_, data in printed] == expected
    assert out.detail["sha256"]["back-k"] == hashlib.sha256(expected[-1]).hexdigest()
    assert out.counters_before.fed == 0 and out.counters_after.fed == 1
    assert out.counters_before.printed == 0 and out.counters_after.printed == 1
    snap = drv.emulator.snapshot()["state"]
    assert snap["hopper"] == 19 and snap["panels_printed"] == 6 and snap["ribbon_left"] == 198
    st = drv.status()
    assert st.counters.fed == 1 and st.counters.printed == 1 and st.state == PrinterState.IDLE


def test_a_single_sided_card_has_no_back_side(drv: EmulatedEvolisDriver) -> None:
    drv.emulator.commands.clear()
    drv.print_card(card(back=False))
    assert "Sv" not in drv.emulator.commands
    assert [(s, n) for s, n, *_ in drv.emulator.last_card] == [("front", x) for x in "ymcko"]


def test_a_monochrome_ribbon_prints_k_on_both_sides(tmp_path: Path) -> None:
    driver = usb_driver(tmp_path, ribbon="kb")
    driver.open()
    driver.load_cards("ktp-el", 1)
    driver.print_card(card())
    assert [(s, n, lv) for s, n, lv, _ in driver.emulator.last_card] == [("front", "k", 2), ("back", "k", 2)]
    assert "Pr;kb" in driver.emulator.commands
    driver.close()


def test_an_unreadable_image_is_refused_before_a_blank_is_touched(drv: EmulatedEvolisDriver) -> None:
    bad = card()
    bad = type(bad)(bad.job_id, bad.attempt, bad.card_type, b"not a png")
    with pytest.raises(PrinterFault) as info:
        drv.print_card(bad)
    assert info.value.card_fed is False and info.value.reasons == ("other",)
    assert drv.status().counters.fed == 0


# ---------------------------------------------------------------------------------------- faults

@pytest.mark.parametrize("kind, reason, vendor", [
    ("media-empty", Reason.MEDIA_EMPTY, "ERR FEEDER EMPTY"),
    ("cover-open", Reason.COVER_OPEN, "ERR COVER OPEN"),
    ("marker-supply-empty", Reason.MARKER_SUPPLY_EMPTY, "ERR RIBBON"),
    ("media-jam", Reason.MEDIA_JAM, "ERR MECHANICAL"),
    ("overheat", Reason.OVERHEAT, "ERR HEAD TEMP"),
])
def test_a_fault_present_before_feeding_costs_no_blank(drv: EmulatedEvolisDriver, kind: str, reason: str,
                                                       vendor: str) -> None:
    drv.inject_fault(kind, None)
    with pytest.raises(PrinterFault) as info:
        drv.print_card(card())
    assert info.value.reasons == (reason,) and info.value.vendor_code == said(vendor)
    assert info.value.card_fed is False
    assert drv.emulator.snapshot()["state"]["hopper"] == 20
    drv.clear_faults()
    assert drv.status().counters.fed == 0


def test_an_empty_feeder_is_media_empty_and_not_fed(drv: EmulatedEvolisDriver) -> None:
    drv.unload_cards(20)
    with pytest.raises(PrinterFault) as info:
        drv.print_card(card())
    assert info.value.reasons == (Reason.MEDIA_EMPTY,) and info.value.card_fed is False


@pytest.mark.parametrize("kind, reason, vendor", [
    ("media-jam", Reason.MEDIA_JAM, "ERR MECHANICAL"),
    ("marker-supply-empty", Reason.MARKER_SUPPLY_EMPTY, "ERR RIBBON"),
    ("cover-open", Reason.COVER_OPEN, "ERR COVER OPEN"),
    ("overheat", Reason.OVERHEAT, "ERR HEAD TEMP"),
])
def test_a_fault_during_the_card_spoils_the_blank(drv: EmulatedEvolisDriver, kind: str, reason: str,
                                                  vendor: str) -> None:
    drv.emulator.arm_fault(kind, after_panels=2)
    with pytest.raises(PrinterFault) as info:
        drv.print_card(card())
    assert info.value.reasons == (reason,) and info.value.vendor_code == said(vendor)
    assert info.value.card_fed is True
    st = drv.status()
    assert st.counters.fed == 1 and st.counters.printed == 0   # fed, never printed: settled at once
    assert "Ser" in drv.emulator.commands   # the spoiled card is sent to the reject box
    drv.clear_faults()
    st = drv.status()
    assert st.state == PrinterState.IDLE and st.counters.printed == 0


def test_a_jammed_card_stays_inside_until_the_jam_is_cleared(drv: EmulatedEvolisDriver) -> None:
    drv.emulator.arm_fault("media-jam", after_panels=4)
    with pytest.raises(PrinterFault):
        drv.print_card(card())
    st = drv.status()
    assert Reason.MEDIA_JAM in keywords(st) and st.raw["Rlr;p"] == ("CARD" if primacy() else "ERR CARD")
    drv.clear_faults()
    st = drv.status()
    assert st.raw["Rlr;p"] == ("OK" if primacy() else "NO CARD") and not keywords(st)


def test_the_ribbon_running_out_on_the_back_side_spoils_the_card(drv: EmulatedEvolisDriver) -> None:
    drv.emulator.state["ribbon_left"] = 1   # enough for the front's YMCKO set, not for the back's K
    with pytest.raises(PrinterFault) as info:
        drv.print_card(card())
    assert info.value.reasons == (Reason.MARKER_SUPPLY_EMPTY,) and info.value.card_fed is True


def test_a_refused_setting_is_a_fault_before_feeding(drv: EmulatedEvolisDriver) -> None:
    drv.emulator.state["ribbon_type"] = "kb"   # someone put a monochrome ribbon in
    with pytest.raises(PrinterFault) as info:
        drv.print_card(card())
    assert info.value.vendor_code == "ERR RIBBON TYPE" and info.value.card_fed is False
    assert info.value.reasons == (Reason.OTHER,)


# ---------------------------------------------------------------------------------------- timeouts

def test_no_answer_mid_card_is_a_timeout_settled_later_by_the_counters(quick: EmulatedEvolisDriver) -> None:
    before = quick.status().counters
    quick.emulator.arm_fault("hang", after_panels=3)
    with pytest.raises(PrinterTimeout) as info:
        quick.print_card(card())
    assert info.value.card_fed is None
    with pytest.raises(PrinterOffline):
        quick.status()                      # still hung
    assert quick.diagnostics()["card_book"]["in_flight"]["job_id"] == "job-1"
    quick.clear_faults()                    # the printer comes back and finishes the card
    wait_until(lambda: quick.emulator.snapshot()["state"]["card"] is None)
    st = quick.status()
    assert st.counters.fed == before.fed + 1 and st.counters.printed == before.printed + 1
    assert st.raw["Rco;c"] == "1"         # late answers were not taken for the status replies
    assert quick.diagnostics()["card_book"]["in_flight"] is None
    quick.print_card(card("job-2"))         # and the link is in step again
    assert quick.status().counters.printed == 2


def test_a_hung_printer_before_the_card_is_offline_and_not_fed(quick: EmulatedEvolisDriver) -> None:
    quick.inject_fault("hang", None)
    with pytest.raises(PrinterOffline) as info:
        quick.print_card(card())
    assert info.value.card_fed is False
    quick.clear_faults()
    st = quick.status()
    assert st.counters.fed == 0 and st.counters.printed == 0


# ---------------------------------------------------------------------------------------- link loss

def test_a_pulled_cable_before_the_card_is_offline_and_not_fed(drv: EmulatedEvolisDriver) -> None:
    drv.inject_fault("offline", None)
    with pytest.raises(PrinterOffline) as info:
        drv.print_card(card())
    assert info.value.card_fed is False and info.value.reasons == ("offline",)
    drv.clear_faults()
    assert drv.status().counters.fed == 0


def test_reconnects_after_a_simulated_unplug(drv: EmulatedEvolisDriver) -> None:
    first = drv.open().link["address"]
    assert isinstance(drv.link, EmulatorUsbBackend)
    drv.link.unplug()
    with pytest.raises(PrinterOffline):
        drv.status()
    with pytest.raises(PrinterOffline):
        drv.open()
    drv.link.replug()
    again = drv.open()
    assert again.serial == drv.emulator.serial and again.link["address"] != first   # found by serial
    drv.print_card(card())
    assert drv.status().counters.printed == 1


def test_an_offline_fault_is_a_pulled_cable_that_comes_back(drv: EmulatedEvolisDriver) -> None:
    drv.inject_fault("offline", 0.2)
    with pytest.raises(PrinterOffline):
        drv.status()
    wait_until(lambda: drv.emulator.link_up)
    assert drv.status().state == PrinterState.IDLE


def test_losing_the_link_mid_card_is_in_doubt_until_the_counters_say(drv: EmulatedEvolisDriver) -> None:
    drv.emulator.arm_fault("offline", after_panels=1)
    with pytest.raises(PrinterOffline) as info:
        drv.print_card(card())
    assert info.value.card_fed is None
    wait_until(lambda: drv.emulator.snapshot()["state"]["card"] is None)   # the mechanism went on
    drv.clear_faults()
    st = drv.status()
    assert st.counters.fed == 1 and st.counters.printed == 1


# ---------------------------------------------------------------------------------------- restarts

def test_counters_survive_a_daemon_restart(tmp_path: Path) -> None:
    driver = usb_driver(tmp_path)
    driver.open()
    driver.load_cards("ktp-el", 5)
    driver.print_card(card())
    driver.close()
    again = usb_driver(tmp_path)
    st = again.status()
    assert st.counters.fed == 1 and st.counters.printed == 1
    assert again.emulator.snapshot()["state"]["hopper"] == 4
    again.close()


def test_a_card_in_flight_at_a_crash_is_settled_from_the_counters(tmp_path: Path) -> None:
    driver = usb_driver(tmp_path, timeout_s=0.6, command_timeout_s=0.3)
    driver.open()
    driver.load_cards("ktp-el", 5)
    driver.emulator.arm_fault("hang", after_panels=2)
    with pytest.raises(PrinterTimeout):
        driver.print_card(card())
    # the daemon dies here; the printer (and its memory) carries on
    driver.emulator.stop()
    restarted = usb_driver(tmp_path)
    st = restarted.status()
    assert st.counters.fed == 1 and st.counters.printed == 1
    restarted.close()


def test_a_crash_card_whose_panel_count_does_not_add_up_is_left_in_doubt(tmp_path: Path) -> None:
    # sources disagree whether Rco;p counts panels or cards: a model counting cards moves it by 1, not 6
    driver = usb_driver(tmp_path, timeout_s=0.6, command_timeout_s=0.3)
    driver.open()
    driver.load_cards("ktp-el", 5)
    driver.emulator.arm_fault("hang", after_panels=2)
    with pytest.raises(PrinterTimeout):
        driver.print_card(card())
    driver.emulator.stop()
    restarted = usb_driver(tmp_path)
    restarted.emulator.rco_p_counts = "cards"
    st = restarted.status()
    # never "spoiled" (that would print the citizen's card twice): printed did not move and the card
    # counter is withheld, so the station leaves the job to the operator
    assert st.counters.printed == 0 and st.counters.fed is None
    assert restarted.diagnostics()["card_book"]["doubt"]["job_id"] == "job-1"
    restarted.print_card(card("job-2"))   # the next card starts a fresh book entry
    assert restarted.status().counters.fed == 2
    restarted.close()


# ---------------------------------------------------------------------------------------- technicians

def test_raw_commands_and_the_technician_helpers(drv: EmulatedEvolisDriver) -> None:
    assert drv.raw_command("Rco;c") == "0"
    assert drv.raw_command("\x1bRsn\r") == drv.emulator.serial
    assert drv.raw_command("Xyz") == said("ERR CMD")
    assert drv.clear_status() == "OK"
    out = drv.test_card()
    assert out.counters_after.fed == out.counters_before.fed + 1   # the test card takes a blank
    assert drv.run_cleaning() == "OK"
    assert drv.raw_command("Rco;n") == "1"
    drv.print_card(card())
    assert drv.status().counters.since_cleaning == 1
    diag = drv.diagnostics()
    assert diag["driver"] == "evolis" and diag["identity"]["serial"] == drv.emulator.serial
    assert any(e["kind"] == "raw" for e in diag["recent_errors"]) and "emulator" in diag


def test_cancel_before_the_card_is_fed(drv: EmulatedEvolisDriver) -> None:
    real_write = drv.transport.write

    def write(data: bytes) -> None:
        if data.startswith(b"\x1bSr"):
            drv.cancel()      # the operator cancels while the sequence is being sent
        real_write(data)

    drv.transport.write = write  # type: ignore[method-assign]
    with pytest.raises(PrinterFault) as info:
        drv.print_card(card())
    assert info.value.vendor_code == "canceled" and "Se" not in drv.emulator.commands
    # the guide's printer feeds at Se; current firmware took the blank at Ss, so it went to the reject box
    assert info.value.card_fed is primacy()
    assert drv.emulator.snapshot()["state"]["cards_rejected"] == (1 if primacy() else 0)


# ---------------------------------------------------------------------------------------- serial link

def test_identify_status_and_print_over_a_serial_pty(tmp_path: Path) -> None:
    with serial_rig(tmp_path) as rig:
        ident = rig.driver.open()
        assert ident.serial == "EMUSERIAL1" and ident.link["transport"] == "serial"
        rig.emulator.load_cards("ktp-el", 2)
        assert rig.driver.status().state == PrinterState.IDLE
        out = rig.driver.print_card(card())
        assert out.counters_after.printed == 1 and rig.emulator.protocol_errors == []
        assert [(s, n) for s, n, *_ in rig.emulator.last_card][-1] == ("back", "k")
        rig.emulator.unload_cards(5)
        with pytest.raises(PrinterFault) as info:
            rig.driver.print_card(card("job-2"))
        assert info.value.reasons == (Reason.MEDIA_EMPTY,) and info.value.card_fed is False


@pytest.mark.parametrize("kind, armed, reason, nack, fed", [
    ("media-empty", None, Reason.MEDIA_EMPTY, "NACK F", False),
    ("cover-open", None, Reason.COVER_OPEN, "NACK C", False),
    ("marker-supply-empty", None, Reason.MARKER_SUPPLY_EMPTY, "NACK R", False),
    ("media-jam", 3, Reason.MEDIA_JAM, "NACK T", True),
])
def test_ack_nack_codes_map_to_reasons_over_serial(tmp_path: Path, kind: str, armed: int | None, reason: str,
                                                  nack: str, fed: bool) -> None:
    with serial_rig(tmp_path, ack_nack=True) as rig:
        rig.driver.open()
        rig.emulator.load_cards("ktp-el", 2)
        assert rig.driver.status().counters.fed == 0
        if armed is None:
            rig.emulator.inject_fault(kind, None)
        else:
            rig.emulator.arm_fault(kind, after_panels=armed)
        with pytest.raises(PrinterFault) as info:
            rig.driver.print_card(card(back=False))
        assert info.value.reasons == (reason,) and info.value.vendor_code == nack
        assert info.value.card_fed is fed


def test_no_answer_over_serial_is_a_timeout(tmp_path: Path) -> None:
    with serial_rig(tmp_path, timeout_s=0.6, command_timeout_s=0.3) as rig:
        rig.driver.open()
        rig.emulator.load_cards("ktp-el", 2)
        rig.emulator.arm_fault("hang", after_panels=1)
        with pytest.raises(PrinterTimeout):
            rig.driver.print_card(card(back=False))
        rig.emulator.clear_faults()
        wait_until(lambda: rig.emulator.snapshot()["state"]["card"] is None)
        assert rig.driver.status().counters.printed == 1


def test_a_blank_fed_by_the_clear_status_after_a_fault_is_reported(drv: EmulatedEvolisDriver) -> None:
    # esup-sgc-client: after a fault, a clear status (Scs) can make a Primacy 2 reject and feed another card
    drv.emulator.arm_scs_feed()
    drv.emulator.arm_fault("cover-open", after_panels=2, duration_s=0.2)
    with pytest.raises(PrinterFault) as info:
        drv.print_card(card())
    state = drv.emulator.snapshot()["state"]
    assert info.value.card_fed is True
    if primacy():
        assert info.value.unexplained_feeds == 1 and state["cards_inserted"] == 2
        assert any(e["kind"] == "count_mismatch" for e in drv.diagnostics()["recent_errors"])
    else:   # the guide's printer has no such side effect
        assert info.value.unexplained_feeds == 0 and state["cards_inserted"] == 1


def test_a_zero_length_usb_packet_is_not_taken_for_silence(drv: EmulatedEvolisDriver) -> None:
    assert drv.raw_command("Rsn") == drv.emulator.serial
    zero = drv.transport.describe()["zero_length_reads"]
    assert (zero > 0) is primacy()


def test_a_supervised_printer_is_left_to_its_supervisor(drv: EmulatedEvolisDriver) -> None:
    # evolis.h: error management 38 = supervised by the Evolis service; Pem;2 would take it from under it
    drv.close()
    drv.emulator.supervise(True)
    drv.emulator.commands.clear()
    drv.open()
    st = drv.status()
    assert not st.can_print and st.state == PrinterState.STOPPED
    with pytest.raises(PrinterFault) as info:
        drv.print_card(card())
    assert info.value.card_fed is False and info.value.vendor_code == "Rem 38"
    assert not any(c.startswith("Pem") for c in drv.emulator.commands) and drv.emulator.snapshot()["pem"] == 38
    assert drv.emulator.protocol_errors == [] and drv.emulator.snapshot()["state"]["cards_inserted"] == 0
    drv.emulator.supervise(False)   # the operator stopped the service: printd takes the printer at the next poll
    assert drv.status().can_print and drv.emulator.snapshot()["pem"] == 2
    drv.print_card(card())


def test_close_gives_the_printer_back_in_its_own_error_mode(drv: EmulatedEvolisDriver) -> None:
    assert drv.emulator.snapshot()["pem"] == 2
    drv.link.unplug()
    drv.link.replug()
    with pytest.raises(PrinterOffline):
        drv.status()
    drv.open()    # a reconnect finds printd's own 2 and keeps the mode found first
    drv.transport.close()
    drv.close()   # the emulator powered on in mode 0 (the guide's default)... but the link is closed
    assert not any(c == "Pem;0" for c in drv.emulator.commands)
    drv.open()
    drv.close()
    assert list(drv.emulator.commands)[-1] == "Pem;0"
