"""Data quality: every extract is checked with Great Expectations before any number is computed from it.

Why a package of its own: a report built on bad data is worse than no report. The suites are code
(``dossiers``, ``feedback``, ``inputs``, ``metrics``), each check has a name that the configuration
(``quality`` in ``include/config/pipeline.yaml``) maps to a severity, and the runner turns GX results
into findings the policy blocks, warns about or quarantines.

Cheap to import: pandas, pyarrow and Great Expectations are imported inside the functions that use
them (GX takes seconds to import), never when a DAG file or the plugin manager imports this package.
"""

from __future__ import annotations

from tthc.metrics import DataError

BLOCK, WARN, QUARANTINE = "block", "warn", "quarantine"
SEVERITIES = (BLOCK, WARN, QUARANTINE)


class QualityError(DataError):
    """Source data that failed a blocking check: names the system, the check, the count, some ids and the fix.

    A subclass of ``DataError`` (itself a ``ValueError``): retrying the task cannot help, the data must
    be corrected in the source (or the policy changed) and the district rerun.
    """
