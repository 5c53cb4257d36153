"""Frames the suites validate: the landed records plus derived helper columns (all named ``q_...``).

Why derive in pandas first: landed time strings stay the text the source wrote (the evidence of what
it sent), but ``NgayTiepNhan <= NgayKetThucXuLy`` or "inside the window" are comparisons of times.
Each time column gets a parsed twin ``q_t_<column>`` (naive local time, NaT when null or malformed)
and a flag ``q_ok_<column>`` (true when null or a valid time), so that the comparisons are plain GX
column-pair and range expectations, and "parses in its format" is an expectation on the flag.
Parsing is as strict as ``tthc.timeparse``, which the metrics use.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tthc.periods import LOCAL_TZ, Period
from tthc.timeparse import TimeFormatError, parse_iso

if TYPE_CHECKING:
    import pandas as pd

DOSSIER_TIMES = ("NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "NgayCapNhat")
FEEDBACK_TIMES = ("received_at", "due_at", "answered_at")
COMPACT_REGEX = r"^\d{14}$"
ISO_REGEX = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$"


def naive_local(moment: datetime) -> datetime:
    """An aware instant as naive local wall time, the form of every ``q_t_`` column."""
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None)


def _column(frame: pd.DataFrame, name: str, dtype: str) -> pd.Series:
    """The column, or an all-null one when the extract lacks it (the schema check reports the absence)."""
    import pandas as pd

    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.array([None] * len(frame), dtype=dtype), index=frame.index)


def _parse_compact(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    import pandas as pd

    text = raw.astype("string")
    shaped = text.str.fullmatch(r"\d{14}").fillna(False).astype(bool)
    parsed = pd.to_datetime(text.where(shaped), format="%Y%m%d%H%M%S", errors="coerce")
    ok = text.isna() | parsed.notna()
    return parsed.astype("datetime64[ns]"), ok.astype(bool)


def _parse_iso(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    import pandas as pd

    values: list[datetime | None] = []
    ok: list[bool] = []
    for value in raw.astype("string"):
        if pd.isna(value):
            values.append(None)
            ok.append(True)
            continue
        try:
            parsed = parse_iso(str(value))
        except TimeFormatError:
            values.append(None)
            ok.append(False)
        else:
            values.append(None if parsed is None else naive_local(parsed))
            ok.append(True)
    parsed_series = pd.Series(pd.to_datetime(values), index=raw.index, dtype="datetime64[ns]")
    return parsed_series, pd.Series(ok, index=raw.index, dtype=bool)


def prepare_dossiers(landed: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Landed dossiers + ``q_t_*``/``q_ok_*`` per time column + ``q_received_in_period`` (0/1, for volume)."""
    frame = landed.reset_index(drop=True).copy()
    for name in DOSSIER_TIMES:
        frame[f"q_t_{name}"], frame[f"q_ok_{name}"] = _parse_compact(_column(frame, name, "string"))
    status = _column(frame, "TrangThaiHoSo", "Int64")
    accepted = ~status.isin([1, 3]).fillna(False).astype(bool)
    received = frame["q_t_NgayTiepNhan"]
    start, end = naive_local(period.start), naive_local(period.end)
    frame["q_received_in_period"] = (accepted & (received >= start) & (received < end)).fillna(False).astype(int)
    return frame


def prepare_feedback(landed: pd.DataFrame) -> pd.DataFrame:
    """Landed feedback + ``q_t_*``/``q_ok_*`` per time column."""
    frame = landed.reset_index(drop=True).copy()
    for name in FEEDBACK_TIMES:
        frame[f"q_t_{name}"], frame[f"q_ok_{name}"] = _parse_iso(_column(frame, name, "string"))
    return frame


def inputs_frame(inputs: Any, unit_code: str) -> pd.DataFrame:
    """One row of the operator inputs' checkable fields (``inputs`` is a ``tthc.inputs.OperatorInputs``)."""
    import pandas as pd

    inspections = inputs.inspections
    row = {
        "unit": unit_code,
        "unit_code": inputs.unit_code,
        "period": inputs.period,
        "inspections_count": None if inspections is None else inspections.count,
        "violations": None if inspections is None else inspections.violations,
        "findings": None if inspections is None else inspections.findings,
    }
    dtypes = {"unit": "string", "unit_code": "string", "period": "string", "inspections_count": "Int64",
              "violations": "Int64", "findings": "string"}
    return pd.DataFrame({k: pd.array([v], dtype=dtypes[k]) for k, v in row.items()})


def _number(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal | float) else value


def metric_rows_frame(rows: Iterable[dict[str, Any]], counts: tuple[str, ...], rates: Iterable[str]
                      ) -> pd.DataFrame:
    """The dossier metric rows, with ``row`` = ``level:unit_code`` and ``q_resolved_parts``."""
    import pandas as pd

    rates = list(rates)
    records = []
    for row in rows:
        record = {"row": f"{row['level']}:{row['unit_code']}", "level": row["level"], "unit_code": row["unit_code"]}
        record.update({name: row[name] for name in counts})
        record.update({name: _number(row.get(name)) for name in rates})
        records.append(record)
    frame = pd.DataFrame(records, columns=["row", "level", "unit_code", *counts, *rates])
    for name in counts:
        frame[name] = frame[name].astype("int64")
    for name in rates:
        frame[name] = frame[name].astype("float64")
    frame["q_resolved_parts"] = frame["resolved_early"] + frame["resolved_on_time"] + frame["resolved_late"]
    return frame


def metric_levels_frame(rows: Iterable[dict[str, Any]], counts: tuple[str, ...]) -> pd.DataFrame:
    """One row per count: its value at huyen, xa, tong, and the sums those must equal."""
    import pandas as pd

    rows = list(rows)

    def value(level: str, name: str) -> int:
        return sum(int(r[name]) for r in rows if r["level"] == level)

    records = []
    for name in counts:
        huyen, xa, tong, communes = (value(level, name) for level in ("huyen", "xa", "tong", "commune"))
        records.append({"metric": name, "huyen": huyen, "xa": xa, "tong": tong,
                        "q_huyen_plus_xa": huyen + xa, "q_communes_sum": communes})
    return pd.DataFrame(records, columns=["metric", "huyen", "xa", "tong", "q_huyen_plus_xa", "q_communes_sum"])


def metric_feedback_frame(row: dict[str, Any], counts: tuple[str, ...]) -> pd.DataFrame:
    """The feedback row, with ``q_feedback_parts`` (the partition of received) and ``q_late_parts``."""
    import pandas as pd

    frame = pd.DataFrame([{"district_code": row["district_code"], **{n: int(row[n]) for n in counts}}])
    frame["q_feedback_parts"] = (frame["feedback_answered_on_time"] + frame["feedback_answered_late"]
                                 + frame["feedback_overdue"] + frame["feedback_in_progress"]
                                 + frame["feedback_rejected"])
    frame["q_late_parts"] = frame["feedback_answered_late"] + frame["feedback_overdue"]
    return frame
