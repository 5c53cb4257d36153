"""Connector to the one-stop dossier system: every dossier open at some moment of a window, once.

Why several passes: the system is live while we page through it (sources.md): a record may appear
on two pages or move between pages, and ``total`` may change. Repeats are merged by ``MaHoSo``;
a record that moved backwards past our cursor would be lost, so a pass that read fewer distinct
records than the smallest ``total`` it was told is followed by another, and the union is accepted
once a pass is complete or a re-read brings nothing new. A list that never settles fails loudly
rather than counting short.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tthc.records import ONE_STOP, clean_dossier, merge_by_id
from tthc.sources.http import JsonClient, RetryPolicy, SourceError

log = logging.getLogger(__name__)
PATH = "/api/v1/dossiers"


@dataclass
class DossierExtract:
    """The dossiers of one district and window, without personal data, plus what it took to get them."""

    records: list[dict[str, Any]]
    passes: int
    requests: int
    repeats: int
    transient_failures: int
    notes: list[str] = field(default_factory=list)


def fetch_dossiers(base_url: str, token: str, district: str, active_from: date, active_to: date, *,
                   policy: RetryPolicy | None = None, page_size: int = 1000, conn_id: str = "tthc_one_stop",
                   session: Any = None) -> DossierExtract:
    """All dossiers of ``district`` open at some moment of ``[active_from, active_to)`` (local dates)."""
    policy = policy or RetryPolicy()
    client = JsonClient(
        ONE_STOP, base_url, {"Authorization": f"Bearer {token}", "Accept": "application/json"}, policy,
        session=session,
        fix_auth=f"Check the bearer token in the password of Airflow connection '{conn_id}'.",
    )
    found: dict[str, dict[str, Any]] = {}
    requests_made = repeats = 0
    previous_size = -1
    for pass_no in range(1, policy.max_passes + 1):
        totals: set[int] = set()
        seen_this_pass: set[str] = set()
        page, total_pages = 1, 1
        while page <= total_pages:
            params = {"district": district, "active_from": active_from.isoformat(),
                      "active_to": active_to.isoformat(), "page": page, "page_size": page_size}
            body = client.get_json(PATH, params)
            requests_made += 1
            data, total, total_pages = _page_parts(body, params)
            totals.add(total)
            cleaned = [clean_dossier(raw) for raw in data]
            seen_this_pass.update(r["MaHoSo"] for r in cleaned)
            repeats += merge_by_id(found, cleaned, "MaHoSo", "NgayCapNhat")
            if not data:
                break
            page += 1
        # The smallest total of the pass is the most the list can have held throughout it; a live list that
        # grew while read reports larger totals on later pages, and the next pass catches what was added.
        total = min(totals) if totals else 0
        complete_pass = len(seen_this_pass) >= total
        settled = len(found) >= total and len(found) == previous_size
        log.info("%s district %s pass %d: %d unique this pass, %d in all, total %s",
                 ONE_STOP, district, pass_no, len(seen_this_pass), len(found), sorted(totals))
        if complete_pass or settled:
            notes = [] if len(found) <= total else [
                f"{len(found) - total} dossier(s) more than the system's total {total}: the list changed while read"
            ]
            records = sorted(found.values(), key=lambda r: r["MaHoSo"])
            return DossierExtract(records, pass_no, requests_made, repeats, client.attempts_failed, notes)
        previous_size = len(found)
    raise SourceError(
        f"{ONE_STOP}: district {district}, window {active_from}..{active_to}: the list kept changing over "
        f"{policy.max_passes} passes ({len(found)} unique dossiers read, total reported {sorted(totals)}); "
        "refusing to count an incomplete list. Rerun the task later.",
        retryable=True,
    )


def _page_parts(body: dict[str, Any], params: dict[str, Any]) -> tuple[list[Any], int, int]:
    data, total, total_pages = body.get("data"), body.get("total"), body.get("total_pages")
    if not isinstance(data, list) or not isinstance(total, int) or not isinstance(total_pages, int):
        raise SourceError(
            f"{ONE_STOP}: page {params['page']} of district {params['district']} does not follow the contract "
            f"(expects data: list, total: int, total_pages: int; got keys {sorted(body)})"
        )
    return data, total, total_pages
