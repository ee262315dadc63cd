"""The SQLite database: connection, pragmas, schema with forward migrations, transactions.

One connection, one writer: the station calls the store from a single database thread. WAL with
`synchronous=FULL`, so a commit that returned is on disk before anything is acknowledged.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from printd.errors import PrintdError, StoreUnavailable

#: Each entry migrates from version i to i+1. Never edit a released entry: append a new one.
MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        client TEXT NOT NULL,
        request_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        nik TEXT,
        nik_masked TEXT NOT NULL,
        name TEXT,
        card_type TEXT NOT NULL,
        reason TEXT NOT NULL,
        priority TEXT NOT NULL,
        state TEXT NOT NULL,
        state_reason TEXT,
        printer TEXT,
        front_sha TEXT,
        back_sha TEXT,
        callback_url TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        printed_at REAL,
        final_at REAL,
        day TEXT NOT NULL,
        purged INTEGER NOT NULL DEFAULT 0,
        UNIQUE (client, request_id)
    );
    CREATE INDEX jobs_pending ON jobs (state, card_type, priority, seq);
    CREATE INDEX jobs_day ON jobs (day, seq);
    CREATE INDEX jobs_final ON jobs (purged, final_at);

    CREATE TABLE attempts (
        job_id TEXT NOT NULL REFERENCES jobs (id),
        n INTEGER NOT NULL,
        printer TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        started_at REAL NOT NULL,
        ended_at REAL,
        fed_before INTEGER,
        printed_before INTEGER,
        fed_after INTEGER,
        printed_after INTEGER,
        note TEXT,
        PRIMARY KEY (job_id, n)
    );
    CREATE INDEX attempts_open ON attempts (outcome);

    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        day TEXT NOT NULL,
        kind TEXT NOT NULL,
        card_type TEXT NOT NULL,
        count INTEGER NOT NULL CHECK (count > 0),
        src TEXT NOT NULL,
        dst TEXT NOT NULL,
        printer TEXT,
        job_id TEXT,
        attempt_n INTEGER,
        reason TEXT,
        reference TEXT,
        actor TEXT NOT NULL
    );
    CREATE INDEX ledger_day ON ledger (day);
    CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;

    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        webhook_secret TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL,
        last_used_at REAL
    );

    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

    CREATE TABLE printer_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        printer TEXT NOT NULL,
        state TEXT NOT NULL,
        reasons TEXT NOT NULL,
        job_id TEXT,
        detail TEXT
    );
    CREATE INDEX printer_events_at ON printer_events (printer, at);

    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        job_id TEXT NOT NULL,
        client TEXT NOT NULL,
        url TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,
        delivered_at REAL,
        gave_up_at REAL,
        last_error TEXT
    );
    CREATE INDEX outbox_pending ON outbox (delivered_at, gave_up_at, job_id, id);
    """,
    # 1 -> 2: the operator page's login sessions (printd/web/sessions.py). Only a hash of the cookie
    # is kept, as for tokens, so a copy of the database (backup, support bundle) opens no session.
    """
    CREATE TABLE IF NOT EXISTS web_sessions (
        id_hash TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        role TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        address TEXT
    );
    CREATE INDEX IF NOT EXISTS web_sessions_expiry ON web_sessions (expires_at);
    """,
    # 2 -> 3: webhook outbox: a job's notifications at a glance; an operator's retry restarts the window
    """
    CREATE INDEX outbox_job ON outbox (job_id, id);
    ALTER TABLE outbox ADD COLUMN retry_from REAL;
    """,
    # 3 -> 4: current balances per (location, card type), kept by a trigger in the same transaction as
    # each ledger entry. The ledger stays the record; this is its running sum, so a claim does not
    # re-add a year of entries (tests compare it with the sums recomputed from the ledger).
    """
    CREATE TABLE ledger_balance (
        location TEXT NOT NULL,
        card_type TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (location, card_type)
    );
    INSERT INTO ledger_balance (location, card_type, count)
        SELECT loc, card_type, SUM(d) FROM (
            SELECT dst AS loc, card_type, count AS d FROM ledger
            UNION ALL SELECT src AS loc, card_type, -count AS d FROM ledger)
        GROUP BY loc, card_type;
    CREATE TRIGGER ledger_balance_after_insert AFTER INSERT ON ledger
    BEGIN
        INSERT INTO ledger_balance (location, card_type, count) VALUES (NEW.dst, NEW.card_type, NEW.count)
            ON CONFLICT (location, card_type) DO UPDATE SET count = ledger_balance.count + excluded.count;
        INSERT INTO ledger_balance (location, card_type, count) VALUES (NEW.src, NEW.card_type, -NEW.count)
            ON CONFLICT (location, card_type) DO UPDATE SET count = ledger_balance.count + excluded.count;
    END;
    """,
    # token rotation keeps the client (its name, jobs and request_ids): the previous secret's hash works
    # until prev_valid_until. One open job per NIK and card type across clients: the index serves the check.
    """
    ALTER TABLE tokens ADD COLUMN prev_hash TEXT;
    ALTER TABLE tokens ADD COLUMN prev_valid_until REAL;
    CREATE INDEX tokens_prev_hash ON tokens (prev_hash) WHERE prev_hash IS NOT NULL;
    CREATE INDEX jobs_nik_open ON jobs (nik, card_type) WHERE nik IS NOT NULL AND final_at IS NULL;
    """,
    # 5 -> 6: blangko accountability (issue 16): the ministry's spoilage category on ledger entries, the
    # documents (destruction, return, receipt hand-over) entries belong to, and a child table where the
    # chip UIDs of destroyed cards can be listed once a reader records them (one row per card).
    """
    ALTER TABLE ledger ADD COLUMN category TEXT;
    ALTER TABLE ledger ADD COLUMN document_id INTEGER;
    CREATE INDEX ledger_document ON ledger (document_id) WHERE document_id IS NOT NULL;
    CREATE INDEX ledger_into_rusak ON ledger (card_type, id, kind, category, count) WHERE dst = 'rusak';
    CREATE INDEX ledger_out_of_rusak ON ledger (card_type, category, count) WHERE src = 'rusak';
    CREATE TABLE stock_documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('destruction', 'return', 'receipt', 'surrendered')),
        at REAL NOT NULL,
        day TEXT NOT NULL,
        card_type TEXT NOT NULL,
        count INTEGER NOT NULL CHECK (count > 0),
        source TEXT,
        method TEXT,
        witnesses TEXT NOT NULL DEFAULT '[]',
        reference TEXT,
        reason TEXT,
        party TEXT,
        job_id TEXT,
        actor TEXT NOT NULL
    );
    CREATE INDEX stock_documents_day ON stock_documents (kind, day);
    CREATE TRIGGER stock_documents_no_update BEFORE UPDATE ON stock_documents
        BEGIN SELECT RAISE(ABORT, 'stock documents are append-only'); END;
    CREATE TRIGGER stock_documents_no_delete BEFORE DELETE ON stock_documents
        BEGIN SELECT RAISE(ABORT, 'stock documents are append-only'); END;
    CREATE TABLE destruction_cards (
        document_id INTEGER NOT NULL REFERENCES stock_documents (id),
        chip_uid TEXT NOT NULL,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        PRIMARY KEY (document_id, chip_uid)
    );
    """,
    # every blank's chip: which job (citizen) it went to, when it was encoded, handed over or destroyed.
    # One chip, one citizen: the UID is the key. The ledger stays append-only; entries link here by id.
    """
    CREATE TABLE chips (
        uid TEXT PRIMARY KEY,
        job_id TEXT,
        attempt_n INTEGER,
        state TEXT NOT NULL,
        detail TEXT,
        ledger_entry_id INTEGER,
        encoded_at REAL,
        handed_over_at REAL,
        handed_over_by TEXT,
        destruction_id INTEGER,
        updated_at REAL NOT NULL
    );
    CREATE INDEX chips_job ON chips (job_id);
    """,
    # 7 -> 8: the operator's switches per printer (printd/queue/switches.py): a pause and "reject new jobs"
    # survive a restart. A row exists only while the printer is paused or rejecting.
    """
    CREATE TABLE printer_switches (
        printer TEXT PRIMARY KEY,
        paused INTEGER NOT NULL DEFAULT 0,
        rejecting INTEGER NOT NULL DEFAULT 0,
        actor TEXT NOT NULL,
        at REAL NOT NULL
    );
    """,
    # 8 -> 9: ribbon and film rolls (printd/supplies/): one append-only ledger of moves. A lot is its `received`
    # row (lot_id = its own id); installs and removals on a printer bound the window whose cards are the
    # roll's yield.
    """
    CREATE TABLE supply_moves (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        day TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('ribbon', 'film')),
        action TEXT NOT NULL CHECK (action IN ('received', 'lent', 'installed', 'removed')),
        lot_id INTEGER,
        count INTEGER NOT NULL CHECK (count >= 0),
        source TEXT,
        nominal_yield INTEGER,
        printer TEXT,
        party TEXT,
        reference TEXT,
        reason TEXT,
        detected INTEGER NOT NULL DEFAULT 0,
        -- the blank ledger's last id when the move was made: a roll's cards are the entries between marks
        ledger_mark INTEGER NOT NULL DEFAULT 0,
        actor TEXT NOT NULL
    );
    CREATE INDEX supply_moves_printer ON supply_moves (printer, kind, id) WHERE printer IS NOT NULL;
    CREATE INDEX supply_moves_day ON supply_moves (day);
    CREATE TRIGGER supply_moves_no_update BEFORE UPDATE ON supply_moves
        BEGIN SELECT RAISE(ABORT, 'the supplies ledger is append-only'); END;
    CREATE TRIGGER supply_moves_no_delete BEFORE DELETE ON supply_moves
        BEGIN SELECT RAISE(ABORT, 'the supplies ledger is append-only'); END;
    """,
    # 9 -> 10: the start-of-day check of each printer (printd/fitness/checks.py), kept for the daily report
    """
    CREATE TABLE printer_checks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        day TEXT NOT NULL,
        printer TEXT NOT NULL,
        temperature_c REAL,
        cleaned INTEGER NOT NULL,
        settings_unchanged INTEGER NOT NULL,
        note TEXT,
        actor TEXT NOT NULL
    );
    CREATE INDEX printer_checks_printer ON printer_checks (printer, id);
    CREATE INDEX printer_checks_day ON printer_checks (day);
    """,
    # 10 -> 11: the rationing policy saved from the admin page (printd/queue/policy_store.py); the newest row
    # wins over the config file's [policy]; a row with policy NULL is a reset (the file applies again)
    """
    CREATE TABLE policy_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        policy TEXT
    );
    CREATE TRIGGER policy_versions_no_update BEFORE UPDATE ON policy_versions
        BEGIN SELECT RAISE(ABORT, 'the policy history is append-only'); END;
    CREATE TRIGGER policy_versions_no_delete BEFORE DELETE ON policy_versions
        BEGIN SELECT RAISE(ABORT, 'the policy history is append-only'); END;
    """,
    # 11 -> 12: the queue's order (printd/queue/rationing.py ORDER: urgent, station day, pemula/data change,
    # FIFO) served by indexes over exactly that expression: the claim and the start-up read of the order take
    # the first rows in order instead of sorting every queued row (35 ms a claim at 20,000 queued,
    # docs/benchmarks.md). The claim (one card type: a hopper holds one) uses jobs_claim; the read of the whole
    # order (the live queue at start-up, blangko/live_queue.py) uses jobs_queue_order.
    # tests/queue/test_claim_index.py checks that the plans use them (an edited ORDER would fall back to a sort).
    """
    CREATE INDEX jobs_claim ON jobs (state, card_type, (CASE priority WHEN 'urgent' THEN 0 ELSE 1 END), day,
        (CASE WHEN reason IN ('new', 'data_change') THEN 0 ELSE 1 END), seq);
    CREATE INDEX jobs_queue_order ON jobs (state, (CASE priority WHEN 'urgent' THEN 0 ELSE 1 END), day,
        (CASE WHEN reason IN ('new', 'data_change') THEN 0 ELSE 1 END), seq);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(PrintdError):
    """The database was written by a newer printd."""


def _is_unavailable(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("disk is full", "readonly", "read-only", "disk i/o error",
                                   "unable to open", "database is locked"))


class Database:
    """One SQLite connection with printd's pragmas, schema and transaction helper."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (BEGIN IMMEDIATE for writes)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=10000")
        # freed space is zeroed, so a name or NIK cleared at retention does not linger in the file
        self.conn.execute("PRAGMA secure_delete=ON")
        self._lock = threading.RLock()
        self._depth = 0
        self.migrate()

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply forward migrations; refuse a database from a newer printd."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{self.path} has schema version {current}, this printd knows up to {SCHEMA_VERSION}: "
                "install the newer printd again, or restore a backup made by this version")
        for version in range(current, SCHEMA_VERSION):
            with self.tx():
                for statement in _split_sql(MIGRATIONS[version]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version={version + 1}")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): all or nothing, durable when it returns."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"database cannot start a write: {exc}") from exc
            self._depth = 1
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException as exc:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if isinstance(exc, sqlite3.Error) and _is_unavailable(exc):
                    raise StoreUnavailable(f"database cannot persist: {exc}") from exc
                raise
            finally:
                self._depth = 0

    def query(self, sql: str, params: tuple[object, ...] | dict[str, object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def check_headroom(self, reserve_pages: int = 256, min_free_bytes: int = 64 * 1024 * 1024) -> None:
        """Refuse new work early when the database or its disk is nearly full.

        The reserve keeps room for the attempts and ledger entries of jobs already accepted, so the
        station can finish its queue while refusing new submissions (503) until space returns.
        """
        import shutil

        with self._lock:
            page_count = int(self.conn.execute("PRAGMA page_count").fetchone()[0])
            max_pages = int(self.conn.execute("PRAGMA max_page_count").fetchone()[0])
            free_pages = int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])
        if max_pages - page_count + free_pages < reserve_pages:
            raise StoreUnavailable("the database has reached its size limit")
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            return
        if free < min_free_bytes:
            raise StoreUnavailable(f"the disk holding {self.path.parent} is nearly full ({free // 1024} KiB free)")

    def backup_to(self, dest: Path) -> None:
        """A consistent copy through SQLite's online backup API (safe while printing)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(str(dest))
        try:
            with self._lock:
                self.conn.backup(target)
        finally:
            target.close()

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buf: list[str] = []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            statements.append(joined)
            buf = []
    if "\n".join(buf).strip():
        statements.append("\n".join(buf).strip())
    return statements
