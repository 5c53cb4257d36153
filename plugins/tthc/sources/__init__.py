"""Connectors to the two source systems of sources.md; they take URLs and secrets, not Airflow connections."""

from tthc.sources.hotline import fetch_feedback
from tthc.sources.http import RetryPolicy, SourceError
from tthc.sources.one_stop import fetch_dossiers

__all__ = ["RetryPolicy", "SourceError", "fetch_dossiers", "fetch_feedback"]
