"""The tables as the first release created them: jobs, metric points, log lines, uploads.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("metric_name", sa.String(64), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("started_at", Stamp),
        sa.Column("finished_at", Stamp),
        sa.Column("heartbeat_at", Stamp),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("worker", sa.String(200)),
        sa.Column("epoch", sa.Float, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("max_steps", sa.Integer, nullable=False),
        sa.Column("eta_seconds", sa.Float),
        sa.Column("best_metric", sa.Float),
        sa.Column("best_epoch", sa.Float),
        sa.Column("final_metrics", sa.JSON),
        sa.Column("checkpoint", sa.String(1000)),
        sa.Column("error", sa.Text),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
    )
    op.create_table(
        "metric_points",
        sa.Column("id", Id, primary_key=True),
        sa.Column("job_id", Id, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("epoch", sa.Float, nullable=False),
        sa.Column("values", sa.JSON, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
    )
    op.create_index("ix_metric_points_job_id_id", "metric_points", ["job_id", "id"])
    op.create_table(
        "log_lines",
        sa.Column("id", Id, primary_key=True),
        sa.Column("job_id", Id, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_log_lines_job_id_id", "log_lines", ["job_id", "id"])


def downgrade() -> None:
    for table in ("log_lines", "metric_points", "uploads", "jobs"):
        op.drop_table(table)
