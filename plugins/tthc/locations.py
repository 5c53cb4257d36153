"""Where every file of the pipeline lives under the data root: the one module that spells folder and file names.

Why one module: the layout is a contract with people and programs outside the step that writes a file.
The next step reads what the previous one wrote (possibly on another host), the outputs pages of the UI
plugin serve the report set and the quality folder, operators open the results page from a failed
task's message, and the README documents the layout. Spelled in one place, a name cannot drift between
its writer and its readers. Nothing here reads or writes (``tthc.storage`` writes, atomically); every
function takes the data root as a path object, a ``pathlib.Path`` or the Airflow glue's
``ObjectStoragePath``, and returns one built from it. With ``PurePosixPath()`` as the root, the paths
are those relative to the data root, as shown to people.

Layout of one period ``<YYYY-MM>`` and reporting unit ``<code>``:

- ``raw/<YYYY-MM>/<code>/``: per source (``dossiers``, ``feedback``) the landed extract ``<source>.parquet``
  (no personal data) and ``<source>.rejected.json``, the records set aside for a field of the wrong JSON
  type (ids and fields, no values);
- ``quality/<YYYY-MM>/<code>/``: the results page ``index.html``, each GX result ``<suite>.json``, the
  findings ``summary.json``, the quarantined records ``quarantine/<source>.parquet`` and the clean
  extracts ``<source>.parquet`` the metrics are computed from (see ``tthc.quality.district``);
- ``metrics/<YYYY-MM>/<code>/evidence.json``: the figures stored in the warehouse and how to trace them, with
  the record ids behind them beside it as ``dossier-ids.parquet`` and ``feedback-ids.parquet`` (one row per
  record: its id, its handling unit, one flag per count), which the evidence names with their digests;
- ``inputs/<YYYY-MM>/<code>.json``: the office's inputs the unit's month used and where they came from (the
  form's answer, a timeout, the inputs file), kept so that a rerun or a backfill does not ask again;
- ``reports/<YYYY-MM>/``: the unit's report set ``bao-cao-tthc-<code>-<YYYY-MM>`` + ``.docx``, ``.pdf``,
  ``.evidence.json``, and the period's ``run-summary.json``, written by a run's last task; beside a set
  that is final (approved by the office, or written for a unit without sign-off) its marker
  ``bao-cao-tthc-<code>-<YYYY-MM>.final.json`` (who approved and when, the .docx's digest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

RAW, QUALITY, METRICS, REPORTS = "raw", "quality", "metrics", "reports"  # the data root's top folders
OFFICE_INPUTS = "inputs"  # the data root's folder of the inputs each unit's month used (tthc.inputs.StoredInputs)

RESULTS_PAGE = "index.html"  # the page an operator opens, in the quality folder
QUALITY_SUMMARY = "summary.json"  # the gate's findings and decisions, beside the page
QUARANTINE = "quarantine"  # subfolder of the quality folder: the records set aside, per source
OLD_DATA_DOCS = "data_docs"  # GX Data Docs that earlier versions wrote in the quality folder; removed
EVIDENCE = "evidence.json"  # in metrics/<YYYY-MM>/<code>/
EVIDENCE_IDS = {"dossiers": "dossier-ids.parquet", "feedback": "feedback-ids.parquet"}  # beside it

RUN_SUMMARY = "run-summary.json"  # beside a period's reports, written by the run's last task
# A unit's report set of a period: the letter, its PDF and the record ids behind its figures.
REPORT_PREFIX = "bao-cao-tthc"
REPORT_SUFFIXES = {"docx": ".docx", "pdf": ".pdf", "evidence": ".evidence.json"}
FINAL_SUFFIX = ".final.json"  # beside a report set that is final; not a file of the set (never served)
# The province's consolidated set of a period: the letter, its PDF and the workbook of every unit's figures.
PROVINCE_PREFIX = "tong-hop-tthc"
PROVINCE_SUFFIXES = {"docx": ".docx", "pdf": ".pdf", "xlsx": ".xlsx"}


def _set_names(prefix: str, suffixes: dict[str, str], code: str, period: str) -> dict[str, str]:
    return {kind: f"{prefix}-{code}-{period}{suffix}" for kind, suffix in suffixes.items()}


def _parse_set_name(prefix: str, suffixes: dict[str, str], name: str) -> tuple[str, str, str] | None:
    stem = re.compile(rf"{re.escape(prefix)}-(\d{{1,6}})-(\d{{4}}-\d{{2}})")
    for kind, suffix in suffixes.items():
        if name.endswith(suffix):
            match = stem.fullmatch(name.removesuffix(suffix))
            if match is not None:
                return match.group(1), match.group(2), kind
    return None


def report_names(unit_code: str, period: str) -> dict[str, str]:
    """File names of a unit's report set under ``reports/<YYYY-MM>/``: ``bao-cao-tthc-<code>-<YYYY-MM><suffix>``.

    The GSO code makes each name unique and findable; the pipeline writes these, the UI plugin serves them.
    """
    return _set_names(REPORT_PREFIX, REPORT_SUFFIXES, unit_code, period)


def parse_report_name(name: str) -> tuple[str, str, str] | None:
    """(unit code, period, kind) of a report set's file name, None for any other name (``report_names`` reversed).

    Why: the outputs plugin serves a file only when its name is one the pipeline writes.
    """
    return _parse_set_name(REPORT_PREFIX, REPORT_SUFFIXES, name)


def province_names(province_code: str, period: str) -> dict[str, str]:
    """File names of the province's set under ``reports/<YYYY-MM>/``: ``tong-hop-tthc-<code>-<YYYY-MM><suffix>``."""
    return _set_names(PROVINCE_PREFIX, PROVINCE_SUFFIXES, province_code, period)


def parse_province_name(name: str) -> tuple[str, str, str] | None:
    """(province code, period, kind) of a province set's file name, None for any other name."""
    return _parse_set_name(PROVINCE_PREFIX, PROVINCE_SUFFIXES, name)


def province_announced(root: Any, province_code: str, period: str) -> Any:
    """What was last announced of the province's set (its digest): an unchanged set is not announced twice."""
    return report_dir(root, period) / f"{PROVINCE_PREFIX}-{province_code}-{period}.announced.json"


def province_set(root: Any, province_code: str, period: str) -> dict[str, Any]:
    """The province's set of the period by kind (``docx``, ``pdf``, ``xlsx``); the .docx is written last."""
    folder = report_dir(root, period)
    return {kind: folder / name for kind, name in province_names(province_code, period).items()}


def evidence_ids_key(period: str, unit_code: str, source: str) -> str:
    """Where a source's id file of the unit's evidence is, relative to the data root (as the evidence names it)."""
    return f"{METRICS}/{period}/{unit_code}/{EVIDENCE_IDS[source]}"


def report_dir(root: Any, period: str) -> Any:
    """All reports of one period, one set per reporting unit (its GSO code in the names), and the run summary."""
    return root / REPORTS / period


def run_summary_path(root: Any, period: str) -> Any:
    """The summary of the last run of the period (``tthc_airflow.summary``), beside its reports."""
    return report_dir(root, period) / RUN_SUMMARY


def office_inputs_path(root: Any, period: str, unit_code: str) -> Any:
    """The inputs a unit's month used (``inputs/<YYYY-MM>/<code>.json``): also read for the next month's form."""
    return root / OFFICE_INPUTS / period / f"{unit_code}.json"


def results_name(suite: str) -> str:
    """File name of a GX validation result in the quality folder (also the results page's link to it)."""
    return f"{suite}.json"


def quarantine_name(source: str) -> str:
    """The quarantined records of a source, relative to the quality folder (the results page links to it)."""
    return f"{QUARANTINE}/{source}.parquet"


@dataclass(frozen=True)
class QualityFiles:
    """The quality folder of one unit's month, ``quality/<YYYY-MM>/<code>/``, and what the gate writes in it."""

    path: Any

    @property
    def page(self) -> Any:
        """The results page (``tthc.quality.page``)."""
        return self.path / RESULTS_PAGE

    @property
    def summary(self) -> Any:
        """The findings per source and what was blocked, warned about or quarantined."""
        return self.path / QUALITY_SUMMARY

    def results(self, suite: str) -> Any:
        """A GX validation result, as GX writes it."""
        return self.path / results_name(suite)

    @property
    def quarantine_dir(self) -> Any:
        return self.path / QUARANTINE

    def quarantined(self, source: str) -> Any:
        """The records of ``source`` set aside, as landed, with the checks each failed."""
        return self.quarantine_dir / f"{source}.parquet"

    def clean(self, source: str) -> Any:
        """The validated extract of a source (quarantined records removed): the only input of the metrics step."""
        return self.path / f"{source}.parquet"

    @property
    def old_data_docs(self) -> Any:
        return self.path / OLD_DATA_DOCS


@dataclass(frozen=True)
class DistrictFiles:
    """Every file of one reporting unit's month under the data root ``root``."""

    root: Any
    period: str
    unit_code: str

    @property
    def raw_dir(self) -> Any:
        """Raw extracts (no personal data) of the unit and period."""
        return self.root / RAW / self.period / self.unit_code

    def landed(self, source: str) -> Any:
        """The extract of ``source`` as landed (``tthc.landing``): every record of an allowed type."""
        return self.raw_dir / f"{source}.parquet"

    def rejected(self, source: str) -> Any:
        """Beside the landed extract: the records set aside for a wrong JSON type (id, field, types; no value)."""
        return self.raw_dir / f"{source}.rejected.json"

    @property
    def quality(self) -> QualityFiles:
        return QualityFiles(self.root / QUALITY / self.period / self.unit_code)

    @property
    def evidence(self) -> Any:
        """The evidence of the unit's figures as stored in the warehouse, copied into the report set when written.

        It exists only while the warehouse holds the rows it describes: ``tthc.pipeline.compute_metrics``
        removes it before replacing them and writes the new one after.
        """
        return self.root / METRICS / self.period / self.unit_code / EVIDENCE

    def evidence_ids(self, source: str) -> Any:
        """The record ids behind the figures of one source (``dossiers``, ``feedback``), beside ``evidence``.

        Why a columnar file and not lists in the evidence JSON: at a million dossiers those lists made a 133 MB
        JSON that the metrics and report steps held as Python objects (over a gigabyte); the same ids and
        their flags are a few MB of Parquet, and the JSON stays small.
        """
        return self.root / evidence_ids_key(self.period, self.unit_code, source)

    @property
    def office_inputs(self) -> Any:
        """The inputs the unit's month used, with their source (``tthc.inputs.StoredInputs``), as JSON."""
        return office_inputs_path(self.root, self.period, self.unit_code)

    @property
    def report_dir(self) -> Any:
        return report_dir(self.root, self.period)

    @property
    def report_set(self) -> dict[str, Any]:
        """The files of the unit's report set of the period, by kind: ``docx``, ``pdf``, ``evidence``.

        The .docx is the set's commit (written last, removed first: ``tthc.pipeline.publish_report``):
        readers of the reports folder show a unit's PDF and evidence only beside its .docx.
        """
        folder = self.report_dir
        return {kind: folder / name for kind, name in report_names(self.unit_code, self.period).items()}

    @property
    def report_final(self) -> Any:
        """The marker of a final report set (``tthc.pipeline.finalize_report``): it exists only beside its .docx.

        Removed first whenever the set is withdrawn, so a re-rendered draft is never taken for the approved one.
        """
        return self.report_dir / f"{REPORT_PREFIX}-{self.unit_code}-{self.period}{FINAL_SUFFIX}"

    @property
    def run_summary(self) -> Any:
        """The period's run summary (for every unit: a report set that changes makes it stale)."""
        return run_summary_path(self.root, self.period)
