"""All settings of the web app and workers in one pydantic-settings object (environment prefix ``ADDROP_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
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
    api_token: str | None = Field(None, description="When set, every write endpoint requires it as a bearer token.")
    explain_requires_token: bool = Field(
        False, description="With api_token set, POST /api/explain needs the token too (it runs models)."
    )
    allow_open_network: bool = Field(
        False, description="Serve on a non-loopback address without api_token (only on a trusted network)."
    )

    models: list[str] = Field(
        ["minilm"], description="Models the explorer may load: hub ids, local directories or 'minilm'."
    )
    explain_max_chars: int = Field(2000, gt=0, description="Longest text (per sentence) the explorer accepts.")
    explain_max_tokens: int = Field(128, ge=8, le=512, description="Inputs are truncated to this many tokens.")
    explain_cache_size: int = Field(32, ge=0, description="Inputs whose attribution is kept for slider moves.")
    explain_max_models: int = Field(4, ge=1, description="Models kept loaded at once (least recently used leave).")
    explain_device: str = Field("cpu", description="Device the explorer's models run on (cpu, cuda, cuda:1).")
    explain_workers: int = Field(
        2, ge=1, description="Explain requests computed at once, on the explorer's own threads; with two or more, "
        "one is kept for requests that need no integrated gradients."
    )
    explain_queue: int = Field(
        16, ge=0, description="Explain requests that may wait for a thread; beyond them the answer is 503 with Retry-After."
    )

    broker_url: str | None = Field(
        None,
        validation_alias=AliasChoices("ADDROP_BROKER_URL", "CELERY_BROKER_URL"),
        description="Celery broker (e.g. redis://redis:6379/0); default: a SQLite file in data_dir, no server.",
    )
    job_queue: str = Field("addrop-jobs", min_length=1, description="Celery queue the job workers consume.")
    upload_max_bytes: int = Field(50 * 1024 * 1024, gt=0, description="Largest data file a user may upload.")
    upload_max_columns: int = Field(
        256, ge=1, description="Most columns an uploaded data file may have (its answer lists each one's values)."
    )
    allow_local_paths: bool = Field(
        True, description="Whether jobs may name directories on the workers' disks (data or model); off for a public site."
    )
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
    job_time_limit_seconds: int = Field(
        7 * 24 * 3600, gt=0, description="Celery's hard time limit of one job: past it the job's process is killed."
    )
    events_poll_seconds: float = Field(0.25, gt=0, description="How often an SSE stream looks for new points.")
    broker_visibility_timeout: int = Field(
        7 * 24 * 3600, gt=0, description="Seconds before Redis re-delivers an unacknowledged job message."
    )
    sweep_max_trials: int = Field(100, ge=1, description="Most settings one sweep may run.")
    sweep_poll_seconds: float = Field(
        2.0, gt=0, description="How often the API tells Optuna finished trials and asks for new ones."
    )
    embedded_worker: bool = Field(
        True, description="Whether addrop-studio starts a job worker itself when the broker is the embedded one."
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

    @property
    def uploads_dir(self) -> Path:
        """Where uploaded data files are kept."""
        return (self.data_dir / "uploads").resolve()

    @property
    def resolved_database_url(self) -> str:
        """The database URL to connect to (the SQLite default lives in ``data_dir``)."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'studio.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
