"""From a hostile source to the page an operator opens: smuggled personal data and active content go nowhere.

The source sends, inside fields the pipeline keeps, a unit code that is an object holding a name and
a phone number, and an id and a procedure name carrying HTML. Extraction sets the wrong-typed record
aside by id and field; the quality gate quarantines it (check ``field_types``) and the record with a
status outside the list; the results page names both, escaped; no personal value is written anywhere.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from tests.hostile.server import HostileServer, Reply, dossier, feedback, paged
from tests.quality.pages import scan_html, start_tags
from tthc import pipeline
from tthc.config import load_config
from tthc.district_month import DistrictMonth
from tthc.periods import Period
from tthc.sources import RetryPolicy, fetch_dossiers, fetch_feedback

PERIOD = Period(2023, 11)
FAST = RetryPolicy(max_attempts=2, backoff_initial_seconds=0.01, backoff_max_seconds=0.02, timeout_seconds=2.0)
NAME, PHONE = "Nguyễn Văn Hostile", "0909000111"
SCRIPT_ID = 'H87.872-231101-<script>alert("id")</script>'
SCRIPT_NAME = '<img src=x onerror=alert("name")>'


def visible_text(html: str) -> str:
    """The page's text as a browser shows it (entities decoded), without tags."""
    parts: list[str] = []

    class Text(HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

    Text(convert_charrefs=True).feed(html)
    return " ".join(parts)


def test_smuggled_values_never_land_and_the_page_shows_them_escaped(tmp_path: Path) -> None:
    config = load_config()
    unit = config.hierarchy_for("2023-11").get("872")
    commune = sorted(unit.child_codes)[0]
    records = [dossier(n, MaDonVi=commune) for n in range(1, 400)]
    records.append(dossier(500, MaDonVi={"ten": NAME, "sdt": PHONE}))  # personal data in an allowed field
    records.append(dossier(501, MaHoSo=SCRIPT_ID, TenTTHC=SCRIPT_NAME, TrangThaiHoSo=11))  # status outside 1..10
    items = [feedback(n, unit_code=commune) for n in range(1, 20)]
    root, warehouse = tmp_path / "data", f"sqlite:///{tmp_path / 'warehouse.db'}"
    month = DistrictMonth(config, PERIOD, unit, root, warehouse)
    with HostileServer(paged(records)) as one_stop, \
            HostileServer(lambda seen: Reply.json({"items": items, "next_cursor": None})) as hotline:
        d = pipeline.extract_dossiers(month, lambda c, f, t: fetch_dossiers(one_stop.url(), "t", c, f, t, policy=FAST))
        pipeline.extract_feedback(month, lambda c, f, t: fetch_feedback(hotline.url(), "k", c, f, t, policy=FAST))
    assert d["records"] == 400 and d["rejected"] == 1
    checked = pipeline.validate_sources(month)

    summary = json.loads(Path(checked["summary"]).read_text("utf-8"))
    dossiers = summary["sources"]["dossiers"]
    assert sorted(dossiers["quarantined_ids"]) == sorted([dossier(500)["MaHoSo"], SCRIPT_ID])
    checks = {f["check"]: f for f in dossiers["findings"]}
    assert checks["field_types"]["ids"] == [dossier(500)["MaHoSo"]] and checks["status_in_set"]["ids"] == [SCRIPT_ID]

    html = Path(checked["results_page"]).read_text("utf-8")
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert [tag for tag, _ in start_tags(html) if tag in ("script", "img", "iframe", "object")] == []
    text = visible_text(html)
    assert SCRIPT_ID in text  # shown to the operator as text
    assert dossier(500)["MaHoSo"] in text and "MaDonVi" in text
    pages, problems = scan_html(root)
    assert pages and problems == []

    for path in root.rglob("*"):  # Parquet, JSON, HTML: nothing personal anywhere under the data root
        if path.is_file():
            data = path.read_bytes()
            for value in (NAME, PHONE, "Nguyễn Văn An", "0912345678", "Trần Thị Bình", "0987654321"):
                assert value.encode("utf-8") not in data, (path, value)
