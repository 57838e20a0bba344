"""Schemas shared by several routers."""

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

MAX_ROW_ID = 2**63 - 1
"""The largest id (and offset) a database's signed 64-bit integer holds."""

MAX_MODEL_CHARS = 500
"""The longest model name a request may give (hub ids are at most 96 characters; a directory a few hundred)."""


class StrictRequest(BaseModel):
    """The one strictness of every request body the API reads (explain, jobs, sweeps): an unknown or misspelt
    field is an error, not a silently ignored default; a number must be a JSON number and a boolean a JSON
    boolean ("0.3" and "yes" are not, nor 3.0 for a count); NaN and infinity (which Python's json reads; 1e400
    is infinity by then) are no setting."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ErrorMessage(BaseModel):
    """What every 4xx answer carries: a message a person can act on."""

    detail: str


class ValidationIssue(BaseModel):
    """One problem with the request, as pydantic reports it (non-finite numbers and lone surrogates in
    ``input`` are written out as text, so the answer is standard JSON)."""

    type: str = Field(description="What kind of problem, e.g. missing, greater_than_equal, lone_surrogate.")
    loc: list[str | int] = Field(description='Where: "body", "query", "path" or "header", then the field path.')
    msg: str
    input: Any = None
    ctx: dict[str, Any] | None = None


class ValidationProblem(BaseModel):
    """Every 422 answer: ``detail`` is one sentence per problem, "field: what is wrong; ...", and ``errors``
    lists them one by one when the request failed the schema (it is absent when a later check refused it)."""

    detail: str = Field(description='"field: what is wrong", one per problem, joined by "; " (the first 20, then '
                                    '"and N more problems").')
    errors: list[ValidationIssue] = Field(
        [], description="The same problems (the first 20), structured; absent when the schema passed and a later "
                        "check refused."
    )


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


AttributionMethod = Annotated[Literal["GA", "IGA", "AA", "RD"], BeforeValidator(_upper)]
"""An AD-DROP attribution method, in any letter case."""


RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id (databases store 64-bit integers).")]
"""A path id that fits the database's integers, so a huge one is a 422, not a driver overflow."""


LONE_SURROGATE = ("contains a lone surrogate{where}; send Unicode text (a character beyond U+FFFF is escaped as "
                  "a surrogate pair)")
"""The message for a string with a lone surrogate (``where`` says which and where, or is empty)."""


NUL_CHARACTER = "contains a NUL character (\\u0000 at character {at}), which no text field may hold"
"""The message for a string with a NUL character."""


def _unicode_text(value: object) -> object:
    # JSON can escape a lone surrogate ("\\ud800"); Python's json reads it into a str that is not Unicode
    # text: PostgreSQL, the tokenizer and the UTF-8 encoding of every answer that echoes it reject it.
    # A before-validator, so that it speaks first (pydantic's own message for it names no cause).
    # JSON can escape a NUL character too ("\\u0000"): no file name holds it, and PostgreSQL's text columns
    # refuse it (a job named so was a 500 there, where SQLite stored it).
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            where = f" (\\u{ord(value[error.start]):04x} at character {error.start})"
            raise PydanticCustomError("lone_surrogate", LONE_SURROGATE.replace("{where}", where)) from None
        if (at := value.find("\0")) >= 0:
            raise PydanticCustomError("nul_character", NUL_CHARACTER.replace("{at}", str(at)))
    return value


Text = Annotated[str, BeforeValidator(_unicode_text)]
"""A string of Unicode text: any ``str`` field of a request, so a lone surrogate or a NUL character is a 422
naming the field."""
