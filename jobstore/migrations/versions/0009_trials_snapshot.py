"""Sweeps keep a snapshot of their study's trials (``trials_snapshot``), written whenever the API changes the
study, so the list of sweeps reads its trials from the sweeps table instead of loading each Optuna study.
Sweeps from before it have none (NULL) until the list or a round fills it.

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN without a default: SQLite's batch mode would copy the table (see 0006)
    op.add_column("sweeps", sa.Column("trials_snapshot", sa.JSON))


def downgrade() -> None:
    op.drop_column("sweeps", "trials_snapshot")
