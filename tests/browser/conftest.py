"""Browser fixtures: Debian's Chromium driven by Playwright, and real Streamlit servers.
Helpers the tests call (screenshot, wait_for_app) are in tests/browser_support.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from playwright.sync_api import expect

from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port, new_page, start_server

# expect() retries until this many ms: Playwright's 5 s is short for a Streamlit rerun on a busy
# 2-core machine, and a longer bound costs nothing when the condition comes true early.
expect.set_options(timeout=20_000)


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
    opened = new_page(browser)
    yield opened
    opened.context.close()


@pytest.fixture
def small_page(browser):
    """A page at 1366x768, the smallest laptop screen the chapter's pages are looked at on."""
    opened = new_page(browser, viewport=(1366, 768))
    yield opened
    opened.context.close()


class _Server:
    def __init__(self, options: tuple[str, ...]):
        port = free_port()
        self.process = start_server(port, *options)
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


@pytest.fixture(scope="session")
def _shared_servers():
    """Servers kept for the whole session, one per set of options: starting one (a Python that
    imports torch and Streamlit) costs seconds, and most tests only need one that answers."""
    servers: dict[tuple[str, ...], _Server] = {}
    yield servers
    for started in servers.values():
        started.stop()


@pytest.fixture
def app_server(_shared_servers):
    """The one way to get a Streamlit server: app_server(*options, fresh=False) -> its URL.
    With the same options, tests share one server for the session; fresh=True starts one for this
    test alone (stopped after it), for a test whose first request must really be the first."""
    fresh_ones = []

    def serve(*options: str, fresh: bool = False) -> str:
        if fresh:
            fresh_ones.append(_Server(options))
            return fresh_ones[-1].url
        if options not in _shared_servers:
            _shared_servers[options] = _Server(options)
        return _shared_servers[options].url

    yield serve
    for started in fresh_ones:
        started.stop()


@pytest.fixture
def server(app_server):
    """The shared server with the app's own configuration (what most browser tests use)."""
    return app_server()


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


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser is a browser test (`-m "not browser"` leaves them out)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
