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
