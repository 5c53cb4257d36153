"""Parsing of the two time formats of the source systems into aware local datetimes.

Why strict: the one-stop system writes ``yyyyMMddHHmmss`` in local time, the hotline ISO 8601 with
an offset. A lenient parser would turn a malformed value into a plausible wrong time and thus a
wrong count; here a malformed value is an error that names the value and the format.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

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
    except (ValueError, OverflowError) as exc:  # OverflowError: an instant whose local time is past year 9999
        raise TimeFormatError(f"{value!r} is not a valid ISO 8601 time: {exc}") from exc


# The vectorised fast path: values of exactly these shapes (ASCII digits, every field within its range)
# are parsed a whole column at once. Anything else (malformed, Unicode digits, a fraction of more than six
# digits, a trailing newline...) goes to the scalar parser above, one value at a time, so that the verdict
# on every value is the scalar parser's by construction; with clean data that is no value at all.
_MONTH_DAY = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_CLOCK = r"(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]"
_COMPACT_FAST = rf"[0-9]{{4}}{_MONTH_DAY}{_CLOCK}"
_ISO_FAST = (r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
             r"(?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])")
COMPACT_FORMAT = "%Y%m%d%H%M%S"
# Asia/Ho_Chi_Minh has been UTC+7 without transition since 1975-06-13: from this local time on, local time
# is UTC + 7 h exactly, for pandas as for zoneinfo. Earlier values take the scalar path (LMT, +8, +9).
_FIXED_OFFSET_HOURS = 7
_FAST_FROM = "1976-01-01"
# Within datetime64[ns] (which ends in April 2262) with room to spare: the quality checks' columns are ns.
_FAST_UNTIL = "2262-01-01"
_NS_MIN = datetime(1677, 9, 22)  # the range of datetime64[ns], with a day to spare at each end
_NS_MAX = datetime(2262, 4, 10)


def parse_compact_column(column: Any, *, naive: bool = False) -> tuple[Any, Any]:
    """A column of ``yyyyMMddHHmmss`` local times, parsed at once: ``(times, valid)`` as pandas Series.

    ``times`` is aware local time (dtype ``datetime64[us, Asia/Ho_Chi_Minh]``, what the metrics compare),
    or with ``naive`` the local wall time as written (``datetime64[ns]``, what the quality checks compare);
    NaT where null or malformed. ``valid`` is True where the value is null or a valid time. Every value
    gets exactly what ``parse_compact`` gives it, in the form the row-by-row code built before.
    """
    return _parse_column(column, _COMPACT_FAST, _compact_fast, parse_compact, naive)


def parse_iso_column(column: Any, *, naive: bool = False) -> tuple[Any, Any]:
    """A column of ISO 8601 times with an offset, parsed at once: ``(times, valid)`` as ``parse_compact_column``.

    ``naive`` gives the local wall time of each instant.
    """
    return _parse_column(column, _ISO_FAST, _iso_fast, parse_iso, naive)


def _compact_fast(text: Any) -> tuple[Any, Any]:
    """(UTC instants, local wall times) of fast-shaped compact values; NaT where the date does not exist."""
    import pandas as pd

    wall = pd.to_datetime(text, format=COMPACT_FORMAT, errors="coerce").astype("datetime64[us]")
    return wall - pd.Timedelta(hours=_FIXED_OFFSET_HOURS), wall


def _iso_fast(text: Any) -> tuple[Any, Any]:
    """(UTC instants, local wall times) of fast-shaped ISO values; NaT where the date does not exist."""
    import pandas as pd

    utc = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce").dt.tz_localize(None).astype(
        "datetime64[us]")
    return utc, utc + pd.Timedelta(hours=_FIXED_OFFSET_HOURS)


def _as_text(column: Any) -> Any:
    """The column as pandas text with NA where missing; non-text values become ``str(value)``, as the scalar
    parsers read them (a hand-built frame may hold numbers)."""
    import pandas as pd

    if isinstance(column.dtype, pd.StringDtype):
        return column.astype("string[pyarrow]")
    missing = column.isna()
    return pd.Series([None if gone else str(value) for value, gone in zip(column, missing, strict=True)],
                     index=column.index, dtype="string[pyarrow]")


def _parse_column(column: Any, fast_shape: str, fast: Callable[[Any], tuple[Any, Any]],
                  parse: Callable[[str | None], datetime | None], naive: bool) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    text = _as_text(column)
    present = text.notna().to_numpy(dtype=bool)
    shaped = text.str.fullmatch(fast_shape).fillna(False).to_numpy(dtype=bool)
    utc, wall = fast(text.where(shaped))
    lowest, highest = pd.Timestamp(_FAST_FROM), pd.Timestamp(_FAST_UNTIL)
    in_range = ((wall >= lowest) & (wall < highest)).fillna(False).to_numpy(dtype=bool)
    quick = shaped & in_range
    slow = np.flatnonzero(present & ~quick)
    # The scalar parser's verdict on every other value, in row order (an exception it raises is raised here).
    slow_times: list[datetime | None] = []
    for position in slow:
        try:
            slow_times.append(parse(text.iat[position]))
        except TimeFormatError:
            slow_times.append(None)
    valid = ~present | quick
    valid[slow] = [moment is not None for moment in slow_times]
    parsed = [(position, moment) for position, moment in zip(slow, slow_times, strict=True) if moment is not None]
    if naive:
        times = wall.where(quick).to_numpy(dtype="datetime64[ns]", copy=True)  # quick values are within ns's range
        # A wall time outside datetime64[ns] (years before 1677 or after 2262: valid in the format, absurd in a
        # dossier) cannot be a quality column's value: it is flagged as not a valid time, so the record is
        # named and quarantined rather than the whole check crashing on it.
        fits = [(position, naive_local(moment)) for position, moment in parsed]
        outside = [position for position, wall_time in fits if not _NS_MIN <= wall_time <= _NS_MAX]
        valid[outside] = False
        fits = [(position, wall_time) for position, wall_time in fits if _NS_MIN <= wall_time <= _NS_MAX]
        if fits:
            walls = pd.to_datetime([wall_time for _, wall_time in fits]).as_unit("ns")
            times[[position for position, _ in fits]] = walls.to_numpy()
        return pd.Series(times, index=column.index, dtype="datetime64[ns]"), pd.Series(valid, index=column.index)
    instants = utc.where(quick).to_numpy(dtype="datetime64[us]", copy=True)
    if parsed:
        converted = pd.to_datetime([moment for _, moment in parsed], utc=True).as_unit("us")
        instants[[position for position, _ in parsed]] = converted.tz_localize(None).to_numpy()
    # pandas infers microseconds from datetimes, seconds when there is none: the row-by-row code's dtypes.
    unit = "us" if quick.any() or parsed else "s"
    local = pd.Series(instants.astype(f"datetime64[{unit}]"), index=column.index).dt.tz_localize("UTC")
    return local.dt.tz_convert(LOCAL_TZ), pd.Series(valid, index=column.index)


def naive_local(moment: datetime) -> datetime:
    """An aware instant as naive local wall time, the form of the quality checks' time columns."""
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None)
