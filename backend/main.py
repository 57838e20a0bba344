"""The FastAPI application: API routers, HTML pages and static assets, built by :func:`create_app`."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager, suppress
from typing import AsyncIterator

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import Scope

from addrop import __version__
from backend import auth, errors
from backend.bodies import BodyLimits, BodyRule, JsonBodyGuard
from backend.disk_usage import DiskUsage
from backend.events import JobFeed, StreamSlots
from backend.explainer import Explainer
from backend.job_errors import JobError
from backend.job_specs import JobSpecs
from backend.jobs import JobService, reap_periodically
from backend.periodic import every
from backend.routes import docs, explain, health, job_pages, jobs, login, models, pages, presets, sweep_pages, sweeps
from backend.security import SecurityHeaders
from backend.settings import Settings, get_settings
from backend.static import CompressedStaticFiles
from backend.sweeps.service import SweepService
from backend.timing import ServerTiming
from backend.uploads import UploadSlots
from backend.workers import BURY_SECONDS, WorkerRegistry
from frontend import STATIC_DIR
from jobstore.database import Database
from jobstore.queue import make_celery, queued_messages, send_job

log = logging.getLogger(__name__)

DESCRIPTION = """\
See, and use, attribution-driven dropout (AD-DROP, NeurIPS 2022) for Hugging Face encoders.

* **Explorer**: `POST /api/explain` returns the attention and attribution maps of an input, the candidate
  discard region and the dropped positions, per layer and head.
* **Jobs**: `POST /api/jobs` queues an AD-DROP (or baseline) fine-tuning run for a Celery worker;
  `GET /api/jobs/{id}/events` streams its status and metric points live (Server-Sent Events).
* **Sweeps**: `POST /api/sweeps` searches p, q (and method, mode, layers) for one base job with Optuna, each
  setting over several seeds beside a baseline twin, as ordinary jobs on the workers.
"""


UPLOADS_PATH = "/api/uploads"


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app for ``settings`` (default: read from the environment)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reaper = asyncio.create_task(reap_periodically(app.state.jobs))
        undertaker = asyncio.create_task(every(BURY_SECONDS, app.state.workers.bury_gone,
                                               "checking for workers that are gone failed"))
        controller = asyncio.create_task(every(settings.sweep_poll_seconds, app.state.sweeps.rounds.advance_all,
                                               "advancing sweeps failed"))
        try:
            requeued = await asyncio.to_thread(app.state.jobs.requeue_waiting)
            log.info("sent %d queued job(s) to the queue again", requeued)
        except Exception as error:  # the broker may be down; the API still serves everything else
            log.warning("could not re-send queued jobs: %s", error)
        yield
        for task in (reaper, undertaker, controller):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        app.state.jobs.db.dispose()
        app.state.explainer.close()

    # The documentation pages come from backend.routes.docs, which serves their scripts itself (no CDN).
    app = FastAPI(title="AD-DROP Studio", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(JsonBodyGuard)
    # Outside the JSON guard, which reads the whole body. An upload counts its own bytes against
    # upload_max_bytes (backend.routes.jobs, with its own answer) and may take longer to arrive.
    uploads = BodyRule(None, settings.upload_timeout_seconds)
    others = BodyRule(settings.body_max_bytes, settings.body_timeout_seconds)
    app.add_middleware(BodyLimits, rule=lambda scope: uploads if _route_path(scope) == UPLOADS_PATH else others)
    app.add_middleware(ServerTiming)
    # A request naming another host (DNS rebinding) is refused before anything reads it.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts, www_redirect=False)
    app.add_middleware(SecurityHeaders)
    app.state.upload_slots = UploadSlots(settings.upload_concurrency)
    app.state.explainer = Explainer(settings)
    database = Database(settings.resolved_database_url)
    database.migrate()
    queue = make_celery(settings)
    app.state.workers = WorkerRegistry(database, settings)
    app.state.disk_usage = DiskUsage(settings.data_dir.resolve())
    app.state.jobs = JobService(
        database, settings, JobSpecs(database, settings, app.state.workers),
        enqueue=lambda job_id: send_job(queue, job_id), queue_size=lambda: queued_messages(queue),
        waiting_reason=app.state.workers.waiting_reason,
    )
    app.state.sweeps = SweepService(app.state.jobs)
    app.state.feed = JobFeed(app.state.jobs, settings.events_poll_seconds,
                             StreamSlots(settings.events_max_streams, settings.events_max_streams_per_client))
    app.state.explainer.catalog.checkpoints = app.state.jobs.checkpoints
    app.add_exception_handler(JobError, jobs.job_error)
    # Pages ask for these files under their content version (cached for good); any other URL of them is
    # revalidated (a 304 when unchanged).  addrop's assets (the figures' definition, which addrop.viz reads too)
    # are served beside the web app's own.
    app.mount("/static", CompressedStaticFiles(directory=STATIC_DIR, cache_control="no-cache", versions=pages.ASSET_VERSIONS,
                                               packages=[("addrop", "assets")]),
              name="static")
    routers = [module.router for module in (health, models, explain, jobs, sweeps, presets, job_pages, sweep_pages, pages,
                                            login, docs)]
    for router in routers:
        app.include_router(router)
    auth.install(app, routers)
    return app


def _route_path(scope: Scope) -> str:
    """The request's path below the app's mount point (``root_path``), as the router matches it."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path
