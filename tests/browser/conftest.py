"""The browser fixture shared by the Chromium tests (one browser per module)."""
from __future__ import annotations

import pytest

from tests.helpers.browser import launch


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()
