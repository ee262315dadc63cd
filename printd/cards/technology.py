"""Which printer technology each card type needs, and which card types a printer may take.

A KTP-el blank is a polycarbonate card with a chip that the office prints by retransfer (HDP5000-class:
the image goes on a film first, the film is laminated onto the card); a KIA blank is a PVC card printed
direct-to-card (Evolis Primacy-class). Printing one on the other kind of printer breaks the printer or
spoils the card (Bangli: a KIA card run through a KTP-el retransfer printer broke it), so:

- each card type names the technology it needs (`[card_types.NAME] technology`, defaults below);
- each printer declares its own (`[printers.NAME] technology`; CUPS default "retransfer", Evolis
  "direct", the simulated printer whatever its configured card type needs, so a demo is always valid);
- a printer whose configured hopper card type needs another technology stops start-up (`check_config`);
- the dispatcher offers a printer only the card types it fits (`fit_card_types`), and a job whose card
  type no configured printer fits waits with state reason `no-fit-printer`.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from printd.errors import ConfigError

if TYPE_CHECKING:
    from printd.config import Settings


class Technology(enum.StrEnum):
    """How a printer puts the picture on the card."""

    RETRANSFER = "retransfer"
    DIRECT = "direct"


TECHNOLOGIES = tuple(t.value for t in Technology)
#: what each card type needs unless `[card_types.NAME] technology` says otherwise
DEFAULT_NEEDS: dict[str, str] = {"ktp-el": Technology.RETRANSFER.value, "kia": Technology.DIRECT.value}
#: a printer's technology when its table does not name one, by driver (the mock: see `printer_technology`)
DRIVER_DEFAULTS: dict[str, str] = {"cups": Technology.RETRANSFER.value, "evolis": Technology.DIRECT.value}
#: the state reason of a queued job that no configured printer may print
NO_FIT_PRINTER = "no-fit-printer"


def needs(settings: Settings) -> dict[str, str]:
    """Card type -> the technology it needs, from `[card_types]` over the defaults."""
    out = dict(DEFAULT_NEEDS)
    out.update({name: ct.technology for name, ct in settings.card_types.items()})
    return out


def printer_technology(settings: Settings, name: str) -> str:
    """The technology of printer `name`: its own key, else its driver's default.

    The simulated printer has no fixed technology of its own: by default it is whatever its configured
    card type needs, so the embedded demo (two ktp-el printers) and any mock table with only a
    card_type stay valid.
    """
    cfg = settings.printers[name]
    if cfg.technology is not None:
        return cfg.technology
    if cfg.driver in DRIVER_DEFAULTS:
        return DRIVER_DEFAULTS[cfg.driver]
    return needs(settings)[cfg.card_type]


def fit_card_types(technology: str, card_needs: Mapping[str, str]) -> frozenset[str]:
    """Card types a printer of `technology` may print."""
    return frozenset(ct for ct, need in card_needs.items() if need == technology)


def fit_by_printer(settings: Settings) -> dict[str, frozenset[str]]:
    """Printer name -> the card types it may print."""
    card_needs = needs(settings)
    return {name: fit_card_types(printer_technology(settings, name), card_needs) for name in settings.printers}


def printable(card_type: str, fits: Iterable[frozenset[str]]) -> bool:
    """Whether any printer in `fits` may print `card_type`."""
    return any(card_type in f for f in fits)


def check_config(settings: Settings) -> None:
    """Refuse a config that puts a card type's hopper on a printer of the wrong technology.

    One line naming the printer (and the file), as every config error: the daemon does not start.
    """
    card_needs = needs(settings)
    for name, cfg in settings.printers.items():
        tech = printer_technology(settings, name)
        need = card_needs[cfg.card_type]
        if tech != need:
            raise ConfigError(
                f"printer {name} is a {tech} printer but its hopper card type {cfg.card_type} needs a {need}"
                f" printer (change card_type or technology)", key=f"printers.{name}", file=settings.source)
