"""Frames the suites validate: the landed records plus derived helper columns (all named ``q_...``).

Why derive in pandas first: landed time strings stay the text the source wrote (the evidence of what
it sent), but ``NgayTiepNhan <= NgayKetThucXuLy`` or "inside the window" are comparisons of times.
Each time column gets a parsed twin ``q_t_<column>`` (naive local time, NaT when null or malformed)
and a flag ``q_ok_<column>`` (true when null or a valid time), so that the comparisons are plain GX
column-pair and range expectations, and "parses in its format" is an expectation on the flag.
Parsing is ``tthc.timeparse``'s, the same as the metrics'.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tthc.periods import Period
from tthc.timeparse import naive_local, parse_compact_column, parse_iso_column

if TYPE_CHECKING:
    import pandas as pd

DOSSIER_TIMES = ("NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "NgayCapNhat")
FEEDBACK_TIMES = ("received_at", "due_at", "answered_at")
# The derived columns each prepare function adds, in the order it adds them (the schema check expects them).
DOSSIER_DERIVED = (*(f"q_{kind}_{name}" for name in DOSSIER_TIMES for kind in ("t", "ok")), "q_received_in_period")
FEEDBACK_DERIVED = tuple(f"q_{kind}_{name}" for name in FEEDBACK_TIMES for kind in ("t", "ok"))


def _column(frame: pd.DataFrame, name: str, dtype: str) -> pd.Series:
    """The column, or an all-null one when the extract lacks it (the schema check reports the absence)."""
    import pandas as pd

    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.array([None] * len(frame), dtype=dtype), index=frame.index)


def _parse(raw: pd.Series, parse: Any) -> tuple[pd.Series, pd.Series]:
    """The parsed twin (naive local time, NaT when null or malformed) and the null-or-valid flag of a column."""
    times, valid = parse(raw, naive=True)
    return times, valid.astype(bool)


def prepare_dossiers(landed: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Landed dossiers + ``q_t_*``/``q_ok_*`` per time column + ``q_received_in_period`` (0/1, for volume)."""
    frame = landed.copy()  # its index stays: a batch's rows keep their place in the whole
    for name in DOSSIER_TIMES:
        frame[f"q_t_{name}"], frame[f"q_ok_{name}"] = _parse(_column(frame, name, "string"), parse_compact_column)
    status = _column(frame, "TrangThaiHoSo", "Int64")
    accepted = ~status.isin([1, 3]).fillna(False).astype(bool)
    received = frame["q_t_NgayTiepNhan"]
    start, end = naive_local(period.start), naive_local(period.end)
    frame["q_received_in_period"] = (accepted & (received >= start) & (received < end)).fillna(False).astype(int)
    return frame


def prepare_feedback(landed: pd.DataFrame) -> pd.DataFrame:
    """Landed feedback + ``q_t_*``/``q_ok_*`` per time column."""
    frame = landed.copy()  # its index stays: a batch's rows keep their place in the whole
    for name in FEEDBACK_TIMES:
        frame[f"q_t_{name}"], frame[f"q_ok_{name}"] = _parse(_column(frame, name, "string"), parse_iso_column)
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


def metrics_frame(rows: Iterable[dict[str, Any]], feedback: dict[str, Any], counts: Sequence[str],
                  rates: Iterable[str], feedback_counts: Sequence[str], parts: Sequence[tuple[str, str]]
                  ) -> pd.DataFrame:
    """The computed figures as facts to check, one per line: ``id`` names it, ``kind`` says what ``a``/``b`` are.

    - ``row``: one per dossier row, ``key`` = ``level:unit_code`` (must be unique);
    - ``count``: ``a`` = a count (whole, >= 0);
    - ``rate``: ``a`` = a rate in percent (0..100, or null when nothing arose);
    - ``part``: ``a`` = the whole, ``b`` = its part (``a >= b``);
    - ``sum``: ``a`` = a total, ``b`` = the sum of the parts that partition it (``a == b``);
    - ``level``: ``a`` = tong (or xa), ``b`` = huyen + xa (or the communes' sum) (``a == b``).

    One long frame keeps the suite at a handful of expectations whatever the number of metrics, and
    each failure is named by its fact (``tong:872/received_online <= received``).
    """
    import pandas as pd

    rows = list(rows)
    facts: list[tuple[str, str, Any, Any, str | None]] = []

    def add(kind: str, fact: str, a: Any, b: Any = None, key: str | None = None) -> None:
        facts.append((fact, kind, _number(a), _number(b), key))

    for row in rows:
        where = f"{row['level']}:{row['unit_code']}"
        add("row", where, None, key=where)
        for name in counts:
            add("count", f"{where}/{name}", row[name])
        for name in rates:
            add("rate", f"{where}/{name}", row.get(name))
        for whole, part in parts:
            add("part", f"{where}/{part} <= {whole}", row[whole], row[part])
        add("sum", f"{where}/resolved = resolved_early + resolved_on_time + resolved_late", row["resolved"],
            row["resolved_early"] + row["resolved_on_time"] + row["resolved_late"])
    for name in counts:
        level = {lv: sum(int(r[name]) for r in rows if r["level"] == lv) for lv in ("huyen", "xa", "tong", "commune")}
        add("level", f"{name}: tong = huyen + xa", level["tong"], level["huyen"] + level["xa"])
        add("level", f"{name}: xa = sum of the communes", level["xa"], level["commune"])
    where = f"feedback:{feedback['district_code']}"
    for name in feedback_counts:
        add("count", f"{where}/{name}", feedback[name])
        if name != "feedback_received":
            add("part", f"{where}/{name} <= feedback_received", feedback["feedback_received"], feedback[name])
    add("sum", f"{where}/feedback_received = answered on time + answered late + overdue + in progress + rejected",
        feedback["feedback_received"], sum(feedback[n] for n in (
            "feedback_answered_on_time", "feedback_answered_late", "feedback_overdue", "feedback_in_progress",
            "feedback_rejected")))
    add("sum", f"{where}/feedback_late = answered late + overdue", feedback["feedback_late"],
        feedback["feedback_answered_late"] + feedback["feedback_overdue"])
    frame = pd.DataFrame(facts, columns=["id", "kind", "a", "b", "key"])
    return frame.astype({"id": "string", "kind": "string", "a": "float64", "b": "float64", "key": "string"})
