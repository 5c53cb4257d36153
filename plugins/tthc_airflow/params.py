"""The trigger form of the DAG: what an operator may choose for a run, as labelled fields.

Why no "period" field: a run's period is its data interval, and a run started by hand gets the period
that contains its logical date (see ``tthc_airflow.timetable``). A field that could name another month
made a run report one month while Airflow listed it under another, and offered the same month to every
run of a backfill. The month to report is chosen with the form's logical date: any day of the period.

Why the operator inputs are separate fields: a district office types a number of inspections or a
paragraph of assessment, not JSON. Every field may stay empty (type includes null), and the form
refuses what the report could not use (a negative count). Inputs given here are for one district: a
run that gives them must report on exactly one district (checked when the run starts).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

INPUTS_SECTION = "Đầu vào của đơn vị (tùy chọn)"
_INPUT_FIELDS = ("inspections_count", "violations", "findings", "resources", "assessment", "shortcomings")


def run_params(units: list[tuple[str, str]]) -> dict[str, Param]:
    """The form's fields; ``units`` are the reporting units as (GSO code, name)."""
    codes = [code for code, _ in units]

    def text(title: str, description: str) -> Param:
        return Param(None, type=["null", "string"], format="multiline", maxLength=4000, section=INPUTS_SECTION,
                     title=title, description=description)

    return {
        "districts": Param(
            None, type=["null", "array"], items={"type": "string", "enum": codes}, examples=codes,
            values_display={code: f"{name} ({code})" for code, name in units}, uniqueItems=True,
            title="Đơn vị báo cáo", description="Để trống: mọi đơn vị. The reporting units of this run."),
        "inspections_count": Param(
            None, type=["null", "integer"], minimum=0, section=INPUTS_SECTION, title="Số cuộc kiểm tra công vụ",
            description="Public-service inspections carried out in the period (empty: not written)."),
        "violations": Param(
            None, type=["null", "integer"], minimum=0, section=INPUTS_SECTION,
            title="Số trường hợp vi phạm phát hiện",
            description="Harassment or self-made requirements found; above 0 needs what was found and done."),
        "findings": text("Kết quả kiểm tra và biện pháp xử lý", "What the inspections found and what was done."),
        "resources": text("Nguồn lực cho kiểm soát TTHC",
                          "The resources sentence of part 1 (staff, equipment, budget)."),
        "assessment": text("Đánh giá chung", "General assessment; a blank line starts a new paragraph."),
        "shortcomings": text("Tồn tại, hạn chế khác", "Shortcomings the data cannot show; a blank line between items."),
    }


def run_inputs() -> dict[str, Any] | None:
    """The operator inputs given in the form of the running task's run; None when none was given."""
    from airflow.sdk import get_current_context

    return inputs_from_run(get_current_context()["params"])


def inputs_from_run(params: dict[str, Any]) -> dict[str, Any] | None:
    """The operator inputs given in the form, in the shape of an inputs file; None when none was given."""
    given = {name: params.get(name) for name in _INPUT_FIELDS if params.get(name) not in (None, "")}
    if not given:
        return None
    inputs: dict[str, Any] = {key: given[key] for key in ("resources", "assessment", "shortcomings") if key in given}
    inspections = {field: given[name] for name, field in (("inspections_count", "count"), ("violations", "violations"),
                                                           ("findings", "findings")) if name in given}
    if inspections:
        inputs["inspections"] = inspections
    return inputs
