"""The results page in a real browser with no network but its own folder: readable, styled, inert, self-contained.

Each district's quality folder is served by a stdlib HTTP server on 127.0.0.1; the browser context
lets requests to that origin through and aborts (and records) every other one. Debian's Chromium is
driven by Playwright (browser downloads are not possible everywhere); without it the test is skipped
with the reason, except under ``CI=true``, where it fails. A full-page screenshot of each page is left
in ``tests/artifacts/`` for a person to look at.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.quality.pages import SCRIPT_ID

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# What the page's inline CSS sets (plugins/tthc/quality/page.html.j2): applied only if the styles are present.
VERDICT_BACKGROUND = {"874": "rgb(253, 232, 232)", "872": "rgb(255, 244, 214)"}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(folder)`` -> the origin of an HTTP server over that folder alone, stopped after the test."""
    servers: list[ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Visit:
    """One page opened in a fresh context whose requests leave only for ``origin``; the rest are recorded."""

    def __init__(self, browser: Any, origin: str) -> None:
        self.origin = origin
        self.outside: list[str] = []
        self.served: list[str] = []
        self.dialogs: list[str] = []
        # CSP bypassed: the page's meta CSP would stop an outside load before any route sees it, and this
        # test is about what the markup itself asks for (the CSP is checked apart, as defence in depth).
        self.context = browser.new_context(viewport={"width": 1200, "height": 900}, bypass_csp=True)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.goto(f"{origin}/index.html", wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def _route(self, handled: Any) -> None:
        url = handled.request.url
        if url.startswith(f"{self.origin}/"):
            self.served.append(url)
            handled.continue_()
        else:
            self.outside.append(url)
            handled.abort()


def test_the_harness_sees_outside_loads_and_scripts(browser: Any, serve: Any, tmp_path: Path) -> None:
    """What the Data Docs did (a CDN stylesheet, a tracking logo, a script from a field) is caught here."""
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        '<link rel="stylesheet" href="https://cdn.example.org/bootstrap.css"></head><body>'
        '<img src="https://bucket.example.org/logo.png?context=1"><script>alert(1)</script></body></html>',
        encoding="utf-8")
    visit = Visit(browser, serve(tmp_path))
    try:
        assert sorted(visit.outside) == ["https://bucket.example.org/logo.png?context=1",
                                         "https://cdn.example.org/bootstrap.css"]
        assert visit.dialogs == ["1"]
    finally:
        visit.context.close()


@pytest.mark.parametrize("code", ["874", "872"])
def test_the_page_reads_and_looks_right_with_no_network(browser: Any, serve: Any,
                                                        gate_root: tuple[Path, dict[str, Path]], code: str) -> None:
    _, folders = gate_root
    visit = Visit(browser, serve(folders[code]))
    page = visit.page
    try:
        body = page.inner_text("body")
        if code == "874":  # blocked on its dossiers, with a feedback item quarantined
            assert page.get_by_text("BLOCKED", exact=True).is_visible()
            assert page.locator("#dossiers h3", has_text="dossiers.finished_has_due_date").is_visible()
            assert page.locator("#dossiers .ids li", has_text="NO-DUE-0").is_visible()
            assert page.locator("#feedback .ids li", has_text="PB-BAD").is_visible()
            assert "Why it is blocked" in body and "quarantine/feedback.parquet" in body
        else:  # passed with quarantined records, one of them with a hostile id shown as text
            assert page.get_by_text("Passed with 3 quarantined", exact=True).is_visible()
            assert page.locator("#dossiers h3", has_text="dossiers.finished_has_due_date").is_visible()
            assert page.locator("#dossiers .ids li", has_text=SCRIPT_ID).is_visible()
            assert page.locator("#feedback .ids li", has_text="PA-BAD").is_visible()
        assert page.locator("script").count() == 0 and page.locator("img").count() == 0
        assert visit.dialogs == []

        verdict = page.eval_on_selector("#verdict", "e => getComputedStyle(e).backgroundColor")
        weight = page.eval_on_selector("h1", "e => getComputedStyle(e).fontWeight")
        assert (verdict, weight) == (VERDICT_BACKGROUND[code], "700")

        assert visit.outside == []
        assert visit.served and all(url.startswith(f"{visit.origin}/") for url in visit.served)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"quality-results-{code}.png"), full_page=True)
    finally:
        visit.context.close()
