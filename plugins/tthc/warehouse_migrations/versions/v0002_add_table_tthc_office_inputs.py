"""Table ``tthc_office_inputs``: the office inputs each unit's month used, and where they came from.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

Why: the month's inputs (inspections, resources, assessment) may now be entered by the unit's office in
an Airflow form; what was entered, or that nobody answered in time, is kept per unit and period so that
a rerun or a backfill reuses it and an auditor can see which inputs were defaulted. A new table: the rows
already stored in the metrics tables are untouched, and months reported before it have no inputs row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "tthc_office_inputs"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("period", sa.String(length=7), nullable=False, comment="reporting month YYYY-MM"),
        sa.Column("district_code", sa.String(length=8), nullable=False, comment="GSO code of the reporting unit"),
        sa.Column("source", sa.String(length=32), nullable=False,
                  comment="form, timeout, file, run parameters, ... or none"),
        sa.Column("inputs", sa.Text(), nullable=True,
                  comment="the inputs as JSON (tthc.inputs.OperatorInputs); null: none"),
        sa.Column("defaulted", sa.String(length=200), nullable=False,
                  comment="report fields without a value, comma-separated"),
        sa.Column("answered_by", sa.String(length=250), nullable=True,
                  comment="id of the Airflow user who answered the form"),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True,
                  comment="the answer, or the form's timeout"),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint("period", "district_code"),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
