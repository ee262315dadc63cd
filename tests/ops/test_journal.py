"""Operations lines in the journal (printd/ops/journal.py): faults, spoiled blanks, operator actions.

A real station with simulated printers: a jam with a card in the printer spoils a blank; the lines
must name printer, job id and reason, and never the person's name or NIK.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from printd.ops.logs import NikMaskFilter
from tests.support import card_inside, config_text, daemon_thread, job_payload, nik, wait_for


def test_faults_spoiled_blanks_and_operator_actions_are_logged_without_personal_data(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="printd")
    caplog.handler.addFilter(NikMaskFilter())   # as setup_logging puts it on the journal's handler
    # a card of 4.4 s, so the jam lands while it is inside the printer even on a loaded machine
    with daemon_thread(config_text(time_scale=8.0), tmp_path / "state") as d, d.client() as c:
        # the jam starts when the card is in the printer: the blank is spoiled, the job goes back
        assert c.post("/api/v1/printers/card2/pause", json={"when": "now"}).status_code == 200
        job = c.post("/api/v1/jobs", json=job_payload(3, name="SITI AMINAH"),
                     headers={"Authorization": f"Bearer {d.enrollment}"}).json()
        # inside the printer, not only claimed (a claimed card is prepared and its counters read first)
        wait_for(lambda: card_inside(d.state_dir, "card1") == job["id"], what="the card inside card1")
        assert c.post("/api/v1/printers/card1/faults", json={"kind": "media-jam", "duration_s": 1}).status_code == 200
        wait_for(lambda: any(a["outcome"] == "spoiled" for a in c.get(f"/api/v1/jobs/{job['id']}").json()["attempts"]),
                 what="a spoiled attempt")
        wait_for(lambda: "media-jam" not in c.get("/api/v1/printers/card1").json()["reasons"], what="jam cleared")
        assert c.post(f"/api/v1/jobs/{job['id']}/hold").status_code in (200, 409)
        assert c.post("/api/v1/printers/card2/resume").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "printd.journal"]
    text = "\n".join(lines)
    assert "printer.pause by token:local-admin on card2 (when=now)" in text
    assert "printer.fault.inject by token:local-admin on card1 (kind=media-jam, duration_s=1" in text
    assert "card1: fault media-jam" in text and "card1: fault media-jam cleared" in text
    assert f"card1: blank spoiled: job {job['id']} attempt 1 (media-jam, ktp-el)" in text
    assert "printer.resume by token:local-admin on card2" in text
    everything = "\n".join(caplog.handler.format(r) for r in caplog.records)
    assert "SITI AMINAH" not in everything and nik(3) not in everything
