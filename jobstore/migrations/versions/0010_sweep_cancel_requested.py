"""A sweep's cancel is recorded before it is carried out (``cancel_requested``), so that a cancel cut short (the API
process died between stopping the sweep's jobs, failing its trials and keeping its snapshot) is finished by the
next round instead of leaving jobs and trials that nothing stops. Sweeps from before it were never being cancelled.

Revision ID: 0010
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN with a literal default: SQLite's batch mode would copy the table instead, and dropping the
    # old sweeps table cascades to every job of every sweep (see 0006). '0' reads as false on both databases.
    op.add_column("sweeps", sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default="0"))


def downgrade() -> None:
    # A plain DROP COLUMN, as 0009 does: SQLite 3.35+ drops an unindexed column in place. An older SQLite keeps
    # it: the code before 0010 does not map it and its server default fills it in, so it does no harm. (A sweep
    # whose cancel was cut short before the downgrade runs on under that code, which cannot tell.)
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        return
    op.drop_column("sweeps", "cancel_requested")
