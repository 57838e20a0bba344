"""HTML pages of sweeps: the list, the form (from a job's settings) and one sweep's live page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from backend.auth import require_reader_page
from backend.deps import get_jobs, get_sweeps
from backend.job_errors import JobNotFound
from backend.jobs import JobService
from backend.routes import GET_AND_HEAD
from backend.routes.job_pages import _page
from backend.schemas.common import MAX_ROW_ID, RowId
from backend.schemas.sweeps import PAPER_GRID, SearchSpace, SweepCreate
from backend.sweeps.service import SweepService
from backend.sweeps.views import SweepNotFound

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_reader_page)])


@router.api_route("/sweeps", methods=GET_AND_HEAD, response_class=HTMLResponse)
def sweep_list(request: Request) -> HTMLResponse:
    """All sweeps with their progress and best setting."""
    return _page(request, "sweeps.html", "sweeps")


@router.api_route("/sweeps/new", methods=GET_AND_HEAD, response_class=HTMLResponse)
def new_sweep(request: Request, clone: int | None = Query(None, ge=1, le=MAX_ROW_ID),
              service: JobService = Depends(get_jobs)) -> HTMLResponse:
    """The sweep form. Its base job comes from the job form ("Sweep this") or from job ``clone``."""
    base = None
    if clone is not None:
        try:
            base = {**service.get(clone).spec, "name": None}
        except JobNotFound:
            base = None
    defaults = SweepCreate.model_fields
    return _page(request, "sweep_new.html", "new-sweep", base=base, clone=clone, paper_grid=PAPER_GRID,
                 space=SearchSpace().model_dump(), max_trials=request.app.state.settings.sweep_max_trials,
                 parallel=defaults["parallel"].default)


@router.api_route("/sweeps/{sweep_id}", methods=GET_AND_HEAD, response_class=HTMLResponse)
def sweep_page(request: Request, sweep_id: RowId, service: SweepService = Depends(get_sweeps)) -> HTMLResponse:
    """One sweep: the p x q heatmap against the baseline, the best setting, trials, curves, importance."""
    try:
        sweep = service.get(sweep_id)
    except SweepNotFound as error:
        return _page(request, "job_missing.html", "sweeps", status_code=404, message=str(error))
    return _page(request, "sweep.html", "sweeps", sweep=sweep)
