"""Connector to the hotline 1022 system: every feedback item received in a window, once.

Why track cursors: the cursor is opaque, so the only guard against a server that sends us round
in circles is to refuse a cursor we have already followed; a server that invents a new cursor
forever is stopped by the page and record limits. Repeated items are merged by ``id``.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from tthc.records import FEEDBACK_JSON_TYPES, HOTLINE, RecordSet, keep_feedback
from tthc.sources.http import Extract, JsonClient, Limits, RetryPolicy, SourceError

log = logging.getLogger(__name__)
PATH = "/api/v2/feedback"


def fetch_feedback(base_url: str, api_key: str, district: str, received_from: date, received_to: date, *,
                   policy: RetryPolicy | None = None, limit: int = 500, conn_id: str = "tthc_hotline_1022",
                   session: Any = None, limits: Limits | None = None) -> Extract:
    """All feedback items of ``district`` received in ``[received_from, received_to)`` (local dates)."""
    policy, limits = policy or RetryPolicy(), limits or Limits()
    client = JsonClient(HOTLINE, base_url, {"X-API-Key": api_key, "Accept": "application/json"}, policy,
                        session=session, conn_id=conn_id, secret_name="API key", limits=limits)
    found = RecordSet(HOTLINE, "id", FEEDBACK_JSON_TYPES, keep_feedback)
    followed: set[str] = set()
    cursor: str | None = None
    pages = 0
    while True:
        if pages >= limits.max_pages:
            raise limits.exceeded(HOTLINE, "max_pages", f"district {district}: the cursors go on after {pages:,} "
                                  "pages")
        params: dict[str, Any] = {"district": district, "received_from": received_from.isoformat(),
                                  "received_to": received_to.isoformat(), "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        body = client.get_json(PATH, params)
        pages += 1
        items, next_cursor = body.get("items"), body.get("next_cursor")
        if not isinstance(items, list) or not (next_cursor is None or isinstance(next_cursor, str)):
            raise SourceError(f"{HOTLINE}: a page for district {district} does not follow the contract "
                              f"(expects items: list, next_cursor: string or null; got keys {sorted(body)})")
        found.add(items, f"district {district}, page {pages}")
        if found.over(limits.max_records):
            raise limits.exceeded(HOTLINE, "max_records", f"district {district}: {len(found):,} distinct items read")
        if not next_cursor:
            break
        if next_cursor in followed:
            raise SourceError(f"{HOTLINE}: district {district}: the server returned a cursor already followed; "
                              "paging would never end. Report this to the hotline system's operator.")
        followed.add(next_cursor)
        cursor = next_cursor
    log.info("%s district %s: %d items in %d requests (%d repeats merged, %d set aside)", HOTLINE, district,
             found.kept, pages, found.repeats, len(found.rejected))
    notes = []
    if found.rejected:
        first = found.rejections()[0]
        notes.append(f"{len(found.rejected)} feedback item(s) set aside for fields of the wrong JSON type (e.g. "
                     f"{first['id']}: {first['field']} is a {first['got']}, the contract says {first['expected']}); "
                     "the quality check feedback.field_types counts them")
    return Extract(found.table(), pages, found.repeats, client.attempts_failed, notes, found.rejections())
