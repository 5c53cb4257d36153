"""Connector to the hotline 1022 system: every feedback item received in a window, once.

Why track cursors: the cursor is opaque, so the only guard against a server that sends us round
in circles is to refuse a cursor we have already followed. Repeated items are merged by ``id``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from tthc.records import HOTLINE, clean_feedback, merge_by_id
from tthc.sources.http import JsonClient, RetryPolicy, SourceError

log = logging.getLogger(__name__)
PATH = "/api/v2/feedback"


@dataclass
class FeedbackExtract:
    records: list[dict[str, Any]]
    requests: int
    repeats: int
    transient_failures: int


def fetch_feedback(base_url: str, api_key: str, district: str, received_from: date, received_to: date, *,
                   policy: RetryPolicy | None = None, limit: int = 500, conn_id: str = "tthc_hotline_1022",
                   session: Any = None) -> FeedbackExtract:
    """All feedback items of ``district`` received in ``[received_from, received_to)`` (local dates)."""
    policy = policy or RetryPolicy()
    client = JsonClient(
        HOTLINE, base_url, {"X-API-Key": api_key, "Accept": "application/json"}, policy, session=session,
        fix_auth=f"Check the API key in the password of Airflow connection '{conn_id}'.",
    )
    found: dict[str, dict[str, Any]] = {}
    followed: set[str] = set()
    cursor: str | None = None
    requests_made = repeats = 0
    while True:
        params: dict[str, Any] = {"district": district, "received_from": received_from.isoformat(),
                                  "received_to": received_to.isoformat(), "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        body = client.get_json(PATH, params)
        requests_made += 1
        items, next_cursor = body.get("items"), body.get("next_cursor")
        if not isinstance(items, list) or not (next_cursor is None or isinstance(next_cursor, str)):
            raise SourceError(f"{HOTLINE}: a page for district {district} does not follow the contract "
                              f"(expects items: list, next_cursor: string or null; got keys {sorted(body)})")
        repeats += merge_by_id(found, (clean_feedback(raw) for raw in items), "id")
        if not next_cursor:
            break
        if next_cursor in followed:
            raise SourceError(f"{HOTLINE}: district {district}: the server returned a cursor already followed; "
                              "paging would never end. Report this to the hotline system's operator.")
        followed.add(next_cursor)
        cursor = next_cursor
    log.info("%s district %s: %d items in %d requests (%d repeats merged)", HOTLINE, district, len(found),
             requests_made, repeats)
    records = sorted(found.values(), key=lambda r: r["id"])
    return FeedbackExtract(records, requests_made, repeats, client.attempts_failed)
