"""The OpenAPI document as an integrator uses it: typed answers, the error enum, bearer auth, the webhook,
and a client generated from it (openapi-python-client, as an integrator would) working against the real
daemon: submit, list, follow, and receive the signed webhook.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from printd.api import models as m
from printd.api.error_codes import ErrorCode
from printd.api.errors import _HTTP_CODES
from printd.api.openapi import LISTS, RESPONSES
from printd.app import build_app
from printd.config import parse
from tests.support import Daemon, config_text, daemon_thread, job_payload, wait_for
from tests.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def _document(tmp_path: Path) -> dict[str, Any]:
    return build_app(parse(config_text(), "<test>"), tmp_path / "state").openapi()


def test_every_operation_has_a_typed_success_answer(tmp_path: Path) -> None:
    doc = _document(tmp_path)
    operations = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert operations == set(RESPONSES), "RESPONSES in printd/api/openapi.py must list exactly the served operations"
    untyped = []
    for (method, path), (status, model) in RESPONSES.items():
        if model is None:
            continue
        schema = doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
        ref = schema["items"]["$ref"] if (method, path) in LISTS else schema["$ref"]
        if not ref.endswith("/" + model.__name__):
            untyped.append((method, path))
    assert not untyped


def test_error_body_has_the_code_enum_and_every_raised_code_is_in_it(tmp_path: Path) -> None:
    doc = _document(tmp_path)
    enum = set(doc["components"]["schemas"]["ErrorCode"]["enum"])
    assert enum == {c.value for c in ErrorCode}
    raised: set[str] = set(_HTTP_CODES.values())
    pattern = re.compile(r'code\s*[=:]\s*"([a-z_]+)"|error_response\(\d{3},\s*"([a-z_]+)"')
    for source in (ROOT / "printd").rglob("*.py"):
        for a, b in pattern.findall(source.read_text()):
            raised.add(a or b)
    raised -= {"error"}   # the fallback of an unknown HTTP status, never answered by a route
    from printd.chips.reader import ReaderProblem

    raised |= {p.value for p in ReaderProblem}   # raised as `code=exc.problem.value`
    missing = sorted(raised - enum)
    assert not missing, f"codes raised but not in printd/api/error_codes.py: {missing}"


def test_bearer_scheme_security_and_the_webhook_are_documented(tmp_path: Path) -> None:
    doc = _document(tmp_path)
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearerAuth"]
        ["description"]}
    assert doc["paths"]["/api/v1/jobs"]["post"]["security"][0] == {"bearerAuth": []}
    assert "security" not in doc["paths"]["/healthz"]["get"]
    hook = doc["webhooks"]["job.state_changed"]["post"]
    assert hook["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobStateChanged"}
    assert hook["parameters"][0]["name"] == "X-Printd-Signature"
    # nothing is left as the untyped "any object" FastAPI documents for a dict return
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                for media in response.get("content", {}).values():
                    assert media.get("schema") != {"type": "object", "additionalProperties": True}, \
                        (method, path, status)


def _check(model: type[BaseModel], body: Any) -> None:
    if isinstance(body, list):
        for item in body:
            model.model_validate(item)
    else:
        model.model_validate(body)


def test_real_responses_match_the_documented_models(daemon: Daemon) -> None:
    with daemon.client() as c:
        job = c.post("/api/v1/jobs", json=job_payload(1))
        assert job.status_code == 201
        _check(m.Job, job.json())
        again = c.post("/api/v1/jobs", json=job_payload(1))
        assert again.status_code == 200
        _check(m.Job, again.json())
        wait_for(lambda: c.get(f"/api/v1/jobs/{job.json()['id']}").json()["state"] == "printed", what="printed")
        checks: list[tuple[type[BaseModel], httpx.Response]] = [
            (m.Job, c.get(f"/api/v1/jobs/{job.json()['id']}")),
            (m.JobPage, c.get("/api/v1/jobs")),
            (m.Printer, c.get("/api/v1/printers")),
            (m.Printer, c.get("/api/v1/printers/card1")),
            (m.Stock, c.get("/api/v1/stock")),
            (m.StockChange, c.post("/api/v1/stock/receipts",
                                   json={"card_type": "ktp-el", "count": 5, "reference": "BAST-1"})),
            (m.LedgerPage, c.get("/api/v1/stock/ledger")),
            (m.DailyReport, c.get("/api/v1/reports/daily")),
            (m.DeliveryPage, c.get("/api/v1/webhooks/deliveries")),
            (m.Diagnostics, c.get("/api/v1/printers/card1/diagnostics")),
            (m.CardTestResult, c.post("/api/v1/printers/card2/test-print")),
            (m.Printer, c.post("/api/v1/printers/card2/pause", json={"when": "now"})),
            (m.Printer, c.post("/api/v1/printers/card2/resume")),
            (m.Health, httpx.get(daemon.url + "/healthz")),
        ]
        for model, response in checks:
            assert response.status_code in (200, 201), (response.request.url, response.text)
            _check(model, response.json())
        error = c.get("/api/v1/jobs/j_nope")
        assert error.status_code == 404
        _check(m.Error, error.json())


# ------------------------------------------------------------------------------------------------ generated client
def _generate_client(doc: dict[str, Any], where: Path) -> str:
    """Run openapi-python-client on the document, as an integrator would; return the package name."""
    where.mkdir(parents=True)
    spec = where / "openapi.json"
    spec.write_text(json.dumps(doc))
    (where / "gen.yml").write_text("package_name_override: printd_generated\nproject_name_override: printd-generated\n")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run([str(VENV_BIN / "openapi-python-client"), "generate", "--path", str(spec), "--meta", "none",
                          "--config", str(where / "gen.yml"), "--output-path", str(where / "printd_generated")],
                         capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    return "printd_generated"


def test_a_generated_client_submits_lists_follows_and_receives_the_webhook(tmp_path: Path) -> None:
    receiver = Receiver().start()
    config = config_text(time_scale=200.0)
    with daemon_thread(config, tmp_path / "state") as d:
        doc = httpx.get(d.url + "/openapi.json").json()
        package = _generate_client(doc, tmp_path / "gen")
        sys.path.insert(0, str(tmp_path / "gen"))
        try:
            gen = importlib.import_module(package)
            client_mod = importlib.import_module(f"{package}.client")
            submit = importlib.import_module(f"{package}.api.jobs.submit_api_v1_jobs_post")
            list_jobs = importlib.import_module(f"{package}.api.jobs.list_jobs_api_v1_jobs_get")
            get_job = importlib.import_module(f"{package}.api.jobs.get_job_api_v1_jobs_job_id_get")
            models = importlib.import_module(f"{package}.models")
            client = client_mod.AuthenticatedClient(base_url=d.url, token=d.enrollment)
            body = models.JobIn.from_dict(job_payload(7, callback_url=receiver.url()))
            created = submit.sync_detailed(client=client, body=body)
            assert created.status_code == 201, created.content
            job = created.parsed
            assert isinstance(job, models.Job) and job.request_id == "TEST-000007"
            # re-sending the same request with the generated client is safe: the same job, 200
            again = submit.sync_detailed(client=client, body=body)
            assert again.status_code == 200 and again.parsed.id == job.id
            page = list_jobs.sync(client=client, limit=10)
            assert isinstance(page, models.JobPage) and [j.id for j in page.items] == [job.id]
            deadline = time.monotonic() + 60
            current = job
            while current.state != models.JobState.PRINTED and time.monotonic() < deadline:
                time.sleep(0.05)
                current = get_job.sync(client=client, job_id=job.id)
                assert isinstance(current, models.Job)
            assert current.state == models.JobState.PRINTED
            # the webhook body parses with the generated model, and is signed with the client's secret
            secret = d.app.state.accounts.webhook_secret("enrollment")
            wait_for(lambda: any(r.state == "printed" for r in receiver.received), what="printed webhook")
            for rec in receiver.received:
                event = models.JobStateChanged.from_dict(rec.doc)
                assert event.job.id == job.id and rec.signed_by(secret)
            # a wrong token is a typed Error
            bad = get_job.sync_detailed(client=client_mod.AuthenticatedClient(base_url=d.url, token="pd_wrong"),
                                        job_id=job.id)
            assert bad.status_code == 401 and isinstance(bad.parsed, models.Error)
            assert bad.parsed.error.code == models.ErrorCode.INVALID_CREDENTIALS
            assert gen is not None
        finally:
            sys.path.remove(str(tmp_path / "gen"))
            for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
                del sys.modules[name]
            receiver.stop()


@pytest.mark.slow
def test_the_generated_client_type_checks(tmp_path: Path, daemon: Daemon) -> None:
    """mypy over code using a generated client: the document's types carry through to a caller.

    The generator's own template code (its httpx wrapper) is not ours to check: its modules are followed
    silently, so only the use of the document's models and operations is judged."""
    doc = httpx.get(daemon.url + "/openapi.json").json()
    package = _generate_client(doc, tmp_path / "gen")
    (tmp_path / "gen" / "use.py").write_text(f"""
from {package}.client import AuthenticatedClient
from {package}.api.jobs import list_jobs_api_v1_jobs_get as list_jobs
from {package}.models import Job, JobPage

def first_state(client: AuthenticatedClient) -> str | None:
    page = list_jobs.sync(client=client, limit=1)
    if not isinstance(page, JobPage) or not page.items:
        return None
    job: Job = page.items[0]
    when: str | None = job.estimated_done_at if isinstance(job.estimated_done_at, str) else None
    return job.state.value if when is None else when
""")
    out = subprocess.run([str(VENV_BIN / "mypy"), "--no-incremental", "--ignore-missing-imports",
                          "--follow-imports=silent", "--python-version", "3.11", "use.py"],
                         cwd=tmp_path / "gen", capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_shipped_field_reference_is_the_code_s() -> None:
    from printd.api.reference import current

    shipped = (ROOT / "docs" / "api-reference.md").read_text()
    assert shipped == current(), "docs/api-reference.md is stale: python -m printd.api.reference > docs/api-reference.md"
