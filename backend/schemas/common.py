"""Schemas shared by several routers."""

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, BeforeValidator
from pydantic_core import PydanticCustomError

MAX_ROW_ID = 2**63 - 1
"""The largest id (and offset) a database's signed 64-bit integer holds."""


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


RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id (databases store 64-bit integers).")]
"""A path id that fits the database's integers, so a huge one is a 422, not a driver overflow."""


LONE_SURROGATE = ("contains a lone surrogate{where}; send Unicode text (a character beyond U+FFFF is escaped as "
                  "a surrogate pair)")
"""The message for a string with a lone surrogate (``where`` says which and where, or is empty)."""


def _unicode_text(value: object) -> object:
    # JSON can escape a lone surrogate ("\\ud800"); Python's json reads it into a str that is not Unicode
    # text: PostgreSQL, the tokenizer and the UTF-8 encoding of every answer that echoes it reject it.
    # A before-validator, so that it speaks first (pydantic's own message for it names no cause).
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            where = f" (\\u{ord(value[error.start]):04x} at character {error.start})"
            raise PydanticCustomError("lone_surrogate", LONE_SURROGATE.replace("{where}", where)) from None
    return value


Text = Annotated[str, BeforeValidator(_unicode_text)]
"""A string of Unicode text: any ``str`` field of a request, so a lone surrogate is a 422 naming the field."""
