"""Config versions: each job row says which version of the stored config (``jobstore.configs``) it holds, so
that a worker upgrades a config written by older code and refuses one written by newer code.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every job stored so far holds version 1, the first versioned layout.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("config_version", sa.Integer, nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("config_version")
