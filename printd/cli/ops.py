"""`printd purge [--dry-run]`: delete the personal data of jobs past the retention window, now.

Works on the database directly, so it also runs while the daemon is stopped. Running it beside the
daemon is safe: SQLite (WAL) lets one writer transaction at a time, and the daemon's own hourly run
does the same work.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from printd.cli.common import station_options

DB_NAME = "printd.sqlite3"


def _when(ts: float, tz: Any) -> str:
    return datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def register(main: click.Group) -> None:
    """Add the operations commands to the `printd` group."""

    @main.command()
    @station_options
    @click.option("--dry-run", is_flag=True, help="say what would be deleted; change nothing")
    @click.option("--json", "as_json", is_flag=True, help="the full report (job ids, file names) as JSON")
    def purge(settings: Any, state_dir: Path, dry_run: bool, as_json: bool) -> None:
        """Delete names, NIKs and card images of jobs final for longer than [station] retention_days."""
        from printd.ops.retention import Retention
        from printd.queue.db import Database, SchemaTooNew
        from printd.queue.integrity import DatabaseDamaged, check_database

        db_path = state_dir / DB_NAME
        if not db_path.exists():
            raise click.ClickException(f"no database at {db_path}; is --state-dir right?")
        days = settings.station.retention_days
        try:
            check_database(db_path)
            database = Database(db_path)
        except (SchemaTooNew, DatabaseDamaged) as exc:
            raise click.ClickException(str(exc)) from None
        try:
            report = Retention(database, state_dir, days * 86400).run_all(dry_run=dry_run)
        finally:
            database.close()
        if as_json:
            click.echo(json.dumps(report.as_dict(), indent=2))
            return
        tz = settings.station.tz
        would = "would " if dry_run else ""
        click.echo(f"retention window: {days:g} day(s): jobs final before {_when(report.cutoff, tz)}")
        click.echo(f"{would}remove name, NIK and card images of {len(report.jobs)} job(s)")
        click.echo(f"{would}delete {len(report.image_files)} card image file(s), {len(report.orphan_files)} "
                   f"orphan file(s) and {len(report.card_files)} printer card image(s): "
                   f"{_size(report.bytes_freed)}")
        if report.webhooks_deleted or report.webhooks_scrubbed:
            click.echo(f"{would}delete {report.webhooks_deleted} delivered webhook record(s) and remove names "
                       f"from {report.webhooks_scrubbed} pending one(s)")
        if dry_run:
            click.echo("dry run: nothing was changed")
        elif report.checkpoint is not None:
            if report.checkpoint["busy"]:
                click.echo("the database log (WAL) is in use by another reader and was not truncated yet; "
                           "the daemon's next hourly run truncates it")
            else:
                click.echo("database log (WAL) checkpointed and truncated")
        elif not report.changed:
            click.echo("nothing to delete")
