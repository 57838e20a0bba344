"""Sweeps: a sweeps table, and each job's place in a sweep (role, Optuna trial, seed).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("base_config", sa.JSON, nullable=False),
        sa.Column("study_name", sa.String(200), nullable=False, unique=True),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("metric_name", sa.String(64), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp),
        sa.Column("controller_until", Stamp),
        sa.Column("message", sa.Text),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_index("ix_sweeps_state", "sweeps", ["state"])
    # Plain ADD COLUMNs: a batch copy of jobs would drop the table, and with SQLite's foreign keys on that
    # deletes every metric point and log line through ON DELETE CASCADE. SQLite cannot add a constraint to
    # an existing table, so there the sweep reference stays unchecked.
    if op.get_bind().dialect.name == "sqlite":
        op.add_column("jobs", sa.Column("sweep_id", Id))
    else:
        op.add_column("jobs", sa.Column("sweep_id", Id, sa.ForeignKey("sweeps.id", ondelete="CASCADE")))
    for name in ("trial_number", "trial_id", "seed_index"):
        op.add_column("jobs", sa.Column(name, sa.Integer))
    op.add_column("jobs", sa.Column("sweep_role", sa.String(16)))
    op.create_index("ix_jobs_sweep_id", "jobs", ["sweep_id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_sweep_id", "jobs")
    for name in ("sweep_role", "seed_index", "trial_id", "trial_number", "sweep_id"):
        op.drop_column("jobs", name)
    op.drop_table("sweeps")
