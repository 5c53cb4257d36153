"""Running suites with Great Expectations and reading their results as findings.

Why one GX session per task: importing GX takes seconds, a context and a data source a few
milliseconds; a task imports GX once (``GxSession``) and runs every suite it needs in one ephemeral
context, which never touches the disk. Results are kept as GX writes them (``to_json_dict``): the raw
record for engineers, and with ``summary.json`` the input of the results page operators open
(``tthc.quality.page``), which every step that adds results (sources, then metrics) renders again.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tthc.quality import BLOCK, QUARANTINE, WARN
from tthc.quality.checks import get_check

log = logging.getLogger(__name__)

RESULT_FORMAT = "COMPLETE"
_GX_SEVERITY = {BLOCK: "critical", QUARANTINE: "warning", WARN: "info"}


@dataclass
class Finding:
    """One failed check of one source: what must hold, how it failed, the records that broke it."""

    source: str
    check: str
    severity: str
    rule: str
    fix: str
    record_level: bool
    expectations: list[str] = field(default_factory=list)  # the failed GX expectations, readable
    ids: list[str] = field(default_factory=list)  # offending record ids (record-level checks), sorted
    observed: list[str] = field(default_factory=list)  # what a table-level expectation saw, or an exception
    outcome: str = ""  # blocked | quarantined | warned (set by the policy)
    # What is wrong with each id, when the check knows more than the id: for ``field_types`` the fields and
    # their types, since those records were never landed and no quarantine file can show them.
    id_notes: dict[str, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.ids) if self.ids else max(len(self.expectations), 1)

    def to_dict(self, max_ids: int | None = None) -> dict[str, Any]:
        out = asdict(self)
        out["count"] = self.count
        if max_ids is not None and len(self.ids) > max_ids:
            out["ids"] = self.ids[:max_ids]
            out["ids_truncated"] = True
            out["id_notes"] = {i: self.id_notes[i] for i in out["ids"] if i in self.id_notes}
        return out


def describe(config: dict[str, Any]) -> str:
    """``expect_column_values_to_not_be_null(NgayHenTra where TrangThaiHoSo IN [9, 10])``, from a result's config."""
    kwargs = dict(config.get("kwargs") or {})
    kwargs.pop("batch_id", None)
    kwargs.pop("result_format", None)
    condition = kwargs.pop("row_condition", None)
    kwargs.pop("condition_parser", None)
    if config.get("description"):
        text = f"{config['type']}: {config['description']}"
    else:
        args = [str(kwargs.pop(key)) for key in ("column", "column_A", "column_B") if key in kwargs]
        args += [f"{key}={value}" for key, value in kwargs.items() if value is not None and key != "column_list"]
        text = f"{config['type']}({', '.join(args)})"
    if condition:
        text += f" where {_condition_text(condition)}"
    return text


def _condition_text(condition: Any) -> str:
    if isinstance(condition, dict):
        column = (condition.get("column") or {}).get("name", "?")
        if condition.get("type") == "nullity":
            return f"{column} IS {'NULL' if condition.get('is_null') else 'NOT NULL'}"
        if "operator" in condition:
            return f"{column} {condition['operator']} {condition.get('parameter')}"
        if "conditions" in condition:
            joiner = " AND " if condition.get("type") == "and" else " OR "
            return joiner.join(_condition_text(c) for c in condition["conditions"])
    return str(condition)


class GxSession:
    """Great Expectations imported once, one ephemeral context, one pandas data source."""

    def __init__(self) -> None:
        started = time.perf_counter()
        # GX logs one INFO line per public function it registers at import: noise in every task log.
        logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.import_seconds = time.perf_counter() - started
        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.source = self.context.data_sources.add_pandas("tthc")
        self._used: set[str] = set()

    def run(self, suite_name: str, frame: Any, expectations: list[tuple[str, Any]], source: str, id_column: str,
            severities: dict[str, str]) -> dict[str, Any]:
        """Validate ``frame`` with the expectations (tagged with their checks); the result as JSON-ready dict.

        Two passes, because naming offending records costs: every expectation with GX's ``BASIC``
        result (counts, a sample of values: what the results page shows), then only the failed ones again
        with ``COMPLETE`` results indexed by ``id_column`` (every offending id), spliced into the first.
        A clean month pays the cheap pass alone.
        """
        from great_expectations.expectations.metadata_types import FailureSeverity

        for number, (check, expectation) in enumerate(expectations):
            severity = severities[check]
            expectation.meta = {"check": check, "source": source, "severity": severity, "n": number}
            expectation.severity = FailureSeverity(_GX_SEVERITY[severity])
        result = self._validate(suite_name, frame, [e for _, e in expectations], {"result_format": "BASIC"})
        failed = {(item["expectation_config"].get("meta") or {}).get("n") for item in result["results"]
                  if not item.get("success")}
        if failed and id_column in frame.columns:
            again = [_fresh(e) for n, (_, e) in enumerate(expectations) if n in failed]
            detail = self._validate(f"{suite_name}.failed", frame, again, {
                "result_format": RESULT_FORMAT, "unexpected_index_column_names": [id_column]})
            by_number = {(item["expectation_config"].get("meta") or {}).get("n"): item for item in detail["results"]}
            result["results"] = [by_number.get((item["expectation_config"].get("meta") or {}).get("n"), item)
                                 for item in result["results"]]
        return result

    def _validate(self, name: str, frame: Any, expectations: list[Any], result_format: dict[str, Any]
                  ) -> dict[str, Any]:
        gx = self.gx
        if name in self._used:  # the same suite again in this session (a rerun): replace it
            self.context.validation_definitions.delete(name)
            self.context.suites.delete(name)
            self.source.delete_asset(name)
        self._used.add(name)
        batch = self.source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
        # All at once: ``suite.add_expectation`` re-serializes the whole suite on every call (quadratic).
        suite = self.context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        definition = self.context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch,
                                                                                     suite=suite))
        return definition.run(batch_parameters={"dataframe": frame}, result_format=result_format).to_json_dict()


def _fresh(expectation: Any) -> Any:
    """A copy of an expectation that another suite may own (a suite gives each expectation its id)."""
    copy = expectation.copy(deep=True)
    copy.id = None
    return copy


def findings(result: dict[str, Any], id_column: str) -> list[Finding]:
    """The failed checks of one suite's result, one finding per check (its expectations' ids merged)."""
    by_check: dict[str, Finding] = {}
    for item in result.get("results", []):
        if item.get("success"):
            continue
        config = item.get("expectation_config") or {}
        meta = config.get("meta") or {}
        check = get_check(meta["source"], meta["check"])
        finding = by_check.setdefault(check.name, Finding(
            source=check.source, check=check.name, severity=meta["severity"], rule=check.rule, fix=check.fix,
            record_level=check.record_level))
        finding.expectations.append(describe(config))
        details = item.get("result") or {}
        error = exception_text(item.get("exception_info"))
        if error:
            finding.observed.append(f"could not be evaluated: {error}")
            finding.record_level = False  # not every failing record can be named: the check fails as a whole
            continue
        ids = [str(row.get(id_column)) for row in details.get("unexpected_index_list") or []
               if isinstance(row, dict) and row.get(id_column) is not None]
        if ids:
            finding.ids = sorted(set(finding.ids) | set(ids))
        elif "observed_value" in details:
            finding.observed.append(f"observed {json.dumps(details['observed_value'], default=str)[:300]}")
        elif details.get("unexpected_count"):
            finding.observed.append(f"{details['unexpected_count']} unexpected value(s), records not named")
    for finding in by_check.values():
        if not finding.ids:
            finding.record_level = False
    return list(by_check.values())


def exception_text(info: Any) -> str | None:
    """The first error message of a result's ``exception_info`` (flat, or keyed by metric as GX 1.x does)."""
    if not isinstance(info, dict):
        return None
    candidates = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for candidate in candidates:
        if candidate.get("raised_exception") or candidate.get("exception_message"):
            text = str(candidate.get("exception_message") or "unknown error").strip()
            return (text.splitlines() or ["unknown error"])[0][:300]
    return None


def remove_tree(path: Any) -> None:
    """Remove a folder under the data root, local or object storage; absent is fine."""
    if isinstance(path, Path):
        shutil.rmtree(path, ignore_errors=True)
        return
    try:
        if path.exists():
            path.fs.rm(path.path, recursive=True)
    except FileNotFoundError:
        pass
