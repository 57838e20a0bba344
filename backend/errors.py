"""Error answers people can read: every 4xx carries ``detail`` as one sentence-like string."""

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def _location(loc: tuple) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "form")]
    return ".".join(parts) or "request"


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with ``detail`` as "field: what is wrong; ..." and the structured ``errors`` beside it."""
    messages = []
    for item in error.errors():
        if item.get("type") == "json_invalid":
            messages.append(f"the request body is not valid JSON ({item.get('ctx', {}).get('error', 'parse error')})")
            continue
        message = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
        messages.append(f"{_location(tuple(item.get('loc', ())))}: {message}")
    errors = jsonable_encoder(error.errors(), custom_encoder={Exception: str})
    return JSONResponse(status_code=422, content={"detail": "; ".join(messages), "errors": errors})


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, validation_error)
