"""The sweeps API: submit a search over AD-DROP settings, list, inspect, cancel, delete, curves and importance."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from backend.auth import require_token
from backend.deps import get_sweeps
from backend.routes.jobs import READ, READ_ERRORS, WRITE_ERRORS
from backend.schemas.common import ErrorMessage, RowId
from backend.schemas.sweeps import Importance, SweepCreate, SweepCurves, SweepList, SweepOut
from backend.sweeps.service import SweepService

router = APIRouter(prefix="/api", tags=["sweeps"])
SWEEP_ERRORS = {404: {"model": ErrorMessage, "description": "No such sweep"}, **READ_ERRORS}


@router.post("/sweeps", status_code=201, response_model=SweepOut, dependencies=[Depends(require_token)],
             summary="Start a sweep", responses={**WRITE_ERRORS, 422: {"model": ErrorMessage},
                                                 503: {"model": ErrorMessage, "description": "Database busy"}})
def create_sweep(spec: SweepCreate, response: Response, service: SweepService = Depends(get_sweeps)) -> SweepOut:
    """Check the base job and the space, then queue the baseline twins and the first trials; the rest follow
    as trials finish (at most ``parallel`` at once)."""
    sweep = service.create(spec)
    response.headers["Location"] = f"/api/sweeps/{sweep.id}"
    return sweep


@router.get("/sweeps", response_model=SweepList, dependencies=READ, responses=READ_ERRORS, summary="List sweeps")
def list_sweeps(limit: int = Query(20, ge=1, le=200), offset: int = Query(0, ge=0, le=2**31),
                service: SweepService = Depends(get_sweeps)) -> SweepList:
    """Sweeps, newest first."""
    items, total = service.list(limit, offset)
    return SweepList(items=items, total=total, limit=limit, offset=offset)


@router.get("/sweeps/{sweep_id}", response_model=SweepOut, dependencies=READ, responses=SWEEP_ERRORS,
            summary="One sweep")
def get_sweep(sweep_id: RowId, service: SweepService = Depends(get_sweeps)) -> SweepOut:
    """The sweep's trials (setting, state, mean and spread over seeds, Delta to the baseline, and the paired
    difference to the baseline twins of the same seeds with its 95% t interval), the baseline's mean and std, and
    the best setting so far."""
    return service.get(sweep_id)


@router.post("/sweeps/{sweep_id}/cancel", response_model=SweepOut, dependencies=[Depends(require_token)],
             summary="Cancel a sweep",
             responses={**SWEEP_ERRORS, **WRITE_ERRORS, 409: {"model": ErrorMessage, "description": "Already finished"}})
def cancel_sweep(sweep_id: RowId, service: SweepService = Depends(get_sweeps)) -> SweepOut:
    """No new trials; queued jobs are cancelled and running ones stop after their current step."""
    return service.cancel(sweep_id)


@router.delete("/sweeps/{sweep_id}", status_code=204, response_class=Response, dependencies=[Depends(require_token)],
               summary="Delete a finished sweep",
               responses={**SWEEP_ERRORS, **WRITE_ERRORS,
                          409: {"model": ErrorMessage, "description": "Running, or some of its jobs still stopping"}})
def delete_sweep(sweep_id: RowId, service: SweepService = Depends(get_sweeps)) -> Response:
    """Delete a finished sweep (succeeded or cancelled) with every job it ran (trials' runs and baseline twins:
    their files, metric points and logs) and its Optuna study. A running sweep is refused with 409: cancel it
    first, and delete it once its jobs have stopped (409 until then). A delete cut short is finished when the
    server starts again."""
    service.delete(sweep_id)
    return Response(status_code=204)


@router.get("/sweeps/{sweep_id}/curves", response_model=SweepCurves, dependencies=READ, responses=SWEEP_ERRORS,
            summary="Every run's dev curve")
def sweep_curves(sweep_id: RowId, service: SweepService = Depends(get_sweeps)) -> SweepCurves:
    """Each job's dev metric and dev loss per epoch, for overlaying the trials against the baseline."""
    return service.curves(sweep_id)


@router.get("/sweeps/{sweep_id}/importance", response_model=Importance, dependencies=READ, responses=SWEEP_ERRORS,
            summary="Importance of the searched settings")
async def sweep_importance(sweep_id: RowId, service: SweepService = Depends(get_sweeps)) -> Importance:
    """Optuna's fANOVA importance of each searched setting over the finished trials."""
    return await run_in_threadpool(service.importance, sweep_id)
