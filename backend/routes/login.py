"""The login page: a browser user gives the API token once and gets it back as an HttpOnly cookie, which the
pages, their requests and their event streams (EventSource cannot send a header) then carry on their own."""

from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.auth import SESSION_COOKIE, TokensLocked, check_lock, session_value, token_accepted
from backend.routes import GET_AND_HEAD
from backend.routes.pages import templates

router = APIRouter(include_in_schema=False)


def _local(target: str) -> str:
    """``target`` when it is a path on this server, else ``/``: the login page must not send a browser elsewhere."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def _form(request: Request, target: str, error: str | None = None, status_code: int = 200,
          headers: dict[str, str] | None = None) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"page": "login", "next": _local(target), "error": error},
                                      status_code=status_code, headers=headers)


def _sentence(detail: str) -> str:
    """An API answer's ``detail`` as the form's sentence."""
    return f"{detail[:1].upper()}{detail[1:]}."


@router.api_route("/login", methods=GET_AND_HEAD, response_class=HTMLResponse, name="login_page")
def login_page(request: Request, next: str = Query("/", max_length=2000)) -> Response:
    """The token form; ``next`` is the page it leads back to (the one that sent the browser here). While this
    address is locked out for wrong tokens the form says so (a page refused for that reason sends the browser here)."""
    if not request.app.state.settings.api_token:
        return RedirectResponse(_local(next), status_code=303)
    try:
        check_lock(request)
    except TokensLocked as locked:
        return _form(request, next, _sentence(locked.detail))
    return _form(request, next)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: str = Form(max_length=4096), next: str = Form("/", max_length=2000)) -> Response:
    """Check the token and set the login cookie (HttpOnly: no script reads it; SameSite=Strict: no other site's
    request carries it); a wrong token gets the form again (401), and so does any token from an address locked out
    for its wrong ones (429, with Retry-After)."""
    expected = request.app.state.settings.api_token
    if not expected:
        return RedirectResponse(_local(next), status_code=303)
    try:
        # A token is compared as a client's header is: without surrounding whitespace (a pasted line break).
        right = token_accepted(request, token.strip(), expected)
    except TokensLocked as locked:
        return _form(request, next, _sentence(locked.detail), status_code=429, headers=locked.headers)
    if not right:
        return _form(request, next, "That is not this server's API token.", status_code=401)
    answer = RedirectResponse(_local(next), status_code=303)
    answer.set_cookie(SESSION_COOKIE, session_value(expected), httponly=True, samesite="strict",
                      secure=request.url.scheme == "https", path="/")
    return answer


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    """Forget the login cookie and show the login page."""
    answer = RedirectResponse(request.url_for("login_page").path, status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer
