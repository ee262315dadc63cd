"""`printd token rotate`, `printd user passwd|disable|enable`: changing access, safely while the daemon runs.

While a daemon serves the state directory these go through its admin API, so a disabled user's page
sessions and a client's open streams end at once (the daemon keeps them in memory); with no daemon they
change the database directly. The token a rotation makes is printed alone on the last line.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from printd.cli.common import call_daemon, daemon_client, daemon_running, fail, station_options
from printd.errors import PrintdError


def _read_password(prompt: str) -> str:
    """From a terminal: asked twice; otherwise the first line of stdin (a second, identical line is accepted)."""
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))
    lines = sys.stdin.read().splitlines()
    password = lines[0] if lines else ""
    if len(lines) > 1 and lines[1] and lines[1] != password:
        raise click.ClickException("the two password lines differ")
    return password


def _offline_accounts(settings: Any, state_dir: Path) -> Any:
    from printd.cli.main import _accounts

    return _accounts(settings, state_dir)


def _through_daemon(settings: Any, state_dir: Path, path: str, body: dict[str, Any] | None = None) -> Any:
    client = daemon_client(settings, state_dir)
    return call_daemon(lambda: client.request("POST", path, json=body or {}))


def register(main: click.Group) -> None:
    """Add the commands to the `token` and `user` groups of `main`."""
    token = main.commands["token"]
    user = main.commands["user"]
    assert isinstance(token, click.Group) and isinstance(user, click.Group)

    @token.command("rotate")
    @click.argument("name")
    @click.option("--overlap-s", type=click.FloatRange(0, 30 * 86400), default=None,
                  help="how long the previous token keeps working (default: [server] token_overlap_s)")
    @station_options
    def token_rotate(name: str, overlap_s: float | None, settings: Any, state_dir: Path) -> None:
        """A new token for the same client (its jobs and request_ids stay its own); printed on the last line."""
        overlap = settings.server.token_overlap_s if overlap_s is None else overlap_s
        if daemon_running(state_dir):
            tok = _through_daemon(settings, state_dir, f"/api/v1/tokens/{name}/rotate", {"overlap_s": overlap})["token"]
        else:
            try:
                tok = _offline_accounts(settings, state_dir).rotate_token(name, overlap)
            except PrintdError as exc:
                raise fail(exc) from None
        click.echo(f"new token for {name}; the previous one works for {overlap:g} s more. Store it now, it "
                   "cannot be shown again:")
        click.echo(tok)

    @user.command("passwd")
    @click.argument("name")
    @station_options
    def user_passwd(name: str, settings: Any, state_dir: Path) -> None:
        """Set a user's password (stdin's first line when not a terminal); their open sessions end."""
        password = _read_password("new password")
        if daemon_running(state_dir):
            _through_daemon(settings, state_dir, f"/api/v1/users/{name}/password", {"password": password})
        else:
            try:
                _offline_accounts(settings, state_dir).set_password(name, password)
            except PrintdError as exc:
                raise fail(exc) from None
        click.echo(f"password of {name} changed")

    def _set_disabled(name: str, disabled: bool, settings: Any, state_dir: Path) -> None:
        verb = "disable" if disabled else "enable"
        if daemon_running(state_dir):
            _through_daemon(settings, state_dir, f"/api/v1/users/{name}/{verb}")
        else:
            try:
                _offline_accounts(settings, state_dir).set_disabled(name, disabled)
            except PrintdError as exc:
                raise fail(exc) from None
        click.echo(f"{name} {verb}d" + (": their sessions ended" if disabled else ""))

    @user.command("disable")
    @click.argument("name")
    @station_options
    def user_disable(name: str, settings: Any, state_dir: Path) -> None:
        """Stop a user from logging in; their open sessions and event streams end at once."""
        _set_disabled(name, True, settings, state_dir)

    @user.command("enable")
    @click.argument("name")
    @station_options
    def user_enable(name: str, settings: Any, state_dir: Path) -> None:
        """Let a disabled user log in again."""
        _set_disabled(name, False, settings, state_dir)
