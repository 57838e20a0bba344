"""The API token: when one is configured, write endpoints require it."""

from __future__ import annotations

import secrets
from typing import Any, Callable

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi.routing import APIRoute

# The two ways require_token accepts the token, as OpenAPI security schemes (a client may use either).
SECURITY_SCHEMES = {
    "bearerToken": {"type": "http", "scheme": "bearer", "description": "The server's ADDROP_API_TOKEN."},
    "apiTokenHeader": {"type": "apiKey", "in": "header", "name": "X-API-Token",
                       "description": "The same token in a header of its own."},
}


def require_token_for_explain(request: Request) -> None:
    """The token check for the explorer's endpoint, when ``explain_requires_token`` is set."""
    if request.app.state.settings.explain_requires_token:
        require_token(request)


def require_token(request: Request) -> None:
    """Accept ``Authorization: Bearer <token>`` (or ``X-API-Token``) matching the configured token."""
    expected = request.app.state.settings.api_token
    if not expected:
        return
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-token", "")
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="this server requires its API token for this request: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


def install(app: FastAPI, routers: list[APIRouter]) -> None:
    """Declare the token in ``app``'s OpenAPI document when one is configured: the security schemes, and a
    security requirement on each operation of ``routers`` that checks it (explain only with
    ``explain_requires_token``)."""
    settings = app.state.settings
    if not settings.api_token:
        return
    checks: set[Callable[..., Any]] = {require_token}
    if settings.explain_requires_token:
        checks.add(require_token_for_explain)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for route in (route for router in routers for route in router.routes):
                if isinstance(route, APIRoute) and any(d.dependency in checks for d in route.dependencies):
                    for method in route.methods:
                        operation = document["paths"][route.path_format][method.lower()]
                        operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
