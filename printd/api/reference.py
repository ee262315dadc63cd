"""The API's field reference as Markdown, generated from the same OpenAPI document the daemon serves.

`python -m printd.api.reference > docs/api-reference.md` writes the file shipped in the repository; a test
checks the shipped file equals a fresh rendering, so the reference cannot drift from the code.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

HEADER = """# printd API v1: field reference

Generated from the daemon's own `/openapi.json` by `python -m printd.api.reference > docs/api-reference.md`
(a test fails when this file and the code disagree). How to use the API (idempotency, retries, webhooks,
errors): [integration.md](integration.md). Every object may gain fields: ignore the ones you do not know.
"""


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_type(schema['additionalProperties'])}"
    return str(kind)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(doc: dict[str, Any]) -> str:
    """The reference of `doc` (an OpenAPI document as printd serves it)."""
    out = [HEADER, "## Operations\n", "| method | path | summary | success answer |", "|---|---|---|---|"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            answers = [f"{status} {_type(r['content']['application/json']['schema'])}"
                       if "application/json" in r.get("content", {}) else status
                       for status, r in op["responses"].items() if status.startswith("2")]
            out.append(f"| {method.upper()} | `{path}` | {_cell(op.get('summary', ''))} | {', '.join(answers)} |")
    out.append("\nEvery `/api/` operation may also answer the errors listed under [Error](#error).\n")
    out.append("## Webhooks\n")
    for name, item in doc.get("webhooks", {}).items():
        op = item["post"]
        body = op["requestBody"]["content"]["application/json"]["schema"]
        out.append(f"- `{name}`: {_cell(op.get('summary', ''))}; body {_type(body)}; header "
                   f"`{op['parameters'][0]['name']}`: {_cell(op['parameters'][0]['description'])}")
    out.append("\n## Objects\n")
    for name, schema in sorted(doc["components"]["schemas"].items()):
        out.append(f"### {name}\n")
        if schema.get("description"):
            out.append(_cell(schema["description"]) + "\n")
        if "enum" in schema:
            out.append("One of: " + ", ".join(f"`{v}`" for v in schema["enum"]) + "\n")
            continue
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        if props:
            out += ["| field | type | required | description |", "|---|---|---|---|"]
            for field, spec in props.items():
                out.append(f"| `{field}` | {_type(spec)} | {'yes' if field in required else ''} | "
                           f"{_cell(spec.get('description', ''))} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def current() -> str:
    """The reference of the document this version of printd serves (embedded default config)."""
    from printd.app import build_app
    from printd.config import load

    with tempfile.TemporaryDirectory() as state:
        return render(build_app(load(None), Path(state)).openapi())


if __name__ == "__main__":
    sys.stdout.write(current())
