"""What every CLI command shares: --config/--state-dir, talking to the running daemon, errors."""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from printd.errors import ConfigError, PrintdError

DEFAULT_STATE_DIR = "state"
DB_NAME = "printd.sqlite3"


def station_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --config and --state-dir (with their environment variables) to a command."""

    @click.option("--state-dir", "state_dir", envvar="PRINTD_STATE_DIR", type=click.Path(file_okay=False),
                  default=DEFAULT_STATE_DIR, show_default=True, help="where the database and printer state live")
    @click.option("--config", "config_path", envvar="PRINTD_CONFIG", type=click.Path(dir_okay=False),
                  default=None, help="TOML config (default: embedded demo with two simulated printers)")
    @functools.wraps(fn)
    def wrapper(*args: Any, config_path: str | None, state_dir: str, **kwargs: Any) -> Any:
        from printd import config
        from printd.cli.identity import act_as_owner, private_umask

        # before the config is read or anything opened: as root, become the data's owner
        act_as_owner(Path(state_dir))
        try:
            settings = config.load(config_path)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        with private_umask():
            return fn(*args, settings=settings, state_dir=Path(state_dir), **kwargs)

    return wrapper


def station_database(state_dir: Path) -> Any:
    """The station's database for a command other than `serve`; never a new one in an unnamed place.

    Without --state-dir or PRINTD_STATE_DIR (the `printd` command an installer puts on PATH sets the
    latter to /var/lib/printd) a command would write to ./state wherever it runs: it refuses instead of
    reporting a success nobody will find. A named directory may get its first database, so an installer
    can create the enrollment system's token before the daemon first starts.
    """
    from printd.queue.db import SchemaTooNew
    from printd.queue.integrity import DatabaseDamaged, open_database

    path = state_dir / DB_NAME
    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source("state_dir") if ctx is not None else None
    if not path.exists() and source in (None, click.core.ParameterSource.DEFAULT):
        raise click.ClickException(
            f"no printd database in {state_dir}/: name the station's data directory with --state-dir "
            "(an installed station's is /var/lib/printd, which the `printd` command on PATH uses); "
            "only `printd serve` starts a new station in ./state")
    try:
        return open_database(path)
    except (SchemaTooNew, DatabaseDamaged) as exc:
        raise click.ClickException(str(exc)) from None


def fail(exc: PrintdError) -> click.ClickException:
    return click.ClickException(getattr(exc, "message", None) or str(exc))


def daemon_client(settings: Any, state_dir: Path) -> Any:
    from printd.access.bootstrap import read_local_admin_token
    from printd.client import PrintdClient

    tok = read_local_admin_token(state_dir)
    if not tok:
        raise click.ClickException(f"no admin token: set PRINTD_TOKEN or keep {state_dir}/initial-tokens.txt")
    return PrintdClient(f"http://{daemon_address(settings, state_dir)}", tok)


def daemon_address(settings: Any, state_dir: Path) -> str:
    """Where the daemon of `state_dir` listens: what it recorded at start (`serve --listen` may differ
    from the config), else the configured address."""
    from printd.ops.runfile import listen_address

    return listen_address(state_dir) or settings.server.listen


def daemon_running(state_dir: Path) -> bool:
    """Whether a daemon serving `state_dir` is up (it recorded itself and its pid lives)."""
    from printd.ops.runfile import listen_address

    return listen_address(state_dir) is not None


def call_daemon(fn: Callable[[], Any]) -> Any:
    import httpx

    from printd.client import ApiError

    try:
        return fn()
    except ApiError as exc:
        raise click.ClickException(f"{exc.status} {exc.code}: {exc.message}") from None
    except httpx.HTTPError as exc:
        try:
            where = f" at {exc.request.url.scheme}://{exc.request.url.netloc.decode()}"
        except RuntimeError:   # an error raised before a request existed
            where = ""
        raise click.ClickException(f"cannot reach the daemon{where}: {exc}; is `printd serve` running "
                                   "(with this --state-dir)?") from None


