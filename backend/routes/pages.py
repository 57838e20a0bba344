"""HTML pages (Jinja2 templates from ``frontend/``) and the locally served Plotly.js."""

from pathlib import Path

import plotly
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from addrop import __version__
from backend.static import CompressedStaticFiles
from frontend import TEMPLATES_DIR

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["version"] = __version__
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# Only the installed ``plotly`` package changes this file, so a day without revalidating is safe.
PLOTLY_FILES = CompressedStaticFiles(directory=PLOTLY_JS.parent, cache_control="public, max-age=86400")


@router.api_route("/vendor/plotly.min.js", methods=["GET", "HEAD"])
def plotly_js(request: Request) -> Response:
    """Plotly.js from the installed ``plotly`` package, so pages work with no internet."""
    return PLOTLY_FILES.file_response(PLOTLY_JS, PLOTLY_JS.stat(), request.scope)


@router.get("/", response_class=HTMLResponse)
def explorer(request: Request) -> HTMLResponse:
    """The attribution explorer; its state lives in the query string."""
    settings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        "explorer.html",
        {"max_chars": settings.explain_max_chars, "max_tokens": settings.explain_max_tokens, "page": "explorer"},
    )
