"""Headless Chromium from Debian's packages (/usr/bin/chromium) driven by Playwright, for the console's tests.

Playwright's own browser download is never used: the browser is the one an operator's machine would have.
A missing browser fails the tests (scripts/test.sh installs it), never skips them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium_path() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("Chromium is needed for the console's browser tests: apt-get install chromium")


class Browser:
    """with Browser() as b: page = b.page(); ... Each page() is a fresh context (its own cookies)."""

    def __enter__(self) -> "Browser":
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        return self

    def page(self, locale: str = "zh-CN"):
        context = self._browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        return context.new_page()

    def __exit__(self, *exc) -> None:
        self._browser.close()
        self._pw.stop()


def screenshot(page, name: str) -> None:
    """Saves the page as <name>.png where GASLATCH_SCREENSHOTS points (docs/images to refresh the docs' pictures;
    nowhere when unset)."""
    where = os.environ.get("GASLATCH_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / (name + ".png")), full_page=True)
