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
    from tthc.inputs import raw_from_form

    return raw_from_form(params)


OFFICE_FORM_PREFIX = "office_"  # the office form's field names: never those of the trigger form (below)


def office_form_params() -> dict[str, Param]:
    """The fields of the office's Required Action: the month's inputs, labelled and explained in Vietnamese.

    Why its own names (``office_inspections_count``, ...): a task's params are merged with the DAG's, and the
    trigger form's values of the same names would stand in for the office's. Every field may stay empty; the
    form refuses a negative count. Their values are set when the form is asked (pre-filled).
    """
    from tthc.inputs import FORM_FIELDS

    def field(name: str, **schema: Any) -> Param:
        title, help_text = FORM_FIELDS[name]
        return Param(None, title=title, description=help_text, **schema)

    def text(name: str) -> Param:
        return field(name, type=["null", "string"], format="multiline", maxLength=4000)

    fields = {
        "inspections_count": field("inspections_count", type=["null", "integer"], minimum=0),
        "violations": field("violations", type=["null", "integer"], minimum=0),
        "findings": text("findings"),
        "resources": text("resources"),
        "assessment": text("assessment"),
        "shortcomings": text("shortcomings"),
    }
    return {OFFICE_FORM_PREFIX + name: param for name, param in fields.items()}
