"""The remedies table: every reason printd can show has an Indonesian and an English text."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from printd.diagnostics import remedies
from printd.drivers.base import FAULT_KINDS, Reason
from printd.drivers.mock import FAULT_EFFECT

ROOT = Path(__file__).resolve().parents[2]


def _complete(entry: remedies.Remedy) -> None:
    for lang in remedies.LANGS:
        for f in remedies.FIELDS:
            text = entry.text[lang][f]
            assert isinstance(text, str) and len(text.strip()) >= 3, (entry.code, lang, f)
    # a copy-paste of the English into the Indonesian slot would pass the check above
    assert entry.text["id"]["explanation"] != entry.text["en"]["explanation"], entry.code
    assert entry.text["id"]["remedy"] != entry.text["en"]["remedy"], entry.code


@pytest.mark.parametrize("reason", list(Reason))
def test_every_ipp_reason_has_both_languages(reason: Reason) -> None:
    entry = remedies.table()[reason.value]
    assert entry.kind == "ipp" and entry.reason == reason.value
    _complete(entry)


def test_every_entry_is_complete_and_maps_to_a_known_reason() -> None:
    known = {r.value for r in Reason}
    assert len(remedies.table()) >= 60
    for entry in remedies.table().values():
        _complete(entry)
        assert entry.kind in remedies.KINDS, entry.code
        assert entry.reason in known, (entry.code, entry.reason)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_simulated_fault_code_is_known_and_means_its_reason(kind: str) -> None:
    # the mock reports vendor_code SIM-<kind>; its IPP keyword must agree with the table's
    entry = remedies.lookup(f"SIM-{kind}")
    assert entry is not None and entry.kind == "simulated"
    assert entry.reason == FAULT_EFFECT[kind][0]


@pytest.mark.parametrize("code", ["SIM-hopper", "SIM-ribbon", "SIM-film", "SIM-cancel"])
def test_the_mocks_own_supply_codes_are_known(code: str) -> None:
    assert remedies.lookup(code) is not None


@pytest.mark.parametrize("written,expected", [
    ("NACK-1", "NACK-1"), ("nack 2", "NACK-2"), ("NACK;T", "NACK-T"), ("nack:c", "NACK-C"),
    ("NACKF", "NACK-F"), ("NACK_R", "NACK-R"), ("ERR_MECHANICAL", "ERR_MECHANICAL"),
    ("err_cover_open", "ERR_COVER_OPEN"),
    ("evolis:WAR_FEEDER_EMPTY", "WAR_FEEDER_EMPTY"), ("media-jam-error", "media-jam"),
    ("marker-supply-low-warning", "marker-supply-low"), ("sim-Media-Jam", "SIM-media-jam"),
    ("cups-ipp-missing-job-history", "cups-ipp-missing-job-history"), ("door-open-report", "door-open"),
])
def test_vendor_codes_are_found_in_the_spellings_drivers_use(written: str, expected: str) -> None:
    assert remedies.normalise(written) == expected


def test_evolis_nack_codes_map_to_the_reasons_they_stand_for() -> None:
    want = {"NACK-T": Reason.MEDIA_JAM, "NACK-C": Reason.COVER_OPEN, "NACK-F": Reason.MEDIA_EMPTY,
            "NACK-R": Reason.MARKER_SUPPLY_EMPTY, "NACK-1": Reason.OTHER, "NACK-2": Reason.OTHER}
    for code, reason in want.items():
        assert remedies.table()[code].reason == reason


def test_explain_prefers_the_vendor_code_and_falls_back_to_other() -> None:
    specific = remedies.explain("media-jam", "ERR_FEEDER_ERROR")
    assert specific["matched"] == "ERR_FEEDER_ERROR" and specific["known"]
    assert specific["id"]["title"] == remedies.table()["ERR_FEEDER_ERROR"].text["id"]["title"]
    plain = remedies.explain("media-jam", "VENDOR-42")
    assert plain["matched"] == "media-jam" and plain["known"]
    unknown = remedies.explain("printer-on-fire")
    assert unknown["matched"] == "other" and unknown["known"] is False
    assert unknown["en"]["remedy"] == remedies.table()["other"].text["en"]["remedy"]


def test_the_json_has_no_unknown_fields() -> None:
    raw = json.loads((ROOT / "printd" / "diagnostics" / "remedies.json").read_text())
    for code, entry in raw["codes"].items():
        assert set(entry) == {"kind", "reason", "id", "en"}, code
        for lang in remedies.LANGS:
            assert set(entry[lang]) == set(remedies.FIELDS), (code, lang)


def test_docs_carry_the_current_table() -> None:
    doc = (ROOT / "docs" / "diagnostics.md").read_text()
    m = re.search(r"<!-- remedies:begin -->\n(.*)<!-- remedies:end -->", doc, re.DOTALL)
    assert m, "docs/diagnostics.md lacks the remedies markers"
    assert m.group(1) == remedies.markdown_table(), \
        "docs/diagnostics.md is stale: run `python -m printd.diagnostics.remedies` and paste the table"


# What an HDP5000 technician adjusts, from the HDP5000 & HDPii Plus User Guide (HID Global L000950
# rev 3.0) and the HDPii User Guide (L001130 rev 1.4): ribbon and film calibration, transfer roller
# temperature, the card-thickness lever, the flipper and the cleaning procedure.
HDP5000 = {"HDP-ribbon-calibration": "ribbon", "HDP-film-calibration": "film",
           "HDP-transfer-temperature": "temperature", "HDP-card-thickness": "thickness",
           "HDP-flipper": "flipper", "HDP-cleaning": "clean"}


@pytest.mark.parametrize(("code", "word"), list(HDP5000.items()))
def test_the_hdp5000_procedures_are_there_in_both_languages(code: str, word: str) -> None:
    entry = remedies.lookup(code)
    assert entry is not None and entry.kind == "hid-fargo"
    _complete(entry)
    assert "HDP5000" in entry.text["en"]["title"] and word in entry.text["en"]["title"].lower() + \
        entry.text["en"]["explanation"].lower()


@pytest.mark.parametrize("vendor", ["evolis", "fargo"])
@pytest.mark.parametrize("defect", ["streaks", "pale", "misregistration", "film-wrinkles"])
def test_the_print_quality_table_covers_both_vendors(vendor: str, defect: str) -> None:
    entry = remedies.lookup(f"PQ-{vendor}-{defect}")
    assert entry is not None and entry.kind == "print-quality"
    _complete(entry)
    brand = {"evolis": "Evolis", "fargo": "HID Fargo"}[vendor]
    assert brand in entry.text["en"]["title"] and brand in entry.text["id"]["title"]


def test_the_sources_of_the_vendor_entries_are_cited() -> None:
    doc = (ROOT / "docs" / "diagnostics.md").read_text()
    for source in ("L000950", "L001130", "Evolis Dualys user's guide"):
        assert source in doc
