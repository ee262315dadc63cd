"""A real webhook receiver for tests: `http.server` on a loopback port, in a thread, recording every POST."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from printd.notify.signature import verify_signature
from tests.support import free_port


@dataclass(frozen=True)
class Received:
    """One POST as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def event_id(self) -> str:
        return str(self.doc["event_id"])

    @property
    def job_id(self) -> str:
        return str(self.doc["job"]["id"])

    @property
    def state(self) -> str:
        return str(self.doc["job"]["state"])

    def signed_by(self, secret: str, tolerance_s: float = 300) -> bool:
        return verify_signature(secret, self.headers.get("x-printd-signature"), self.body, tolerance_s)


class Receiver:
    """Records webhook POSTs; `answer(received) -> status` decides the reply (default 200)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.answer: Callable[[Received], int] = lambda _r: 200
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._hold_armed = False
        self.held: Received | None = None
        self._held_event = threading.Event()
        self._release = threading.Event()
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # the sender died mid-body (the daemon was killed): a real server drops it unanswered
                    self.close_connection = True
                    return
                rec = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                status = receiver.answer(rec)
                if 200 <= status < 300:
                    with receiver._lock:
                        receiver.received.append(rec)
                receiver._maybe_hold(rec)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a sender that died while we answered (the daemon was killed): expected here

        self._server = Server(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def hold_next(self) -> threading.Event:
        """Process the next POST but keep its answer back until `release()`; the event is set once held.

        Killing the sender meanwhile makes the case "the receiver took it, the sender never heard".
        """
        with self._lock:
            self._hold_armed = True
        return self._held_event

    def release(self) -> None:
        self._release.set()

    def _maybe_hold(self, rec: Received) -> None:
        with self._lock:
            hold = self._hold_armed and self.held is None
            if hold:
                self.held = rec
        if hold:
            self._held_event.set()
            self._release.wait(30)

    def stop(self) -> None:
        """Close the port: connections are refused until `start()` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def snapshot(self) -> list[Received]:
        """What was accepted (answered 2xx) so far, in arrival order."""
        with self._lock:
            return list(self.received)

    def by_job(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        for r in self.snapshot():
            out.setdefault(r.job_id, []).append(r)
        return out

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
