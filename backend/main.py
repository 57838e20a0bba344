"""The FastAPI application: API routers, HTML pages and static assets, built by :func:`create_app`."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from addrop import __version__
from backend import errors
from backend.explainer import Explainer
from backend.routes import explain, health, models, pages
from backend.settings import Settings, get_settings
from backend.timing import ServerTiming
from frontend import STATIC_DIR

DESCRIPTION = """\
See, and use, attribution-driven dropout (AD-DROP, NeurIPS 2022) for Hugging Face encoders.

* **Explorer**: `POST /api/explain` returns the attention and attribution maps of an input, the candidate
  discard region and the dropped positions, per layer and head.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app for ``settings`` (default: read from the environment)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.explainer.close()

    app = FastAPI(title="AD-DROP Studio", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(ServerTiming)
    app.state.explainer = Explainer(settings)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (health, models, explain, pages):
        app.include_router(module.router)
    return app
