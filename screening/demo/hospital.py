"""Where the demo hospital's system listens, and the secret the demo agreement shares with it."""

from __future__ import annotations

import hashlib

from django.conf import settings

DEFAULT_PORT = 8099


def demo_secret() -> str:
    """The demo agreement's shared secret: derived from this installation's secret key, never printed."""
    return hashlib.sha256(f"{settings.SECRET_KEY}:demo-hospital-receiver".encode()).hexdigest()


def demo_endpoint(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}/fhir"
