"""config/60-printd-card-printers.rules: every line parses as udev would read it, every vendor is covered.

Two checks: a parser of our own that carries udev's syntax rules (keys, operators, attributes,
quoting, comma style, GOTO/LABEL pairs), and udev's own parser: `udevadm verify` from systemd 254
on, and on older udevadm (Debian 12 ships 252, which has no verify) `udevadm test` run in a private
mount namespace that shows it only this file.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "config" / "60-printd-card-printers.rules"
GROUP = "printd"
MODE = "0660"
VENDORS = {
    "0f49": "evolis",
    "09b0": "fargo",
    "0a5f": "zebra",
    "0a27": "datacard",
    "0c1f": "magicard",
}

MATCH = {"==", "!="}
# key -> (operators udev accepts, whether it takes {attribute}: True required, False never, None optional)
KEYS: dict[str, tuple[set[str], bool | None]] = {
    "ACTION": (MATCH, False),
    "DEVPATH": (MATCH, False),
    "KERNEL": (MATCH, False),
    "KERNELS": (MATCH, False),
    "SUBSYSTEM": (MATCH, False),
    "SUBSYSTEMS": (MATCH, False),
    "DRIVER": (MATCH, False),
    "DRIVERS": (MATCH, False),
    "ATTR": (MATCH | {"="}, True),
    "ATTRS": (MATCH, True),
    "SYSCTL": (MATCH | {"="}, True),
    "ENV": (MATCH | {"=", "+="}, True),
    "CONST": (MATCH, True),
    "TAG": (MATCH | {"=", "+=", "-="}, False),
    "TAGS": (MATCH, False),
    "TEST": (MATCH, None),
    "PROGRAM": (MATCH | {"="}, False),
    "RESULT": (MATCH, False),
    "IMPORT": (MATCH | {"="}, True),
    "NAME": (MATCH | {"=", ":="}, False),
    "SYMLINK": (MATCH | {"=", "+=", "-=", ":="}, False),
    "OWNER": ({"=", ":="}, False),
    "GROUP": ({"=", ":="}, False),
    "MODE": ({"=", ":="}, False),
    "SECLABEL": ({"=", "+="}, True),
    "RUN": ({"=", "+=", ":="}, None),
    "OPTIONS": ({"=", "+=", ":="}, False),
    "LABEL": ({"="}, False),
    "GOTO": ({"="}, False),
}
IMPORT_TYPES = {"program", "builtin", "file", "db", "cmdline", "parent"}
BUILTINS = {"blkid", "btrfs", "hwdb", "input_id", "keyboard", "kmod", "net_id", "net_setup_link",
            "path_id", "uaccess", "usb_id"}
TOKEN = re.compile(r'(?P<key>[A-Z_]+)(?:\{(?P<attr>[^{}]+)\})?(?P<op>==|!=|\+=|-=|:=|=)"(?P<value>(?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Token:
    key: str
    attr: str | None
    op: str
    value: str

    @property
    def is_match(self) -> bool:
        return self.op in MATCH


@dataclass(frozen=True)
class Rule:
    lineno: int
    tokens: tuple[Token, ...]

    def get(self, key: str, attr: str | None = None, op: str | None = None) -> list[str]:
        return [t.value for t in self.tokens
                if t.key == key and t.attr == attr and (op is None or t.op == op)]


def parse_rules(text: str) -> list[Rule]:
    """Parse udev rules text; raise AssertionError naming the line on anything udev would warn about."""
    rules: list[Rule] = []
    logical: list[tuple[int, str]] = []
    pending, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = n
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        logical.append((start, pending + raw))
        pending = ""
    assert not pending, "file ends in a line continuation"

    for n, line in logical:
        body = line.strip()
        if not body or body.startswith("#"):
            continue
        assert line == line.rstrip(), f"line {n}: trailing whitespace"
        tokens: list[Token] = []
        pos = 0
        while True:
            m = TOKEN.match(body, pos)
            assert m, f"line {n}: cannot parse at {body[pos:pos + 30]!r}"
            tokens.append(Token(m["key"], m["attr"], m["op"], m["value"]))
            pos = m.end()
            if pos == len(body):
                break
            # udevadm verify's style: exactly ", " between tokens
            assert body.startswith(", ", pos) and body[pos + 2] != " ", f"line {n}: tokens must be separated by ', '"
            pos += 2
        for t in tokens:
            assert t.key in KEYS, f"line {n}: unknown key {t.key}"
            ops, takes_attr = KEYS[t.key]
            assert t.op in ops, f"line {n}: {t.key} does not take {t.op}"
            if takes_attr is True:
                assert t.attr, f"line {n}: {t.key} needs {{attribute}}"
            elif takes_attr is False:
                assert t.attr is None, f"line {n}: {t.key} takes no {{attribute}}"
            if t.key == "IMPORT":
                assert t.attr in IMPORT_TYPES, f"line {n}: IMPORT{{{t.attr}}}"
                if t.attr == "builtin":
                    assert t.value.split()[0] in BUILTINS, f"line {n}: unknown builtin {t.value}"
            if t.key == "ENV" and not t.is_match:
                assert t.attr not in {"ACTION", "SEQNUM", "SUBSYSTEM", "DEVTYPE", "DEVPATH", "DEVNAME", "MAJOR",
                                      "MINOR", "DRIVER", "IFINDEX"}, f"line {n}: ENV{{{t.attr}}} cannot be set"
            assert "%" not in t.value or re.fullmatch(r"(?:[^%]|%[%knpbMmcNrSs])*", t.value), (
                f"line {n}: bad % substitution in {t.value!r}"
            )
        keys = [(t.key, t.attr, t.op) for t in tokens]
        assert len(keys) == len(set(keys)), f"line {n}: duplicate expression"
        assert any(not t.is_match or t.key == "IMPORT" for t in tokens), f"line {n}: the line has no effect"
        rules.append(Rule(n, tuple(tokens)))

    gotos = {r.get("GOTO")[0] for r in rules if r.get("GOTO")}
    labels = [r.get("LABEL")[0] for r in rules if r.get("LABEL")]
    assert len(labels) == len(set(labels)), "a LABEL is defined twice"
    assert gotos == set(labels), f"GOTO targets {gotos} vs labels {set(labels)}"
    return rules


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    return parse_rules(RULES.read_text())


def test_every_line_parses_as_udev_syntax(rules: list[Rule]) -> None:
    assert len(rules) >= 2 * len(VENDORS)


@pytest.mark.parametrize(
    "bad",
    [
        'SUBSYSTEM=="usb",GROUP="printd"',                 # no space after the comma
        'SUBSYSTEM=="usb" , GROUP="printd"',               # space before the comma
        'SUBSYSTEM="usb", GROUP="printd"',                 # assignment to a match-only key
        'SUBSYSTEM=="usb", GROUP=="printd"',               # match on an assign-only key
        'SUBSYSTEM=="usb", GRUOP="printd"',                # unknown key
        'SUBSYSTEM=="usb", ATTR="x"',                      # ATTR without {attribute}
        'SUBSYSTEM=="usb", MODE=0660',                     # unquoted value
        'SUBSYSTEM=="usb"',                                # no effect
        'SUBSYSTEM=="usb", GOTO="nowhere"',                # GOTO without LABEL
        'SUBSYSTEM=="usb", IMPORT{builtin}="usb_idd"',     # unknown builtin
    ],
)
def test_parser_rejects_what_udev_would_complain_about(bad: str) -> None:
    """Control: the parser is strict enough that passing it means something."""
    with pytest.raises(AssertionError):
        parse_rules(bad + "\n")


@pytest.mark.parametrize(("vendor", "name"), sorted(VENDORS.items()))
def test_each_vendor_usb_node_and_tty_go_to_printd(rules: list[Rule], vendor: str, name: str) -> None:
    usb = [r for r in rules if r.get("SUBSYSTEM", op="==") == ["usb"] and r.get("ATTR", "idVendor") == [vendor]]
    tty = [r for r in rules if r.get("SUBSYSTEM", op="==") == ["tty"] and r.get("ATTRS", "idVendor") == [vendor]]
    for found, what in ((usb, "USB device node"), (tty, "tty")):
        assert len(found) == 1, f"{name} ({vendor}): one {what} rule"
        rule = found[0]
        assert rule.get("GROUP") == [GROUP], f"{name} {what}: GROUP"
        assert rule.get("MODE") == [MODE], f"{name} {what}: MODE"
        assert rule.get("ENV", "PRINTD_CARD_PRINTER", "=") == [name]
    assert usb[0].get("ENV", "DEVTYPE", "==") == ["usb_device"], "the device node, not each interface"


def test_vendor_ids_are_lower_case_hex(rules: list[Rule]) -> None:
    ids = [t.value for r in rules for t in r.tokens if t.attr == "idVendor"]
    assert ids and all(re.fullmatch(r"[0-9a-f]{4}", v) for v in ids), ids
    assert set(ids) == set(VENDORS)


def test_modes_are_never_world_accessible(rules: list[Rule]) -> None:
    modes = [v for r in rules for v in r.get("MODE")]
    assert modes and all(re.fullmatch(r"0[0-7][0-7]0", m) for m in modes), modes


def test_stable_symlinks_by_serial(rules: list[Rule]) -> None:
    links = [(r, v) for r in rules for v in r.get("SYMLINK", op="+=")]
    usb = [(r, v) for r, v in links if r.get("SUBSYSTEM", op="==") == ["usb"]]
    tty = [(r, v) for r, v in links if r.get("SUBSYSTEM", op="==") == ["tty"]]
    assert [v for _, v in usb] == ["card-printer/$env{PRINTD_CARD_PRINTER}-$env{ID_SERIAL_SHORT}"]
    assert [v for _, v in tty] == [
        "card-printer/$env{PRINTD_CARD_PRINTER}-$env{ID_SERIAL_SHORT}-if$env{ID_USB_INTERFACE_NUM}"
    ]
    for rule, _ in usb + tty:
        # a device without a serial would get a bare 'evolis-' link shared by all of them
        assert rule.get("ENV", "ID_SERIAL_SHORT", "==") == ["?*"]
    # ID_SERIAL_SHORT comes from the usb_id builtin (sanitised: a raw $attr{serial} may hold spaces,
    # which would split the link), imported for both subsystems before the link rules
    importer = [r for r in rules if r.get("IMPORT", "builtin") == ["usb_id"]]
    assert len(importer) == 1 and not importer[0].get("SUBSYSTEM")
    assert importer[0].lineno < min(r.lineno for r, _ in usb + tty)
    assert not any("$attr{" in v for _, v in links)
    # only card printers get links: a GOTO skips everything else before the link rules
    skip = [r for r in rules if r.get("ENV", "PRINTD_CARD_PRINTER", "!=") == ["?*"] and r.get("GOTO")]
    assert skip and skip[0].lineno < min(r.lineno for r, _ in links)


def test_removal_events_are_skipped(rules: list[Rule]) -> None:
    first = rules[0]
    assert first.get("ACTION", op="==") == ["remove"] and first.get("GOTO")


def _udevadm_has_verify(udevadm: str) -> bool:
    helptext = subprocess.run([udevadm, "--help"], capture_output=True, text=True, timeout=30).stdout
    return re.search(r"^\s+verify\s", helptext, re.MULTILINE) is not None


# Rules are read from these; in the private mount namespace each shows only the file under test.
_RULES_DIRS = ("/etc/udev/rules.d", "/run/udev/rules.d", "/usr/local/lib/udev/rules.d", "/usr/lib/udev/rules.d")
# -N never: the printd group is created by the installer, not on the build machine
_NAME_RESOLUTION_OFF = "Resolving group name is disabled"


def udev_findings(text: str, tmp_path: Path) -> list[str] | None:
    """What udev's own parser says about rules `text`: [] when clean, None when there is no udevadm.

    systemd >= 254: `udevadm verify`. Older (Debian 12: 252): `udevadm test` on /dev/null's sysfs
    entry inside a private mount namespace where the rules directories hold only this file and /dev
    and /run are scratch tmpfs, so the simulation reads our rules and touches nothing on the host.
    """
    udevadm = shutil.which("udevadm")
    if udevadm is None:
        return None
    rules_dir = tmp_path / "rules.d"
    rules_dir.mkdir()
    rules = rules_dir / RULES.name
    rules.write_text(text)
    if _udevadm_has_verify(udevadm):
        result = subprocess.run([udevadm, "verify", "--resolve-names=never", str(rules)],
                                capture_output=True, text=True, timeout=60)
        findings = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith(str(rules))]
        return findings + ([f"exit status {result.returncode}"] if result.returncode else [])
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("udevadm has no verify and unshare (util-linux) is missing")
    script = "\n".join([
        "set -e",
        "mount -t tmpfs printd-test /run",
        "mkdir -p /run/udev/rules.d",
        *(f'[ ! -d {d} ] || mount --bind "$1" {d}' for d in _RULES_DIRS),
        "mount -t tmpfs printd-test /dev",
        'exec "$2" test --resolve-names=never --action=add /sys/class/mem/null',
    ])
    result = subprocess.run([unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                             str(rules_dir), udevadm], capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    if f"Reading rules file: /etc/udev/rules.d/{RULES.name}" not in output:
        pytest.fail(f"udevadm test did not read the rules (a private mount namespace needs root):\n{output}")
    return [line for line in output.splitlines()
            if line.startswith(f"/etc/udev/rules.d/{RULES.name}:") and _NAME_RESOLUTION_OFF not in line]


def test_udev_itself_finds_nothing(rules: list[Rule], tmp_path: Path) -> None:
    findings = udev_findings(RULES.read_text(), tmp_path)
    # without udevadm the parser above (the `rules` fixture) is the whole check
    assert findings in ([], None) and rules


def test_udev_check_would_catch_a_bad_key(tmp_path: Path) -> None:
    """Control: the udev check above is live, whichever form it takes on this machine."""
    bad = RULES.read_text().replace('MODE="0660"', 'MOD="0660"', 1)
    findings = udev_findings(bad, tmp_path)
    assert findings is None or any("MOD" in line for line in findings), findings
