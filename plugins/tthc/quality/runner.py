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
from collections.abc import Iterable, Sequence
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
        return self._run_tagged(suite_name, frame, _tagged(expectations, source, severities), id_column)

    def run_batches(self, suite_name: str, batches: Iterable[Any], expectations: list[tuple[str, Any]], source: str,
                    id_column: str, severities: dict[str, str], keep: Sequence[str] = ()) -> tuple[dict[str, Any], Any]:
        """``run`` over a source read in row batches: one result as if the whole frame had been validated at once.

        Why: GX's pandas engine holds the frame, fingerprints it and makes its own copies per expectation;
        a unit of a million dossiers validated whole rose by 1.2 GB. Expectations about each row's own
        values (and the schema, the same in every batch) run per batch and their results are merged
        (``merge_results``); those whose verdict needs every row (uniqueness, a column's sum) run once
        over only the columns they read, gathered from every batch. Batches must carry their rows'
        positions in the whole as their index, so that GX's row indexes stay those of the source.

        Returns the merged result and a frame of ``id_column``, the columns of those whole-column
        expectations and ``keep``, over every row.
        """
        import pandas as pd

        tagged = _tagged(expectations, source, severities)
        by_row = [e for e in tagged if not needs_every_row(e)]
        whole = [e for e in tagged if needs_every_row(e)]
        narrow = list(dict.fromkeys([id_column, *(c for e in whole for c in _columns(e)), *keep]))
        parts: list[dict[str, Any]] = []
        kept: list[Any] = []
        for batch in batches:
            parts.append(self._run_tagged(suite_name, batch, [_fresh(e) for e in by_row], id_column))
            kept.append(batch[[c for c in narrow if c in batch.columns]])
        gathered = pd.concat(kept) if kept else pd.DataFrame(columns=narrow)
        if whole:
            parts.append(self._run_tagged(f"{suite_name}.whole", gathered, [_fresh(e) for e in whole], id_column))
        return merge_results(parts, _gx_order(tagged)), gathered

    def _run_tagged(self, suite_name: str, frame: Any, expectations: list[Any], id_column: str) -> dict[str, Any]:
        """The two passes of ``run`` over expectations already tagged (``_tagged``)."""
        result = self._validate(suite_name, frame, expectations, {"result_format": "BASIC"})
        failed = {_number(item) for item in result["results"] if not item.get("success")}
        if failed and id_column in frame.columns:
            again = [_fresh(e) for e in expectations if e.meta["n"] in failed]
            detail = self._validate(f"{suite_name}.failed", frame, again, {
                "result_format": RESULT_FORMAT, "unexpected_index_column_names": [id_column]})
            by_number = {_number(item): item for item in detail["results"]}
            result["results"] = [by_number.get(_number(item), item) for item in result["results"]]
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


def _tagged(expectations: list[tuple[str, Any]], source: str, severities: dict[str, str]) -> list[Any]:
    """The expectations with their check, source, severity and number (``n``: their place in the suite) in ``meta``."""
    from great_expectations.expectations.metadata_types import FailureSeverity

    out = []
    for number, (check, expectation) in enumerate(expectations):
        severity = severities[check]
        expectation.meta = {"check": check, "source": source, "severity": severity, "n": number}
        expectation.severity = FailureSeverity(_GX_SEVERITY[severity])
        out.append(expectation)
    return out


def _number(item: dict[str, Any]) -> Any:
    """The number ``_tagged`` gave the expectation of one result item."""
    return (item["expectation_config"].get("meta") or {}).get("n")


# Expectations whose verdict depends on every row at once, not on each row's own values: never per batch.
_EVERY_ROW = {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
              "expect_multicolumn_values_to_be_unique", "expect_table_row_count_to_be_between",
              "expect_table_row_count_to_equal"}


def needs_every_row(expectation: Any) -> bool:
    """True for an expectation that cannot be judged batch by batch: uniqueness, row counts, column aggregates.

    Everything else our suites use is a map expectation (each row judged by its own values) or a schema
    expectation (the columns and dtypes, which every batch of one Parquet file shares).
    """
    from great_expectations.expectations.expectation import ColumnAggregateExpectation

    return isinstance(expectation, ColumnAggregateExpectation) or expectation.expectation_type in _EVERY_ROW


def _columns(expectation: Any) -> list[str]:
    """The columns a whole-column expectation reads (it may have no row condition: see ``run_batches``)."""
    if getattr(expectation, "row_condition", None):
        raise ValueError(f"{expectation.expectation_type} with a row condition cannot be validated in batches")
    names = [getattr(expectation, key, None) for key in ("column", "column_A", "column_B")]
    return [n for n in names if n] + list(getattr(expectation, "column_list", None) or [])


PARTIAL_VALUES = 20  # GX's default partial_unexpected_count: the sample a BASIC result keeps


def _gx_order(expectations: list[Any]) -> list[int]:
    """The numbers of tagged expectations in the order GX evaluates and reports a suite.

    Grouped by column in order of first appearance, those without one column together, as GX's
    ``Validator.process_expectations_for_validation`` orders them.
    """
    groups: dict[str | None, list[int]] = {}
    for expectation in expectations:
        column = getattr(expectation, "column", None)
        groups.setdefault(column if isinstance(column, str) else None, []).append(expectation.meta["n"])
    return [n for numbers in groups.values() for n in numbers]


def merge_results(parts: list[dict[str, Any]], order: list[int] | None = None) -> dict[str, Any]:
    """One suite result from results over row batches (and over whole columns), as GX would have written it whole.

    Results are listed in ``order`` (expectation numbers; GX's own order of the whole suite). Per expectation
    (its ``n``): failed when it failed in any part; counts added and percentages computed
    again as GX computes them; value and index lists joined (samples cut to GX's 20 again, the most common
    unexpected values counted again over the whole list). A table-level result (no ``element_count``)
    is the first failing part's, else the first part's. ``unexpected_index_query`` is dropped when more
    than one part had it (each names only its batch's rows). ``meta.row_batches`` says how many rows
    each part validated.
    """
    if len(parts) == 1:
        return parts[0]
    items: dict[Any, list[dict[str, Any]]] = {}
    for part in parts:
        for item in part.get("results", []):
            items.setdefault(_number(item), []).append(item)
    rank = {n: i for i, n in enumerate(order or [])}
    results = [_merge_item(items[n]) for n in sorted(items, key=lambda n: (rank.get(n, len(rank)), n is None, n))]
    successful = sum(1 for item in results if item.get("success"))
    merged = dict(parts[0])
    merged["results"] = results
    merged["success"] = successful == len(results)
    merged["statistics"] = {"evaluated_expectations": len(results), "successful_expectations": successful,
                            "unsuccessful_expectations": len(results) - successful,
                            "success_percent": successful / len(results) * 100 if results else None}
    merged["meta"] = {**(parts[0].get("meta") or {}),
                      "row_batches": [_rows_of(part) for part in parts]}
    return merged


def _rows_of(part: dict[str, Any]) -> int | None:
    counts = [(item.get("result") or {}).get("element_count") for item in part.get("results", [])]
    return next((c for c in counts if c is not None), None)


def _merge_item(items: list[dict[str, Any]]) -> dict[str, Any]:
    if len(items) == 1:
        return items[0]
    merged = dict(items[0])
    merged["success"] = all(item.get("success") for item in items)
    raised = next((item for item in items if exception_text(item.get("exception_info"))), None)
    if raised is not None:
        merged["exception_info"] = raised["exception_info"]
    details = [item.get("result") or {} for item in items]
    if all("element_count" in d for d in details):
        # a failed part's result first: only failed parts were validated again with every detail (COMPLETE)
        order = sorted(range(len(items)), key=lambda i: bool(items[i].get("success")))
        merged["result"] = _merge_counts([details[i] for i in order], details)
    else:
        merged["result"] = next((item.get("result") for item in items if not item.get("success")), details[0])
    return merged


def _merge_counts(first_failed: list[dict[str, Any]], details: list[dict[str, Any]]) -> dict[str, Any]:
    """Map-expectation results of row batches (``details``, in row order) added up as GX's ``_format_map_output``
    does; the keys are those of the first failed part's result (``first_failed`` is ``details`` failed first)."""
    from collections import Counter

    out = dict(first_failed[0])
    element = sum(d.get("element_count") or 0 for d in details)
    unexpected = sum(d.get("unexpected_count") or 0 for d in details)
    out["element_count"], out["unexpected_count"] = element, unexpected
    total = unexpected / element * 100 if element else None
    if "missing_count" in out:
        missing = sum(d.get("missing_count") or 0 for d in details)
        present = element - missing
        out["missing_count"] = missing
        out["missing_percent"] = missing / element * 100 if element else None
        out["unexpected_percent_total"] = total
        out["unexpected_percent_nonmissing"] = unexpected / present * 100 if element and present else None
        out["unexpected_percent"] = out["unexpected_percent_nonmissing"]
    else:
        out["unexpected_percent"] = total
    for key in ("unexpected_list", "unexpected_index_list", "partial_unexpected_list",
                "partial_unexpected_index_list"):
        if any(key in d for d in details):
            joined = [value for d in details for value in d.get(key) or []]
            out[key] = joined[:PARTIAL_VALUES] if key.startswith("partial_") else joined
    if "partial_unexpected_counts" in out and "unexpected_list" in out:
        # GX counted tuples (a pair's or a row's values) that its JSON then wrote as lists: tuples again
        values = [tuple(v.values()) if isinstance(v, dict) else tuple(v) if isinstance(v, list) else v
                  for v in out["unexpected_list"]]
        try:
            common = Counter(values).most_common(PARTIAL_VALUES)
            out["partial_unexpected_counts"] = [
                {"value": list(value) if isinstance(value, tuple) else value, "count": count}
                for value, count in sorted(common, key=lambda x: (-x[1], x[0]))]
        except TypeError:
            out["partial_unexpected_counts"] = [{"error": "partial_exception_counts requires a hashable type"}]
    if sum(1 for d in details if d.get("unexpected_index_query")) > 1:
        out["unexpected_index_query"] = None
    return out


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
