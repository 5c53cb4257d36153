"""Connector to the one-stop dossier system: every dossier open at some moment of a window, once.

Why read until a short page, whatever ``total`` and ``total_pages`` say: a source that understates
them would otherwise end the listing early and the report would count short without a word. A page
with fewer records than asked for (or none) is the end of a pass; what the source claimed is only
compared with what was read, and a disagreement is a warning in the run summary.

Why several passes: the system is live while we page through it (docs/sources.md): a record may appear
on two pages or move between pages, and ``total`` may change. Repeats are merged by ``MaHoSo``; a
record that moved backwards past our cursor would be lost, so a pass that read fewer distinct
records than the smallest ``total`` it was told is followed by another, and the union is accepted
once a pass is complete or a re-read brings nothing new. A list that never settles fails loudly
rather than counting short.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from tthc.records import DOSSIER_JSON_TYPES, ONE_STOP, RecordSet, keep_dossier
from tthc.sources.http import Extract, JsonClient, Limits, RetryPolicy, SourceError

log = logging.getLogger(__name__)
PATH = "/api/v1/dossiers"


def fetch_dossiers(base_url: str, token: str, district: str, active_from: date, active_to: date, *,
                   policy: RetryPolicy | None = None, page_size: int = 1000, conn_id: str = "tthc_one_stop",
                   session: Any = None, limits: Limits | None = None) -> Extract:
    """All dossiers of ``district`` open at some moment of ``[active_from, active_to)`` (local dates)."""
    policy, limits = policy or RetryPolicy(), limits or Limits()
    client = JsonClient(ONE_STOP, base_url, {"Authorization": f"Bearer {token}", "Accept": "application/json"},
                        policy, session=session, conn_id=conn_id, secret_name="bearer token", limits=limits)
    found = RecordSet(ONE_STOP, "MaHoSo", DOSSIER_JSON_TYPES, keep_dossier, "NgayCapNhat")
    pages = 0
    previous_size = -1
    claims: list[str] = []
    for pass_no in range(1, policy.max_passes + 1):
        totals: set[int] = set()
        claimed_pages: set[int] = set()
        found.new_pass()
        page = 1
        while True:
            if pages >= limits.max_pages:
                raise limits.exceeded(ONE_STOP, "max_pages", f"district {district}: the listing goes on after "
                                      f"{pages:,} pages of {page_size}")
            params = {"district": district, "active_from": active_from.isoformat(),
                      "active_to": active_to.isoformat(), "page": page, "page_size": page_size}
            body = client.get_json(PATH, params)
            pages += 1
            data, total, total_pages = _page_parts(body, params)
            totals.add(total)
            claimed_pages.add(total_pages)
            found.add(data, f"district {district}, page {page} of pass {pass_no}")
            if found.over(limits.max_records):
                raise limits.exceeded(ONE_STOP, "max_records", f"district {district}: {len(found):,} distinct "
                                      "dossiers read")
            if len(data) < page_size:  # a short or empty page ends the listing, whatever it claimed
                break
            page += 1
        # The smallest total of the pass is the most the list can have held throughout it; a live list that
        # grew while read reports larger totals on later pages, and the next pass catches what was added.
        total = min(totals)
        in_pass, distinct = found.in_pass(), len(found)
        complete_pass = in_pass >= total
        settled = distinct >= total and distinct == previous_size
        log.info("%s district %s pass %d: %d unique this pass, %d in all, total %s, pages read %d (claimed %s)",
                 ONE_STOP, district, pass_no, in_pass, distinct, sorted(totals), page, sorted(claimed_pages))
        if max(totals) < in_pass or max(claimed_pages) < page - (len(data) == 0):
            claims.append(f"pass {pass_no}: it claimed total {sorted(totals)} and total_pages "
                          f"{sorted(claimed_pages)}, and {in_pass} dossiers on {page} page(s) were read")
        if complete_pass or settled:
            notes = []
            if claims:
                notes.append(f"the one-stop system understated its listing for district {district} ("
                             + "; ".join(claims) + "): every page was read until a short one, the report counts "
                             "what was read; tell the system's operator")
            elif distinct > total:
                notes.append(f"{distinct - total} dossier(s) more than the system's total {total}: "
                             "the list changed while read")
            if found.rejected:
                notes.append(f"{len(found.rejected)} dossier(s) set aside for fields of the wrong JSON type "
                             f"(e.g. {_example(found.rejections())}); the quality check dossiers.field_types "
                             "counts them")
            return Extract(found.table(), pages, found.repeats, client.attempts_failed, notes, found.rejections(),
                           passes=pass_no)
        previous_size = distinct
    raise SourceError(
        f"{ONE_STOP}: district {district}, window {active_from}..{active_to}: the list kept changing over "
        f"{policy.max_passes} passes ({distinct} unique dossiers read, total reported {sorted(totals)}); "
        "refusing to count an incomplete list. Rerun the task later.",
        retryable=True,
    )


def _example(rejections: list[dict[str, str]]) -> str:
    first = rejections[0]
    return f"{first['id']}: {first['field']} is a {first['got']}, the contract says {first['expected']}"


def _page_parts(body: dict[str, Any], params: dict[str, Any]) -> tuple[list[Any], int, int]:
    data, total, total_pages = body.get("data"), body.get("total"), body.get("total_pages")
    if (not isinstance(data, list) or not isinstance(total, int) or isinstance(total, bool)
            or not isinstance(total_pages, int) or isinstance(total_pages, bool)):
        raise SourceError(
            f"{ONE_STOP}: page {params['page']} of district {params['district']} does not follow the contract "
            f"(expects data: list, total: int, total_pages: int; got keys {sorted(body)})"
        )
    return data, total, total_pages
