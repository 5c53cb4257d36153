"""Operator inputs: what the report says that no source system records.

Why a file per district and period: the inspections carried out under the public-service
inspection plan, the resources given to procedure control and the general assessment are
known to the district's office, not to the one-stop or hotline systems. An operator writes them in
``include/inputs/<YYYY-MM>/<unit code>.yaml`` (schema in ``include/inputs/README.md``), or gives
the same fields as run parameters for a one-off correction; the parameters win over the file.

A missing file is not an error: the report is still written, with neutral sentences, and the run
warns. An invalid file is an error that names the file and the field, because a typo silently
ignored would print a wrong statement over the chairman's signature.

Every text field is cleaned of control, bidi and invisible format characters (``tthc.text``): a form
feed would be a page break in the letter, a right-to-left override would make it show something else
than it says. Cleaning is not an error (such characters come with text copied from PDFs and web
pages) but never silent: ``load_inputs`` and ``text_warnings`` name each field that was cleaned.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tthc.text import clean_text, unwanted_characters

SUFFIXES = (".yaml", ".yml")


class InputsError(ValueError):
    """Operator inputs that cannot be used; the message names the file (or run parameter) and the field."""


def _clean(text: str) -> str:
    # NFC (Vietnamese typed with a "Unicode tổ hợp" input method arrives decomposed) and no character that
    # would change the letter unseen; the warnings naming the field come from ``text_warnings``.
    return clean_text(text)[0].strip()


Text = Annotated[str, AfterValidator(_clean)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Inspections(_Strict):
    """Public-service inspections of the period (the plan and the team lead are configuration)."""

    count: int | None = Field(None, ge=0)  # inspections carried out in the period; None: not written
    violations: int = Field(0, ge=0)  # cases of harassment or self-made requirements found
    findings: Text | None = None  # what was found and what was done; required when violations > 0

    @model_validator(mode="after")
    def _findings_when_violations(self) -> Inspections:
        if self.violations and not self.findings:
            raise ValueError("'findings' must say what was found when 'violations' is above 0")
        return self


class OperatorInputs(_Strict):
    """One district's inputs for one period; every field optional, absent fields give neutral text."""

    unit_code: str | None = None  # when given, must match the file name (guards against copied files)
    period: str | None = None  # YYYY-MM; when given, must match the folder
    inspections: Inspections | None = None
    resources: Text | None = None  # the resources sentence, written as the fourth point of part 1
    assessment: list[Text] = Field(default_factory=list)  # general assessment, one item per paragraph
    shortcomings: list[Text] = Field(default_factory=list)  # shortcomings the data cannot show

    @field_validator("unit_code", "period", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        # YAML reads 872 as an int and 2023-11 stays a string; codes are strings everywhere.
        return None if value is None else str(value).strip()

    @field_validator("assessment", "shortcomings", mode="before")
    @classmethod
    def _paragraphs(cls, value: Any) -> Any:
        """A single text is split into paragraphs at blank lines, so a YAML block scalar works too."""
        if value is None:
            return []
        if isinstance(value, str):
            return [part for part in (p.strip() for p in value.split("\n\n")) if part]
        return value

    @field_validator("assessment", "shortcomings")
    @classmethod
    def _no_empty(cls, value: list[str]) -> list[str]:
        return [item for item in value if item]


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"field {field}: {error['msg']}")
    return "; ".join(lines)


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string of a parsed file or run parameter with its path (``inspections.findings``, ``assessment[1]``).

    Why: a warning must name the field an operator has to fix.
    """
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")


def text_warnings(raw: Mapping[str, Any] | None, source: str) -> list[str]:
    """One warning per field of ``raw`` whose text the inputs model cleans, naming the source, field and characters.

    ``source`` says where the fields came from (the file's path, or "the office inputs of the trigger form"). The
    model does the cleaning whatever the route; this says what it did, so that a page break or a
    direction override taken out of the letter is seen in the run summary and fixed at its source.
    """
    warnings = []
    for field, text in _strings(raw or {}, ""):
        found = unwanted_characters(text)
        if found:
            warnings.append(f"operator inputs {source}: field {field} contained {', '.join(found)}: removed (a tab "
                            "or form feed became a space, a line separator a newline); page breaks and paragraphs "
                            "come from the template")
    return warnings


def input_path(inputs_dir: Path, period_name: str, unit_code: str) -> Path:
    """Where the inputs of a unit and period are expected (the ``.yaml`` name; ``.yml`` is accepted too)."""
    return Path(inputs_dir) / period_name / f"{unit_code}.yaml"


def load_inputs(inputs_dir: Path, period_name: str, unit_code: str) -> tuple[OperatorInputs | None, list[str]]:
    """Read ``<inputs_dir>/<period>/<unit>.yaml``: the inputs (None when there is no file) and warnings."""
    expected = input_path(inputs_dir, period_name, unit_code)
    path = next((p for p in (expected.with_suffix(s) for s in SUFFIXES) if p.is_file()), None)
    if path is None:
        return None, [f"no operator inputs at {expected}: neutral sentences used for inspections, resources "
                      f"and the general assessment"]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputsError(f"operator inputs {path} are not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputsError(f"operator inputs {path} are not UTF-8 text: save the file as UTF-8 ({exc})") from exc
    warnings: list[str] = []
    if raw is None:
        raw = {}
        warnings.append(f"operator inputs {path} are empty: neutral sentences used")
    if not isinstance(raw, dict):
        raise InputsError(f"operator inputs {path} must be a mapping of fields, not {type(raw).__name__}")
    try:
        inputs = OperatorInputs.model_validate(raw)
    except ValidationError as exc:
        raise InputsError(f"operator inputs {path} are invalid: {_describe(exc)}") from exc
    warnings += text_warnings(raw, str(path))
    if inputs.unit_code is not None and inputs.unit_code != unit_code:
        raise InputsError(f"operator inputs {path}: field unit_code is {inputs.unit_code!r} but the file is for "
                          f"unit {unit_code!r}")
    if inputs.period is not None and inputs.period != period_name:
        raise InputsError(f"operator inputs {path}: field period is {inputs.period!r} but the file is for "
                          f"period {period_name!r}")
    return inputs, warnings


def inputs_from_params(d: Mapping[str, Any] | None, base: OperatorInputs | None = None) -> OperatorInputs | None:
    """Overlay the fields given as run parameters on ``base`` (the file's inputs); parameters win.

    A field that is absent or None in ``d`` is not given (Airflow params default to null) and the
    file's value stays; ``inspections`` is overlaid field by field. Returns ``base`` unchanged when
    no field is given, and None when there is neither a file nor a parameter. Text is cleaned as the
    file's is; ``text_warnings(d, ...)`` names the fields that were.
    """
    given = {key: value for key, value in (d or {}).items() if value is not None}
    if not given:
        return base
    merged = base.model_dump(exclude_none=True) if base is not None else {}
    for key, value in given.items():
        if key == "inspections" and isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **{k: v for k, v in value.items() if v is not None}}
        else:
            merged[key] = value
    try:
        return OperatorInputs.model_validate(merged)
    except ValidationError as exc:
        raise InputsError(f"operator inputs given as run parameters are invalid: {_describe(exc)}") from exc


# --- The month's inputs as a form, and what was used, kept per unit and period -----------------------------
#
# Why here (no Airflow): which inputs a unit's month uses is a decision on plain values (the unit's settings,
# the period's file and run parameters, what an earlier run stored, what the office answered), and it must be
# the same whether the form task, the step that stores the answer or the report writer takes it.

# The fields of the form and of the trigger form, as the office sees them: (title, help), Vietnamese.
FORM_FIELDS: dict[str, tuple[str, str]] = {
    "inspections_count": ("Số cuộc kiểm tra công vụ đã tiến hành",
                          "Số cuộc kiểm tra công vụ về giải quyết thủ tục hành chính đã tiến hành trong tháng. "
                          "Để trống nếu không báo cáo."),
    "violations": ("Số trường hợp vi phạm phát hiện",
                   "Số trường hợp nhũng nhiễu, gây phiền hà hoặc tự đặt thêm thủ tục, giấy tờ phát hiện qua kiểm "
                   "tra; 0 nếu không phát hiện. Lớn hơn 0 thì phải ghi kết quả và biện pháp xử lý."),
    "findings": ("Kết quả kiểm tra và biện pháp xử lý",
                 "Nội dung vi phạm phát hiện và biện pháp đã xử lý (bắt buộc khi có vi phạm)."),
    "resources": ("Nguồn lực cho công tác kiểm soát thủ tục hành chính",
                  "Một câu về nhân sự, trang thiết bị, kinh phí bố trí cho công tác kiểm soát thủ tục hành chính "
                  "trong tháng (in ở điểm thứ tư của phần 1)."),
    "assessment": ("Đánh giá chung",
                   "Đánh giá chung kết quả cải cách thủ tục hành chính trong tháng; mỗi đoạn cách nhau một dòng "
                   "trống."),
    "shortcomings": ("Tồn tại, hạn chế khác",
                     "Những tồn tại, hạn chế mà số liệu không thể hiện; mỗi ý cách nhau một dòng trống."),
}
# What the report writes from the inputs; a field without a value gets the template's neutral sentence.
REPORT_FIELDS = ("inspections", "resources", "assessment", "shortcomings")
_FIELD_OF_FORM = {"inspections.count": "inspections_count", "inspections.violations": "violations",
                  "inspections.findings": "findings", "inspections": "findings", "resources": "resources",
                  "assessment": "assessment", "shortcomings": "shortcomings"}

ANSWERED, TIMED_OUT, NONE = "form", "timeout", "none"


def raw_from_form(values: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any] | None:
    """The form's fields (``<prefix>inspections_count``, ...) as an inputs file has them; None when all are empty."""
    values = values or {}
    given = {name: values.get(prefix + name) for name in FORM_FIELDS if values.get(prefix + name) not in (None, "")}
    if not given:
        return None
    raw: dict[str, Any] = {key: given[key] for key in ("resources", "assessment", "shortcomings") if key in given}
    inspections = {field: given[name] for name, field in (("inspections_count", "count"), ("violations", "violations"),
                                                           ("findings", "findings")) if name in given}
    if inspections:
        raw["inspections"] = inspections
    return raw


def form_values(inputs: OperatorInputs | None, prefix: str = "") -> dict[str, Any]:
    """Every field of the form filled from ``inputs`` (None where it gives nothing): how a form is pre-filled."""
    found = inputs.inspections if inputs is not None else None
    values: dict[str, Any] = {
        "inspections_count": found.count if found else None,
        "violations": found.violations if found else None,
        "findings": found.findings if found else None,
        "resources": inputs.resources if inputs is not None else None,
        "assessment": "\n\n".join(inputs.assessment) if inputs is not None and inputs.assessment else None,
        "shortcomings": "\n\n".join(inputs.shortcomings) if inputs is not None and inputs.shortcomings else None,
    }
    return {prefix + name: value for name, value in values.items()}


def inputs_from_form(values: Mapping[str, Any] | None, unit_code: str, period_name: str,
                     prefix: str = "") -> OperatorInputs | None:
    """What an office entered in the form, validated as a file is; None when it left every field empty.

    An error names the unit, the period, the field and its title in the form.
    """
    raw = raw_from_form(values, prefix)
    if raw is None:
        return None
    try:
        return OperatorInputs.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "inspections"
            title = FORM_FIELDS.get(_FIELD_OF_FORM.get(field, ""), ("", ""))[0]
            lines.append(f"field {field}{f' ({title!r})' if title else ''}: {error['msg']}")
        raise InputsError(f"operator inputs of unit {unit_code}, period {period_name} entered in the form are "
                          f"invalid: {'; '.join(lines)}") from exc


def defaulted_fields(inputs: OperatorInputs | None) -> list[str]:
    """The report's fields (``REPORT_FIELDS``) that ``inputs`` leave without a value: neutral sentences."""
    if inputs is None:
        return list(REPORT_FIELDS)
    return [name for name in REPORT_FIELDS if getattr(inputs, name) in (None, [])]


class StoredInputs(_Strict):
    """The inputs a unit's month used and where they came from, kept under the data root and in the warehouse.

    ``source``: ``form`` (the office answered), ``timeout`` (nobody answered in time: what the file and the
    trigger form gave, neutral sentences for the rest), ``file``, ``run parameters``, ``file and run
    parameters``, or ``none``. ``defaulted``: the report's fields nobody gave this month (neutral sentences);
    empty when the office answered, whatever it left blank. ``revision``: set when the office entered these
    inputs again after rejecting the report rendered with its first ones (the sign-off's one return to the
    form): who rejected it, when, and the comment (``rejected_by``, ``rejected_at``, ``comment``).
    """

    unit_code: str
    period: str
    source: str
    inputs: OperatorInputs | None = None
    defaulted: list[str] = Field(default_factory=list)
    answered_by: dict[str, str] | None = None  # {"id", "name"} of the Airflow user who answered
    answered_at: str | None = None  # ISO 8601: when the office answered, or when the form timed out
    run_id: str | None = None
    stored_at: str | None = None
    revision: dict[str, Any] | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=1).encode("utf-8")

    def describe(self) -> str:
        """One line for the task log and the run summary."""
        if self.source == ANSWERED:
            who = (self.answered_by or {}).get("name") or (self.answered_by or {}).get("id") or "?"
            line = f"inputs entered in the form by {who} at {self.answered_at}"
            if self.revision is not None:
                rejected = self.revision.get("rejected_by") or {}
                line += (f", revised after the report was rejected by {rejected.get('name') or rejected.get('id')} "
                         f"at {self.revision.get('rejected_at')}: {self.revision.get('comment') or '(no comment)'}")
            return line
        said = {TIMED_OUT: f"the form was not answered in time ({self.answered_at})",
                NONE: "no inputs file, no inputs in the trigger form and no form"}.get(self.source, self.source)
        left = ", ".join(self.defaulted)
        return f"{said}; defaulted (neutral sentences): {left}" if left else said


def read_stored(path: Any) -> StoredInputs | None:
    """The record at ``path`` (a data-root path), None when there is none; an unreadable one names the file."""
    if not path.exists():
        return None
    try:
        return StoredInputs.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise InputsError(f"stored operator inputs {path} are invalid ({_describe(exc)}): remove the file to ask "
                          "again, or restore it") from exc


@dataclass(frozen=True)
class FormPlan:
    """Whether a unit's form is to be asked, why (or why not), and what it is pre-filled with."""

    ask: bool
    reason: str
    prefill: OperatorInputs | None = None


def _replaced(settings: Any, given: OperatorInputs | None) -> bool:
    return given is not None and bool(settings.file_replaces_form)


def plan_form(settings: Any, given: OperatorInputs | None, given_source: str, stored: StoredInputs | None,
              previous: OperatorInputs | None) -> FormPlan:
    """Ask the office, or not: ``settings`` is the unit's ``office_inputs`` (``tthc.config.OfficeInputs``).

    Not asked: when the unit is not to be asked; when the period's file or run parameters (``given``, from
    ``given_source``) replace the form; when an earlier run of the period asked already (an answer, or a
    timeout: a rerun or a backfill does not ask again). Otherwise asked, pre-filled with ``given`` when the
    file or parameters only fill the form in, else with the unit's previous month (``previous``).
    """
    if not settings.ask:
        return FormPlan(False, "the unit's office is not asked (office_inputs ask: false): inputs come from the "
                               "inputs file and the trigger form")
    if _replaced(settings, given):
        return FormPlan(False, f"inputs given by the {given_source} replace the form "
                               "(office_inputs file_replaces_form: true)")
    if stored is not None and stored.source in (ANSWERED, TIMED_OUT):
        return FormPlan(False, f"the period's form was asked by an earlier run, reused: {stored.describe()}")
    if given is not None:
        return FormPlan(True, f"pre-filled from the {given_source}", given)
    if previous is not None:
        return FormPlan(True, "pre-filled from the unit's previous month", previous)
    return FormPlan(True, "empty: no inputs of the previous month")


def settle(unit_code: str, period_name: str, settings: Any, given: OperatorInputs | None, given_source: str,
           stored: StoredInputs | None, answer: Mapping[str, Any] | None = None,
           prefix: str = "") -> StoredInputs:
    """The inputs the unit's month uses, with their source and what was defaulted.

    ``answer`` is the form's result (``chosen_options``, ``params_input``, ``responded_at``,
    ``responded_by_user``), None when the form was not asked. An answer by a user is validated as a file
    is; a timeout (no user) takes what the file and the trigger form give, never the previous month's
    values the form was pre-filled with: they would print last month's statements as this month's. Without
    an answer, an office's earlier answer stored for the period stands unless the file or run parameters
    replace the form; a timeout stored for the period stays a timeout (not asked again).

    ``answer["rejection"]``, when present, is the sign-off that rejected the report rendered with the stored
    inputs (``approved``, ``by``, ``at``, ``comment``): the answer is their revision and says so. A revision
    stands even where the period's file replaces the form: the office entered it about that very report.
    """
    def given_record(source: str, answered_at: str | None = None) -> StoredInputs:
        return StoredInputs(unit_code=unit_code, period=period_name, source=source, inputs=given,
                            defaulted=defaulted_fields(given), answered_at=answered_at)

    if answer is not None:
        responded_at: Any = answer.get("responded_at")
        at = responded_at.isoformat() if isinstance(responded_at, datetime) else responded_at
        user = answer.get("responded_by_user")
        if not user:
            return given_record(TIMED_OUT, at)
        entered = inputs_from_form(answer.get("params_input"), unit_code, period_name, prefix)
        rejection = answer.get("rejection")
        revision = ({"rejected_by": rejection.get("by"), "rejected_at": rejection.get("at"),
                     "comment": rejection.get("comment")} if rejection else None)
        return StoredInputs(unit_code=unit_code, period=period_name, source=ANSWERED, inputs=entered,
                            answered_by={"id": str(user.get("id", "")), "name": str(user.get("name", ""))},
                            answered_at=at, revision=revision)
    if stored is not None and stored.source == ANSWERED and stored.revision is not None:
        return stored
    if stored is not None and not _replaced(settings, given):
        if stored.source == ANSWERED:
            return stored
        if stored.source == TIMED_OUT and settings.ask:
            return given_record(TIMED_OUT, stored.answered_at)
    return given_record(given_source if given is not None else NONE)
