"""The browser the browser tests drive: Debian's Chromium through Playwright, headless. Without it
the tests are skipped with a reason, except where ``XINQIAO_REQUIRE_BROWSER=1`` (CI) makes that a
failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        reason = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("XINQIAO_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " and XINQIAO_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # Inside sync_playwright the test runs in another context, where Django opens its own
            # database connection; close it here, or PostgreSQL refuses to drop the test database.
            from django.db import connections

            connections.close_all()
