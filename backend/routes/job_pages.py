"""HTML pages of the job dashboard: the list, the form, one job's live page, and the compare view."""

from __future__ import annotations

import huggingface_hub.constants

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from addrop.data.hub import hub_dataset_available
from addrop.dynamics import MEASURED_P
from addrop.presets import catalog
from addrop.tasks import KNOWN_TASKS
from backend.auth import TokensLocked, authorized, require_reader_page
from backend.deps import get_jobs
from backend.job_errors import JobNotFound
from backend.jobs import JobService
from backend.routes import GET_AND_HEAD
from backend.routes.pages import templates
from backend.schemas.common import MAX_ROW_ID, RowId
from backend.schemas.jobs import ADDropSpec, DataSpec, JobCreate, TrainingSpec

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_reader_page)])


def _page(request: Request, template: str, page: str, status_code: int = 200, **context) -> HTMLResponse:
    # A visitor who may read (open_reads) but has not logged in is told that submitting needs the login; so is
    # one whose address is locked out for wrong tokens (the page is open; its writes answer 429).
    try:
        login_needed = not authorized(request, write=False)
    except TokensLocked:
        login_needed = True
    return templates.TemplateResponse(
        request, template, {"page": page, "login_needed": login_needed, **context}, status_code=status_code,
    )


@router.api_route("/jobs", methods=GET_AND_HEAD, response_class=HTMLResponse)
def job_list(request: Request) -> HTMLResponse:
    """All jobs, updated live."""
    return _page(request, "jobs.html", "jobs")


@router.api_route("/jobs/new", methods=GET_AND_HEAD, response_class=HTMLResponse)
def new_job(request: Request, clone: int | None = Query(None, ge=1, le=MAX_ROW_ID),
            service: JobService = Depends(get_jobs)) -> HTMLResponse:
    """The job form with the paper's defaults (or another job's settings, to run a variant)."""
    defaults = JobCreate(data=DataSpec(), training=TrainingSpec(), addrop=ADDropSpec()).model_dump(mode="json")
    source = None
    if clone is not None:
        try:
            source = service.get(clone)
            defaults = {**defaults, **source.spec, "name": None}
        except JobNotFound:
            source = None
    settings = request.app.state.settings
    tasks = [{"name": name, "kind": spec.kind, "metric": spec.metric, "text_fields": list(spec.text_fields),
              "hub": hub_dataset_available(spec)} for name, spec in KNOWN_TASKS.items()]
    return _page(request, "job_new.html", "new-job", defaults=defaults, clone=source, tasks=tasks,
                 models=settings.models, upload_max_bytes=settings.upload_max_bytes,
                 allow_local_paths=settings.allow_local_paths, hub_offline=huggingface_hub.constants.HF_HUB_OFFLINE,
                 hub_tasks=[task["name"] for task in tasks if task["hub"]], presets=catalog())


@router.api_route("/jobs/compare", methods=GET_AND_HEAD, response_class=HTMLResponse)
def compare_jobs(request: Request) -> HTMLResponse:
    """Several jobs' curves overlaid; the chosen ids live in the query string (``?ids=3,4``)."""
    return _page(request, "jobs_compare.html", "compare-jobs")


@router.api_route("/jobs/{job_id}", methods=GET_AND_HEAD, response_class=HTMLResponse)
def job_page(request: Request, job_id: RowId, service: JobService = Depends(get_jobs)) -> HTMLResponse:
    """One job: live curves, settings, metrics, log, cancel and downloads."""
    try:
        job = service.get(job_id)
    except JobNotFound as error:
        return _page(request, "job_missing.html", "jobs", status_code=404, message=str(error))
    return _page(request, "job.html", "jobs", job=job, measured_p=MEASURED_P)
