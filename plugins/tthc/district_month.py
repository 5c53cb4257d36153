"""One reporting unit's month: the value every step of the pipeline takes first.

Why a value: the steps of a district's month (extract, validate, compute, write) all need the same
things: the configuration, the period, the unit, the data root and the warehouse. Passed one by one
they were five arguments in four different orders; bundled, a step's signature says only what is
particular to it (a fetch callable, the operator inputs, the run id), after the month. The Airflow glue
builds it once per task (``tthc_airflow.district_task``) from the small dict ``plan`` sends through
XCom; tests and scripts build it directly. Frozen: a step cannot change what the next step sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tthc.config import PipelineConfig
from tthc.locations import DistrictFiles
from tthc.periods import Period
from tthc.units import ReportingUnit


@dataclass(frozen=True)
class DistrictMonth:
    """A reporting unit (a district, or after the 2025 reform a province), a period, and where its data goes."""

    config: PipelineConfig
    period: Period
    unit: ReportingUnit
    root: Any  # the data root: a pathlib.Path, or an ObjectStoragePath when workers run on several hosts
    warehouse_url: str  # SQLAlchemy URL of the warehouse

    @property
    def files(self) -> DistrictFiles:
        """Where the unit's files of the period live under the data root (``tthc.locations``)."""
        return DistrictFiles(self.root, self.period.name, self.unit.code)
