"""Shared pieces of the results-page tests: a data root with a blocked and a quarantined district, and the scan.

The scan parses every page with the stdlib ``html.parser`` (tags and attributes as a browser sees
them, not text that merely looks like markup) and lists whatever could make a browser load something
from outside the page's own folder, or run code.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.quality.conftest import CONFIG, PERIOD, UNIT, dossier, feedback, land
from tthc import pipeline
from tthc.district_month import DistrictMonth
from tthc.quality import QualityError

BLOCKED_UNIT = CONFIG.hierarchy_for("2023-11").get("874")
SCRIPT_ID = "<script>alert(1)</script>"
IMG_VALUE = '"><img src=x onerror=alert(2)>'
# Attributes through which a browser fetches, navigates or embeds something.
URL_ATTRIBUTES = {"src", "href", "srcset", "imagesrcset", "poster", "data", "action", "formaction", "background",
                  "cite", "longdesc", "manifest", "ping", "xlink:href", "codebase", "archive", "lowsrc"}
CSS_URL = re.compile(r"url\s*\(|@import|image-set\s*\(", re.IGNORECASE)
ABSOLUTE_URL = re.compile(r"https?://", re.IGNORECASE)


def blocked_and_quarantined(root: Path) -> dict[str, Path]:
    """Run the gate over two districts of 2023-11 under ``root``; their quality folders by unit code.

    - 872 passes with records quarantined in both sources (one of them with a hostile id and one with a
      hostile unit code), and the metrics step runs (its results join the page);
    - 874 is blocked: more dossiers without a due date than may be set aside, while its feedback has a
      record quarantined (a quarantine in another source of the blocked district).
    """
    url = f"sqlite:///{root / 'warehouse.db'}"
    good = [dossier(f"H87.872-231101-{i:04d}") for i in range(30)]
    land(root, [*good, dossier(SCRIPT_ID, NgayHenTra=None), dossier("BAD-UNIT", MaDonVi=IMG_VALUE)],
         [feedback("PA-1"), feedback("PA-BAD", category="xay_dung")])
    pipeline.validate_sources(DistrictMonth(CONFIG, PERIOD, UNIT, root, url))
    pipeline.compute_metrics(DistrictMonth(CONFIG, PERIOD, UNIT, root, url), "run-1")

    code = BLOCKED_UNIT.code
    records = [dossier(f"H87.{code}-231101-{i:04d}", MaDonVi=code) for i in range(20)]
    no_due = [dossier(f"NO-DUE-{i}", MaDonVi=code, NgayHenTra=None) for i in range(5)]
    items = [feedback(f"PB-{i}", district_code=code, unit_code=code) for i in range(5)]
    items.append(feedback("PB-BAD", district_code=code, unit_code=code, status="closed"))
    land(root, [*records, *no_due], items, unit_code=code)
    try:
        pipeline.validate_sources(DistrictMonth(CONFIG, PERIOD, BLOCKED_UNIT, root, url))
    except QualityError:
        pass
    else:
        raise AssertionError(f"district {code} should be blocked")
    return {c: root / "quality" / PERIOD.name / c for c in (UNIT.code, code)}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def _inside(folder: Path, target: str) -> str | None:
    """Why ``target`` (an attribute's URL) leaves ``folder`` or is missing; None when it stays inside and exists."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith(("/", "\\")):
        return "not relative"
    if not parts.path:
        return None  # a fragment of the page itself
    path = unquote(parts.path)
    if ".." in Path(path).parts:
        return "leaves the folder"
    if not (folder / path).is_file():
        return "points to nothing"
    return None


def scan_html(root: Path) -> tuple[list[Path], list[str]]:
    """Every ``*.html`` under ``root`` and what is wrong in them (empty when every page is self-contained)."""
    pages = sorted(root.rglob("*.html"))
    problems: list[str] = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(root)
        if ABSOLUTE_URL.search(text):
            problems.append(f"{where}: an http(s) URL: {ABSOLUTE_URL.search(text).group(0)}")
        parser = _Page()
        parser.feed(text)
        parser.close()
        for tag, attrs in parser.tags:
            if tag in ("script", "iframe", "object", "embed", "base", "img", "video", "audio", "source", "frame"):
                problems.append(f"{where}: a <{tag}> element")
            if tag == "link":
                problems.append(f"{where}: a <link> element {attrs}")
            if tag == "meta" and any(k == "http-equiv" and (v or "").lower() == "refresh" for k, v in attrs):
                problems.append(f"{where}: a meta refresh")
            for name, value in attrs:
                name = name.lower()
                if name.startswith("on"):
                    problems.append(f"{where}: an event handler attribute {name} on <{tag}>")
                if name == "style" and value and CSS_URL.search(value):
                    problems.append(f"{where}: a CSS url()/@import in a style attribute of <{tag}>")
                if name in ("srcset", "imagesrcset"):
                    problems.append(f"{where}: a {name} on <{tag}>")
                elif name in URL_ATTRIBUTES and value is not None:
                    why = _inside(page.parent, value.strip())
                    if why:
                        problems.append(f"{where}: <{tag} {name}={value!r}> {why}")
        for css in parser.styles:
            if CSS_URL.search(css):
                problems.append(f"{where}: a CSS url()/@import in a <style> element")
    return pages, problems


def page_text(folder: Path) -> str:
    return (folder / "index.html").read_text(encoding="utf-8")


def start_tags(html: str) -> list[tuple[str, dict[str, Any]]]:
    parser = _Page()
    parser.feed(html)
    parser.close()
    return [(tag, dict(attrs)) for tag, attrs in parser.tags]
