"""A minimal receiver of Xinqiao referral pushes, for hospital IT (docs/hospital-receiver.md).

Python standard library plus ``fhir.resources`` (``pip install fhir.resources``). It checks the
signature and the timestamp window, keeps each message once by its ``Idempotency-Key``, and parses
the body as a FHIR R4B Bundle. Replace ``Inbox`` with your own store (a table with a unique key
column, written in the same transaction as the referral it holds). This file is run by Xinqiao's
own tests (tests/referrals/test_delivery.py), so what is shown here is what the platform sends.

Run it: ``XINQIAO_SECRET=... python receiver_example.py 8443`` (behind your TLS proxy).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fhir.resources.R4B.bundle import Bundle

WINDOW_SECONDS = 300  # a signed request older (or newer) than this is refused: no replays
MAX_BODY = 5 * 1024 * 1024


def signature_ok(secret: str, timestamp: str, signature: str, body: bytes, *, now: float | None = None,
                 window: int = WINDOW_SECONDS) -> bool:
    """Is ``signature`` (``sha256=<hex>``) the HMAC-SHA256 of ``<timestamp>.<body>`` under the
    shared secret, with the timestamp within ``window`` seconds of now?"""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > window:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class Inbox:
    """What arrived, once per idempotency key, in order of arrival (stand-in for a database)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.keys: set[str] = set()
        self.messages: list[tuple[str, Bundle]] = []

    def store(self, key: str, bundle: Bundle) -> bool:
        """Keep the message; False when this key was kept before (a retry: answer 200 again)."""
        with self._lock:
            if key in self.keys:
                return False
            self.keys.add(key)
            self.messages.append((key, bundle))
            return True


def receive(inbox: Inbox, secret: str, headers: Any, body: bytes) -> tuple[int, dict[str, str]]:
    """Handle one POST: (status, JSON answer). 401 for a bad signature or stale timestamp, 400 for
    a body that is not a FHIR Bundle, 200 when kept, now or before."""
    key = headers.get("Idempotency-Key") or ""
    if not signature_ok(secret, headers.get("X-Xinqiao-Timestamp") or "", headers.get("X-Xinqiao-Signature") or "",
                        body):
        return 401, {"error": "bad signature"}
    if not key:
        return 400, {"error": "no Idempotency-Key"}
    try:
        bundle = Bundle.model_validate_json(body)
    except ValueError:
        return 400, {"error": "not a FHIR R4B Bundle"}
    return 200, {"status": "stored" if inbox.store(key, bundle) else "duplicate"}


class Handler(BaseHTTPRequestHandler):
    inbox: Inbox
    secret: str

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(413, {"error": "too large"})
            return
        status, answer = receive(self.inbox, self.secret, self.headers, self.rfile.read(length))
        self._answer(status, answer)

    def _answer(self, status: int, answer: dict[str, str]) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep request logs out of the console
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default listen backlog (5) drops connections under a burst of retries
    daemon_threads = True


def make_server(host: str, port: int, secret: str, inbox: Inbox, handler: type[Handler] = Handler) -> Server:
    """A threaded HTTP server that keeps what arrives in ``inbox``."""
    bound = type("BoundHandler", (handler,), {"inbox": inbox, "secret": secret})
    return Server((host, port), bound)


if __name__ == "__main__":
    server = make_server("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8443, os.environ["XINQIAO_SECRET"],
                         Inbox())
    server.serve_forever()
