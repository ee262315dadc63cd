"""`printd serve|status|jobs|printers|token|user|simulate ...`

Every subcommand that touches the station's data takes `--config` and `--state-dir` after its own
words (or PRINTD_CONFIG / PRINTD_STATE_DIR). Without a config the embedded default is used.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from printd import __version__
from printd.cli.common import call_daemon as _call
from printd.cli.common import daemon_client as _client
from printd.cli.common import fail as _fail
from printd.cli.common import station_database, station_options
from printd.errors import PrintdError


@click.group()
@click.version_option(__version__, prog_name="printd")
def main() -> None:
    """printd: print-station controller for ID-card printers (e-KTP, KIA)."""


# ---------------------------------------------------------------------------------------------- serve

@main.command()
@station_options
@click.option("--listen", default=None, help="HOST:PORT (default from [server] listen, 127.0.0.1:8740)")
def serve(settings: Any, state_dir: Path, listen: str | None) -> None:
    """Run the daemon."""
    from printd import daemon
    from printd.drivers.requirements import missing_for
    from printd.ops.logs import setup_logging
    from printd.ops.statelock import StateDirBusy
    from printd.queue.db import SchemaTooNew
    from printd.queue.integrity import DatabaseDamaged

    problems = missing_for(settings)
    if problems:   # one line per printer, before anything starts: no traceback at every reconnect
        raise click.ClickException("; ".join(problems))
    setup_logging(settings.logging.level)
    if listen:
        from pydantic import ValidationError

        from printd.config import ServerConfig

        try:
            server_cfg = ServerConfig(listen=listen, **settings.server.model_dump(exclude={"listen"}))
        except ValidationError as exc:
            raise click.ClickException(f"--listen: {exc}") from None
        settings = settings.model_copy(update={"server": server_cfg})
    state_dir.mkdir(parents=True, exist_ok=True)
    state_path = state_dir.resolve()

    async def announce(app_: Any) -> None:
        import asyncio

        from printd.access.bootstrap import first_start_message
        from printd.ops.logs import under_systemd

        path = app_.state.first_tokens_file
        if path is not None:
            # under systemd stderr is the journal: the tokens stay in their 0600 file
            click.echo(await asyncio.to_thread(first_start_message, Path(path), show_tokens=not under_systemd()),
                       err=True)
        click.echo(f"printd {__version__}: {len(settings.printers)} printer(s), state in {state_path}, "
                   f"http://{settings.server.listen}/ (API docs at /docs)", err=True)

    try:
        daemon.run(settings, state_dir, [announce])
    except (SchemaTooNew, StateDirBusy, DatabaseDamaged) as exc:
        raise click.ClickException(str(exc)) from None


# ---------------------------------------------------------------------------------------------- tokens/users

def _accounts(settings: Any, state_dir: Path) -> Any:
    from printd.access.accounts import Accounts

    return Accounts(station_database(state_dir))


@main.group()
def token() -> None:
    """API tokens for programs (stored hashed; shown once)."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["enrollment", "operator", "technician", "admin"]))
@click.option("--name", required=True, help="the client's name, e.g. siak")
@station_options
def token_create(role: str, name: str, settings: Any, state_dir: Path) -> None:
    """Create a token; it is printed alone on the last line."""
    try:
        tok, _ = _accounts(settings, state_dir).create_token(name, role)
    except PrintdError as exc:
        raise _fail(exc) from None
    click.echo(f"token for {name} ({role}); store it now, it cannot be shown again:")
    click.echo(tok)


@token.command("list")
@station_options
def token_list(settings: Any, state_dir: Path) -> None:
    """List tokens (names and roles, never the secrets)."""
    for t in _accounts(settings, state_dir).list_tokens():
        status = "revoked" if t["revoked_at"] else "active"
        click.echo(f"{t['name']:<24} {t['role']:<12} {status}")


@token.command("revoke")
@click.argument("name")
@station_options
def token_revoke(name: str, settings: Any, state_dir: Path) -> None:
    """Revoke a client's token at once."""
    try:
        _accounts(settings, state_dir).revoke_token(name)
    except PrintdError as exc:
        raise _fail(exc) from None
    click.echo(f"revoked {name}")


@token.command("webhook-secret")
@click.argument("name")
@station_options
def token_webhook_secret(name: str, settings: Any, state_dir: Path) -> None:
    """Print a client's webhook signing secret alone on the last line."""
    try:
        secret = _accounts(settings, state_dir).webhook_secret(name)
    except PrintdError as exc:
        raise _fail(exc) from None
    click.echo(f"webhook signing secret for {name}:")
    click.echo(secret)


@main.group()
def user() -> None:
    """People who log in to the page."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["operator", "technician", "admin"]))
@station_options
def user_add(name: str, role: str, settings: Any, state_dir: Path) -> None:
    """Add a user; the password is read from stdin's first line when stdin is not a terminal."""
    if sys.stdin.isatty():
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    else:
        lines = sys.stdin.read().splitlines()
        password = lines[0] if lines else ""
        if len(lines) > 1 and lines[1] and lines[1] != password:
            raise click.ClickException("the two password lines differ")
    try:
        _accounts(settings, state_dir).add_user(name, role, password)
    except PrintdError as exc:
        raise _fail(exc) from None
    click.echo(f"user {name} ({role}) added")


@user.command("list")
@station_options
def user_list(settings: Any, state_dir: Path) -> None:
    """List users."""
    for u in _accounts(settings, state_dir).list_users():
        click.echo(f"{u['name']:<24} {u['role']:<12} {'disabled' if u['disabled'] else 'active'}")


# ---------------------------------------------------------------------------------------------- daemon clients

@main.command()
@station_options
@click.option("--json", "as_json", is_flag=True)
def status(settings: Any, state_dir: Path, as_json: bool) -> None:
    """Health, printers and queue of the running daemon."""
    c = _client(settings, state_dir)
    health = _call(c.health)
    printers = _call(c.printers)
    if as_json:
        click.echo(json.dumps({"health": health, "printers": printers}, indent=2))
        return
    click.echo(f"status: {health['status']}, printers ready: {health['printers_ready']}")
    _print_printers(printers)


def _print_printers(printers: list[dict[str, Any]]) -> None:
    click.echo(f"{'PRINTER':<10} {'STATE':<9} {'ON':<3} {'HOPPER':>6} {'RIBBON':>7} {'TODAY':>5}  JOB / REASONS")
    for p in printers:
        hopper = p["hopper"]["count"]
        ribbon = p["ribbon"]["remaining"] if p["ribbon"] else None
        on = "yes" if p["enabled"] and p["accepting"] else "no"
        tail = p["current_job"] or ", ".join(p["reasons"]) or "-"
        click.echo(f"{p['name']:<10} {p['state']:<9} {on:<3} {hopper if hopper is not None else '?':>6} "
                   f"{ribbon if ribbon is not None else '?':>7} {p['counters']['today']:>5}  {tail}")


@main.command()
@station_options
@click.option("--state", "state_filter", default=None,
              type=click.Choice(["queued", "held", "printing", "printed", "failed", "canceled", "in_doubt"]))
@click.option("--date", default=None, help="station day YYYY-MM-DD (default: every day)")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--oldest-first", is_flag=True, help="oldest first (default: newest first)")
@click.option("--json", "as_json", is_flag=True)
def jobs(settings: Any, state_dir: Path, state_filter: str | None, date: str | None, limit: int,
         oldest_first: bool, as_json: bool) -> None:
    """Jobs of the running daemon, newest first, as a table."""
    c = _client(settings, state_dir)
    # one more than asked for says whether there are more
    items = _call(lambda: c.list_jobs(state=state_filter, date=date, limit=limit + 1, newest_first=not oldest_first))
    more = len(items) > limit
    items = items[:limit]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    click.echo(f"{'JOB':<28} {'STATE':<9} {'TYPE':<7} {'PRINTER':<8} {'NIK':<17} NAME")
    for j in items:
        click.echo(f"{j['id']:<28} {j['state']:<9} {j['card_type']:<7} {j['printer'] or '-':<8} "
                   f"{j['nik_masked'] or '-':<17} {j['name'] or ''}")
    if more:
        click.echo(f"... more jobs than the {limit} shown: use --limit, --state or --date", err=True)
    elif not items:
        click.echo("no jobs" + (f" {state_filter}" if state_filter else "") + (f" on {date}" if date else ""),
                   err=True)


@main.command()
@station_options
@click.option("--json", "as_json", is_flag=True)
def printers(settings: Any, state_dir: Path, as_json: bool) -> None:
    """Printers of the running daemon, as a table."""
    items = _call(_client(settings, state_dir).printers)
    if as_json:
        click.echo(json.dumps(items, indent=2))
    else:
        _print_printers(items)


# ---------------------------------------------------------------------------------------------- simulate

@main.command()
@click.option("--jobs", "n_jobs", default=250, show_default=True, help="cards in the day")
@click.option("--time-scale", default=200.0, show_default=True, help="speed-up of the simulated printers")
@click.option("--dual", default=0.0, show_default=True, help="share of dual-sided cards (0-1)")
@click.option("--fault", "faults", multiple=True,
              help="PRINTER:KIND@WHEN[+SECONDS], e.g. card1:media-jam@30%  or card1:offline@25%+60 (simulated s)")
@click.option("--seed", default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--backlog", type=click.IntRange(min=0), default=None,
              help="plan instead: KTP-el cards waiting; answers working days to clear and supply run-outs")
@click.option("--kia", "kia_backlog", type=click.IntRange(min=0), default=0, show_default=True,
              help="plan: KIA cards waiting")
@click.option("--printer", "plan_printers", multiple=True,
              help="plan: NAME:retransfer|direct[:SECONDS] (repeat; default card1:retransfer:35 card2:retransfer:35)")
@click.option("--arrivals", type=click.IntRange(min=0), default=0, show_default=True,
              help="plan: new KTP-el requests a working day")
@click.option("--hours", type=click.FloatRange(min=0.5, max=24), default=8.0, show_default=True,
              help="plan: printing hours a working day")
@click.option("--quota", type=click.IntRange(min=0), default=None, help="plan: cards a working day, the station")
@click.option("--outage", "outages", multiple=True, help="plan: NAME:DAY[-DAY] a printer is out (working days)")
@click.option("--ribbon", "ribbon_rolls", type=click.IntRange(min=0), default=None,
              help="plan: ribbon rolls in the store (besides one fitted per printer)")
@click.option("--ribbon-yield", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--film", "film_rolls", type=click.IntRange(min=0), default=None, help="plan: film rolls in the store")
@click.option("--film-yield", type=click.IntRange(min=1), default=1500, show_default=True)
@click.option("--blanks", "blanks_opt", multiple=True, help="plan: CARD_TYPE=N usable blanks, e.g. ktp-el=2000")
def simulate(n_jobs: int, time_scale: float, dual: float, faults: tuple[str, ...], seed: int, as_json: bool,
             backlog: int | None, kia_backlog: int, plan_printers: tuple[str, ...], arrivals: int, hours: float,
             quota: int | None, outages: tuple[str, ...], ribbon_rolls: int | None, ribbon_yield: int,
             film_rolls: int | None, film_yield: int, blanks_opt: tuple[str, ...]) -> None:
    """Run a whole simulated day on two simulated printers and report makespan, balance and spoilage.

    With --backlog: plan instead (no printing): how many working days the printers need to clear the
    backlog under the quota and outages, and on which day ribbon, film or blanks run out.
    """
    if backlog is not None:
        from printd.cli.planning import run_plan

        run_plan(backlog=backlog, kia=kia_backlog, printers=plan_printers, arrivals=arrivals, hours=hours,
                 quota=quota, outages=outages, ribbon_rolls=ribbon_rolls, ribbon_yield=ribbon_yield,
                 film_rolls=film_rolls, film_yield=film_yield, blanks=blanks_opt, as_json=as_json)
        return
    from printd.simulate import parse_fault, run_day

    try:
        plan = [parse_fault(f) for f in faults]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    result = run_day(n_jobs=n_jobs, time_scale=time_scale, dual_share=dual, faults=plan, seed=seed)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"jobs: {result['jobs']}  printed: {result['printed']}  failed: {result['failed']}  "
               f"in doubt: {result['in_doubt']}  spoiled blanks: {result['spoiled']}")
    click.echo(f"makespan: {result['makespan_s']:.1f} s simulated  (ideal {result['ideal_s']:.1f} s, "
               f"ratio {result['ratio']:.3f})")
    for name, p in result["printers"].items():
        click.echo(f"  {name}: {p['printed']} cards ({p['share']:.0%}), utilisation {p['utilisation']:.1%}, "
                   f"spoiled {p['spoiled']}")


# ---------------------------------------------------------------------------------------------- more commands
# Commands that live in their own modules (printd/cli/<area>.py, each with `register(main)`) are added here.
from printd.cli import accounts as cli_accounts  # noqa: E402
from printd.cli import diag as cli_diag  # noqa: E402
from printd.cli import ops as cli_ops  # noqa: E402
from printd.cli import webhooks as cli_webhooks  # noqa: E402

cli_accounts.register(main)
cli_diag.register(main)
cli_ops.register(main)
cli_webhooks.register(main)


if __name__ == "__main__":  # pragma: no cover
    main()
