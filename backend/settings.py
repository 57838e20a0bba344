"""The web app's settings: the job store's (``jobstore.settings``) and the API's, pages' and explorer's, in one
pydantic-settings object (environment prefix ``ADDROP_``)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from jobstore.settings import StoreSettings


class Settings(StoreSettings):
    """Read from the environment (``ADDROP_<NAME>``) and an optional ``.env`` file."""

    api_token: str | None = Field(
        None, description="When set, every write requires it (a bearer token, or the cookie of a login at /login), "
        "and so does every read of jobs, sweeps and models unless open_reads is set."
    )
    open_reads: bool = Field(
        False, description="With api_token set, reads (the pages, the API's GETs, logs, streams, downloads) stay "
        "open to anyone, and only writes need the token: a read-only dashboard."
    )
    explain_requires_token: bool = Field(
        False, description="With api_token set, POST /api/explain needs the token too (it runs models)."
    )
    token_failures_allowed: int = Field(
        10, ge=1, description="Wrong API tokens (header, login cookie or /login form) one client address may send "
        "within token_failure_window_seconds; past them every token from that address, the right one too, is refused "
        "(429 with Retry-After) until its oldest failure leaves the window. Right tokens and requests without one "
        "never count."
    )
    token_failure_window_seconds: float = Field(
        60.0, gt=0, le=24 * 3600, description="The window over which token_failures_allowed counts an address's "
        "wrong tokens."
    )
    token_failure_addresses: int = Field(
        10_000, ge=1, description="Most client addresses whose wrong tokens are remembered at once (a few MB); "
        "past them the one that sent a token least recently is forgotten, so that memory stays bounded."
    )
    allow_open_network: bool = Field(
        False, description="Serve on a non-loopback address without api_token (only on a trusted network)."
    )
    allowed_hosts: list[str] = Field(
        ["localhost", "127.0.0.1", "[::1]"], min_length=1,
        description="Host names (the Host header) the server answers; any other gets a 400, so that a web page "
        "cannot reach the server through DNS rebinding. '*.example.org' takes its subdomains, '*' any name."
    )

    models: list[str] = Field(
        ["minilm"], description="Models the explorer may load: hub ids, local directories or 'minilm'; 'name=source' "
        "names one. A directory is listed by its last component (its path reaches no client)."
    )
    explain_max_chars: int = Field(2000, gt=0, description="Longest text (per sentence) the explorer accepts.")
    explain_max_tokens: int = Field(128, ge=8, le=512, description="Inputs are truncated to this many tokens.")
    explain_cache_max_bytes: int = Field(
        512 * 1024 * 1024, ge=0, description="Memory the attributions kept for slider moves may take (bytes; the "
        "least recently used leave first). An entry's maps grow with layers x heads x tokens squared: 9 MiB for "
        "128 tokens on MiniLM, 144 MiB for 512 tokens, 288 MiB on a 12-layer 12-head model; an input larger than "
        "the whole budget is answered but not kept. 0 keeps none."
    )
    explain_max_models: int = Field(4, ge=1, description="Models kept loaded at once (least recently used leave).")
    explain_device: str = Field("cpu", description="Device the explorer's models run on (cpu, cuda, cuda:1).")
    explain_workers: int = Field(
        2, ge=1, description="Explain requests computed at once, on the explorer's own threads; with two or more, "
        "one is kept for requests that need no integrated gradients."
    )
    explain_queue: int = Field(
        16, ge=0, description="Explain requests that may wait for a thread; beyond them the answer is 503 with Retry-After."
    )
    explain_threads: int = Field(
        1, ge=1, description="Torch threads each explain thread computes with. More than one per core (with two "
        "explain threads on two cores, or beside training workers) makes every small op wait on the slowest thread: "
        "a p/q redraw took 170 ms at 2 where it took 10 ms at 1 on a loaded 2-core machine."
    )

    body_max_bytes: int = Field(
        1024 * 1024, gt=0, description="Largest request body outside uploads (explain, job and sweep requests are a "
        "few KiB); a larger one is refused (413) as soon as it passes the cap, before it is parsed."
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="How long a request body outside uploads may take to arrive; a slower one is "
        "refused (408) and its connection closed."
    )
    upload_max_bytes: int = Field(50 * 1024 * 1024, gt=0, description="Largest data file a user may upload.")
    upload_timeout_seconds: float = Field(
        600.0, gt=0, description="How long an upload's body may take to arrive (50 MiB in 600 s is 85 KiB/s); a "
        "slower one is refused (408)."
    )
    upload_concurrency: int = Field(
        4, ge=1, description="Uploads received at once; each spills up to upload_max_bytes to temporary disk while "
        "it streams in. One more is refused (503, Retry-After)."
    )
    upload_max_columns: int = Field(
        256, ge=1, description="Most columns an uploaded data file may have (its answer lists each one's values)."
    )
    allow_local_paths: bool = Field(
        True, description="Whether jobs may name directories on the workers' disks (data or model); off for a public site."
    )
    events_poll_seconds: float = Field(0.25, gt=0, description="How often an SSE stream looks for new points.")
    events_max_streams: int = Field(
        256, ge=1, description="Live event streams (a job page each) this server holds open at once; one more is "
        "refused (503, Retry-After). Each holds a connection, and the feed reads every watched job in one query, "
        "which SQLite refuses past 998 jobs."
    )
    events_max_streams_per_client: int = Field(
        32, ge=1, description="Live event streams one client address may hold open at once (a browser holds one per "
        "open job page); one more is refused (429, Retry-After)."
    )
    server_max_connections: int = Field(
        512, ge=2, description="Connections (and requests in flight) uvicorn serves at once (its limit_concurrency); "
        "past them each request gets a 503 at once. It stays under the usual limit of 1024 open files a process, "
        "which sockets share with the database and model files, and above events_max_streams, so that pages and "
        "the API still answer while every stream is taken."
    )
    server_keep_alive_seconds: int = Field(
        5, ge=1, le=300, description="How long an idle connection is kept open for a next request (uvicorn's "
        "timeout_keep_alive)."
    )
    sweep_max_trials: int = Field(100, ge=1, description="Most settings one sweep may run.")
    sweep_poll_seconds: float = Field(
        2.0, gt=0, description="How often the API tells Optuna finished trials and asks for new ones."
    )
    embedded_worker: bool = Field(
        True, description="Whether addrop-studio starts a job worker itself when the broker is the embedded one."
    )
    embedded_workers: int = Field(
        1, ge=1, le=64, description="How many job workers addrop-studio starts on the embedded broker; with more "
        "than one, each trains with its share of the cores (on a 2-core CPU two one-thread workers ran 1.21x the "
        "runs per hour of one two-thread worker: benchmarks/worker_layout.py)."
    )

    @field_validator("api_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        # A client's bearer token is read without surrounding whitespace, so a configured one is too. A token of
        # whitespace alone is a mistake (a blank line in a .env file), not a secret: it would pass the start-up
        # check on an open address, so it stops the server instead. An empty one means none, as it always did.
        if value is None or value == "":
            return None
        if not value.strip():
            raise ValueError("ADDROP_API_TOKEN is only whitespace: set a long random string, or leave it unset")
        return value.strip()

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, names: list[str]) -> list[str]:
        # The Host header brackets an IPv6 address ("[::1]:8000"); Starlette compares the name so bracketed.
        cleaned = []
        for name in (name.strip().lower() for name in names):
            try:
                cleaned.append(f"[{name}]" if ipaddress.ip_address(name).version == 6 else name)
            except ValueError:
                cleaned.append(name)
        if "" in cleaned:
            raise ValueError("a host name is empty")
        return cleaned

    @model_validator(mode="after")
    def _room_beside_streams(self) -> Settings:
        # Every stream holds one of uvicorn's connections: with none left over, a full set of streams would leave
        # every page and API request a 503.
        if self.server_max_connections <= self.events_max_streams:
            raise ValueError(f"server_max_connections ({self.server_max_connections}) must exceed events_max_streams "
                             f"({self.events_max_streams}), or open streams leave no connection for anything else")
        return self

    @property
    def uploads_dir(self) -> Path:
        """Where uploaded data files are kept."""
        return (self.data_dir / "uploads").resolve()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
