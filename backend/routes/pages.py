"""HTML pages (Jinja2 templates from ``frontend/``), naming their assets by content version."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from addrop import __version__
from addrop.figure_style import ASSETS_DIR, FIGURE_STYLE
from backend.auth import SESSION_COOKIE, require_reader_page
from backend.routes import GET_AND_HEAD
from backend.static import AssetVersions
from frontend import STATIC_DIR, TEMPLATES_DIR

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_reader_page)])
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["version"] = __version__
ASSET_VERSIONS = AssetVersions(STATIC_DIR, ASSETS_DIR)  # the static mount's directories, in its order
# The bare name the modules import the figures' definition by (package.json maps it the same way for Node).
FIGURE_STYLE_MODULE = "#figure-style"


def _versioned(static_root: str, path: str) -> str:
    version = ASSET_VERSIONS.of(path)
    if version is None:  # a template naming a file that is not there: fail the page's tests, not a user's cache
        raise LookupError(f"no static file {path}")
    return f"{static_root}{path}?v={version}"


def _static_root(request: Request) -> str:
    """Where the static files are mounted, as seen by this request (``/static/``, behind any root path)."""
    return request.url_for("static", path="").path


@pass_context
def asset(context: Any, path: str) -> str:
    """The URL of a static file under its content version (cached by browsers for good)."""
    return _versioned(_static_root(context["request"]), path)


@pass_context
def import_map(context: Any) -> str:
    """The page's import map: every ES module's URL to its versioned one, which its relative imports resolve to,
    and the figures' definition by its bare name."""
    root = _static_root(context["request"])
    urls = {f"{root}{path}": _versioned(root, path) for path in ASSET_VERSIONS.modules()}
    urls[FIGURE_STYLE_MODULE] = _versioned(root, FIGURE_STYLE.name)
    return AssetVersions.import_map(urls)


@pass_context
def logged_in(context: Any) -> bool:
    """Whether the page's browser has logged in with the token (the page then offers to log out)."""
    request = context["request"]
    return bool(request.app.state.settings.api_token) and SESSION_COOKIE in request.cookies


templates.env.globals.update(asset=asset, import_map=import_map, logged_in=logged_in)


@router.api_route("/", methods=GET_AND_HEAD, response_class=HTMLResponse)
def explorer(request: Request) -> HTMLResponse:
    """The attribution explorer; its state lives in the query string."""
    settings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        "explorer.html",
        {"max_chars": settings.explain_max_chars, "max_tokens": settings.explain_max_tokens, "page": "explorer"},
    )
