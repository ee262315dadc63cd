"""The rationing policy the admin saved on the page, kept in SQLite; it wins over the config file.

`[policy]` in the config file is the station's starting policy. An admin may save another one from the
page (`PUT /api/v1/policy`): from then on the saved policy applies, across restarts, until it is reset
(`DELETE /api/v1/policy`), after which the file's `[policy]` applies again. Each save and reset is one
append-only row of `policy_versions` written in the same transaction as its audit row, so the history
of who rationed what, and when, cannot be lost or rewritten, and a 200 means it is on disk.

The rules themselves are in printd/queue/rationing.py; the station reads `effective` at every dispatch
pass, so a change takes effect on the next pass (rationed jobs released or held, quotas recounted).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from printd.clock import StationClock
from printd.config import PolicyConfig
from printd.queue.db import Database

#: where the policy in force comes from
SAVED = "saved"
CONFIG = "config"


@dataclass(frozen=True)
class SavedPolicy:
    """A policy saved from the page, who saved it and when (epoch seconds)."""

    policy: PolicyConfig
    at: float
    actor: str


class PolicyStore:
    """The saved policy (if any) over the config file's `[policy]`."""

    def __init__(self, db: Database, clock: StationClock, configured: PolicyConfig) -> None:
        self.db = db
        self.clock = clock
        self.configured = configured
        self.saved: SavedPolicy | None = None

    def load(self) -> None:
        """Read the newest saved row (call once the database is open)."""
        with self.db._lock:
            row = self.db.conn.execute(
                "SELECT at, actor, policy FROM policy_versions ORDER BY id DESC LIMIT 1").fetchone()
        if row is None or row["policy"] is None:
            self.saved = None
            return
        self.saved = SavedPolicy(PolicyConfig.model_validate(json.loads(row["policy"])), row["at"], row["actor"])

    @property
    def effective(self) -> PolicyConfig:
        """The policy in force: the saved one, else the config file's."""
        return self.saved.policy if self.saved is not None else self.configured

    def save(self, policy: PolicyConfig | None, actor: str) -> None:
        """Save `policy` (None: reset to the config file's) with its audit row, durably, then apply it."""
        now = self.clock.now()
        text = json.dumps(dump(policy), sort_keys=True) if policy is not None else None
        with self.db.tx() as c:
            c.execute("INSERT INTO policy_versions (at, actor, policy) VALUES (?,?,?)", (now, actor, text))
            c.execute("INSERT INTO audit (at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                      (now, actor, "policy.save" if policy is not None else "policy.reset", "policy", text))
        self.saved = SavedPolicy(policy, now, actor) if policy is not None else None

    def view(self) -> dict[str, Any]:
        """The API's policy object: what is in force and where from, the saved one and the file's."""
        saved = self.saved
        return {"source": SAVED if saved is not None else CONFIG,
                "effective": dump(self.effective),
                "config": dump(self.configured),
                "saved": dump(saved.policy) if saved is not None else None,
                "saved_at": self.clock.iso(saved.at) if saved is not None else None,
                "saved_by": saved.actor if saved is not None else None}


def dump(policy: PolicyConfig) -> dict[str, Any]:
    """A policy as plain JSON (lists for the tuples, the order of the request reasons kept)."""
    return {"ration_print": list(policy.ration_print),
            "ration_blanks_below": policy.ration_blanks_below,
            "ration_ribbon_below": policy.ration_ribbon_below,
            "ration_film_below": policy.ration_film_below,
            "quota_per_reason": dict(policy.quota_per_reason),
            "quota_per_client": dict(policy.quota_per_client)}
