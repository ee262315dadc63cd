"""Custody of spoiled and surrendered cards (`rusak`) and the documents that move cards out of the office.

- `surrender`: an old card taken in for a replacement goes into custody, linked to the replacement job.
- `destroy`: cards leave custody, cut (`potong`) or burned (`bakar`) before witnesses, under a
  *Berita Acara Pemusnahan*.
- `return_cards`: unused blanks (from the brankas) or damaged ones (from custody) go back to the
  ministry under a *Berita Acara Penyerahan*.

Each action is one transaction: a document row in `stock_documents` and its ledger entries, so a
refused request books nothing and a booked one always has its document. Cards leave custody oldest
first; each entry out of custody keeps the category of the cards it takes (a destruction of 5 cards
may be two entries: 3 `gagal_cetak`, 2 `surrendered`), so the berita acara can count them by category
and the ledger alone can tell what was destroyed.

Chip UIDs of destroyed cards (issue 17) attach to a destruction through `destruction_cards`
(one row per card; `attach_chip_uids`), so a destruction record never has to be rewritten.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from printd.blangko.stock import Stock
from printd.config import CARD_TYPES
from printd.errors import Conflict, Invalid, NotFound
from printd.ops.logs import mask_niks
from printd.queue import ledger
from printd.queue.ledger import DESTROYED, EXTERNAL, RUSAK, SAFE, EntryKind

#: the key cards surrendered for a replacement are counted under (they have no spoilage category)
SURRENDERED = "surrendered"
METHODS = ("potong", "bakar")
SOURCES = {"brankas": SAFE, "rusak": RUSAK}
#: six signature blocks still fit the one A4 page of the berita acara (tests print it)
MAX_WITNESSES = 6


@dataclass(frozen=True)
class Document:
    """A stock document (destruction, return, receipt, surrendered) with the entries booked under it."""

    id: int
    kind: str
    at: float
    day: str
    card_type: str
    count: int
    source: str | None
    method: str | None
    witnesses: list[str]
    reference: str | None
    reason: str | None
    party: str | None
    job_id: str | None
    actor: str
    by_category: dict[str, int]
    chip_uids: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "day": self.day, "card_type": self.card_type, "count": self.count,
                "from": self.source, "method": self.method, "witnesses": list(self.witnesses),
                "reference": self.reference, "reason": self.reason, "party": self.party, "job_id": self.job_id,
                "actor": self.actor, "by_category": dict(self.by_category), "chip_uids": list(self.chip_uids)}


def custody_holdings(c: sqlite3.Connection, card_type: str) -> dict[str, int]:
    """What custody holds of `card_type` per category key: in minus out, since every entry out of
    custody names the key it took (partial indexes on `rusak` keep this cheap on a long history)."""
    out: dict[str, int] = {}
    for kind, category, n in c.execute("SELECT kind, category, SUM(count) FROM ledger WHERE dst = 'rusak'"
                                       " AND card_type = ? GROUP BY kind, category", (card_type,)):
        key = _key(kind, category)
        out[key] = out.get(key, 0) + int(n)
    for category, n in c.execute("SELECT category, SUM(count) FROM ledger WHERE src = 'rusak' AND card_type = ?"
                                 " GROUP BY category", (card_type,)):
        key = category or SURRENDERED
        out[key] = out.get(key, 0) - int(n)
    return {k: n for k, n in out.items() if n}


def custody_lots(c: sqlite3.Connection, card_type: str) -> list[tuple[str, int]]:
    """What custody holds of `card_type`, oldest first, as (category key, count) lots.

    Cards leave custody oldest first within their key, so what remains of a key is its newest
    entries: walk the entries into custody backwards until each key's holding is accounted for.
    """
    need = custody_holdings(c, card_type)
    lots: list[tuple[int, str, int]] = []
    if not need:
        return []
    for entry_id, kind, category, n in c.execute(
            "SELECT id, kind, category, count FROM ledger WHERE dst = 'rusak' AND card_type = ? ORDER BY id DESC",
            (card_type,)):
        key = _key(kind, category)
        if need.get(key, 0) > 0:
            use = min(int(n), need[key])
            need[key] -= use
            lots.append((entry_id, key, use))
            if not any(v > 0 for v in need.values()):
                break
    return [(key, n) for _, key, n in sorted(lots)]


def _key(kind: str, category: str | None) -> str:
    if kind == EntryKind.SURRENDERED:
        return SURRENDERED
    return category or SURRENDERED


def _allocate(lots: Iterable[tuple[str, int]], count: int) -> dict[str, int]:
    """Take `count` cards from the oldest lots; {category key: n} in the order first taken."""
    out: dict[str, int] = {}
    left = count
    for key, n in lots:
        if not left:
            break
        use = min(n, left)
        out[key] = out.get(key, 0) + use
        left -= use
    return out


class Custody:
    """Surrendered cards, destructions and returns over the store's ledger (call on the database thread)."""

    def __init__(self, stock: Stock) -> None:
        self.stock = stock
        self.store = stock.store
        self.clock = stock.clock

    # --------------------------------------------------------------- validation

    @staticmethod
    def _text(value: str | None, field: str, what: str, limit: int = 200) -> str:
        if not isinstance(value, str) or not value.strip():
            raise Invalid(f"{field} ({what}) is required", code=f"missing_{field}", field=field)
        return value.strip()[:limit]

    @staticmethod
    def _witnesses(names: list[str]) -> list[str]:
        clean = [n.strip() for n in names if isinstance(n, str) and n.strip()] if isinstance(names, list) else []
        if not clean or len(clean) != len(names):
            raise Invalid("witnesses must list at least one name, none of them empty (e.g. the Satpol PP and "
                          "Inspektorat officers present)", code="missing_witnesses", field="witnesses")
        if len(clean) > MAX_WITNESSES:
            raise Invalid(f"at most {MAX_WITNESSES} witnesses", code="too_many_witnesses", field="witnesses")
        return [n[:120] for n in clean]

    # --------------------------------------------------------------- actions

    def _insert(self, c: sqlite3.Connection, now: float, **doc: Any) -> int:
        return ledger.insert_document(c, at=now, day=self.clock.day(now), **doc)

    def _take_from_custody(self, c: sqlite3.Connection, now: float, doc_id: int, kind: EntryKind, card_type: str,
                           count: int, dst: str, actor: str, reference: str) -> None:
        have = ledger.balance(c, RUSAK, card_type)
        if have < count:
            raise Conflict(f"custody (rusak) holds {have} {card_type} cards, fewer than {count}",
                           code="insufficient_custody", field="count")
        for key, n in _allocate(custody_lots(c, card_type), count).items():
            ledger.book(c, day=self.clock.day(now), at=now, kind=kind, card_type=card_type, count=n, src=RUSAK,
                        dst=dst, reference=reference, actor=actor, document_id=doc_id,
                        category=None if key == SURRENDERED else key,
                        reason=SURRENDERED if key == SURRENDERED else None)

    def destroy(self, card_type: str, count: int, method: str, witnesses: list[str], reference: str,
                actor: str) -> int:
        """Destroy `count` cards from custody before witnesses; returns the destruction's id."""
        self.stock._card_type(card_type)
        self.stock._count(count)
        if method not in METHODS:
            raise Invalid(f"method must be one of: {', '.join(METHODS)}", code="invalid_method", field="method")
        names = self._witnesses(witnesses)
        ref = self._text(reference, "reference", "the berita acara number")
        now = self.clock.now()
        with self.store.db.tx() as c:
            doc_id = self._insert(c, now, kind="destruction", card_type=card_type, count=count, method=method,
                                  source="rusak", witnesses=names, reference=ref, actor=actor)
            self._take_from_custody(c, now, doc_id, EntryKind.DESTROYED, card_type, count, DESTROYED, actor, ref)
        return doc_id

    def return_cards(self, card_type: str, count: int, source: str, reference: str, actor: str,
                     recipient: str | None = None) -> int:
        """Send cards back to the ministry from the brankas (unused) or from custody (damaged)."""
        self.stock._card_type(card_type)
        self.stock._count(count)
        if source not in SOURCES:
            raise Invalid("from must be \"brankas\" or \"rusak\"", code="invalid_source", field="from")
        ref = self._text(reference, "reference", "the berita acara number")
        party = recipient.strip()[:200] if recipient and recipient.strip() else None
        now = self.clock.now()
        with self.store.db.tx() as c:
            doc_id = self._insert(c, now, kind="return", card_type=card_type, count=count, source=source,
                                  reference=ref, party=party, actor=actor)
            if source == "rusak":
                self._take_from_custody(c, now, doc_id, EntryKind.RETURNED, card_type, count, EXTERNAL, actor, ref)
            else:
                have = ledger.balance(c, SAFE, card_type)
                if have < count:
                    raise Conflict(f"the safe holds {have} {card_type} blanks, fewer than {count}",
                                   code="insufficient_stock", field="count")
                ledger.book(c, day=self.clock.day(now), at=now, kind=EntryKind.RETURNED, card_type=card_type,
                            count=count, src=SAFE, dst=EXTERNAL, reference=ref, actor=actor, document_id=doc_id)
        return doc_id

    def surrender(self, card_type: str, count: int, reason: str, actor: str, job_id: str | None = None) -> int:
        """Old cards taken in for a replacement go into custody (linked to the replacement job if given)."""
        self.stock._card_type(card_type)
        self.stock._count(count)
        # the ledger outlives the personal-data retention window: an NIK typed into the reason is masked
        why = mask_niks(self._text(reason, "reason", "why the card was taken in, e.g. 'KTP-el lama, ganti rusak'"))
        now = self.clock.now()
        with self.store.db.tx() as c:
            if job_id is not None:
                row = c.execute("SELECT card_type FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None:
                    raise NotFound(f"no job with id {job_id!r}", code="job_not_found", field="job_id")
                if row[0] != card_type:
                    raise Invalid(f"job {job_id} prints a {row[0]} card, not {card_type}",
                                  code="card_type_mismatch", field="card_type")
            doc_id = self._insert(c, now, kind="surrendered", card_type=card_type, count=count, source="external",
                                  reason=why, job_id=job_id, actor=actor)
            ledger.book(c, day=self.clock.day(now), at=now, kind=EntryKind.SURRENDERED, card_type=card_type,
                        count=count, src=EXTERNAL, dst=RUSAK, job_id=job_id, reason=why, actor=actor,
                        document_id=doc_id)
        return doc_id

    # --------------------------------------------------------------- reading

    def document(self, doc_id: int, kind: str) -> Document:
        """A document of `kind` by id, with its entries counted by category; NotFound otherwise."""
        with self.store.db._lock:
            c = self.store.db.conn
            row = c.execute("SELECT * FROM stock_documents WHERE id = ? AND kind = ?", (doc_id, kind)).fetchone()
            if row is None:
                raise NotFound(f"no {kind} with id {doc_id}", code=f"{kind}_not_found", field="id")
            by_category: dict[str, int] = {}
            for kind_, category, n in c.execute("SELECT kind, category, SUM(count) FROM ledger WHERE document_id = ?"
                                                " GROUP BY kind, category ORDER BY MIN(id)", (doc_id,)):
                if kind_ in (EntryKind.DESTROYED, EntryKind.RETURNED) and (category or row["source"] == "rusak"):
                    key = category or SURRENDERED
                    by_category[key] = by_category.get(key, 0) + int(n)
            uids = [r[0] for r in c.execute("SELECT chip_uid FROM destruction_cards WHERE document_id = ?"
                                            " ORDER BY rowid", (doc_id,))]
        return Document(row["id"], row["kind"], row["at"], row["day"], row["card_type"], row["count"], row["source"],
                        row["method"], json.loads(row["witnesses"]), row["reference"], row["reason"], row["party"],
                        row["job_id"], row["actor"], by_category, uids)

    def documents(self, kind: str, day_from: str | None = None, day_to: str | None = None) -> list[Document]:
        """Documents of `kind`, newest first (optionally between two station days, inclusive)."""
        rows = self.store.db.query("SELECT id FROM stock_documents WHERE kind = ? AND day >= ? AND day <= ?"
                                   " ORDER BY id DESC LIMIT 500", (kind, day_from or "", day_to or "9999"))
        return [self.document(int(r[0]), kind) for r in rows]

    def holdings(self) -> dict[str, dict[str, int]]:
        """Custody per card type by category key."""
        with self.store.db._lock:
            return {ct: custody_holdings(self.store.db.conn, ct) for ct in CARD_TYPES}

    def attach_chip_uids(self, doc_id: int, uids: Iterable[str], actor: str) -> int:
        """List the chip UIDs of a destruction's cards (issue 17's reader calls this); returns how many are new.

        At most the destruction's count; a UID already listed is kept once.
        """
        doc = self.document(doc_id, "destruction")
        clean = list(dict.fromkeys(u.strip().upper() for u in uids if u and u.strip()))
        if len(set(doc.chip_uids) | set(clean)) > doc.count:
            raise Conflict(f"destruction {doc_id} destroyed {doc.count} cards; more UIDs than that",
                           code="too_many_uids", field="chip_uids")
        now = self.clock.now()
        with self.store.db.tx() as c:
            before = c.total_changes
            c.executemany("INSERT OR IGNORE INTO destruction_cards (document_id, chip_uid, at, actor) VALUES (?,?,?,?)",
                          [(doc_id, u, now, actor) for u in clean])
            return c.total_changes - before
