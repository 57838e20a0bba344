"""Error answers people can read: every 4xx carries ``detail`` as one sentence-like string, every 422 is the
:class:`~backend.schemas.common.ValidationProblem` the OpenAPI document declares, and every answer is
standard JSON even when the request held NaN, infinity or lone surrogates."""

from __future__ import annotations

import itertools
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from backend.schemas.common import LONE_SURROGATE, ErrorMessage, ValidationProblem

PROBLEM_REF = f"#/components/schemas/{ValidationProblem.__name__}"
MESSAGE_REF = f"#/components/schemas/{ErrorMessage.__name__}"
# What any request with a body may get (backend.bodies.BodyLimits), whatever its route declares.
BODY_REFUSALS = {"408": "The request body did not arrive in time", "413": "The request body is too large"}


def _location(loc: tuple) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


def plain(value: Any) -> Any:
    """``value`` with what standard JSON cannot carry written out as text: a non-finite float as "nan",
    "inf" or "-inf", a lone surrogate as its escape (``\\ud800``), so an answer that echoes the input encodes."""
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def _named_surrogate(item: dict[str, Any]) -> dict[str, Any]:
    # pydantic's own error for a str it cannot read as UTF-8 (a lone surrogate in a dict key or a field name,
    # where no Text validator runs) names neither the cause nor the key: name both.
    if item.get("type") != "string_unicode":
        return item
    loc, given = tuple(item.get("loc", ())), item.get("input")
    where = ""
    if isinstance(given, str) and loc[-1:] == ("[key]",):  # a dict's key, which pydantic's location mangles
        loc, where = (*loc[:-2], given, "[key]"), " (in the key)"
    elif isinstance(given, str):  # a field's name: pydantic's location stops above it
        loc, where = (*loc, given), " (in the field's name)"
    return {**item, "type": "lone_surrogate", "loc": loc, "msg": LONE_SURROGATE.replace("{where}", where)}


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with ``detail`` as "field: what is wrong; ..." and the structured ``errors`` beside it."""
    # What the request sent comes back in the location (a field's name) and the input: each string of it cut,
    # and only the first MAX_PROBLEMS problems (a list of 100,000 wrong items is 100,000 problems: answered
    # whole, a 600 KiB body got a 30 MB answer that took the event loop, and every other request, a minute).
    found = error.errors()
    items = [{**item, "loc": tuple(clipped(part) for part in item.get("loc", ())),
              **({"input": clipped(item["input"])} if "input" in item else {})}
             for item in map(_named_surrogate, found[:MAX_PROBLEMS])]
    messages = []
    for item in items:
        if item.get("type") == "json_invalid":
            messages.append(f"the request body is not valid JSON ({item.get('ctx', {}).get('error', 'parse error')})")
            continue
        message = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
        messages.append(f"{_location(tuple(item.get('loc', ())))}: {message}")
    if len(found) > MAX_PROBLEMS:
        messages.append(f"and {len(found) - MAX_PROBLEMS} more problems")
    errors = jsonable_encoder(items, custom_encoder={Exception: str})
    return JSONResponse(status_code=422, content=plain({"detail": "; ".join(messages), "errors": errors}))


MAX_PROBLEMS = 20
"""The most problems one validation answer lists; the rest are counted."""

ECHO_CHARS = 200
"""The most of one string of the request that an answer echoes; a longer one is cut (with "…")."""

ECHO_ITEMS = 20
"""The most items of one list or object of the request that an answer echoes; a longer list ends with "…"."""


def clipped(value: Any) -> Any:
    """``value`` with every string over :data:`ECHO_CHARS` and every list or object over :data:`ECHO_ITEMS` cut,
    so that a refusal does not send a huge input (a 100,000-character model name, a list past its bound) back to
    the client, nor spend the event loop's time encoding it (9,000 items of one list took 0.5 s)."""
    if isinstance(value, str):
        return value if len(value) <= ECHO_CHARS else value[:ECHO_CHARS] + "…"
    if isinstance(value, dict):
        return {clipped(key): clipped(item) for key, item in itertools.islice(value.items(), ECHO_ITEMS)}
    if isinstance(value, list):
        return [clipped(item) for item in value[:ECHO_ITEMS]] + (["…"] if len(value) > ECHO_ITEMS else [])
    return value


def declare_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an OpenAPI ``document`` so that every 422 is the :class:`ValidationProblem` the app sends
    (FastAPI declares its own ``HTTPValidationError``, whose ``detail`` is a list)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = ValidationProblem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas[ValidationProblem.__name__] = problem
    schemas.setdefault(ErrorMessage.__name__, ErrorMessage.model_json_schema())
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            # Every operation that takes input can answer 422, also one whose body FastAPI does not parse.
            if "422" in responses or operation.get("parameters") or operation.get("requestBody"):
                description = responses.get("422", {}).get("description", "Validation Error")
                responses["422"] = {"description": description,
                                    "content": {"application/json": {"schema": {"$ref": PROBLEM_REF}}}}
            for status, response in responses.items():
                # Every error answer is JSON ({"detail": ...}); FastAPI files a declared error model under the
                # route's own media type (text/plain for the job log, text/event-stream for events).
                content = response.get("content", {})
                if status[:1] in "45" and content and "application/json" not in content:
                    response["content"] = {"application/json": next(iter(content.values()))}
            if operation.get("requestBody"):
                for status, description in BODY_REFUSALS.items():
                    responses.setdefault(status, {"description": description, "content": {
                        "application/json": {"schema": {"$ref": MESSAGE_REF}}}})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install(app: FastAPI) -> None:
    """Register the handlers and the OpenAPI document on ``app``."""
    app.add_exception_handler(RequestValidationError, validation_error)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
