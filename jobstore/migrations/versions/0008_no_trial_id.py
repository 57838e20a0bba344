"""Jobs no longer keep their Optuna trial's storage id: a sweep's run finds its trial by its number
(``trial_number``) through Optuna's public API, which never hands out the id.

Revision ID: 0008
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain DROP COLUMN: SQLite 3.35+ drops an unindexed column without copying the table (a batch copy of jobs
    # would cascade-delete its metric points, see 0006). An older SQLite keeps the column: it is nullable and no
    # longer mapped, so it does no harm.
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        return
    op.drop_column("jobs", "trial_id")


def downgrade() -> None:
    # The older code prunes a run through this id: fill it in again from Optuna's own tables (same database).
    inspector = sa.inspect(op.get_bind())
    if "trial_id" not in {column["name"] for column in inspector.get_columns("jobs")}:
        op.add_column("jobs", sa.Column("trial_id", sa.Integer))
    if not {"trials", "studies"} <= set(inspector.get_table_names()):  # no sweep ever made a study here
        return
    op.execute(
        "UPDATE jobs SET trial_id = (SELECT trials.trial_id FROM trials "
        "JOIN studies ON studies.study_id = trials.study_id JOIN sweeps ON sweeps.study_name = studies.study_name "
        "WHERE sweeps.id = jobs.sweep_id AND trials.number = jobs.trial_number) "
        "WHERE jobs.trial_number IS NOT NULL")
