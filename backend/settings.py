"""All settings of the web app and workers in one pydantic-settings object (environment prefix ``ADDROP_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read from the environment (``ADDROP_<NAME>``) and an optional ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="ADDROP_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path("studio-data"), description="Where the SQLite database, uploads and job outputs live."
    )
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("ADDROP_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; default: a SQLite file in data_dir.",
    )
    api_token: str | None = Field(None, description="When set, every write endpoint requires it as a bearer token.")

    models: list[str] = Field(
        ["minilm"], description="Models the explorer may load: hub ids, local directories or 'minilm'."
    )
    explain_max_chars: int = Field(2000, gt=0, description="Longest text (per sentence) the explorer accepts.")
    explain_max_tokens: int = Field(128, ge=8, le=512, description="Inputs are truncated to this many tokens.")
    explain_cache_size: int = Field(32, ge=0, description="Inputs whose attribution is kept for slider moves.")
    explain_device: str = Field("cpu", description="Device the explorer's models run on (cpu, cuda, cuda:1).")

    @property
    def resolved_database_url(self) -> str:
        """The database URL to connect to (the SQLite default lives in ``data_dir``)."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'studio.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
