"""Parsing of the two time formats of the source systems into aware local datetimes.

Why strict: the one-stop system writes ``yyyyMMddHHmmss`` in local time, the hotline ISO 8601 with
an offset. A lenient parser would turn a malformed value into a plausible wrong time and thus a
wrong count; here a malformed value is an error that names the value and the format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime

from tthc.periods import LOCAL_TZ

# The shapes, also used as regular expressions by the data-quality suites.
COMPACT_PATTERN = r"^\d{14}$"
# ISO 8601 with an explicit offset (or Z), seconds optional fractions: what docs/sources.md promises.
ISO_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$"
_COMPACT_RE = re.compile(COMPACT_PATTERN)
_ISO_RE = re.compile(ISO_PATTERN)


class TimeFormatError(ValueError):
    """A time string that is not in the format its source system promises."""


def parse_compact(value: str | None) -> datetime | None:
    """``yyyyMMddHHmmss`` local time (one-stop system) to an aware datetime; None stays None."""
    if value is None:
        return None
    text = str(value)
    if not _COMPACT_RE.match(text):
        raise TimeFormatError(f"{value!r} is not a yyyyMMddHHmmss time")
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=LOCAL_TZ)
    except ValueError as exc:
        raise TimeFormatError(f"{value!r} is not a valid yyyyMMddHHmmss time: {exc}") from exc


def parse_iso(value: str | None) -> datetime | None:
    """ISO 8601 with an offset (hotline) to an aware local datetime; a time without offset is an error."""
    if value is None:
        return None
    text = str(value)
    if not _ISO_RE.match(text):
        raise TimeFormatError(f"{value!r} is not an ISO 8601 time with an offset (e.g. 2023-11-03T08:15:00+07:00)")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(LOCAL_TZ)
    except ValueError as exc:
        raise TimeFormatError(f"{value!r} is not a valid ISO 8601 time: {exc}") from exc



def parse_all(values: Iterable[str | None], parse: Callable[[str | None], datetime | None]
              ) -> tuple[list[datetime | None], list[bool]]:
    """Parse a column's values with ``parse``: the times (None when null or malformed) and, per value,
    whether it was null or valid. One loop for the metrics and the data-quality checks, so both read
    a time exactly alike.
    """
    times: list[datetime | None] = []
    valid: list[bool] = []
    for value in values:
        try:
            times.append(parse(value))
            valid.append(True)
        except TimeFormatError:
            times.append(None)
            valid.append(False)
    return times, valid


def text_values(column: Iterable[object]) -> list[str | None]:
    """A pandas column's values as text for ``parse_all``, None where missing (pandas' NA and NaN included)."""
    missing = column.isna()  # type: ignore[attr-defined]  # a pandas Series; pandas is not imported here
    return [None if gone else str(value) for value, gone in zip(column, missing, strict=True)]
