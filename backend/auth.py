"""The API token: when one is configured, writes require it, and so do reads unless ``open_reads`` is set.

A client sends the token in a header; a browser logs in once (``backend.routes.login``) and sends the login
cookie instead, which every check accepts beside the headers. Wrong tokens are counted per client address
(``backend.auth_limit``): past ``token_failures_allowed`` of them the address's tokens are refused with 429 for a
while, the right one too, so that guessing gets nowhere."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from typing import Any, Callable
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from backend.auth_limit import FailedAttempts
from backend.errors import MESSAGE_REF

SESSION_COOKIE = "addrop_session"
# The ways the token checks accept it, as OpenAPI security schemes (a client may use any one).
SECURITY_SCHEMES = {
    "bearerToken": {"type": "http", "scheme": "bearer", "description": "The server's ADDROP_API_TOKEN."},
    "apiTokenHeader": {"type": "apiKey", "in": "header", "name": "X-API-Token",
                       "description": "The same token in a header of its own."},
    "loginCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                    "description": "Set by logging in at /login with the token (a write with it alone must come "
                                   "from this server's own pages)."},
}
LOCKED = ("too many wrong API tokens came from this address: every token from it, the right one too, is refused "
          "for {seconds} more {unit}")
LOCKED_RESPONSE = {
    "description": "Too many wrong API tokens came from this address: its tokens, the right one too, are refused "
                   "until Retry-After seconds have passed",
    "headers": {"Retry-After": {"description": "Seconds until this address may send a token again",
                                "schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": {"$ref": MESSAGE_REF}}},
}
UNAUTHORIZED = ("this server requires its API token for this request: send 'Authorization: Bearer <token>', or log "
                "in at /login")


class LoginRequired(Exception):
    """A page was asked for without the token: the answer sends the browser to the login page."""


class TokensLocked(HTTPException):
    """A token came from an address locked out for its wrong tokens: 429, with ``Retry-After`` in seconds."""

    def __init__(self, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        detail = LOCKED.format(seconds=seconds, unit="second" if seconds == 1 else "seconds")
        super().__init__(status.HTTP_429_TOO_MANY_REQUESTS, detail=detail, headers={"Retry-After": str(seconds)})


def client_address(request: Request) -> str:
    """The address that tokens are counted against: the connection's peer. Behind a reverse proxy that is the
    proxy, unless uvicorn is told to trust its ``X-Forwarded-For`` (``FORWARDED_ALLOW_IPS``; by default only a
    proxy on the loopback address is); the app reads no forwarding header itself, which any client could forge."""
    return request.client.host if request.client else ""


def check_lock(request: Request) -> None:
    """Raise :class:`TokensLocked` while the request's address is locked out."""
    wait = request.app.state.token_failures.locked_for(client_address(request))
    if wait is not None:
        raise TokensLocked(wait)


def token_accepted(request: Request, given: str, expected: str) -> bool:
    """Whether ``given`` is ``expected`` (compared in constant time), counting a wrong one against the request's
    address; raises :class:`TokensLocked`, whatever ``given`` is, while that address is locked out."""
    right = secrets.compare_digest(given.encode(), expected.encode())
    wait = request.app.state.token_failures.attempt(client_address(request), right)
    if wait is not None:
        raise TokensLocked(wait)
    return right


def session_value(token: str) -> str:
    """The login cookie's value for ``token``: derived from it, so the cookie jar never holds the token itself,
    and every cookie stops working when the token changes."""
    return hmac.new(token.encode(), b"addrop-studio login", hashlib.sha256).hexdigest()


def _header_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-token")


def _same_origin(request: Request) -> bool:
    """Whether the request comes from this server's own pages: its ``Origin`` names the host it was sent to,
    or, without one, the browser says so in ``Sec-Fetch-Site``."""
    origin = request.headers.get("origin")
    if origin is not None:
        return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
    return request.headers.get("sec-fetch-site") == "same-origin"


def authorized(request: Request, write: bool) -> bool:
    """Whether the request carries the configured token (always, when none is configured): in a header, or
    as the login cookie.

    The cookie is sent by the browser on its own, so a write with the cookie alone must come from this
    server's pages (CSRF): ``SameSite=Strict`` keeps other sites' requests from carrying it, and the origin
    check also covers browsers without SameSite and sibling hosts of the same site. A client without those
    headers sends the token in a header, which no other site can make a browser send.

    A request without a token (or with an empty one) gets False and counts nothing; one with a token is
    checked by :func:`token_accepted` (a wrong one counts; :class:`TokensLocked` while its address is locked out)."""
    expected = request.app.state.settings.api_token
    if not expected:
        return True
    given = _header_token(request)
    if given is not None:
        return bool(given) and token_accepted(request, given, expected)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return False
    if not token_accepted(request, cookie, session_value(expected)):
        request.state.wrong_cookie = True
        return False
    return not write or _same_origin(request)


def may_read(request: Request) -> bool:
    """Whether the request may see jobs, sweeps and models: it carries the token, or reads are open."""
    return request.app.state.settings.open_reads or authorized(request, write=False)


def _refuse() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def require_token(request: Request) -> None:
    """The check of every write: the token in a header, or the login cookie from this server's own pages."""
    if not authorized(request, write=True):
        raise _refuse()


def require_token_for_explain(request: Request) -> None:
    """The token check for the explorer's endpoint, when ``explain_requires_token`` is set."""
    if request.app.state.settings.explain_requires_token:
        require_token(request)


def require_reader(request: Request) -> None:
    """The check of every API read (JSON, logs, streams, downloads): 401 without the token, unless reads are open."""
    if not may_read(request):
        raise _refuse()


def require_reader_page(request: Request) -> None:
    """The check of every page: without the token (and reads closed) the browser is sent to the login page,
    which also says when its address is locked out."""
    try:
        readable = may_read(request)
    except TokensLocked:
        readable = False
    if not readable:
        raise LoginRequired()


def login_redirect(request: Request, error: LoginRequired) -> RedirectResponse:
    """Send the browser to the login page, which brings it back to this page once it has logged in. A wrong
    login cookie (one of a former token) is dropped, so that the browser's other tabs, polling with it, stop
    counting as wrong tokens against its address."""
    login = request.url_for("login_page").include_query_params(next=request.url.path + (
        f"?{request.url.query}" if request.url.query else ""))
    answer = RedirectResponse(f"{login.path}?{login.query}", status_code=status.HTTP_303_SEE_OTHER)
    if getattr(request.state, "wrong_cookie", False):
        answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer


def install(app: FastAPI, routers: list[APIRouter]) -> None:
    """Send pages refused for want of the token to the login page, count wrong tokens, and declare the token in
    ``app``'s OpenAPI document when one is configured: the security schemes, and on each operation of ``routers``
    that checks it (reads unless ``open_reads``, explain only with ``explain_requires_token``) a security
    requirement and the 429 of a locked-out address."""
    app.add_exception_handler(LoginRequired, login_redirect)  # type: ignore[arg-type]
    settings = app.state.settings
    app.state.token_failures = FailedAttempts(settings.token_failures_allowed, settings.token_failure_window_seconds,
                                              settings.token_failure_addresses)
    if not settings.api_token:
        return
    checks: set[Callable[..., Any]] = {require_token}
    if settings.explain_requires_token:
        checks.add(require_token_for_explain)
    if not settings.open_reads:
        checks.add(require_reader)
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
                        operation["responses"].setdefault("429", LOCKED_RESPONSE)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
