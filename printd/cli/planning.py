"""`printd simulate --backlog N`: parse the planning options, run printd/planning.py, print the answer."""
from __future__ import annotations

import json

import click

from printd.planning import PlanInput, PlanPrinter, parse_outage, parse_printer, plan


def run_plan(*, backlog: int, kia: int, printers: tuple[str, ...], arrivals: int, hours: float,
             quota: int | None, outages: tuple[str, ...], ribbon_rolls: int | None, ribbon_yield: int,
             film_rolls: int | None, film_yield: int, blanks: tuple[str, ...], as_json: bool) -> None:
    try:
        plan_printers = [parse_printer(p) for p in printers] or [
            PlanPrinter("card1", "retransfer"), PlanPrinter("card2", "retransfer")]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--printer") from None
    down: dict[str, set[int]] = {}
    try:
        for o in outages:
            name, days = parse_outage(o)
            down.setdefault(name, set()).update(days)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--outage") from None
    unknown = sorted(set(down) - {p.name for p in plan_printers})
    if unknown:
        raise click.BadParameter(f"no printer named {', '.join(unknown)}", param_hint="--outage")
    stock: dict[str, int] | None = None
    for b in blanks:
        ct, _, n = b.partition("=")
        if ct not in ("ktp-el", "kia") or not n.isdigit():
            raise click.BadParameter(f"{b!r}: use CARD_TYPE=N, e.g. ktp-el=2000", param_hint="--blanks")
        stock = {**(stock or {}), ct: int(n)}
    if stock is not None:
        stock = {"ktp-el": 0, "kia": 0, **stock}
    result = plan(PlanInput(printers=plan_printers, backlog={"ktp-el": backlog, "kia": kia},
                            arrivals={"ktp-el": arrivals} if arrivals else {}, hours=hours, quota=quota,
                            outages=down, ribbon_rolls=ribbon_rolls, ribbon_yield=ribbon_yield,
                            film_rolls=film_rolls, film_yield=film_yield, blanks=stock))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for p in result["printers"]:
        click.echo(f"  {p['name']}: {p['technology']}, {p['seconds']:g} s a card, {p['cards_a_day']} cards a day")
    if result["cleared"]:
        click.echo(f"cleared in {result['working_days']} working day(s)")
    else:
        click.echo(f"not cleared: stopped by {result['stopped_by'] or 'the horizon'} after "
                   f"{result['days'][-1]['day']} working day(s); waiting {result['days'][-1]['waiting']}")
    for what, day in sorted(result["runs_out"].items()):
        click.echo(f"{what} runs out on working day {day}")
    if result["unprintable"]:
        click.echo(f"no printer can print: {', '.join(result['unprintable'])} (no-fit-printer)")
