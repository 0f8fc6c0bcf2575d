"""Browser tests: the dashboard served on a free local port, driven by Playwright in
Debian's chromium (`make test` installs it), with every request the page makes recorded - a
page that asks anything of a host other than this machine fails its test."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytest.importorskip("panel", reason="the dashboard extra is not installed")
playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: as the probe of this machine found: without the background-networking flags chromium
#: phones Google at start, which a closed network refuses
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL = {"localhost", "127.0.0.1", "[::1]", "::1"}
#: how long a page may take to show what a test waits for (ms); CI's two cores are shared
WAIT_MS = 30_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail("the dashboard's browser tests need Debian's chromium: "
                    "apt-get install -y chromium (make test does this)")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., str]]:
    """`serve(target)` starts the dashboard on `target` (None: the empty page) and returns
    its URL; every server stops at the test's end."""
    from dashboard.serve import server

    servers = []

    def start(target: Path | str | None = None) -> str:
        port = free_port()
        servers.append(server(target, tmp_path / "dashboard-out", port, threaded=True))
        return f"http://localhost:{port}/"

    yield start
    for running in servers:
        running.stop()


class Page:
    """A Playwright page that records the hosts it asked, and saves screenshots under the
    test's temp folder (`shot`)."""

    def __init__(self, page, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.requested: list[str] = []
        page.on("request", lambda request: self.requested.append(request.url))
        page.set_default_timeout(WAIT_MS)

    def shot(self, name: str) -> Path:
        path = self.folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def outside(self) -> list[str]:
        """Every URL the page requested from a host other than this machine."""
        return [url for url in self.requested
                if urlparse(url).scheme in ("http", "https", "ws", "wss")
                and urlparse(url).hostname not in LOCAL]


@pytest.fixture
def page(browser, tmp_path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    wrapped = Page(context.new_page(), tmp_path)
    yield wrapped
    context.close()
    assert wrapped.outside() == [], "the page asked hosts outside this machine"
