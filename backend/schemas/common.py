"""Schemas shared by several routers."""

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, BeforeValidator


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class ErrorMessage(BaseModel):
    """What every 4xx answer carries: a message a person can act on."""

    detail: str


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


AttributionMethod = Annotated[Literal["GA", "IGA", "AA", "RD"], BeforeValidator(_upper)]
"""An AD-DROP attribution method, in any letter case."""


RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A row id (databases store 64-bit integers).")]
"""A path id that fits the database's integers, so a huge one is a 422, not a driver overflow."""
