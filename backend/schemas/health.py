"""The health answer: the server, the job workers seen alive, and the queue."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class WorkerOut(BaseModel):
    """A job worker seen recently."""

    name: str = Field(description="host:pid of the worker")
    last_seen: datetime
    busy_job_id: int | None = Field(description="The job it runs, or null when idle.")
    gpus: int = Field(description="CUDA devices its job processes see (0: it trains on the CPU).")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    workers: list[WorkerOut] | None = Field(description="Job workers alive (seen within three presence rounds); null "
                                            "for a client without the API token when reads need it.")
    queued_jobs: int | None = Field(description="Jobs waiting for a worker (null as workers is).")
    warning: str | None = Field(description="Set when jobs wait and no worker is alive, or while this server's own "
                                "job workers wait for those an earlier server started on the data directory to exit.")
    data_dir_bytes: int | None = Field(
        description="Disk space the data directory takes (database, uploads, job outputs), in bytes, measured at most "
        "every 30 s; null as workers is.")
    disk_free_bytes: int | None = Field(description="Space left on the data directory's file system (null as workers is).")
    explain_cache_bytes: int | None = Field(
        description="Memory the explorer's cached attributions take now, in bytes (at most the server's "
        "explain_cache_max_bytes); null as workers is.")
    explain_cache_entries: int | None = Field(
        description="Inputs whose attribution the explorer keeps (null as workers is).")
