"""Disk that does not only grow: a job can be marked ``keep`` (its checkpoint outlives retention), records when
retention removed its checkpoint, and jobs and sweeps carry a ``deleting`` mark, set before their files go and
their rows are deleted, so that a delete cut short (the process died) is finished on the next start.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMNs with a literal default: SQLite's batch mode would copy the tables instead (an expression
    # default makes it), and dropping the old jobs table then cascades to every metric point and log line.
    # '0' reads as false on both SQLite and PostgreSQL.
    op.add_column("jobs", sa.Column("keep", sa.Boolean, nullable=False, server_default="0"))
    op.add_column("jobs", sa.Column("checkpoint_pruned_at", Stamp))
    op.add_column("jobs", sa.Column("deleting", sa.Boolean, nullable=False, server_default="0"))
    op.add_column("sweeps", sa.Column("deleting", sa.Boolean, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sweeps") as batch:
        batch.drop_column("deleting")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("deleting")
        batch.drop_column("checkpoint_pruned_at")
        batch.drop_column("keep")
