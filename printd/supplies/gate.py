"""The rationing gate from the station's stock, supplies and today's prints (call on the database thread).

The rules are in printd/queue/rationing.py; this module only gathers what they read: usable blanks per
card type, ribbon and film prints left (printers and store; unknown while nothing is recorded), and the
jobs started today by reason and by client.
"""
from __future__ import annotations

from typing import Any

from printd.cards.technology import needs
from printd.config import REQUEST_REASONS
from printd.queue.rationing import OPEN, Gate, compute_gate, started_today
from printd.supplies.watch import levels


def gates_anything(cfg: Any) -> bool:
    """Whether a policy (`[policy]`, or the one saved from the page) rations or sets a quota at all (else
    the gate is always OPEN)."""
    rationing = cfg.ration_blanks_below or cfg.ration_ribbon_below or cfg.ration_film_below
    return bool(rationing or cfg.quota_per_reason or cfg.quota_per_client)


def station_gate(station: Any) -> Gate:
    """What may not start now under `[policy]`; `OPEN` when the policy rations nothing."""
    cfg = station.policy.effective   # saved from the page, else the config file's [policy]
    if not gates_anything(cfg):
        return OPEN
    blanks = {ct: int(b["total"]) for ct, b in station.stock.balances().items()} if cfg.ration_blanks_below else {}
    prints_left: dict[str, int | None] = {}
    if cfg.ration_ribbon_below or cfg.ration_film_below:
        view = station.supplies.view(levels(station.workers.values()))
        for k in view["kinds"]:
            known = k["lots"] or any(p["kind"] == k["kind"] for p in view["printers"])
            prints_left[k["kind"]] = int(k["prints_left"]) if known else None
    start, _ = station.clock.day_bounds(station.clock.day())
    with station.database._lock:
        by_reason, by_client = started_today(station.database.conn, start)
    return compute_gate(ration_print=tuple(cfg.ration_print), reasons=REQUEST_REASONS,
                        card_types=needs(station.settings), blanks=blanks, blanks_below=cfg.ration_blanks_below,
                        prints_left=prints_left, ribbon_below=cfg.ration_ribbon_below,
                        film_below=cfg.ration_film_below, quota_reason=cfg.quota_per_reason,
                        quota_client=cfg.quota_per_client, done_by_reason=by_reason, done_by_client=by_client)
