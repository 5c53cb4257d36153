"""Connectors to the two source systems of docs/sources.md; they take URLs, secrets and sessions, not connections."""

from tthc.sources.hotline import fetch_feedback
from tthc.sources.http import Limits, RetryPolicy, SourceError
from tthc.sources.one_stop import fetch_dossiers

__all__ = ["Limits", "RetryPolicy", "SourceError", "fetch_dossiers", "fetch_feedback"]
