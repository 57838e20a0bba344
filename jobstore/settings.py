"""The settings the job store and the workers need (environment prefix ``ADDROP_``): where the database, the
broker and the job outputs are, and the timings of leases, heartbeats and limits. The web app's settings
extend these."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StoreSettings(BaseSettings):
    """Read from the environment (``ADDROP_<NAME>``) and an optional ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="ADDROP_", env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        Path("studio-data"), description="Where the SQLite database, uploads and job outputs live."
    )
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("ADDROP_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; default: a SQLite file in data_dir.",
    )
    broker_url: str | None = Field(
        None,
        validation_alias=AliasChoices("ADDROP_BROKER_URL", "CELERY_BROKER_URL"),
        description="Celery broker (e.g. redis://redis:6379/0); default: a SQLite file in data_dir, no server.",
    )
    job_queue: str = Field("addrop-jobs", min_length=1, description="Celery queue the job workers consume.")
    job_heartbeat_seconds: float = Field(2.0, gt=0, description="How often a running job proves it is alive.")
    job_lease_seconds: float = Field(
        60.0, gt=0, description="A running job silent for this long is failed: its worker died."
    )
    worker_presence_seconds: float = Field(
        10.0, gt=0, description="How often a worker records that it is alive; three missed rounds and it counts as gone."
    )
    job_stall_seconds: float = Field(
        1800.0, gt=0, description="A running job with no training step or evaluation batch for this long is "
        "failed and its process ended (it hung; its heartbeat alone does not show progress)."
    )
    pool_process_timeout_seconds: float = Field(
        300.0, gt=0, description="How long a worker's pool process may take to start (about 1 s: it is forked with "
        "torch and transformers imported) or to exit after its job; past it the process writes its Python stacks to the "
        "worker's log and is ended, and the worker starts another (one froze at start-up in about 200 starts)."
    )
    job_time_limit_seconds: int = Field(
        7 * 24 * 3600, gt=0, description="Celery's hard time limit of one job: past it the job's process is killed."
    )
    keep_checkpoints: int | None = Field(
        None, ge=0, description="Retention: keep the best checkpoints of this many most recently finished jobs (besides "
        "every job marked keep) and remove older ones; the job's row, metrics, log and other files stay, and its page "
        "says the checkpoint was removed by retention. Unset: every checkpoint is kept."
    )
    keep_cancelled_checkpoints: bool = Field(
        False, description="Whether a cancelled job keeps the best checkpoint of the epochs it ran (by default it keeps "
        "none: a cancelled run is rarely one to explore or download)."
    )
    broker_visibility_timeout: int = Field(
        7 * 24 * 3600, gt=0, description="Seconds before Redis re-delivers an unacknowledged job message."
    )

    @property
    def resolved_broker_url(self) -> str:
        """The Celery broker URL (the embedded default is a SQLite file in ``data_dir``)."""
        return self.broker_url or f"sqla+sqlite:///{(self.data_dir / 'broker.db').resolve()}"

    @property
    def embedded_broker(self) -> bool:
        """True when jobs travel through the server-less SQLite broker."""
        return self.broker_url is None

    @property
    def jobs_dir(self) -> Path:
        """Where each job writes its output directory (checkpoint, metrics.json)."""
        return (self.data_dir / "jobs").resolve()

    def job_dir(self, job_id: int) -> Path:
        """Job ``job_id``'s output directory (the same name under every machine's ``jobs_dir``)."""
        return self.jobs_dir / f"job-{job_id}"

    @property
    def resolved_database_url(self) -> str:
        """The database URL to connect to (the SQLite default lives in ``data_dir``)."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'studio.db').resolve()}"


@lru_cache
def get_store_settings() -> StoreSettings:
    """The process-wide store settings, read once (a worker's whole configuration)."""
    return StoreSettings()
