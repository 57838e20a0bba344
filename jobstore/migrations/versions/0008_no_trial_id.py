"""Jobs no longer keep their Optuna trial's storage id: a sweep's run finds its trial by its number
(``trial_number``) through Optuna's public API, which never hands out the id.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain DROP COLUMN (SQLite 3.35+ drops an unindexed column without copying the table)
    op.drop_column("jobs", "trial_id")


def downgrade() -> None:
    op.add_column("jobs", sa.Column("trial_id", sa.Integer))
