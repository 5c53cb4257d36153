"""The warehouse as it was before migrations: ``tthc_dossier_metrics`` and ``tthc_feedback_metrics``.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Why the metric names are written out here and not taken from ``tthc.metrics``: this revision must
create, forever, the schema that ``metadata.create_all`` made when it was written. The lists in
``tthc.metrics`` grow with every new metric, and each new metric is a revision of its own. A warehouse
created before migrations existed is stamped at this revision (``tables`` is what it must hold).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

DOSSIER = "tthc_dossier_metrics"
FEEDBACK = "tthc_feedback_metrics"

DOSSIER_COUNTS = ("received", "received_online", "carried_over", "resolved", "resolved_early", "resolved_on_time",
                  "resolved_late", "withdrawn", "pending", "pending_overdue", "digitized_dossiers",
                  "digitized_results", "fee_dossiers", "paid_online")
DOSSIER_RATES = ("on_time_rate", "online_rate", "dossier_digitization_rate", "result_digitization_rate",
                 "online_payment_rate")
FEEDBACK_COUNTS = ("feedback_received", "feedback_about_procedures", "feedback_answered_on_time",
                   "feedback_answered_late", "feedback_overdue", "feedback_in_progress", "feedback_rejected",
                   "feedback_late")


def _keys() -> list[sa.Column[Any]]:
    return [sa.Column("period", sa.String(7), primary_key=True, comment="reporting month YYYY-MM"),
            sa.Column("district_code", sa.String(8), primary_key=True, comment="GSO code of the reporting unit")]


def _provenance() -> list[sa.Column[Any]]:
    return [sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("run_id", sa.String(250), nullable=False)]


def dossier_columns() -> list[sa.Column[Any]]:
    """New column objects on each call: a column belongs to one table, and both Alembic and ``tables`` need them."""
    return [
        *_keys(),
        sa.Column("level", sa.String(8), primary_key=True, comment="huyen, xa, tong or commune"),
        sa.Column("unit_code", sa.String(8), primary_key=True, comment="the district's code, or the commune's"),
        *[sa.Column(name, sa.Integer, nullable=False) for name in DOSSIER_COUNTS],
        *[sa.Column(name, sa.Numeric(5, 2), nullable=True, comment="percent; null when nothing arose")
          for name in DOSSIER_RATES],
        *_provenance(),
    ]


def feedback_columns() -> list[sa.Column[Any]]:
    return [*_keys(), *[sa.Column(name, sa.Integer, nullable=False) for name in FEEDBACK_COUNTS], *_provenance()]


def tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """This revision's two tables in ``metadata``: what a warehouse made before migrations holds."""
    return (sa.Table(DOSSIER, metadata, *dossier_columns()), sa.Table(FEEDBACK, metadata, *feedback_columns()))


def upgrade() -> None:
    op.create_table(DOSSIER, *dossier_columns())
    op.create_table(FEEDBACK, *feedback_columns())


def downgrade() -> None:
    op.drop_table(FEEDBACK)
    op.drop_table(DOSSIER)
