"""A PEP 517 build backend for tests: packs `printd/` into a wheel with the stdlib alone.

tests/test_install.py swaps it in for setuptools in a copy of the source tree, so that
`scripts/install` runs its real `python -m venv` + `pip install SRC[cups]` offline and in seconds
(setuptools and wheel would have to come from an index inside pip's isolated build env).
It reads name, version, dependencies, extras and console scripts from pyproject.toml's [project].
"""
from __future__ import annotations

import base64
import hashlib
import tomllib
import zipfile
from pathlib import Path
from typing import Any


def _project() -> dict[str, Any]:
    return tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    """Nothing to install in the isolated build env: no index needed."""
    return []


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Write `<name>-<version>-py3-none-any.whl` into wheel_directory and return its file name."""
    project = _project()
    name, version = project["name"], project["version"]
    dist_info = f"{name}-{version}.dist-info"
    wheel_name = f"{name}-{version}-py3-none-any.whl"
    record: list[str] = []

    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if "requires-python" in project:
        meta.append(f"Requires-Python: {project['requires-python']}")
    meta += [f"Requires-Dist: {dep}" for dep in project.get("dependencies", [])]
    for extra, deps in project.get("optional-dependencies", {}).items():
        meta.append(f"Provides-Extra: {extra}")
        meta += [f'Requires-Dist: {dep}; extra == "{extra}"' for dep in deps]
    scripts = project.get("scripts", {})

    with zipfile.ZipFile(Path(wheel_directory) / wheel_name, "w", zipfile.ZIP_DEFLATED) as zf:

        def add(arcname: str, data: bytes) -> None:
            zf.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{arcname},sha256={digest},{len(data)}")

        for path in sorted(Path(name).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                add(path.as_posix(), path.read_bytes())
        add(f"{dist_info}/METADATA", ("\n".join(meta) + "\n").encode())
        add(f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: printd-tests\nRoot-Is-Purelib: true\n"
                                  b"Tag: py3-none-any\n")
        if scripts:
            entry_points = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
            add(f"{dist_info}/entry_points.txt", entry_points.encode())
        record.append(f"{dist_info}/RECORD,,")
        zf.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel_name
