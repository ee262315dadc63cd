"""The documented TLS recipe, run for real: Debian's Caddy with config/proxy/Caddyfile in front of `printd serve`.

Caddy runs the shipped Caddyfile unchanged; only its `{$PRINTD_...}` environment values differ from an
office install (site 127.0.0.1, bound to loopback, free ports, its CA and storage in tmp_path, admin API
off). The local CA is Caddy's own, created by this test in tmp_path; httpx trusts exactly that root.
printd runs as a subprocess (`python -m printd serve`, the code path systemd runs) with
`[server] trusted_proxies = ["127.0.0.1"]`.

Two "clients" on one machine: loopback is all of 127.0.0.0/8, so clients bound to 127.0.0.2 and 127.0.0.3
reach Caddy from different addresses, and Caddy forwards each one's own address in X-Forwarded-For. A
missing caddy binary fails the test (scripts/install-test-deps installs it).
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from printd.web.throttle import ADDRESS_POLICY
from tests.support import Daemon, config_text, free_port, start_process, stop, wait_for

REPO = Path(__file__).resolve().parents[2]
CADDYFILE = REPO / "config" / "proxy" / "Caddyfile"
CLIENT_A, CLIENT_B = "127.0.0.2", "127.0.0.3"

pytestmark = pytest.mark.e2e


@dataclass
class Proxy:
    """A running Caddy: its HTTPS and plain-HTTP base URLs and the root certificate of its local CA."""

    https: str
    http: str
    root_ca: Path

    def trust(self) -> ssl.SSLContext:
        """Trust exactly the test's CA."""
        return ssl.create_default_context(cafile=str(self.root_ca))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("printd")
    port = free_port()
    config = tmp / "printd.toml"
    config.write_text(config_text(port=port).replace("[server]\n", '[server]\ntrusted_proxies = ["127.0.0.1"]\n'))
    d = start_process(config, tmp / "state", port, tmp / "printd.log")
    try:
        yield d
    finally:
        stop(d)


@pytest.fixture(scope="module")
def proxy(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.fail("caddy not found: apt-get install caddy (scripts/install-test-deps); a real check, not optional")
    tmp = tmp_path_factory.mktemp("caddy")
    https_port, http_port = free_port(), free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "XDG_DATA_HOME": str(tmp / "data"),
           "XDG_CONFIG_HOME": str(tmp / "config"), "PRINTD_SITE": "127.0.0.1", "PRINTD_BIND": "127.0.0.1",
           "PRINTD_HTTPS_PORT": str(https_port), "PRINTD_HTTP_PORT": str(http_port), "PRINTD_CADDY_ADMIN": "off",
           "PRINTD_UPSTREAM": daemon.url.removeprefix("http://")}
    log = tmp / "caddy.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                                env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=tmp)
    root_ca = tmp / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    p = Proxy(https=f"https://127.0.0.1:{https_port}", http=f"http://127.0.0.1:{http_port}", root_ca=root_ca)

    def serving() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"caddy exited {proc.returncode}: {log.read_text()[-3000:]}")
        if not root_ca.exists():
            return False
        try:
            return httpx.get(p.https + "/healthz", verify=p.trust(), timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(serving, timeout=60, interval=0.2, what="caddy serving printd over TLS")
        yield p
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_the_shipped_defaults_are_an_office_install(tmp_path: Path) -> None:
    """Without any environment the Caddyfile adapts, silently, to ports 443/80 on all IPv4 addresses,
    loopback-only admin API, Caddy's local CA (not installed into the system trust) and printd's
    default listener; Caddy's global `trusted_proxies` is unset, so incoming X-Forwarded-* are dropped."""
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.fail("caddy not found: apt-get install caddy (scripts/install-test-deps)")
    result = subprocess.run([caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    # caddy warns on stderr about unformatted files and needless directives: none of either
    assert (result.returncode, result.stderr) == (0, "")
    cfg = json.loads(result.stdout)
    assert cfg["admin"]["listen"] == "localhost:2019"
    http = cfg["apps"]["http"]
    assert (http["http_port"], http["https_port"]) == (80, 443)
    (server,) = http["servers"].values()
    assert server["listen"] == ["0.0.0.0:443"]
    assert "trusted_proxies" not in json.dumps(server)
    assert server["routes"][0]["match"] == [{"host": ["printd.kantor.local"]}]
    text = json.dumps(server["routes"])
    assert '"dial": "127.0.0.1:8740"' in text and '"handler": "reverse_proxy"' in text
    assert cfg["apps"]["pki"]["certificate_authorities"]["local"]["install_trust"] is False
    issuers = [i for p in cfg["apps"]["tls"]["automation"]["policies"] for i in p.get("issuers", [])]
    assert issuers and {i["module"] for i in issuers} == {"internal"}


def client(proxy: Proxy, source: str, **kw: Any) -> httpx.Client:
    """An HTTPS client that trusts only the test's CA and connects from `source` (a loopback address)."""
    transport = httpx.HTTPTransport(local_address=source, verify=proxy.trust())
    return httpx.Client(base_url=proxy.https, transport=transport, timeout=30, follow_redirects=False, **kw)


def failed_login(c: httpx.Client, user: str, headers: dict[str, str] | None = None) -> httpx.Response:
    page = c.get("/login")
    assert page.status_code == 200
    nonce = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return c.post("/login", data={"username": user, "password": "salah-sekali", "csrf_token": nonce},
                  headers=headers or {})


def audited_addresses(daemon: Daemon, action: str) -> list[tuple[str, str]]:
    """(actor, detail.address) of each audit row of `action`."""
    conn = sqlite3.connect(daemon.state_dir / "printd.sqlite3")
    try:
        rows = conn.execute("SELECT actor, detail FROM audit WHERE action = ? ORDER BY id", (action,)).fetchall()
    finally:
        conn.close()
    return [(actor, json.loads(detail)["address"]) for actor, detail in rows]


def test_the_api_answers_over_tls_with_a_token_and_only_with_one(daemon: Daemon, proxy: Proxy) -> None:
    with client(proxy, CLIENT_A, headers={"Authorization": f"Bearer {daemon.admin}"}) as c:
        r = c.get("/api/v1/printers")
        assert r.status_code == 200 and {p["name"] for p in r.json()} == {"card1", "card2"}
        assert r.headers["strict-transport-security"] == "max-age=31536000"
    with client(proxy, CLIENT_A) as anonymous:
        assert anonymous.get("/api/v1/printers").status_code == 401
    # the certificate is from the station's own CA, which nobody trusts by default
    with pytest.raises(httpx.ConnectError) as exc:
        httpx.get(proxy.https + "/healthz", verify=ssl.create_default_context(), timeout=10)
    assert "CERTIFICATE_VERIFY_FAILED" in str(exc.value)


def test_plain_http_is_redirected_or_refused(daemon: Daemon, proxy: Proxy) -> None:
    r = httpx.get(proxy.http + "/api/v1/printers", headers={"Authorization": f"Bearer {daemon.admin}"},
                  follow_redirects=False, timeout=10)
    assert r.status_code == 308 and r.headers["location"].startswith("https://127.0.0.1")
    assert "card1" not in r.text
    # plain HTTP to the TLS port: Caddy refuses it before anything reaches printd
    https_as_http = proxy.https.replace("https://", "http://")
    r = httpx.get(https_as_http + "/api/v1/printers", headers={"Authorization": f"Bearer {daemon.admin}"},
                  timeout=10)
    assert r.status_code == 400 and "HTTP request to an HTTPS server" in r.text


def test_cookies_are_secure_behind_the_proxy(proxy: Proxy) -> None:
    # printd believes the proxy's X-Forwarded-Proto: the page's cookies get the Secure flag
    with client(proxy, CLIENT_A) as c:
        r = c.get("/login")
    cookies = r.headers.get_list("set-cookie")
    assert cookies and all("Secure" in c for c in cookies), cookies


def test_the_login_throttle_sees_each_real_client_and_no_spoofed_address(daemon: Daemon, proxy: Proxy) -> None:
    before = len(audited_addresses(daemon, "session.login_failed"))
    with client(proxy, CLIENT_A) as a, client(proxy, CLIENT_B) as b:
        # client A guesses with a new user name and a new forged X-Forwarded-For every time: only its real
        # address can lock it out (if printd believed the forged header, no key would ever repeat)
        statuses = []
        for i in range(ADDRESS_POLICY.free_failures + 10):
            r = failed_login(a, f"tamu{i}", {"X-Forwarded-For": f"10.9.8.{i}"})
            statuses.append(r.status_code)
            if r.status_code == 429:
                break
        assert statuses[-1] == 429, statuses
        # at least the free failures were answered before the lock-out (more only on a very slow machine,
        # where a 1 s lock-out may pass between two tries)
        assert statuses[:ADDRESS_POLICY.free_failures] == [401] * ADDRESS_POLICY.free_failures
        # client B, same proxy, same moment: its own address, its own budget
        assert failed_login(b, "tamu-b").status_code == 401
    rows = audited_addresses(daemon, "session.login_failed")[before:]
    assert {addr for _, addr in rows} == {CLIENT_A, CLIENT_B}
    assert {actor for actor, _ in rows} == {f"address:{CLIENT_A}", f"address:{CLIENT_B}"}


def test_forwarded_headers_from_anyone_but_the_proxy_are_ignored(daemon: Daemon) -> None:
    # straight to printd (not through Caddy) from 127.0.0.2, which is not in trusted_proxies
    before = len(audited_addresses(daemon, "session.login_failed"))
    transport = httpx.HTTPTransport(local_address=CLIENT_B)
    with httpx.Client(base_url=daemon.url, transport=transport, timeout=30) as direct:
        r = failed_login(direct, "tamu-langsung", {"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Proto": "https"})
        assert r.status_code == 401
        assert not any("Secure" in c for c in direct.get("/login").headers.get_list("set-cookie"))
    rows = audited_addresses(daemon, "session.login_failed")[before:]
    assert rows == [(f"address:{CLIENT_B}", CLIENT_B)]


def test_the_event_stream_passes_the_proxy_unbuffered(daemon: Daemon, proxy: Proxy) -> None:
    """The page's live updates: an event reaches the browser while the stream stays open."""
    headers = {"Authorization": f"Bearer {daemon.admin}"}
    with client(proxy, CLIENT_A, headers=headers) as c, c.stream("GET", "/api/v1/events") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"
        with client(proxy, CLIENT_B, headers=headers) as other:
            assert other.post("/api/v1/printers/card2/faults", json={"kind": "cover-open"}).status_code == 200
            try:
                # a heartbeat comes every 15 s, so this loop checks its deadline at least that often
                deadline = time.monotonic() + 30
                seen = next((line for line in lines
                             if line.startswith("event: printer") or time.monotonic() > deadline), None)
            finally:
                assert other.delete("/api/v1/printers/card2/faults").status_code == 200
        assert seen == "event: printer"


def test_without_trusted_proxies_no_forwarded_header_is_believed(tmp_path: Path) -> None:
    """The default `trusted_proxies = []`: not even 127.0.0.1 may name another client address.

    (uvicorn alone would believe X-Forwarded-For from 127.0.0.1, or from $FORWARDED_ALLOW_IPS.)
    """
    port = free_port()
    config = tmp_path / "printd.toml"
    config.write_text(config_text(port=port))
    d = start_process(config, tmp_path / "state", port, tmp_path / "printd.log")
    try:
        with httpx.Client(base_url=d.url, timeout=30) as c:
            r = failed_login(c, "tamu", {"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Proto": "https"})
            assert r.status_code == 401
            assert not any("Secure" in x for x in c.get("/login").headers.get_list("set-cookie"))
    finally:
        stop(d)
    assert audited_addresses(d, "session.login_failed") == [("address:127.0.0.1", "127.0.0.1")]
