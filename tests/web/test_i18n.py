"""Translations are complete, and the page loads nothing from outside the daemon."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from printd.drivers.base import PrinterState, Reason
from printd.queue.models import AttemptOutcome, JobState, Role
from printd.web.i18n import LANGS, Translator, strings, zone_label

WEB = Path(__file__).resolve().parents[2] / "printd" / "web"
TEMPLATES = sorted((WEB / "templates").glob("*.html"))
SCRIPTS = sorted((WEB / "static").glob("*.js"))
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    ids, ens = strings("id"), strings("en")
    assert ids.keys() == ens.keys()
    for key in ids:
        assert ids[key].strip() and ens[key].strip(), key
        assert set(PLACEHOLDER.findall(ids[key])) == set(PLACEHOLDER.findall(ens[key])), key


@pytest.mark.parametrize("lang", LANGS)
def test_every_state_reason_and_outcome_is_translated(lang: str) -> None:
    s = strings(lang)
    for reason in Reason:
        assert f"reason.{reason.value}" in s and f"remedy.{reason.value}" in s, reason
    for job_state in JobState:
        assert f"state.job.{job_state.value}" in s
    for printer_state in PrinterState:
        assert f"state.printer.{printer_state.value}" in s
        assert f"state.printer_explain.{printer_state.value}" in s
    for outcome in AttemptOutcome:
        assert f"outcome.{outcome.value}" in s
    for role in Role:
        assert f"role.{role.value}" in s
    for card_type in ("ktp-el", "kia"):
        assert f"card_type.{card_type}" in s


def test_a_jam_tells_the_operator_what_to_do() -> None:
    t = Translator("id")
    assert f"{t('reason.media-jam')}: {t('remedy.media-jam')}" == \
        "Kartu macet: buka penutup, keluarkan kartu, tekan Lanjutkan"
    assert t("printers.resume") == "Lanjutkan"   # the button the remedy names
    assert Translator("en")("stock.col.hopper", printer="card1") == "Hopper card1"


def test_every_literal_key_in_templates_and_scripts_exists() -> None:
    known = strings("id")
    used: set[str] = set()
    for path in TEMPLATES:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.-]+)["']\s*[,)]""", path.read_text()))
    for path in SCRIPTS:
        used |= set(re.findall(r"""\bt\(\s*'([a-z0-9_.-]+)'\s*[,)]""", path.read_text()))
    assert len(used) > 100
    assert sorted(used - known.keys()) == []


def test_dynamic_key_families_used_by_the_scripts_exist() -> None:
    known = strings("id")
    families = set()
    for path in SCRIPTS:
        families |= set(re.findall(r"""\bt\(\s*`([a-z0-9_.-]+)\.\$\{""", path.read_text()))
    for path in TEMPLATES:
        families |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.-]+)\.["']\s*\+""", path.read_text()))
    assert {"state.job", "state.printer", "reason", "card_type", "queue.action"} <= families
    for family in families:
        assert any(k.startswith(family + ".") for k in known), family


def test_no_string_is_hard_coded_in_the_page_template() -> None:
    # text between tags in app.html must come from t(...) (or be data, like the office name)
    text = (WEB / "templates" / "app.html").read_text()
    stripped = re.sub(r"{%.*?%}|{{.*?}}|<!--.*?-->|<script.*?</script>", "", text, flags=re.DOTALL)
    words = [w for w in re.findall(r">([^<]+)<", stripped) if re.search(r"[A-Za-z]{3,}", w)]
    assert words == []


def test_the_page_loads_nothing_from_outside_the_daemon() -> None:
    for path in [*TEMPLATES, *SCRIPTS, *(WEB / "static").glob("*.css")]:
        text = path.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path
        assert not re.search(r"""url\(\s*["']?(https?:)?//""", text), path
        assert not re.search(r"""fetch\(\s*[`'"]https?:""", text), path
        assert "@import" not in text, path


def test_time_zone_labels() -> None:
    assert zone_label("Asia/Jakarta") == "WIB"
    assert zone_label("Asia/Makassar") == "WITA"
    assert zone_label("Asia/Jayapura") == "WIT"
    assert zone_label("Asia/Kolkata") == "UTC+5:30"
