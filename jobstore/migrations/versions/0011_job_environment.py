"""Jobs record the environment that trained them (``environment``: addrop's version and commit, the libraries, the
device and the machine), written by the worker when it starts the job. Jobs from before it have none (NULL).

Revision ID: 0011
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An older SQLite kept the column when it went back past 0011 (see downgrade): it is taken as it is.
    if "environment" in {column["name"] for column in sa.inspect(op.get_bind()).get_columns("jobs")}:
        return
    # A plain ADD COLUMN without a default: SQLite's batch mode would copy the table instead, and dropping the
    # old jobs table cascades to every metric point and log line (see 0006).
    op.add_column("jobs", sa.Column("environment", sa.JSON))


def downgrade() -> None:
    # A plain DROP COLUMN, as 0009 does: SQLite 3.35+ drops an unindexed column in place. An older SQLite keeps
    # it: it is nullable and not mapped by the code before 0011, so it does no harm.
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        return
    op.drop_column("jobs", "environment")
