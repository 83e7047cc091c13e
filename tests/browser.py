"""Helpers for the browser tests: finding Chromium, opening pages, saving screenshots.

The tests drive Debian's Chromium (``apt-get install chromium``) through
Playwright's Python package; Playwright's own browser download is not used.
Without either they skip, saying why, unless ``QUIZ_REQUIRE_BROWSER=1`` (CI)
makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("QUIZ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_REQUIRED = os.environ.get("QUIZ_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT_DIR = Path(__file__).resolve().parents[1] / "test-output"

WAIT_MS = 15_000  # for any text to appear: generous for a slow CI machine
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LAPTOP = {"viewport": {"width": 1280, "height": 800}}


def browser_problem() -> str | None:
    """None if the browser tests can run here, else why not."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set QUIZ_CHROMIUM)"
    return None


def require_browser() -> None:
    problem = browser_problem()
    if problem is None:
        return
    if BROWSER_REQUIRED:
        pytest.fail(f"browser tests are required here (QUIZ_REQUIRE_BROWSER=1) but {problem}")
    pytest.skip(f"browser tests skipped: {problem}")


class Pages:
    """Every page a test opened, each in its own browser context (its own localStorage:
    its own user), with the uncaught script errors of each."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.contexts: list = []
        self.errors: list[str] = []

    async def open(self, path: str, device: dict, label: str, route_socket=None):
        """A new page in a new context; ``route_socket`` sees its WebSocket traffic (Playwright's routing)."""
        context = await self.browser.new_context(**device)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{label}: {error}"))
        if route_socket is not None:
            # Every socket the page opens: a reconnect's URL carries ?room=CODE.
            await page.route_web_socket(re.compile(r"/ws(\?.*)?$"), route_socket)
        await page.goto(self.base_url + path)
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@contextlib.asynccontextmanager
async def answers_open_at_once(tmp_path: Path) -> AsyncIterator:
    """A real server for a browser test (SQLite, the system clock) whose answers open as
    each question shows: no get-ready time (tests/test_host_screen.py tests that), so a
    test taps as soon as a question is there."""
    from quiz_actors.clock import SystemClock
    from quiz_actors.settings import Settings
    from tests.conftest import RunningServer

    settings = Settings(store=f"sqlite:///{tmp_path}/events.sqlite3", progress_interval_s=0.05, get_ready_s=0)
    running = await RunningServer(settings, SystemClock()).start()
    try:
        yield running
    finally:
        await running.stop()


# ---------------------------------------------------------------- fixtures
# Every test module has these (tests/conftest.py names this module in ``pytest_plugins``);
# ``pages`` needs a ``live_server`` fixture of the module's own.


@pytest.fixture
async def browser():
    """Debian's Chromium, headless, for one test."""
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def pages(browser, live_server):
    """Pages on the module's ``live_server``, closed after the test."""
    from playwright.async_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT_MS)
    opened = Pages(browser, live_server.base_url)
    yield opened
    await opened.close()


def expect(locator):
    """Playwright's ``expect``, imported when a browser test runs (Playwright is a test extra)."""
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(locator)


async def screenshot(page, name: str) -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    path = OUTPUT_DIR / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
