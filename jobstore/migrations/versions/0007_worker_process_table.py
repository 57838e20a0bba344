"""Worker process table: each worker's row says which process table its pids belong to (boot and PID namespace),
so that an API in the same table sees at once that a worker's processes are gone (SIGKILL, a crash) instead of
waiting for its presence window and its job's lease to run out.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (a nullable one needs no table copy on SQLite)
    op.add_column("workers", sa.Column("process_table", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("process_table")
