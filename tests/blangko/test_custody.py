"""Custody (rusak): surrendered cards, destructions and returns, on a real store.

Offices keep spoiled cards and surrendered old KTP-el until they are destroyed (cut or burned) before
witnesses such as Satpol PP and the Inspektorat, daily, under a Berita Acara Pemusnahan; unused or damaged
blanks can be returned to the ministry (SE Mendagri 470.13/11176/SJ; Mendagri letter 471.13/24149/dukcapil;
see docs/stock.md for the sources).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from printd.blangko.custody import SURRENDERED, Custody, custody_lots
from printd.blangko.monthly import build_monthly
from printd.errors import Conflict, Invalid, NotFound
from printd.queue import ledger
from printd.queue.ledger import RUSAK, EntryKind
from printd.queue.models import AttemptOutcome, JobState, Resolution
from tests.stock_helpers import World, make_world, wib

WITNESSES = ["Satpol PP: A. Rahman", "Inspektorat: S. Dewi"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "printd.sqlite3", wib(2026, 12, 4, 9, 0))
    w.stock.receive("ktp-el", 50, "BAST-001", "budi")
    w.stock.load("card1", "ktp-el", 20, "budi")
    yield w
    w.db.close()


def ledger_count(w: World) -> int:
    return int(w.db.query("SELECT COUNT(*) FROM ledger")[0][0])


def documents(w: World) -> int:
    return int(w.db.query("SELECT COUNT(*) FROM stock_documents")[0][0])


def test_a_printer_fault_puts_the_blank_into_custody_as_gagal_cetak(world: World) -> None:
    job = world.print_card("card1", outcome=AttemptOutcome.SPOILED, reason="media-jam")
    assert job is not None and job.state == JobState.QUEUED
    row = world.db.query("SELECT src, dst, category, reason FROM ledger WHERE kind = 'spoiled'")[0]
    assert tuple(row) == ("hopper:card1", RUSAK, "gagal_cetak", "media-jam")
    assert world.store.balance(RUSAK, "ktp-el") == 1
    assert world.stock.balances()["ktp-el"]["total"] == 49   # custody is not usable stock


def test_reprint_and_resolve_take_the_operators_category(world: World) -> None:
    printed = world.print_card("card1")
    assert printed is not None
    world.store.reprint(printed.id, reason="alamat berubah", actor="budi", category="perubahan_data")
    doubt = world.claim("card1")
    assert doubt is not None
    world.store.finish_attempt(doubt.id, doubt.attempts[-1].n, AttemptOutcome.IN_DOUBT, reason="timeout")
    world.store.resolve(doubt.id, Resolution.SPOILED, actor="budi", category="gagal_encode")
    cats = [r[0] for r in world.db.query("SELECT category FROM ledger WHERE kind = 'spoiled' ORDER BY id")]
    assert cats == ["perubahan_data", "gagal_encode"]


def test_an_unknown_category_books_nothing(world: World) -> None:
    printed = world.print_card("card1")
    assert printed is not None
    before = ledger_count(world)
    with pytest.raises(Invalid) as e:
        world.store.reprint(printed.id, reason="x", actor="budi", category="hilang")
    assert (e.value.code, e.value.field) == ("invalid_category", "category")
    assert ledger_count(world) == before and world.store.get(printed.id).state == JobState.PRINTED
    with world.db.tx() as c, pytest.raises(Invalid):
        ledger.book(c, day="2026-12-04", kind=EntryKind.SPOILED, card_type="ktp-el", count=1, src="safe", dst=RUSAK,
                    actor="t")


def test_destruction_takes_custody_oldest_first_and_keeps_categories(world: World) -> None:
    custody = Custody(world.stock)
    world.print_card("card1", outcome=AttemptOutcome.SPOILED, reason="media-jam")        # gagal_cetak
    custody.surrender("ktp-el", 3, "KTP-el lama", "budi")                                 # surrendered
    printed = world.print_card("card1")
    assert printed is not None
    world.store.reprint(printed.id, reason="data berubah", actor="budi", category="perubahan_data")
    with world.db._lock:
        assert custody_lots(world.db.conn, "ktp-el") == [("gagal_cetak", 1), (SURRENDERED, 3), ("perubahan_data", 1)]

    first = custody.destroy("ktp-el", 2, "potong", WITNESSES, "BA-PMS-001", "kepala")
    doc = custody.document(first, "destruction")
    assert doc.by_category == {"gagal_cetak": 1, SURRENDERED: 1}
    assert (doc.count, doc.method, doc.witnesses, doc.reference) == (2, "potong", WITNESSES, "BA-PMS-001")
    second = custody.destroy("ktp-el", 3, "bakar", WITNESSES[:1], "BA-PMS-002", "kepala")
    assert custody.document(second, "destruction").by_category == {SURRENDERED: 2, "perubahan_data": 1}
    assert world.store.balance(RUSAK, "ktp-el") == 0
    assert world.store.balance(ledger.DESTROYED, "ktp-el") == 5
    assert [d.id for d in custody.documents("destruction")] == [second, first]


def test_destruction_refuses_more_than_custody_holds_and_books_nothing(world: World) -> None:
    custody = Custody(world.stock)
    custody.surrender("ktp-el", 2, "KTP-el lama", "budi")
    before = (ledger_count(world), documents(world))
    with pytest.raises(Conflict) as e:
        custody.destroy("ktp-el", 3, "potong", WITNESSES, "BA-PMS-003", "kepala")
    assert (e.value.code, e.value.field) == ("insufficient_custody", "count")
    assert "holds 2" in str(e.value)
    assert (ledger_count(world), documents(world)) == before


@pytest.mark.parametrize(("kwargs", "code", "field"), [
    ({"witnesses": []}, "missing_witnesses", "witnesses"),
    ({"witnesses": ["  "]}, "missing_witnesses", "witnesses"),
    ({"witnesses": ["Satpol PP", ""]}, "missing_witnesses", "witnesses"),
    ({"method": "giling"}, "invalid_method", "method"),
    ({"reference": " "}, "missing_reference", "reference"),
    ({"count": 0}, "invalid_count", "count"),
    ({"card_type": "sim"}, "invalid_card_type", "card_type"),
])
def test_bad_destructions_are_refused_before_anything_is_booked(world: World, kwargs: dict[str, object], code: str,
                                                                 field: str) -> None:
    custody = Custody(world.stock)
    custody.surrender("ktp-el", 2, "KTP-el lama", "budi")
    before = (ledger_count(world), documents(world))
    args: dict[str, object] = {"card_type": "ktp-el", "count": 1, "method": "potong", "witnesses": WITNESSES,
                               "reference": "BA-PMS-9", "actor": "kepala", **kwargs}
    with pytest.raises(Invalid) as e:
        custody.destroy(**args)  # type: ignore[arg-type]
    assert (e.value.code, e.value.field) == (code, field)
    assert (ledger_count(world), documents(world)) == before


def test_returns_from_the_brankas_and_from_custody(world: World) -> None:
    custody = Custody(world.stock)
    custody.surrender("ktp-el", 2, "KTP-el lama", "budi")
    safe_before = world.stock.balances()["ktp-el"]["safe"]
    r1 = custody.return_cards("ktp-el", 10, "brankas", "BA-RET-1", "kepala", recipient="Ditjen Dukcapil")
    r2 = custody.return_cards("ktp-el", 2, "rusak", "BA-RET-2", "kepala")
    assert world.stock.balances()["ktp-el"]["safe"] == safe_before - 10
    assert world.store.balance(RUSAK, "ktp-el") == 0
    d1, d2 = custody.document(r1, "return"), custody.document(r2, "return")
    assert (d1.source, d1.party, d1.by_category) == ("brankas", "Ditjen Dukcapil", {})
    assert (d2.source, d2.by_category) == ("rusak", {SURRENDERED: 2})
    before = (ledger_count(world), documents(world))
    with pytest.raises(Conflict) as e:
        custody.return_cards("ktp-el", 1, "rusak", "BA-RET-3", "kepala")
    assert e.value.code == "insufficient_custody"
    with pytest.raises(Conflict) as e:
        custody.return_cards("ktp-el", 1000, "brankas", "BA-RET-3", "kepala")
    assert e.value.code == "insufficient_stock"
    with pytest.raises(Invalid) as e:
        custody.return_cards("ktp-el", 1, "hopper", "BA-RET-3", "kepala")
    assert e.value.field == "from"
    assert (ledger_count(world), documents(world)) == before
    with pytest.raises(NotFound):
        custody.document(r1, "destruction")   # a return is not a destruction


def test_surrendered_cards_link_to_their_replacement_job(world: World) -> None:
    custody = Custody(world.stock)
    job = world.job()
    doc_id = custody.surrender("ktp-el", 1, "KTP-el lama rusak 3274011203900001", "budi", job_id=job.id)
    reason = world.db.query("SELECT reason FROM ledger WHERE kind = 'surrendered'")[0][0]
    assert "3274011203900001" not in reason   # the ledger is kept for good; an NIK in free text is masked
    row = world.db.query("SELECT kind, src, dst, job_id, document_id FROM ledger WHERE kind = 'surrendered'")[0]
    assert tuple(row) == ("surrendered", "external", RUSAK, job.id, doc_id)
    before = (ledger_count(world), documents(world))
    with pytest.raises(NotFound):
        custody.surrender("ktp-el", 1, "x", "budi", job_id="j_nope")
    with pytest.raises(Invalid) as e:
        custody.surrender("kia", 1, "x", "budi", job_id=job.id)
    assert e.value.code == "card_type_mismatch"
    with pytest.raises(Invalid) as e:
        custody.surrender("ktp-el", 1, "", "budi")
    assert e.value.field == "reason"
    assert (ledger_count(world), documents(world)) == before


def test_chip_uids_attach_to_a_destruction_later(world: World) -> None:
    custody = Custody(world.stock)
    custody.surrender("ktp-el", 2, "KTP-el lama", "budi")
    doc_id = custody.destroy("ktp-el", 2, "potong", WITNESSES, "BA-PMS-010", "kepala")
    assert custody.attach_chip_uids(doc_id, ["04a1b2c3d4e5f6", "04A1B2C3D4E5F6"], "kepala") == 1
    assert custody.attach_chip_uids(doc_id, ["04a1b2c3d4e5f6", "0499887766"], "kepala") == 1
    assert custody.document(doc_id, "destruction").chip_uids == ["04A1B2C3D4E5F6", "0499887766"]
    with pytest.raises(Conflict):
        custody.attach_chip_uids(doc_id, ["0411"], "kepala")   # more UIDs than cards destroyed


def test_documents_are_append_only(world: World) -> None:
    custody = Custody(world.stock)
    custody.surrender("ktp-el", 1, "KTP-el lama", "budi")
    with pytest.raises(Exception, match="append-only"), world.db.tx() as c:
        c.execute("UPDATE stock_documents SET count = 5")


def test_holdings_are_the_lots_added_up(world: World) -> None:
    custody = Custody(world.stock)
    world.print_card("card1", outcome=AttemptOutcome.SPOILED, reason="media-jam")
    custody.surrender("ktp-el", 4, "KTP-el lama", "budi")
    world.print_card("card1", outcome=AttemptOutcome.SPOILED, reason="media-jam")
    custody.destroy("ktp-el", 3, "potong", WITNESSES, "BA-PMS-020", "kepala")
    with world.db._lock:
        lots = custody_lots(world.db.conn, "ktp-el")
    assert lots == [(SURRENDERED, 2), ("gagal_cetak", 1)]
    assert custody.holdings()["ktp-el"] == {SURRENDERED: 2, "gagal_cetak": 1}
    assert sum(custody.holdings()["ktp-el"].values()) == world.store.balance(RUSAK, "ktp-el") == 3


def test_a_database_from_before_custody_upgrades_and_keeps_its_spoilage(tmp_path: Path) -> None:
    """Spoilage booked before schema 5 went to the `spoiled` sink without a category: it stays readable,
    counts as `tanpa_kategori` in the reports, and custody starts empty."""
    from printd.queue.db import MIGRATIONS, SCHEMA_VERSION, Database

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:4]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO ledger (at, day, kind, card_type, count, src, dst, reason, actor) VALUES "
                 "(0, '2026-11-02', 'received', 'ktp-el', 100, 'external', 'safe', NULL, 't'),"
                 "(0, '2026-11-02', 'spoiled', 'ktp-el', 2, 'safe', 'spoiled', 'media-jam', 't')")
    conn.commit()
    conn.close()
    db = Database(path)
    try:
        assert db.schema_version() == SCHEMA_VERSION
        assert [e.category for e in ledger.entries(db.conn)] == [None, None]
        assert ledger.balance(db.conn, RUSAK, "ktp-el") == 0
        with db._lock:
            report = build_monthly(db.conn, "2026-11", today="2026-12-04", printers=["card1"], station="s",
                                   office="o")
        ktp = next(c for c in report.card_types if c.card_type == "ktp-el")
        assert ktp.spoiled_by_category["tanpa_kategori"] == 2 and ktp.spoiled_to_custody == 0
        assert ktp.expected_closing() == ktp.closing == 98
        assert ktp.expected_custody_closing() == ktp.custody_closing == 0
    finally:
        db.close()
