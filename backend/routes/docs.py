"""The API documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, with their scripts and styles served by
the app itself from the ``fastapi-offline`` package: FastAPI's own pages load them from a CDN, so they were
blank with no internet."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from backend.routes import GET_AND_HEAD
from backend.security import documentation_policy

router = APIRouter(include_in_schema=False)
ASSETS = Path(fastapi_offline.__file__).parent / "static"
MEDIA_TYPES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
               "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
PREFIX = "/vendor/docs"
# ReDoc's sidebar footer draws its logo from Redocly's CDN: offline a broken image, online a request the page
# was not meant to make. The bundle is served with the logo pointing at the favicon served beside it (a
# relative URL, so that it holds under a proxy's prefix too).
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC = "redoc.standalone.js"


@cache
def _redoc_bundle() -> bytes:
    return (ASSETS / REDOC).read_text("utf-8").replace(REDOC_CDN_LOGO, PREFIX.lstrip("/") + "/favicon.png").encode("utf-8")


@router.api_route(PREFIX + "/{name}", methods=GET_AND_HEAD)
def docs_asset(name: str) -> FileResponse:
    """One of the pages' files; only those listed (a name is never used as a path otherwise)."""
    if name not in MEDIA_TYPES:
        raise HTTPException(404, f"no such file: {name!r}")
    if name == REDOC:
        return Response(_redoc_bundle(), media_type=MEDIA_TYPES[name], headers={"Cache-Control": "public, max-age=86400"})
    return FileResponse(ASSETS / name, media_type=MEDIA_TYPES[name], headers={"Cache-Control": "public, max-age=86400"})


def _root(request: Request) -> str:
    # Behind a proxy that mounts the app under a prefix, every URL in the page needs it.
    return request.scope.get("root_path", "").rstrip("/")


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = documentation_policy(page.body.decode("utf-8"))
    return page


@router.api_route("/docs", methods=GET_AND_HEAD, response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI: every operation, its schemas, and "Try it out"."""
    app, root = request.app, _root(request)
    return _with_policy(get_swagger_ui_html(
        openapi_url=root + app.openapi_url, title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{root}{PREFIX}/swagger-ui-bundle.js", swagger_css_url=f"{root}{PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{root}{PREFIX}/favicon.png", oauth2_redirect_url=None,
        swagger_ui_parameters=app.swagger_ui_parameters,
    ))


@router.api_route("/redoc", methods=GET_AND_HEAD, response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc: the same document as one long reference page."""
    app, root = request.app, _root(request)
    return _with_policy(get_redoc_html(
        openapi_url=root + app.openapi_url, title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{PREFIX}/redoc.standalone.js", redoc_favicon_url=f"{root}{PREFIX}/favicon.png",
        with_google_fonts=False,
    ))
