"""Schemas shared by several routers."""

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class ErrorMessage(BaseModel):
    """What every 4xx answer carries: a message a person can act on."""

    detail: str
