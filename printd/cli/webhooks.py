"""`printd webhooks deliveries|retry|drop`: job notifications of the running daemon, from the shell."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import click

from printd.cli.common import call_daemon, daemon_client, station_options


def register(main: click.Group) -> None:
    """Add the `webhooks` command group."""

    @main.group()
    def webhooks() -> None:
        """Notifications (webhooks) to enrollment systems."""

    @webhooks.command("deliveries")
    @click.option("--state", "state_filter", type=click.Choice(["pending", "delivered", "failed"]), default=None)
    @click.option("--job", "job_id", default=None, help="only this job's notifications")
    @click.option("--limit", default=50, show_default=True)
    @click.option("--json", "as_json", is_flag=True)
    @station_options
    def deliveries(state_filter: str | None, job_id: str | None, limit: int, as_json: bool, settings: Any,
                   state_dir: Path) -> None:
        """Notifications, newest first (`--state failed`: the ones given up)."""
        c = daemon_client(settings, state_dir)
        items = call_daemon(lambda: c.deliveries(state=state_filter, job_id=job_id, limit=limit))
        if as_json:
            click.echo(json.dumps(items, indent=2))
            return
        click.echo(f"{'EVENT':<30} {'JOB':<28} {'STATE':<9} {'TRIES':>5}  LAST ERROR")
        for d in items:
            click.echo(f"{d['event_id']:<30} {d['job_id']:<28} {d['state']:<9} {d['attempts']:>5}  "
                       f"{d['last_error'] or '-'}")

    @webhooks.command("retry")
    @click.argument("event_ids", nargs=-1, required=True)
    @station_options
    def retry(event_ids: tuple[str, ...], settings: Any, state_dir: Path) -> None:
        """Send given-up notifications again (same event id and body), e.g. once the receiver is fixed."""
        c = daemon_client(settings, state_dir)
        for event_id in event_ids:
            d = call_daemon(functools.partial(c.request, "POST", f"/api/v1/webhooks/deliveries/{event_id}/retry"))
            click.echo(f"{d['event_id']}: {d['state']}")

    @webhooks.command("drop")
    @click.argument("event_ids", nargs=-1, required=True)
    @click.option("--reason", default=None, help="why (kept in the audit log)")
    @station_options
    def drop(event_ids: tuple[str, ...], reason: str | None, settings: Any, state_dir: Path) -> None:
        """Stop sending pending notifications (e.g. to a receiver that will never answer); audited.

        The job's later notifications then go out; `printd webhooks retry` sends a dropped one again.
        """
        c = daemon_client(settings, state_dir)
        for event_id in event_ids:
            d = call_daemon(functools.partial(c.request, "POST", f"/api/v1/webhooks/deliveries/{event_id}/drop",
                                              json={"reason": reason}))
            click.echo(f"{d['event_id']}: {d['state']} ({d['last_error']})")
