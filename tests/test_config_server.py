"""`[server] trusted_proxies`: only addresses or networks, never everyone; errors name the key and the file."""
from __future__ import annotations

from pathlib import Path

import pytest

from printd import config
from printd.errors import ConfigError

PRINTER = '[printers.a]\ndriver = "mock"\n'


def test_trusted_proxies_default_to_nobody_and_are_normalised() -> None:
    assert config.parse(PRINTER, "x.toml").server.trusted_proxies == ()
    s = config.parse('[server]\ntrusted_proxies = ["127.0.0.1", " ::1 ", "10.20.0.0/16", "192.168.1.5/32"]\n'
                     + PRINTER, "x.toml")
    assert s.server.trusted_proxies == ("127.0.0.1", "::1", "10.20.0.0/16", "192.168.1.5")


@pytest.mark.parametrize("value,needle", [
    ('["*"]', "does not appear to be an IPv4 or IPv6 network"),
    ('["proxy.kantor.local"]', "does not appear to be an IPv4 or IPv6 network"),
    ('["0.0.0.0/0"]', "would trust every client"),
    ('["::/0"]', "would trust every client"),
    ('["10.20.0.1/16"]', "has host bits set"),
    ('"127.0.0.1"', "[server.trusted_proxies]"),
])
def test_bad_trusted_proxies_refuse_to_start(value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse(f"[server]\ntrusted_proxies = {value}\n" + PRINTER, "/etc/printd/printd.toml")
    msg = str(exc.value)
    assert msg.startswith("/etc/printd/printd.toml: [server.trusted_proxies]") and needle in msg and "\n" not in msg


def test_the_shipped_config_trusts_nobody() -> None:
    shipped = Path(__file__).resolve().parent.parent / "config" / "printd.toml"
    assert config.load(shipped).server.trusted_proxies == ()
