"""HTML pages (Jinja2 templates from ``frontend/``)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from addrop import __version__
from frontend import TEMPLATES_DIR

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["version"] = __version__


@router.get("/", response_class=HTMLResponse)
def explorer(request: Request) -> HTMLResponse:
    """The attribution explorer; its state lives in the query string."""
    settings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        "explorer.html",
        {"max_chars": settings.explain_max_chars, "max_tokens": settings.explain_max_tokens, "page": "explorer"},
    )
