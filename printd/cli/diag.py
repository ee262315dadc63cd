"""Technician commands: `printd discover|diag|test-print|raw|support-bundle|backup`."""
from __future__ import annotations

import functools
import importlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import click

from printd.cli.common import call_daemon, daemon_client, station_options


def _usb_backend(spec: str | None) -> Any:
    """`module:callable` -> the pyusb backend it returns (emulators, tests); None = libusb."""
    if not spec:
        return None
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise click.BadParameter("use MODULE:CALLABLE, e.g. printd.drivers.evolis.emulator:usb_backend",
                                 param_hint="--usb-backend")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise click.BadParameter(f"cannot load {spec}: {exc}", param_hint="--usb-backend") from None
    return factory()


def _print_discovery(found: Any) -> None:
    click.echo("USB devices of card-printer makers:")
    if not found.usb:
        click.echo("  none")
    for d in found.usb:
        what = " ".join(x for x in (d.manufacturer, d.product) if x) or "?"
        cls = "printer class" if d.printer_class else "no printer interface"
        click.echo(f"  {d.vendor:<16} {d.vendor_id:04x}:{d.product_id:04x}  {what}  "
                   f"serial {d.serial or '?'}  ({cls}; now at bus {d.bus} address {d.address})")
        if d.note:
            click.echo(f"      {d.note}; run as root or install the udev rules, then discover again")
    click.echo("Serial ports:")
    if not found.serial:
        click.echo("  none")
    for p in found.serial:
        maker = f"  [{p.vendor}]" if p.vendor else ""
        click.echo(f"  {p.by_id or '(no stable name)'} -> {p.device}  {p.description or ''}{maker}".rstrip())
    click.echo("CUPS queues:")
    if not found.cups:
        click.echo("  none")
    for q in found.cups:
        line = f"  {q.name:<20} {q.state or '?':<10} {q.device_uri or '-'}  {q.make_and_model or ''}"
        click.echo(line.rstrip())
    for note in found.notes:
        click.echo(f"note: {note}")


def register(main: click.Group) -> None:
    """Add the technician commands to `printd`."""

    @main.command()
    @click.option("--json", "as_json", is_flag=True, help="everything found, and the snippet, as JSON")
    @click.option("--toml", "toml_only", is_flag=True, help="print only the config snippet")
    @click.option("--card-type", default="ktp-el", show_default=True, type=click.Choice(["ktp-el", "kia"]))
    @click.option("--cups-server", default=None,
                  help="CUPS server (host[:port] or socket); default as for lp")
    @click.option("--no-cups", is_flag=True, help="do not ask CUPS")
    @click.option("--by-id-dir", type=click.Path(file_okay=False, path_type=Path),
                  default=Path("/dev/serial/by-id"), show_default=True,
                  help="where udev keeps stable serial-port links")
    @click.option("--usb-backend", envvar="PRINTD_USB_BACKEND", default=None, hidden=True,
                  help="MODULE:CALLABLE returning a pyusb backend (emulators and tests)")
    def discover(as_json: bool, toml_only: bool, card_type: str, cups_server: str | None, no_cups: bool,
                 by_id_dir: Path, usb_backend: str | None) -> None:
        """List what could be a card printer on this PC and print a config snippet for it."""
        from printd.diagnostics.discover import config_snippet
        from printd.diagnostics.discover import discover as run

        found = run(usb_backend=_usb_backend(usb_backend), by_id_dir=by_id_dir, cups_server=cups_server,
                    with_cups=not no_cups)
        snippet = config_snippet(found, card_type)
        if as_json:
            click.echo(json.dumps({**found.as_dict(), "config_snippet": snippet}, indent=2))
        elif toml_only:
            click.echo(snippet, nl=False)
        else:
            _print_discovery(found)
            click.echo("\nConfig snippet:\n")
            click.echo(snippet, nl=False)

    @main.command()
    @click.argument("name", required=False)
    @station_options
    @click.option("--json", "as_json", is_flag=True, help="the whole diagnostics document as JSON")
    def diag(name: str | None, settings: Any, state_dir: Path, as_json: bool) -> None:
        """A printer's diagnostics (every printer's without NAME): identity, state with remedies,
        counters, recent errors, link health, 30-day history, the driver's own report."""
        from printd.diagnostics.render import render_text

        client = daemon_client(settings, state_dir)
        names = [name] if name else [p["name"] for p in call_daemon(client.printers)]
        docs = [call_daemon(functools.partial(client.diagnostics, n)) for n in names]
        if as_json:
            click.echo(json.dumps(docs[0] if name else {"printers": docs}, indent=2, ensure_ascii=False))
        else:
            click.echo("\n".join(render_text(doc) for doc in docs), nl=False)

    @main.command("test-print")
    @click.argument("name")
    @station_options
    def test_print(name: str, settings: Any, state_dir: Path) -> None:
        """Print the generated test card (name, time, colour bars, grid); its blank is booked as `test`."""
        r = call_daemon(lambda: daemon_client(settings, state_dir).test_print(name))
        entries = ", ".join(map(str, r["ledger_entry_ids"]))
        click.echo(f"test card printed on {r['printer']} ({r['card_type']}) in {r['duration_s']} s; "
                   f"booked as test (ledger entry {entries}), id {r['test_id']}")

    @main.command()
    @click.argument("name")
    @click.argument("command")
    @station_options
    def raw(name: str, command: str, settings: Any, state_dir: Path) -> None:
        """Send one raw vendor command (Evolis, e.g. 'Rfv') and print the reply. Audited."""
        r = call_daemon(lambda: daemon_client(settings, state_dir).raw(name, command))
        click.echo(r["reply"])

    @main.command("support-bundle")
    @click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="the .tar.gz to write")
    @click.option("--log-file", "log_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="a log file of the daemon to include (default: the journal, else STATE_DIR/*.log)")
    @station_options
    def support_bundle(output: Path, log_files: tuple[Path, ...], settings: Any, state_dir: Path) -> None:
        """One archive for support: versions, config without secrets, diagnostics, logs, database check."""
        from printd.access.bootstrap import read_local_admin_token
        from printd.client import PrintdClient
        from printd.diagnostics.bundle import make_bundle
        from printd.errors import PrintdError

        token = read_local_admin_token(state_dir)
        url = f"http://{settings.server.listen}"
        factory = (lambda: PrintdClient(url, token, timeout=15.0)) if token else None
        try:
            result = make_bundle(settings, state_dir, output, log_files=log_files, client_factory=factory)
        except (PrintdError, sqlite3.Error, OSError) as exc:
            raise click.ClickException(f"cannot make the bundle: {exc}") from None
        click.echo(f"support bundle written: {result.path} ({result.path.stat().st_size} bytes, "
                   f"{len(result.files)} files)")
        integrity = result.integrity if result.integrity is not None else "no database"
        click.echo(f"database integrity: {integrity}")
        click.echo(f"printer diagnostics: {'included' if result.daemon else 'not included'}")
        for note in result.notes:
            click.echo(f"note: {note}")

    @main.command()
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="replace PATH if it exists")
    @station_options
    def backup(path: Path, force: bool, settings: Any, state_dir: Path) -> None:
        """A consistent copy of the database (SQLite online backup; safe while printing)."""
        from printd.diagnostics.backup import backup_database
        from printd.errors import PrintdError

        if path.exists() and not force:
            raise click.ClickException(f"{path} exists; pass --force to replace it")
        try:
            info = backup_database(state_dir / "printd.sqlite3", path)
        except (PrintdError, sqlite3.Error, OSError) as exc:
            raise click.ClickException(f"backup failed: {exc}") from None
        click.echo(f"backup written: {path} ({info['size_bytes']} bytes, "
                   f"schema version {info['schema_version']}, integrity {info['integrity_check']})")
