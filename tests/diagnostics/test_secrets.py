"""Credentials never leave the office in a support bundle (printd/diagnostics/secrets.py).

The end-to-end test makes every kind of secret printd has (first-start tokens, a token made by the CLI,
its webhook secret, a page password, a session cookie and its CSRF token), leaks each of them into a
log file the way a careless log line or a proxy's log would, makes a bundle and searches every file of
it, byte by byte, for each secret and for each secret without its prefix.
"""
from __future__ import annotations

import re
import tarfile
from pathlib import Path

import httpx
from click.testing import CliRunner

from printd.cli.main import main
from printd.diagnostics import secrets as bundle_secrets
from printd.diagnostics.secrets import SecretScrubber
from printd.web import sessions
from tests.support import config_text, daemon_thread

PASSWORD = "kata-sandi-Rahasia-77"


def test_the_cookie_name_is_the_pages() -> None:
    assert bundle_secrets.SESSION_COOKIE == sessions.SESSION_COOKIE


def test_secrets_are_removed_by_shape_and_by_value() -> None:
    scrub = SecretScrubber(["whsec_KNOWNknownKNOWN123", "KNOWNknownKNOWN123"])
    text = ("GET /api/v1/jobs Authorization: Bearer abcdefghijklmnop\n"
            "token pd_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_ in a message\n"
            "signed with whsec_ZyXwVuTsRqPoNmLkJiHg and the bare KNOWNknownKNOWN123\n"
            "Cookie: printd_session=s3ss10nVALUE; printd_lang=id\n"
            "set printd_session=an0therVALUE elsewhere\n"
            'password=hunter2hunter2 {"password": "p4ss w0rd"} passwd: xyzzy12\n'
            "nothing to hide: 3 cards printed, token bucket ok\n")
    out = scrub(text)
    for secret in ("abcdefghijklmnop", "AbCdEfGhIjKlMnOpQrStUvWxYz", "ZyXwVuTsRqPoNmLkJiHg", "KNOWNknownKNOWN123",
                   "s3ss10nVALUE", "an0therVALUE", "hunter2hunter2", "p4ss w0rd", "xyzzy12"):
        assert secret not in out, secret
    assert "nothing to hide: 3 cards printed, token bucket ok" in out
    assert "Authorization: Bearer <removed>" in out and "<webhook-secret>" in out and "<token>" in out


def _login(client: httpx.Client, user: str, password: str) -> str:
    form = client.get("/login")
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert nonce
    done = client.post("/login", data={"username": user, "password": password, "csrf_token": nonce.group(1)})
    assert done.status_code in (302, 303), done.text
    page = client.get("/")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert csrf
    return csrf.group(1)


def test_a_bundle_holds_none_of_the_secrets_made_during_the_test(tmp_path: Path) -> None:
    state = tmp_path / "state"
    cfg = tmp_path / "printd.toml"
    made: dict[str, str] = {}
    runner = CliRunner()
    with daemon_thread(config_text(), state) as d:
        made["first-start admin token"] = d.admin
        made["first-start enrollment token"] = d.enrollment
        cfg.write_text(config_text(port=int(d.url.rsplit(":", 1)[1])))
        args = ["--config", str(cfg), "--state-dir", str(state)]
        r = runner.invoke(main, ["token", "create", "--role", "enrollment", "--name", "siak", *args])
        assert r.exit_code == 0, r.output
        made["CLI token"] = r.output.splitlines()[-1]
        r = runner.invoke(main, ["token", "webhook-secret", "siak", *args])
        assert r.exit_code == 0, r.output
        made["webhook secret"] = r.output.splitlines()[-1]
        r = runner.invoke(main, ["user", "add", "sari", "--role", "operator", *args], input=PASSWORD + "\n")
        assert r.exit_code == 0, r.output
        made["password"] = PASSWORD
        with httpx.Client(base_url=d.url, follow_redirects=False, timeout=30) as page:
            made["CSRF token"] = _login(page, "sari", PASSWORD)
            made["session cookie"] = page.cookies[sessions.SESSION_COOKIE]
        assert all(made.values()), made
        assert made["CLI token"].startswith("pd_") and made["webhook secret"].startswith("whsec_")

        # every secret, leaked the ways logs leak them
        (state / "printd.log").write_text(
            f"INFO first start: admin={made['first-start admin token']}\n"
            f"DEBUG request headers: {{'authorization': 'Bearer {made['first-start enrollment token']}'}}\n"
            f"WARNING client siak sent token={made['CLI token']}\n"
            f"ERROR webhook signing failed with key {made['webhook secret']}\n"
            f"ERROR the bare key was {made['webhook secret'].removeprefix('whsec_')}\n"
            f"DEBUG Cookie: printd_session={made['session cookie']}; printd_lang=id\n"
            f"DEBUG form: username=sari&password={made['password']}&csrf_token={made['CSRF token']}\n"
            f'DEBUG body {{"username": "sari", "password": "{made["password"]}"}}\n'
            f"INFO 3 cards printed\n")
        out = tmp_path / "bundle.tar.gz"
        r = runner.invoke(main, ["support-bundle", "--output", str(out), *args])
        assert r.exit_code == 0, r.output

    with tarfile.open(out, "r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert any(name.endswith("logs/file-printd.log") for name in files)
    for fact in ("lsusb", "card-printer-devices", "lpstat", "service", "printd-user"):
        assert any(name.endswith(f"system/{fact}.txt") for name in files), fact
    assert any(b"INFO 3 cards printed" in data for data in files.values()), "the log itself is kept"
    needles = dict(made)
    for what, value in made.items():
        for prefix in ("pd_", "whsec_"):
            if value.startswith(prefix):
                needles[f"{what} without its prefix"] = value.removeprefix(prefix)
    for name, data in files.items():
        for what, value in needles.items():
            assert value.encode() not in data, f"the {what} is in {name}"
