"""`/api/v1/policy` through the real daemon: an admin saves a rationing policy that wins over the config
file's `[policy]` and takes effect at once (a lost card held and released, a quota recounted), survives a
restart, and is reset to the file's; bad input is a 422 naming the key with nothing changed; only an admin
may read or change it; every save is audited before the answer.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from printd.api import models as m
from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for

# the file's policy: quotas only, no rationing
FILE_POLICY = '[policy]\nquota_per_reason = { other = 5 }\n'
# only card1 prints (card2 disabled) so that the order of the cards is the queue's
PRINTERS = ('[printers.card1]\ndriver = "mock"\ntime_scale = 500.0\n\n'
            '[printers.card2]\ndriver = "mock"\ntime_scale = 500.0\nenabled = false\n')
POLICY = {"ration_print": ["new", "data_change"], "ration_blanks_below": 0, "ration_ribbon_below": 0,
          "ration_film_below": 0, "quota_per_reason": {"lost": 1}, "quota_per_client": {}}


def start(state: Path) -> Any:
    return daemon_thread(config_text(printers=PRINTERS, extra=FILE_POLICY), state)


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Daemon]:
    with start(tmp_path / "state") as d:
        yield d


def state(c: httpx.Client, j: str) -> tuple[str, str | None]:
    got = c.get(f"/api/v1/jobs/{j}").json()
    return got["state"], got["state_reason"]


def test_the_config_policy_is_shown_until_one_is_saved(station: Daemon) -> None:
    with station.client() as c:
        got = c.get("/api/v1/policy")
        assert got.status_code == 200, got.text
        body = got.json()
        m.Policy.model_validate(body)
        assert body["source"] == "config" and body["saved"] is None
        assert body["effective"] == body["config"]
        assert body["config"]["quota_per_reason"] == {"other": 5}
        assert body["config"]["ration_print"] == ["new", "data_change"]


def test_a_saved_quota_takes_effect_at_once_survives_a_restart_and_resets(tmp_path: Path) -> None:
    with start(tmp_path / "state") as d, d.client() as c:
        r = c.put("/api/v1/policy", json=POLICY)
        assert r.status_code == 200, r.text
        m.Policy.model_validate(r.json())
        assert (r.json()["source"], r.json()["saved_by"]) == ("saved", "token:local-admin")
        assert r.json()["effective"]["quota_per_reason"] == {"lost": 1}
        assert r.json()["config"]["quota_per_reason"] == {"other": 5}   # the file's, shown beside it
        first = c.post("/api/v1/jobs", json=job_payload(1, reason="lost")).json()["id"]
        wait_for(lambda: state(c, first)[0] == "printed", timeout=30, what="the day's one lost card")
        second = c.post("/api/v1/jobs", json=job_payload(2, reason="lost")).json()["id"]
        wait_for(lambda: state(c, second) == ("queued", "quota_exceeded"), timeout=30, what="the quota holds")
        # raised to 2: recounted on the next pass, the second lost card prints
        assert c.put("/api/v1/policy", json={**POLICY, "quota_per_reason": {"lost": 2}}).status_code == 200
        wait_for(lambda: state(c, second)[0] == "printed", timeout=30, what="released by the new quota")
        third = c.post("/api/v1/jobs", json=job_payload(3, reason="lost")).json()["id"]
        wait_for(lambda: state(c, third) == ("queued", "quota_exceeded"), timeout=30, what="held again")
    # the saved policy is on disk: after a restart it still wins over the file
    with daemon_thread(config_text(printers=PRINTERS, extra=FILE_POLICY), tmp_path / "state") as d, \
            d.client() as c:
        body = c.get("/api/v1/policy").json()
        assert (body["source"], body["effective"]["quota_per_reason"]) == ("saved", {"lost": 2})
        assert state(c, third) == ("queued", "quota_exceeded")
        # reset: the file's policy (no quota on lost cards) applies again, at once
        r = c.delete("/api/v1/policy")
        assert r.status_code == 200, r.text
        assert (r.json()["source"], r.json()["saved"], r.json()["effective"]) == ("config", None, r.json()["config"])
        wait_for(lambda: state(c, third)[0] == "printed", timeout=30, what="released by the reset")
    with sqlite3.connect(tmp_path / "state" / "printd.sqlite3") as db:
        audit = [r[0] for r in db.execute("SELECT action FROM audit WHERE target = 'policy' ORDER BY id")]
        history = [r[0] is None for r in db.execute("SELECT policy FROM policy_versions ORDER BY id")]
    assert audit == ["policy.save", "policy.save", "policy.reset"]
    assert history == [False, False, True]


def test_rationing_saved_from_the_page_holds_lost_cards_and_releases_them(station: Daemon) -> None:
    with station.client() as c:
        # 1000 ktp-el blanks in the safe: below 2000 a lost card is rationed
        r = c.put("/api/v1/policy", json={**POLICY, "quota_per_reason": {}, "ration_blanks_below": 2000})
        assert r.json()["rationing"] == {"ktp-el": ["blanks"], "kia": ["blanks"]}
        lost = c.post("/api/v1/jobs", json=job_payload(1, reason="lost")).json()["id"]
        new = c.post("/api/v1/jobs", json=job_payload(2)).json()["id"]
        wait_for(lambda: state(c, new)[0] == "printed", timeout=30, what="the pemula prints")
        assert state(c, lost) == ("queued", "rationed")
        # a damaged card too is allowed now: the lost card still waits; then lost too: it prints
        assert c.put("/api/v1/policy", json={**POLICY, "quota_per_reason": {}, "ration_blanks_below": 2000,
                                             "ration_print": ["new", "damaged"]}).status_code == 200
        assert state(c, lost) == ("queued", "rationed")
        assert c.put("/api/v1/policy", json={**POLICY, "quota_per_reason": {}, "ration_blanks_below": 2000,
                                             "ration_print": ["new", "lost"]}).status_code == 200
        wait_for(lambda: state(c, lost)[0] == "printed", timeout=30, what="lost cards may print again")


@pytest.mark.parametrize(("change", "field"), [
    ({"quota_per_reason": {"stolen": 3}}, "quota_per_reason.stolen"),
    ({"quota_per_reason": {"lost": -1}}, "quota_per_reason.lost"),
    ({"quota_per_client": {"siak": "many"}}, "quota_per_client.siak"),
    ({"ration_print": ["new", "everything"]}, "ration_print.1"),
    ({"ration_ribbon_below": -5}, "ration_ribbon_below"),
    ({"ration_film": 5}, "ration_film"),
])
def test_bad_input_names_the_key_and_changes_nothing(station: Daemon, change: dict[str, Any], field: str) -> None:
    with station.client() as c:
        before = c.get("/api/v1/policy").json()
        r = c.put("/api/v1/policy", json={**POLICY, **change})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"
        assert r.json()["error"]["field"] == field
        assert c.get("/api/v1/policy").json() == before


def test_only_an_admin_reads_or_changes_the_policy(station: Daemon) -> None:
    with station.client() as admin:
        tokens = {role: admin.post("/api/v1/tokens", json={"name": f"t-{role}", "role": role}).json()["token"]
                  for role in ("operator", "technician", "enrollment")}
    for token in tokens.values():
        with station.client(token) as c:
            assert c.get("/api/v1/policy").status_code == 403
            assert c.put("/api/v1/policy", json=POLICY).status_code == 403
            assert c.delete("/api/v1/policy").status_code == 403
    with station.client() as admin:
        assert admin.get("/api/v1/policy").json()["source"] == "config"
