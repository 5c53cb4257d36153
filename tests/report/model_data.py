"""Metric rows reproducing the model report of Tháp Mười (872), November 2023, and row builders for tests.

The rows are built from integer counts and their rates computed as ``metrics.md`` says (exact
counts, half-up to two places), so the figures the report prints are those a real metrics run
would give: dossier digitization 100% at both levels, result digitization 71,26% (district) and
55,49% (communes), online payment below its 50% target, on-time above 95%, nothing overdue.
"""

from __future__ import annotations

import os
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tthc.periods import Period
from tthc.report import COUNT_KEYS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "include" / "templates" / "bao-cao-thang.docx"
PERIOD = Period(2023, 11)
RATES = {
    "on_time_rate": (("resolved_early", "resolved_on_time"), "resolved"),
    "online_rate": (("received_online",), "received"),
    "dossier_digitization_rate": (("digitized_dossiers",), "received"),
    "result_digitization_rate": (("digitized_results",), "resolved"),
    "online_payment_rate": (("paid_online",), "fee_dossiers"),
}


def rate(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def make_row(level: str, unit_code: str, counts: dict[str, int], district: str = "872", period: str = "2023-11"):
    row = {"period": period, "district_code": district, "level": level, "unit_code": unit_code, **counts}
    for key, (numerators, denominator) in RATES.items():
        row[key] = rate(sum(counts[n] for n in numerators), counts[denominator])
    return row


def _commune_counts(i: int) -> dict[str, int]:
    received = 90 + 11 * i
    resolved = 85 + 10 * i
    late = 1 if i % 4 == 0 else 0
    early = resolved // 3
    return {
        "received": received,
        "received_online": received // 2,
        "carried_over": 20 + i,
        "resolved": resolved,
        "resolved_early": early,
        "resolved_on_time": resolved - early - late,
        "resolved_late": late,
        "withdrawn": i % 2,
        "pending": 25 + i,
        "pending_overdue": 0,
        "digitized_dossiers": received,
        "digitized_results": resolved * 111 // 200,
        "fee_dossiers": 10 + i,
        "paid_online": 3 + i // 3,
    }


def _sum(rows: list[dict[str, int]]) -> dict[str, int]:
    return {key: sum(row[key] for row in rows) for key in COUNT_KEYS}


def model_rows(config) -> list[dict]:
    """Rows of 872 for 2023-11 whose rates are those of the model report."""
    unit = config.hierarchy_for("2023-11").get("872")
    communes = [_commune_counts(i) for i in range(len(unit.children))]
    resolved = sum(c["resolved"] for c in communes)
    wanted = next(d for d in range(resolved) if rate(d, resolved) == Decimal("55.49"))
    missing = wanted - sum(c["digitized_results"] for c in communes)
    for i in range(abs(missing)):  # spread the difference, one result per commune
        communes[i % len(communes)]["digitized_results"] += 1 if missing > 0 else -1
    huyen = {
        "received": 412, "received_online": 260, "carried_over": 57, "resolved": 435, "resolved_early": 180,
        "resolved_on_time": 252, "resolved_late": 3, "withdrawn": 2, "pending": 40, "pending_overdue": 0,
        "digitized_dossiers": 412, "digitized_results": 310, "fee_dossiers": 150, "paid_online": 41,
    }  # fmt: skip
    xa = _sum(communes)
    rows = [make_row("huyen", "872", huyen), make_row("xa", "872", xa), make_row("tong", "872", _sum([huyen, xa]))]
    rows += [make_row("commune", child.code, counts) for child, counts in zip(unit.children, communes, strict=True)]
    return rows


MODEL_FEEDBACK = {
    "period": "2023-11", "district_code": "872", "feedback_received": 5, "feedback_about_procedures": 0,
    "feedback_answered_on_time": 5, "feedback_answered_late": 0, "feedback_overdue": 0, "feedback_in_progress": 0,
    "feedback_rejected": 0, "feedback_late": 0,
}  # fmt: skip




IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def required(reason: str) -> None:
    """Skip with a plain reason; under CI=true a missing tool is a failure (the CI image installs it)."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)
