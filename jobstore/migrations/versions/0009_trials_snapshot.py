"""Sweeps keep a snapshot of their study's trials (``trials_snapshot``), so a sweep's page and the list of sweeps
read the trials from the sweeps table instead of loading each Optuna study. Sweeps from before it have none
(NULL): a running one gets it from its next round, a finished one when it is first read.

Revision ID: 0009
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN without a default: SQLite's batch mode would copy the table instead, and dropping the
    # old sweeps table cascades to every job of every sweep (see 0006).
    op.add_column("sweeps", sa.Column("trials_snapshot", sa.JSON))


def downgrade() -> None:
    # A plain DROP COLUMN, as 0008 does: SQLite 3.35+ drops an unindexed column in place. An older SQLite keeps
    # it: it is nullable and not mapped by the code before 0009, so it does no harm.
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        return
    op.drop_column("sweeps", "trials_snapshot")
