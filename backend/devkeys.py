"""Local secrets for development and tests, generated once and kept in an ignored file.

Production never comes here: there ``SECRET_KEY`` and ``FIELD_ENCRYPTION_KEYS`` must be set.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def load_or_create(path: Path) -> dict[str, str]:
    """Read ``KEY=value`` lines from ``path``, creating the file with fresh keys if missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        body = (
            "# Generated once by Xinqiao for local development. Never commit, never use in production.\n"
            f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
            f"FIELD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n"
        )
        path.write_text(body, encoding="utf-8")
        path.chmod(0o600)
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values
