"""The API token: when one is configured, write endpoints require it."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request, status


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
