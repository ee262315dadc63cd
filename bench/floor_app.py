"""The framework floor: a bare FastAPI app that takes printd's job request and stores nothing.

It receives the same bytes on the same path, parses the same JSON into a plain dict (no pydantic
model, no checks, no disk), and answers 201 with a small JSON object. It is served by uvicorn
exactly as `printd serve` serves printd (same `uvicorn.Config` options, same loop and HTTP parser,
chosen by uvicorn), so the difference between the two is what printd itself costs.

    python -m bench.floor_app --port 8741
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
from typing import Any

import uvicorn
from fastapi import FastAPI, Request

app = FastAPI(title="floor")
_ids = itertools.count(1)


@app.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@app.post("/api/v1/jobs", status_code=201)
async def submit(request: Request) -> dict[str, Any]:
    body = await request.json()
    return {"id": f"floor-{next(_ids)}", "request_id": body.get("request_id"), "state": "queued"}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args(argv)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None, access_log=False,
                            timeout_graceful_shutdown=10, lifespan="on")
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
