"""Schemas of the presets API: named training and AD-DROP settings per task, with their sources."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PresetInfo(BaseModel):
    """A preset and the tasks it covers."""

    name: str
    title: str
    tasks: list[str]


class PresetOut(BaseModel):
    """A preset's values for one task and model: merge ``training`` and ``addrop`` into a job request."""

    name: str
    title: str
    task: str
    model: str
    training: dict[str, Any] = Field(description="Values for the job's training section.")
    addrop: dict[str, Any] = Field(description="Values for the job's addrop section; layers resolved for the model.")
    sources: dict[str, str] = Field(description="Where each value comes from.")
    notes: list[str] = Field(description="What the preset does not reproduce, and why.")
