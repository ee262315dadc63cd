"""Data retention: a final job's name, NIK and card images are deleted a set time after it ended.

Card images and names are personal data (UU 27/2022). What stays: the ledger (blangko accounting is
reported to the directorate), the job's masked record (id, client, request_id, masked NIK, card type,
states, attempts) and the printers' logs, which hold only ids and image hashes.

A purge, all on the caller's database thread:

1. in one write transaction, every job final for longer than the window gets `nik`, `name`,
   `front_sha`, `back_sha` set to NULL and `purged = 1`; webhook records of purged jobs that are done
   are deleted, pending ones lose the name and NIK in their body;
2. image files that no unpurged job references are deleted from `<state>/images/` (which also
   catches orphans, e.g. from a refused submission), as are the simulated printers' card PNGs
   (`<state>/printers/NAME/cards/`) of purged jobs;
3. the WAL is checkpointed and truncated. The connection runs with `secure_delete`, so the old
   values are overwritten in the database file rather than left in free space.

A file younger than the grace period (an hour, or the window if that is shorter) is never deleted:
`ImageStore.put` refreshes the file's time, so an image a submission is storing right now, which no
job row references yet, is safe even from a purge running in another process.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from printd.queue.db import Database
from printd.queue.models import FINAL

log = logging.getLogger("printd.ops.retention")

#: longest a file no job references is kept (shorter when the window itself is shorter)
MAX_GRACE_S = 3600.0
#: shortest grace: covers the moment between storing a submission's image and committing its job row
MIN_GRACE_S = 2.0
#: jobs purged in one write transaction, so a long backlog never holds the writer for long
BATCH = 500
_FINAL_SQL = ",".join(f"'{s.value}'" for s in sorted(FINAL))
_DUE = f"purged = 0 AND final_at IS NOT NULL AND final_at <= ? AND state IN ({_FINAL_SQL})"


@dataclass
class PurgeReport:
    """What a purge did (or, dry, would do). Job ids are fine here: this goes to the operator, not to metrics."""

    dry_run: bool
    cutoff: float
    jobs: list[str] = field(default_factory=list)
    image_files: list[str] = field(default_factory=list)    # images only purged jobs referenced
    orphan_files: list[str] = field(default_factory=list)   # images (and partial writes) no job references
    card_files: list[str] = field(default_factory=list)     # simulated printers' card PNGs
    bytes_freed: int = 0
    webhooks_deleted: int = 0
    webhooks_scrubbed: int = 0
    checkpoint: dict[str, int] | None = None                # busy / log / checkpointed frames
    remaining: int = 0                                      # due jobs left for the next batch

    @property
    def changed(self) -> bool:
        return bool(self.jobs or self.image_files or self.orphan_files or self.card_files
                    or self.webhooks_deleted or self.webhooks_scrubbed)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, batch: PurgeReport) -> None:
        """Fold one batch's report into this one."""
        self.cutoff = batch.cutoff
        for name in ("jobs", "image_files", "orphan_files", "card_files"):
            getattr(self, name).extend(getattr(batch, name))
        self.bytes_freed += batch.bytes_freed
        self.webhooks_deleted += batch.webhooks_deleted
        self.webhooks_scrubbed += batch.webhooks_scrubbed
        self.remaining = batch.remaining


def grace_for(window_s: float) -> float:
    """How long an unreferenced file is left alone: an hour, or the window when that is shorter (at least 2 s)."""
    return min(MAX_GRACE_S, max(MIN_GRACE_S, window_s))


def _scrub(value: Any) -> Any:
    """A JSON value with every `name` and `nik` field emptied."""
    if isinstance(value, dict):
        return {k: (None if k in ("name", "nik") else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


class Retention:
    """Purges personal data of final jobs older than the window, from the database and the disk."""

    def __init__(self, db: Database, state_dir: Path, window_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.state_dir = state_dir
        self.images_dir = state_dir / "images"
        self.window_s = window_s
        self.grace_s = grace_for(window_s)
        self.clock = clock
        self._due_shas: set[str] = set()   # image hashes of jobs purged by batches whose files wait

    def run_all(self, *, dry_run: bool = False) -> PurgeReport:
        """Everything due, in batches of BATCH jobs (the write lock is released between them), then one checkpoint."""
        total = PurgeReport(dry_run=dry_run, cutoff=0.0)
        while True:
            total.add(self.run(dry_run=dry_run, limit=BATCH, checkpoint=False))
            if not total.remaining:
                break
        if total.changed and not dry_run:
            total.checkpoint = self.checkpoint()
        return total

    def run(self, *, dry_run: bool = False, limit: int | None = None, checkpoint: bool = True) -> PurgeReport:
        """Purge what is due (at most `limit` jobs a call); with `dry_run`, only say what would go (all of it).

        While due jobs remain after a limited call (`report.remaining`), files are left for the call
        that finishes the backlog: one directory scan, not one per batch.
        """
        now = self.clock()
        report = PurgeReport(dry_run=dry_run, cutoff=now - self.window_s)
        due_shas = self._purge_rows(report, None if dry_run else limit)
        if not dry_run:
            self._due_shas |= due_shas
            if report.remaining:
                return report
            due_shas, self._due_shas = self._due_shas, set()
        self._delete_images(report, now, due_shas)
        self._delete_card_files(report, now)
        if checkpoint and not dry_run and report.changed:
            report.checkpoint = self.checkpoint()
        return report

    # ------------------------------------------------------------------ database

    def _purge_rows(self, report: PurgeReport, limit: int | None) -> set[str]:
        """Clear the due jobs' personal data (dry: only find them); returns the image hashes they held."""
        select = f"SELECT id, front_sha, back_sha FROM jobs WHERE {_DUE}"
        if limit:
            select += f" ORDER BY final_at LIMIT {int(limit)}"
        if report.dry_run:
            rows = self.db.query(select, (report.cutoff,))
            report.jobs = [r[0] for r in rows]
            report.webhooks_deleted, report.webhooks_scrubbed = self._webhooks(report.jobs, apply=False)
            return {s for r in rows for s in (r[1], r[2]) if s}
        with self.db._lock:
            # a no-op when the connection already runs with it (printd's do); the old values are overwritten
            self.db.conn.execute("PRAGMA secure_delete=ON")
        with self.db.tx() as c:
            rows = c.execute(select, (report.cutoff,)).fetchall()
            report.jobs = [r[0] for r in rows]
            for chunk in _chunks(report.jobs):
                marks = ",".join("?" * len(chunk))
                c.execute("UPDATE jobs SET nik = NULL, name = NULL, front_sha = NULL, back_sha = NULL, purged = 1"
                          f" WHERE id IN ({marks})", chunk)
            report.webhooks_deleted, report.webhooks_scrubbed = self._webhooks(None, apply=True)
        if limit and len(rows) == limit:
            report.remaining = int(self.db.query(f"SELECT COUNT(*) FROM jobs WHERE {_DUE}", (report.cutoff,))[0][0])
        return {s for r in rows for s in (r[1], r[2]) if s}

    def _webhooks(self, due: list[str] | None, *, apply: bool) -> tuple[int, int]:
        """Webhook records (the outbox) of purged jobs: delete the finished ones, scrub the pending ones."""
        if due is None:
            rows = self.db.conn.execute(
                "SELECT o.id, o.body, o.delivered_at, o.gave_up_at FROM outbox o JOIN jobs j ON j.id = o.job_id"
                " WHERE j.purged = 1").fetchall()
        else:
            rows = []
            for chunk in _chunks(due):
                marks = ",".join("?" * len(chunk))
                rows += self.db.query("SELECT id, body, delivered_at, gave_up_at FROM outbox"
                                      f" WHERE job_id IN ({marks})", tuple(chunk))
        deleted = scrubbed = 0
        for row_id, body, delivered_at, gave_up_at in rows:
            if delivered_at is not None or gave_up_at is not None:
                deleted += 1
                if apply:
                    self.db.conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                continue
            try:
                clean = json.dumps(_scrub(json.loads(body)), separators=(",", ":"))
            except ValueError:
                clean = "{}"   # unreadable: nothing of it may survive
            if clean != body:
                scrubbed += 1
                if apply:
                    self.db.conn.execute("UPDATE outbox SET body = ? WHERE id = ?", (clean, row_id))
        return deleted, scrubbed

    def checkpoint(self) -> dict[str, int]:
        """Copy the WAL into the database and truncate it, so old page images do not linger in it."""
        with self.db._lock:
            busy, log_frames, done = self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("retention: the WAL is still in use by another reader; it is truncated at the next run")
        return {"busy": int(busy), "log": int(log_frames), "checkpointed": int(done)}

    # ------------------------------------------------------------------ files

    def _referenced(self, exclude: set[str]) -> set[str]:
        """Image hashes of unpurged jobs (through the jobs_final index), leaving out jobs being purged."""
        refs: set[str] = set()
        for job_id, front, back in self.db.query("SELECT id, front_sha, back_sha FROM jobs WHERE purged = 0"):
            if job_id not in exclude:
                refs.update(s for s in (front, back) if s)
        return refs

    def _delete_images(self, report: PurgeReport, now: float, due_shas: set[str]) -> None:
        if not self.images_dir.is_dir():
            return
        referenced = self._referenced(set(report.jobs) if report.dry_run else set())
        for path in self.images_dir.iterdir():
            sha = path.name.split(".", 1)[0]
            if sha in referenced or not path.is_file():
                continue
            st = _stat(path)
            if st is None or st.st_mtime > now - self.grace_s:
                continue
            ours = path.suffix == ".img" and sha in due_shas
            (report.image_files if ours else report.orphan_files).append(path.name)
            report.bytes_freed += st.st_size
            if not report.dry_run:
                _unlink(path)

    def _card_files(self) -> Iterator[tuple[Path, str]]:
        printers = self.state_dir / "printers"
        if not printers.is_dir():
            return
        for cards in printers.glob("*/cards"):
            for path in cards.glob("*.png"):
                # `<job_id>-<attempt>-<side>.png`, written by the simulated printer when write_images = true
                parts = path.stem.rsplit("-", 2)
                if len(parts) == 3:
                    yield path, parts[0]

    def _delete_card_files(self, report: PurgeReport, now: float) -> None:
        files = list(self._card_files())
        if not files:
            return
        ids = sorted({job_id for _, job_id in files})
        status: dict[str, bool] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for job_id, purged in self.db.query(f"SELECT id, purged FROM jobs WHERE id IN ({marks})", tuple(chunk)):
                status[job_id] = bool(purged)
        due = set(report.jobs)
        for path, job_id in files:
            st = _stat(path)
            if st is None:
                continue
            known = job_id in status
            # a card of a job the database does not know (a test card): kept as long as a job would be
            if (known and (status[job_id] or job_id in due)) or (not known and st.st_mtime <= report.cutoff):
                report.card_files.append(f"{path.parent.parent.name}/{path.name}")
                report.bytes_freed += st.st_size
                if not report.dry_run:
                    _unlink(path)


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# ---------------------------------------------------------------------- the daemon's periodic run

class RetentionTask:
    """Runs the purge on the station's database thread every `interval_s` (hourly by default)."""

    def __init__(self, station: Any, window_s: float, interval_s: float | None = None) -> None:
        self.station = station
        self.window_s = window_s
        self.interval_s = interval_s if interval_s is not None else min(MAX_GRACE_S, max(1.0, window_s))
        self.retention: Retention | None = None
        self.last: PurgeReport | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, _app: object = None) -> None:
        assert self.station.database is not None
        self.retention = Retention(self.station.database, self.station.state_dir, self.window_s,
                                   clock=self.station.clock.now)
        self._task = self.station.supervisor.spawn("retention", self._loop)

    async def stop(self, _app: object = None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> PurgeReport:
        """Purge everything due, in batches, then checkpoint once."""
        assert self.retention is not None
        retention = self.retention
        total = PurgeReport(dry_run=False, cutoff=0.0)
        while True:
            # one batch per database call: the dispatcher's claims get in between
            total.add(await self.station.db(retention.run, limit=BATCH, checkpoint=False))
            if not total.remaining:
                break
        if total.changed or (self.last is not None and self.last.checkpoint and self.last.checkpoint["busy"]):
            total.checkpoint = await self.station.db(retention.checkpoint)
        self.last = total
        return total

    async def _loop(self) -> None:
        while True:
            try:
                r = await self.run_once()
                if r.changed:
                    log.info("retention: removed name, NIK and images of %d job(s); deleted %d image file(s), "
                             "%d orphan file(s), %d printer card image(s) (%d bytes)", len(r.jobs),
                             len(r.image_files), len(r.orphan_files), len(r.card_files), r.bytes_freed)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention run failed; retrying at the next interval")
            await asyncio.sleep(self.interval_s)


def install(app: Any) -> None:
    """Start the periodic purge with the app (`[station] retention_days`)."""
    station = app.state.station
    task = RetentionTask(station, station.settings.station.retention_days * 86400)
    app.state.retention = task
    app.state.on_start.append(task.start)
    app.state.on_stop.append(task.stop)
