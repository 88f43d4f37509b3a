"""Browser fixtures: Debian's Chromium driven by Playwright, and real Streamlit servers.
Helpers the tests call (screenshot, wait_for_app) are in tests/browser_support.py."""

from __future__ import annotations

import os

import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port, start_server


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()


def _serve(*options):
    port = free_port()
    process = start_server(port, *options)
    return f"http://127.0.0.1:{port}", process


@pytest.fixture
def fresh_server():
    """A server started for this test alone, so its first request is really the first."""
    url, process = _serve()
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def dark_server():
    """A fresh server whose configured theme is dark."""
    url, process = _serve("--theme.base", "dark")
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="session")
def server():
    """One server shared by the tests that do not care about being first."""
    url, process = _serve()
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture
def offline(page):
    """The page with every request that is not a file refused (and remembered), and no page errors:
    for files that must open from disk with no network (the standalone player, the static site)."""
    refused, errors = [], []

    def route(request_route):
        if request_route.request.url.startswith("file:"):
            request_route.continue_()
        else:
            refused.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield page
    assert refused == [], f"the page tried to reach the network: {refused}"
    assert errors == [], f"errors in the page: {errors}"
