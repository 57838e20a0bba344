"""Database tables: jobs, their metric points and log lines, uploaded data files, and sweeps of jobs.

The schema is changed only through the Alembic migrations in ``jobstore/migrations``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from jobstore.configs import CONFIG_VERSION

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer, "sqlite")

# A job's states: queued, then running, then one of FINISHED. A sweep is running, then succeeded or cancelled.
QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
PRUNED = "pruned"  # a sweep's trial stopped early because its dev metric was clearly behind (not a failure)
FINISHED = (SUCCEEDED, FAILED, CANCELLED, PRUNED)
SWEEP_FINISHED = (SUCCEEDED, CANCELLED)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp that always reads back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One fine-tuning job: what was asked for, where it stands, and what it produced."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), index=True, default=QUEUED)
    # the request as submitted (shown on the page, used to clone a job) and the resolved FinetuneConfig
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_version: Mapped[int] = mapped_column(Integer, default=CONFIG_VERSION)
    task: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(500))
    metric_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(200))
    epoch: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    max_steps: Mapped[int] = mapped_column(Integer, default=0)
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    best_metric: Mapped[float | None] = mapped_column(Float)
    best_epoch: Mapped[float | None] = mapped_column(Float)
    final_metrics: Mapped[dict[str, float] | None] = mapped_column(JSON)
    checkpoint: Mapped[str | None] = mapped_column(String(1000))
    keep: Mapped[bool] = mapped_column(Boolean, default=False)  # its checkpoint outlives retention
    checkpoint_pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when retention removed it
    # set before its files go and its rows are deleted: a delete cut short is finished on the next start
    deleting: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    # what trained it, as its worker found it on starting the job (addrop.environment.training_environment); SQL
    # NULL for a job not started yet, or started before it was recorded
    environment: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # bumped on every change, so event streams can tell a status change without comparing fields
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # a sweep's job: a trial's run for one of its seeds, or the baseline twin for one seed
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), index=True)
    sweep_role: Mapped[str | None] = mapped_column(String(16))  # "trial" or "baseline"
    trial_number: Mapped[int | None] = mapped_column(Integer)  # the Optuna trial's number in the sweep's study
    seed_index: Mapped[int | None] = mapped_column(Integer)  # position of training.seed in the sweep's seeds


class Sweep(Base):
    """A search over AD-DROP settings for one base job, run as ordinary jobs; Optuna's study (same database)
    holds the trials, and this row what the sweep asked for and where it stands."""

    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), index=True, default=RUNNING)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # the request as submitted
    # the base job's resolved FinetuneConfig; its runs' configs are built from their specs, on its data files
    base_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    study_name: Mapped[str] = mapped_column(String(200), unique=True)
    task: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(500))
    metric_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the API process advancing the sweep holds this lease, so two API replicas never ask for the same trial
    controller_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message: Mapped[str | None] = mapped_column(Text)  # why it ended, or what it waits for
    revision: Mapped[int] = mapped_column(Integer, default=0)
    deleting: Mapped[bool] = mapped_column(Boolean, default=False)  # as a job's
    # set (under the lease) before a cancel stops anything: a cancel cut short is finished by the next round, and
    # the sweep stays running until its last step (state, snapshot and revision in one write)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # The study's trials as the API last left them (jobstore.studies.snapshot), written only where no trial can
    # be half asked: at creation, by the round or the cancel holding the lease, or once for a finished sweep
    # from before it was kept (SQL NULL until then). The sweep's page and the list read them here, not the study.
    trials_snapshot: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))


class WorkerSeen(Base):
    """A job worker's presence: its pool process (idle or running a job) renews ``last_seen``."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid of the worker's parent
    queue: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)  # the pool process writing this row
    busy_job_id: Mapped[int | None] = mapped_column(Id)
    gpus: Mapped[int] = mapped_column(Integer, default=0)  # CUDA devices the pool process sees
    # where the pids are valid (jobstore.process_table); None from a worker that cannot say
    process_table: Mapped[str | None] = mapped_column(String(100), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class MetricPoint(Base):
    """A training-step log, a dev evaluation, an epoch start or an epoch's attribution dynamics, as reported by the
    trainer (``kind``: step, eval, epoch, dynamics)."""

    __tablename__ = "metric_points"
    __table_args__ = (Index("ix_metric_points_job_id_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[float] = mapped_column(Float)
    values: Mapped[dict[str, float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogLine(Base):
    """One line of a job's log."""

    __tablename__ = "log_lines"
    __table_args__ = (Index("ix_log_lines_job_id_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    level: Mapped[str] = mapped_column(String(8), default="INFO")
    message: Mapped[str] = mapped_column(Text)


class Upload(Base):
    """A data file uploaded through the form or the API, kept under the uploads directory."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(1000))  # relative to the uploads directory
    size: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[str]] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
