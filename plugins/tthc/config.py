"""Pipeline configuration: read from ``include/config/pipeline.yaml`` in one place, validated on load.

Why here and typed: districts, signers, documents cited, recipients and targets change with the
province and with time; they are edited by operators who are not programmers. A typo must stop
the run at load with a message naming the file and the field, not surface as a wrong report.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tthc.periods import CONVENTIONS, Period, parse_period
from tthc.phrases import Phrases, PhrasesError, load_phrases
from tthc.text import read_yaml
from tthc.units import Hierarchy, ReportingUnit, UnitsError, load_hierarchy

INCLUDE_DIR = Path(__file__).resolve().parents[2] / "include"
DEFAULT_CONFIG = INCLUDE_DIR / "config" / "pipeline.yaml"
CONFIG_ENV = "TTHC_CONFIG"


class ConfigError(ValueError):
    """The configuration file is missing or invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Document(_Strict):
    """A document cited in the report, e.g. ``Công điện 644/CĐ-TTg`` of 13/7/2023 by the Prime Minister."""

    title: str
    date: date
    issuer: str  # as written in full citations: "Ủy ban nhân dân tỉnh Đồng Tháp"
    issuer_short: str | None = None  # as written in the closing sentence: "Ủy ban nhân dân tỉnh"
    about: str | None = None  # "về việc ..." where the report cites it


class Signer(_Strict):
    capacity_prefix: str = "TM. ỦY BAN NHÂN DÂN"
    capacity: str = "CHỦ TỊCH"
    name: str | None = None  # None: the line stays blank and the run warns


class ReportSettings(_Strict):
    """What a report cites, to whom it goes, who signs it, and the words of its variable sentences.

    Defaults overlaid by a unit's and a period's values; the phrases come from the phrase file
    beside the template (``report_phrases``), the same for every unit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    recipient: str
    implements: list[Document]  # the documents whose implementation is reported (subject line)
    request: Document  # the request this report answers (opening paragraph)
    inspection_plan: str | None = None  # e.g. "Kế hoạch số 1537/KH-UBND ngày 03/3/2023 về kiểm tra công vụ năm 2023"
    inspection_lead: str | None = None  # e.g. "Phòng Nội vụ"
    distribution: list[str]  # "Nơi nhận" items after the recipient line ("Như trên" first)
    archive: str  # the "Lưu:" item, e.g. "VT, NCVN (s)"
    signer: Signer = Field(default_factory=Signer)
    phrases: Phrases


class Targets(_Strict):
    """Targets (percent) below which the report writes a shortcoming; None disables the comparison."""

    online_payment_rate: float | None = 50.0
    on_time_rate: float | None = 95.0
    dossier_digitization_rate: float | None = None
    result_digitization_rate: float | None = None


class Extraction(_Strict):
    page_size: int = Field(1000, ge=1, le=1000)
    feedback_limit: int = Field(500, ge=1, le=500)
    timeout_seconds: float = Field(30.0, gt=0)
    max_attempts: int = Field(8, ge=1)
    backoff_initial_seconds: float = Field(1.0, ge=0)
    backoff_max_seconds: float = Field(60.0, ge=0)
    max_passes: int = Field(5, ge=1)  # full re-reads of a live, shifting result set before giving up
    # Bounds on what one source may cost one extraction, whatever it sends (errors name these settings).
    response_deadline_seconds: float = Field(120.0, gt=0)  # one whole response, however slowly it drips
    max_response_bytes: int = Field(32 * 1024 * 1024, ge=1024)  # one body, decompressed
    max_pages: int = Field(10_000, ge=1)  # requests of one extraction (every pass)
    max_records: int = Field(2_000_000, ge=1)  # distinct records of one extraction

    def retry_policy(self) -> Any:
        from tthc.sources import RetryPolicy

        return RetryPolicy(self.max_attempts, self.backoff_initial_seconds, self.backoff_max_seconds,
                           self.timeout_seconds, self.max_passes)

    def limits(self) -> Any:
        from tthc.sources import Limits

        return Limits(self.response_deadline_seconds, self.max_response_bytes, self.max_pages, self.max_records)


class Tasks(_Strict):
    """Bounds on every task of a run (Airflow's ``execution_timeout``), so that nothing hangs unattended."""

    execution_timeout_minutes: int = Field(60, ge=1)


class Notifications(_Strict):
    """Who hears of a failure, by e-mail through Airflow's SMTP connection; an empty ``to`` sends nothing."""

    to: list[str] = Field(default_factory=list)  # addresses of the provincial operators
    from_email: str | None = None  # None: the SMTP connection's own "from_email"
    smtp_conn_id: str = "smtp_default"
    deadline_hours: float | None = Field(24.0, gt=0)  # a run still unfinished this long after it started; None: off

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return _check_addresses(value)


def _check_addresses(value: list[str]) -> list[str]:
    bad = [address for address in value if "@" not in address or any(c.isspace() for c in address)]
    if bad:
        raise ValueError(f"not e-mail addresses: {', '.join(bad)}")
    return value


class OfficeUser(_Strict):
    """A user of Airflow who may answer a unit's Required Action (``id`` as the auth manager knows it)."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)


class OfficeInputs(_Strict):
    """How a unit's month inputs (inspections, resources, assessment) are obtained.

    ``ask``: a Required Action (an Airflow form) asks the unit's office for them; false (the default)
    reads only ``include/inputs/<YYYY-MM>/<code>.yaml`` and the trigger form, so a run needs nobody.
    ``response_timeout``: after this long unanswered, the run goes on with what it has (an ISO 8601
    duration such as ``P3D`` or ``PT12H``). ``file_replaces_form``: a file or run parameters for the
    period replace the form (true) or only fill it in for the office to confirm (false).
    ``notify``: addresses told that the form waits (through ``notifications.smtp_conn_id``).

    After the report is rendered: ``sign_off`` makes the draft wait for the office's approval (a Required
    Action assigned to ``assigned_users``) for at most ``sign_off_timeout``; unapproved, it stays a draft.
    Without sign-off the report is final as soon as it is written. A final report is mailed to ``deliver_to``
    with ``deliver_cc`` (the province's office) in copy, .docx and .pdf attached; no ``deliver_to`` (the
    default), no mail, so a run never needs an SMTP server unless asked to.
    """

    ask: bool = False
    assigned_users: list[OfficeUser] = Field(default_factory=list)
    response_timeout: timedelta = timedelta(days=3)
    file_replaces_form: bool = True
    notify: list[str] = Field(default_factory=list)
    sign_off: bool = False
    sign_off_timeout: timedelta = timedelta(days=3)
    deliver_to: list[str] = Field(default_factory=list)
    deliver_cc: list[str] = Field(default_factory=list)

    @field_validator("response_timeout", "sign_off_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration, e.g. P3D (three days) or PT12H")
        return value

    @field_validator("notify", "deliver_to", "deliver_cc")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return _check_addresses(value)


@dataclass(frozen=True)
class OfficeSteps:
    """Which of the office's steps some unit's configuration uses: the DAG leaves the others out.

    Why: a step no unit uses only ever skips itself, and each skip costs a task process start (2–5 s of
    a worker slot on a small machine) per unit and month; with 102 units that is minutes of every month.
    """

    form: bool  # some unit's office is asked for its inputs (``ask``)
    sign_off: bool  # some unit signs off its report (``sign_off``; with it the return to the form on Reject)
    delivery: bool  # some unit's final report is mailed (``deliver_to``)


class OfficeInputsConfig(_Strict):
    """``office_inputs`` in the file: ``defaults`` for every unit, overlaid per unit code by ``units``."""

    defaults: OfficeInputs = Field(default_factory=OfficeInputs)
    units: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def for_unit(self, code: str) -> OfficeInputs:
        """The unit's settings: the defaults overlaid by its entry (an error names the unit and the field)."""
        over = self.units.get(code)
        if not over:
            return self.defaults
        try:
            return OfficeInputs.model_validate(_merge(self.defaults.model_dump(), over))
        except ValidationError as exc:
            fields = "; ".join(f"office_inputs.units.{code}.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                               for error in exc.errors())
            raise ConfigError(fields) from None

    def steps(self, codes: Iterable[str]) -> OfficeSteps:
        """The office's steps the units ``codes`` use between them (their own settings over the defaults)."""
        settings = [self.for_unit(code) for code in codes]
        return OfficeSteps(form=any(s.ask for s in settings), sign_off=any(s.sign_off for s in settings),
                           delivery=any(s.deliver_to for s in settings))


class Schedule(_Strict):
    convention: str = "nd09"
    delay_hours: int = Field(48, ge=0)  # wait after a period closes, so late entries are in the sources
    start_date: date = date(2023, 1, 15)

    @field_validator("convention")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CONVENTIONS:
            raise ValueError(f"must be one of {', '.join(CONVENTIONS)}")
        return value


class Quality(_Strict):
    """Data-quality policy: what each check does when it fails, and how much may be set aside.

    ``checks`` maps source (``dossiers``, ``feedback``, ``inputs``, ``metrics``) to check name to
    severity: ``block`` (no report for the district), ``warn`` (report written, finding reported) or
    ``quarantine`` (failing records set aside and excluded from the metrics, while their number stays
    within the limits below; above them the district is blocked). Checks not listed keep the default
    of ``tthc/quality/checks.py``, where each check also says which severities it allows.
    """

    quarantine_max_share: float | None = Field(0.01, ge=0, le=1)  # of a source's records; None: no share limit
    quarantine_max_records: int | None = Field(None, ge=0)  # absolute cap; None: no cap
    quarantine_min_records: int = Field(3, ge=0)  # this many may always be set aside (small sources)
    volume_drop_max_share: float = Field(0.5, gt=0, le=1)  # flag a fall of received dossiers larger than this
    volume_periods: int = Field(3, ge=1, le=24)  # previous periods in the warehouse whose mean is the baseline
    # Records of a source validated at once: the validation's memory grows with this, not with the unit.
    batch_records: int = Field(250_000, ge=1_000)
    checks: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        from tthc.quality.checks import validate_severities

        validate_severities(value)  # raises ValueError naming the check, the severity and what is allowed
        return value

    def severity(self, source: str, check: str) -> str:
        from tthc.quality.checks import get_check

        return self.checks.get(source, {}).get(check) or get_check(source, check).default

    def quarantine_limit(self, records: int) -> int:
        """How many of a source's ``records`` may be quarantined before the district is blocked."""
        limit = records if self.quarantine_max_share is None else int(records * self.quarantine_max_share)
        if self.quarantine_max_records is not None:
            limit = min(limit, self.quarantine_max_records)
        return max(limit, min(self.quarantine_min_records, records))


class UnitsInForce(_Strict):
    """A reference file of units and the date from which it holds (the first holds from the start).

    Why dated: Vietnam's units change (the 2025 reform removed the district level), and a backfill
    across the change must report on the districts before it and on the communes after it, from one
    deployment. ``report_defaults`` overlays the configuration's ``report_defaults`` for these units
    (a ward's distribution list names a ward's bodies); ``{unit_kind}`` in its texts becomes the
    unit's kind ("phường", "xã").
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    file: str  # relative to include/
    valid_from: date | None = Field(None, alias="from")
    report_defaults: dict[str, Any] = Field(default_factory=dict)


class PipelineConfig(_Strict):
    units: list[UnitsInForce] = Field(min_length=1)  # oldest first; a period uses those in force on its last day
    template: str  # relative to include/
    phrases: str  # relative to include/: the variable wording of the report, beside the template
    province_template: str  # relative to include/: the province's consolidated report
    inputs_dir: str = "inputs"  # relative to include/
    schedule: Schedule = Field(default_factory=Schedule)
    targets: Targets = Field(default_factory=Targets)
    extraction: Extraction = Field(default_factory=Extraction)
    tasks: Tasks = Field(default_factory=Tasks)
    notifications: Notifications = Field(default_factory=Notifications)
    quality: Quality = Field(default_factory=Quality)
    office_inputs: OfficeInputsConfig = Field(default_factory=OfficeInputsConfig)
    report_defaults: dict[str, Any]
    report_units: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # the province's consolidated report: overrides report_defaults as a unit's entry does
    report_province: dict[str, Any] = Field(default_factory=dict)
    # per unit code, per period name (YYYY-MM): values that change for that period only
    report_periods: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    # The folder the paths above are relative to. In the file: relative to the file's own folder
    # (``..`` for include/config/pipeline.yaml); absent, the folder above the file's folder.
    include_dir: Path = INCLUDE_DIR

    @field_validator("units")
    @classmethod
    def _dated_in_order(cls, value: list[UnitsInForce]) -> list[UnitsInForce]:
        if any(entry.valid_from is None for entry in value[1:]):
            raise ValueError("every entry after the first needs its date (from: YYYY-MM-DD)")
        dates = [entry.valid_from for entry in value if entry.valid_from is not None]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("entries must be in order of their dates (from:), each date once")
        return value

    @cached_property
    def hierarchies(self) -> tuple[Hierarchy, ...]:
        """Every reference file of ``units``, loaded, in the same order."""
        return tuple(load_hierarchy(self.include_dir / entry.file) for entry in self.units)

    def _era(self, period: Period | str) -> int:
        """The index in ``units`` of the entry in force on the period's last day."""
        if isinstance(period, str):
            period = parse_period(period, self.schedule.convention)
        last_day = period.end_date - timedelta(days=1)
        return max(i for i, entry in enumerate(self.units) if entry.valid_from is None or entry.valid_from <= last_day)

    def hierarchy_for(self, period: Period | str) -> Hierarchy:
        """The province and the reporting units in force on the period's last day (a ``Period`` or ``YYYY-MM``)."""
        return self.hierarchies[self._era(period)]

    def unit_for(self, code: str, period: Period | str) -> ReportingUnit:
        """The reporting unit ``code`` of the period; an error naming the period and its units when it is not one."""
        try:
            return self.hierarchy_for(period).get(code)
        except UnitsError as exc:
            name = period if isinstance(period, str) else period.name
            raise UnitsError(f"period {name}: {exc}") from None

    def office_steps(self) -> OfficeSteps:
        """The office's steps any reporting unit of any structure uses (``OfficeInputsConfig.steps``)."""
        return self.office_inputs.steps(unit.code for unit in self.all_reporting_units())

    def all_reporting_units(self) -> list[ReportingUnit]:
        """Every reporting unit of every entry of ``units``, oldest first (the trigger form offers them all)."""
        seen: dict[str, ReportingUnit] = {}
        for hierarchy in self.hierarchies:
            for unit in hierarchy.reporting_units:
                seen.setdefault(unit.code, unit)
        return list(seen.values())

    @property
    def template_path(self) -> Path:
        return self.include_dir / self.template

    @property
    def province_template_path(self) -> Path:
        return self.include_dir / self.province_template

    @property
    def phrases_path(self) -> Path:
        return self.include_dir / self.phrases

    @cached_property
    def report_phrases(self) -> Phrases:
        """The phrase file, checked (``tthc.phrases``); an error names the file, the entry and what is allowed."""
        try:
            return load_phrases(self.phrases_path)
        except PhrasesError as exc:
            raise ConfigError(f"{exc}. Fix the phrase file (see its first lines), then rerun") from None

    @property
    def inputs_path(self) -> Path:
        return self.include_dir / self.inputs_dir

    def report_settings(self, unit_code: str, period_name: str) -> ReportSettings:
        """Defaults, overlaid by those of the units in force, by the unit's values, by the unit's values for the period.

        ``{unit_kind}`` in a text becomes the unit's kind, so that one default serves wards and communes.
        """
        return self._unit_settings(self._era(period_name), self.unit_for(unit_code, period_name), period_name)

    def _unit_settings(self, era: int, unit: ReportingUnit, period_name: str) -> ReportSettings:
        merged = _merge(_merge(self.report_defaults, self.units[era].report_defaults),
                        self.report_units.get(unit.code, {}))
        merged = _merge(merged, self.report_periods.get(unit.code, {}).get(period_name, {}))
        return self._settings(merged, unit.kind, f"unit {unit.code}, period {period_name}")

    def province_report_settings(self, period_name: str) -> ReportSettings:
        """The consolidated report's settings: the defaults overlaid by ``report_province``."""
        province = self.hierarchy_for(period_name).province
        return self._settings(_merge(self.report_defaults, self.report_province), province.kind,
                              f"the province (report_province), period {period_name}")

    def _settings(self, merged: dict[str, Any], unit_kind: str, where: str) -> ReportSettings:
        if "phrases" in merged:
            raise ConfigError(f"report settings of {where}: phrases are not set per unit; edit the phrase file "
                              f"{self.phrases_path} (the setting phrases:)")
        merged = _with_kind(merged, unit_kind)
        try:
            return ReportSettings.model_validate({**merged, "phrases": self.report_phrases})
        except ValidationError as exc:
            raise ConfigError(f"report settings of {where}: {exc}") from exc


def _with_kind(value: Any, unit_kind: str) -> Any:
    """``{unit_kind}`` replaced in every text of a settings tree (the only placeholder settings take)."""
    if isinstance(value, str):
        return value.replace("{unit_kind}", unit_kind)
    if isinstance(value, dict):
        return {key: _with_kind(item, unit_kind) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_kind(item, unit_kind) for item in value]
    return value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc(k): _nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    return value


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Load and validate the configuration (``TTHC_CONFIG`` or the bundled file), checking every unit."""
    path = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    # NFC, and no control, bidi-override or invisible character reaches a signed document from here either.
    raw = read_yaml(path, "configuration file", ConfigError) or {}
    # YAML reads unquoted codes such as 872 as ints: codes are strings everywhere.
    for key in ("report_units", "report_periods"):
        if isinstance(raw.get(key), dict):
            raw[key] = {str(k): v for k, v in raw[key].items()}
    office = raw.get("office_inputs")
    if isinstance(office, dict) and isinstance(office.get("units"), dict):
        raw["office_inputs"] = {**office, "units": {str(k): v for k, v in office["units"].items()}}
    # include_dir is relative to the configuration file's folder, so a copy elsewhere says where its include is.
    raw["include_dir"] = (path.resolve().parent / str(raw.get("include_dir") or "..")).resolve()
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"configuration file {path} is invalid:\n{exc}") from exc
    files = [(f"units[{i}].file", config.include_dir / entry.file) for i, entry in enumerate(config.units)]
    for what, target in (*files, ("template", config.template_path), ("phrases", config.phrases_path),
                         ("province_template", config.province_template_path)):
        if not target.exists():
            raise ConfigError(
                f"{path}: {what} not found at {target}. Paths in this file are relative to include_dir "
                f"({config.include_dir}), which is itself relative to the file's folder; set include_dir "
                "in the file when it is not under include/config/")
    known = {unit.code for unit in config.all_reporting_units()}
    for code in [*config.report_units, *config.report_periods]:
        if code not in known:
            raise ConfigError(f"{path}: report settings for {code}, which is a reporting unit of none of the "
                              f"files of units: {', '.join(entry.file for entry in config.units)}")
    for code in config.office_inputs.units:
        if code not in known:
            raise ConfigError(f"{path}: office_inputs.units has {code}, which is a reporting unit of none of the "
                              f"files of units: {', '.join(entry.file for entry in config.units)}")
        try:
            config.office_inputs.for_unit(code)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    for era, hierarchy in enumerate(config.hierarchies):
        for unit in hierarchy.reporting_units:
            config._unit_settings(era, unit, "0000-01")  # every unit's settings validate
        config._settings(_merge(config.report_defaults, config.report_province), hierarchy.province.kind,
                         "the province (report_province)")
    return config
