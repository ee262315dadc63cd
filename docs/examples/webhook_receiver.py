"""A minimal printd webhook receiver: standard library only, for an enrollment system to start from.

    PRINTD_WEBHOOK_SECRET=whsec_... python3 webhook_receiver.py 9000

It checks the signature on the raw body, refuses stale or forged requests, ignores an event id it
has already handled (a redelivery), and answers 204 at once. Real work (updating the resident's
record) belongs in your own queue, after the answer: printd waits at most 5 s for it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ["PRINTD_WEBHOOK_SECRET"]
TOLERANCE_S = 300
seen_event_ids: set[str] = set()  # use a table with a unique key in production


def signature_ok(header: str, body: bytes) -> bool:
    """`X-Printd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        t = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - t) > TOLERANCE_S:
        return False  # too old (a replay) or a clock far off
    expected = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected.encode(), v.encode()) for v in fields.get("v1", []))


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not signature_ok(self.headers.get("X-Printd-Signature", ""), body):
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        event = json.loads(body)
        if event["event_id"] not in seen_event_ids:
            seen_event_ids.add(event["event_id"])
            job = event["job"]
            print(f"{event['occurred_at']} {job['request_id']} {job['id']} -> {job['state']}"
                  f" ({job['state_reason'] or '-'})", flush=True)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
