"""What every CLI command shares: --config/--state-dir, talking to the running daemon, errors."""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from printd.errors import ConfigError, PrintdError

DEFAULT_STATE_DIR = "state"


def station_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add --config and --state-dir (with their environment variables) to a command."""

    @click.option("--state-dir", "state_dir", envvar="PRINTD_STATE_DIR", type=click.Path(file_okay=False),
                  default=DEFAULT_STATE_DIR, show_default=True, help="where the database and printer state live")
    @click.option("--config", "config_path", envvar="PRINTD_CONFIG", type=click.Path(dir_okay=False),
                  default=None, help="TOML config (default: embedded demo with two simulated printers)")
    @functools.wraps(fn)
    def wrapper(*args: Any, config_path: str | None, state_dir: str, **kwargs: Any) -> Any:
        from printd import config

        try:
            settings = config.load(config_path)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        return fn(*args, settings=settings, state_dir=Path(state_dir), **kwargs)

    return wrapper


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


