"""The jobs API: uploads, submit, list, status, cancel, keep, delete, metrics (JSON/CSV), events (SSE), log,
checkpoint, attribution dynamics (zip, probe set, maps), a translation job's dev predictions."""

from __future__ import annotations

import csv
import io
from typing import Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from addrop.masking import PROBABILITY_BOUNDS
from backend.archives import directory_archive
from backend.auth import client_address, require_reader, require_token
from backend.deps import get_feed, get_jobs, get_settings
from backend.events import Cursor, JobFeed, point_json
from backend.job_errors import JobError
from backend.jobs import JobService
from backend.probe_maps import read_map, read_probe
from backend.schemas.common import MAX_ROW_ID, ErrorMessage, RowId, ValidationProblem
from backend.schemas.jobs import (
    DynamicsMap,
    DynamicsProbe,
    EpochPredictions,
    JobCreate,
    JobList,
    JobOut,
    JobState,
    JobUpdate,
    MetricKind,
    MetricPointOut,
    UploadOut,
)
from backend.settings import Settings
from backend.uploads import ENVELOPE_BYTES, UploadRejected, capped_receive, store_upload, too_large

router = APIRouter(prefix="/api", tags=["jobs"])
JOB_ERRORS = {404: {"model": ErrorMessage, "description": "No such job"}}
WRITE_ERRORS = {401: {"model": ErrorMessage, "description": "API token missing or wrong"}}
# Every read checks the token too (unless open_reads): the API's JSON, logs, streams and downloads alike.
READ = [Depends(require_reader)]
READ_ERRORS = {401: {"model": ErrorMessage, "description": "API token missing or wrong (unless reads are open)"}}
UPLOAD_RETRY_SECONDS = 5


async def job_error(request: Request, error: JobError) -> JSONResponse:
    """A refused request as ``{"detail": message}`` with the status the error carries."""
    return JSONResponse(status_code=error.status_code, content={"detail": str(error)})


@router.post(
    "/uploads", status_code=201, response_model=UploadOut, dependencies=[Depends(require_token)],
    summary="Upload a data file",
    responses={**WRITE_ERRORS, 400: {"model": ErrorMessage, "description": "Malformed multipart body"},
               408: {"model": ErrorMessage, "description": "The body did not arrive in time"},
               413: {"model": ErrorMessage}, 415: {"model": ErrorMessage},
               422: {"model": ValidationProblem},
               503: {"model": ErrorMessage, "description": "Too many uploads at once (then with Retry-After)"}},
    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary", "description": "CSV, TSV, JSONL or JSON"}},
    }}}}},
)
async def upload(request: Request, settings: Settings = Depends(get_settings),
                 service: JobService = Depends(get_jobs)) -> UploadOut:
    """Store a CSV/TSV/JSONL/JSON file (multipart field ``file``) for ``data.source = "upload"``; the answer
    lists its columns, row count and each column's distinct values, for mapping them."""
    slots = request.app.state.upload_slots
    if not slots.take():
        # Refused before its body is read, which is what would spill to temporary disk.
        return JSONResponse(status_code=503, headers={"Retry-After": str(UPLOAD_RETRY_SECONDS), "Connection": "close"},
                            content={"detail": f"this server is receiving {slots.size} other uploads; try again in "
                                               f"{UPLOAD_RETRY_SECONDS} s"})
    try:
        return await _receive_upload(request, settings, service)
    finally:
        slots.give()


async def _receive_upload(request: Request, settings: Settings, service: JobService) -> UploadOut | JSONResponse:
    length = request.headers.get("content-length", "")
    try:
        if length.isdigit() and int(length) > settings.upload_max_bytes + ENVELOPE_BYTES:
            raise too_large(settings.upload_max_bytes)
        # A body without a Content-Length (chunked) is refused as soon as it passes the cap while it streams
        # in; the parser's spooled file of the part read so far is closed, and so deleted.
        capped = Request(request.scope, capped_receive(request.receive, settings.upload_max_bytes))
        form = await capped.form(max_files=1, max_fields=4)
    except UploadRejected as error:
        # The rest of the body is never read: without closing the connection the server would read it all
        # (to reach the next request on it) before anything else.
        return JSONResponse(status_code=error.status_code, content={"detail": str(error)},
                            headers={"Connection": "close"})
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise UploadRejected("send the file as the multipart form field 'file'")
        return await run_in_threadpool(store_upload, settings, service.db, file.filename or "", file.file)
    finally:
        await form.close()


@router.post("/jobs", status_code=201, response_model=JobOut, dependencies=[Depends(require_token)],
             summary="Submit a job", responses={**WRITE_ERRORS, 422: {"model": ValidationProblem},
                                                503: {"model": ErrorMessage, "description": "Queue unavailable"}})
def create_job(spec: JobCreate, response: Response, service: JobService = Depends(get_jobs)) -> JobOut:
    """Validate the job (task, data, model, layers, hyper-parameters), store it and queue it."""
    job = service.submit(spec)
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return job


@router.get("/jobs", response_model=JobList, dependencies=READ, responses=READ_ERRORS, summary="List jobs")
def list_jobs(
    state: list[JobState] = Query([], description="Only jobs in these states (repeat the parameter)."),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_ROW_ID),
    service: JobService = Depends(get_jobs),
) -> JobList:
    """Jobs, newest first."""
    items, total = service.list(state, limit, offset)
    return JobList(items=items, total=total, limit=limit, offset=offset)


@router.get("/jobs/{job_id}", response_model=JobOut, dependencies=READ, responses={**JOB_ERRORS, **READ_ERRORS},
            summary="One job")
def get_job(job_id: RowId, service: JobService = Depends(get_jobs)) -> JobOut:
    """The job's state, progress, best and final metrics, and error."""
    return service.get(job_id)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, dependencies=[Depends(require_token)],
             summary="Cancel a job",
             responses={**JOB_ERRORS, **WRITE_ERRORS, 409: {"model": ErrorMessage, "description": "Already finished"}})
def cancel_job(job_id: RowId, service: JobService = Depends(get_jobs)) -> JobOut:
    """A queued job is cancelled at once; a running one stops after its current step (it shows
    ``cancel_requested`` until the worker confirms with state ``cancelled``)."""
    return service.cancel(job_id)


@router.patch("/jobs/{job_id}", response_model=JobOut, dependencies=[Depends(require_token)],
              summary="Mark a job keep", responses={**JOB_ERRORS, **WRITE_ERRORS, 422: {"model": ValidationProblem}})
def update_job(job_id: RowId, change: JobUpdate, service: JobService = Depends(get_jobs)) -> JobOut:
    """``keep: true`` keeps the job's best checkpoint whatever the retention setting (``ADDROP_KEEP_CHECKPOINTS``
    keeps only the checkpoints of that many most recently finished jobs); ``false`` lets retention remove it in
    turn. A checkpoint retention has already removed does not come back."""
    return service.set_keep(job_id, change.keep)


@router.delete("/jobs/{job_id}", status_code=204, response_class=Response, dependencies=[Depends(require_token)],
               summary="Delete a finished job",
               responses={**JOB_ERRORS, **WRITE_ERRORS,
                          409: {"model": ErrorMessage, "description": "Queued or running (cancel it first), or a run "
                                                                      "of a sweep (delete the sweep)"}})
def delete_job(job_id: RowId, service: JobService = Depends(get_jobs)) -> Response:
    """Delete a finished job (succeeded, failed, cancelled or pruned) with everything it left: its output
    directory (checkpoint, attribution dynamics, dev predictions), metric points and log. A queued or running job
    is refused with 409, never stopped by a delete: cancel it first, and delete it once it shows ``cancelled``. A
    sweep's run is deleted with its sweep only. A delete cut short (the server stopped) is finished when the
    server starts again; until then the job is already gone from every answer."""
    service.delete(job_id)
    return Response(status_code=204)


@router.get("/jobs/{job_id}/metrics", response_model=list[MetricPointOut], dependencies=READ,
            responses={**JOB_ERRORS, **READ_ERRORS}, summary="Metric points (JSON or CSV)")
def job_metrics(
    job_id: RowId,
    format: Literal["json", "csv"] = Query("json"),
    kind: list[MetricKind] = Query([], description="Only these kinds (repeatable)."),
    after: int = Query(0, ge=0, le=MAX_ROW_ID, description="Only points with a larger id."),
    service: JobService = Depends(get_jobs),
):
    """Every training log (``step``: loss, learning rate, ``addrop`` phase), dev evaluation (``eval``), epoch
    start (``epoch``) and, for a job that records them, attribution dynamics (``dynamics``: concentration and
    entropy per layer, stability, reliance) of the job, in order."""
    points = [point_json(point) for point in service.metrics(job_id, after=after, kinds=kind)]
    if format == "json":
        return points
    keys = sorted({key for point in points for key in point["values"]})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "kind", "step", "epoch", "time", *keys])
    for point in points:
        writer.writerow([point["id"], point["kind"], point["step"], point["epoch"], point["time"],
                         *(point["values"].get(key, "") for key in keys)])
    return Response(buffer.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="job-{job_id}-metrics.csv"'})


STREAM_ERRORS = {429: {"model": ErrorMessage, "description": "This client holds its share of live streams (then "
                                                              "with Retry-After)"},
                 503: {"model": ErrorMessage, "description": "The server holds all the live streams it may (then "
                                                              "with Retry-After)"}}


@router.get("/jobs/{job_id}/events", dependencies=READ, responses={**JOB_ERRORS, **READ_ERRORS, **STREAM_ERRORS},
            summary="Live events (Server-Sent Events)", response_class=EventSourceResponse)
def job_event_stream(
    request: Request,
    job_id: RowId,
    last_event_id: str | None = Header(None, description="Resume after this event id."),
    service: JobService = Depends(get_jobs),
    feed: JobFeed = Depends(get_feed),
) -> EventSourceResponse:
    """``status`` (the job, whenever it changes), ``metrics`` and ``log`` (lists of new points and lines),
    and ``end`` when the job has finished. Reconnecting with ``Last-Event-ID`` resumes without gaps. A client
    holds at most ``events_max_streams_per_client`` streams at once, and the server ``events_max_streams``."""
    try:
        cursor = Cursor.parse(last_event_id)
    except ValueError as error:
        raise HTTPException(422, f"Last-Event-ID: {error}") from None
    service.get(job_id)
    return feed.stream(job_id, cursor, client_address(request))


@router.get("/jobs/{job_id}/predictions", response_model=list[EpochPredictions], dependencies=READ,
            responses={**JOB_ERRORS, **READ_ERRORS, 409: {"model": ErrorMessage, "description": "Not a translation job"}},
            summary="A translation job's dev predictions")
def job_predictions(job_id: RowId, service: JobService = Depends(get_jobs)) -> list[dict]:
    """For a translation job, the first dev examples (source, reference) and the model's translation of each
    at every epoch's evaluation so far, by epoch: the sentences behind its BLEU and chrF points."""
    return service.predictions(job_id)


@router.get("/jobs/{job_id}/log", response_class=PlainTextResponse, dependencies=READ,
            responses={**JOB_ERRORS, **READ_ERRORS}, summary="The job's log")
def job_log(job_id: RowId, tail: int | None = Query(None, ge=1, le=100000), service: JobService = Depends(get_jobs)) -> str:
    """The log as text, one line per entry (the last ``tail`` lines when given)."""
    lines = service.log(job_id, tail=tail)
    return "".join(f"{line.created_at:%Y-%m-%d %H:%M:%S} {line.level:<7} {line.message}\n" for line in lines)


@router.get("/jobs/{job_id}/checkpoint", response_class=FileResponse, summary="Download the best checkpoint",
            dependencies=READ, responses={**JOB_ERRORS, **READ_ERRORS, 409: {"model": ErrorMessage, "description": "No checkpoint"}})
def job_checkpoint(job_id: RowId, service: JobService = Depends(get_jobs)) -> FileResponse:
    """The best checkpoint (weights, config, tokenizer) as a zip file, loadable with ``from_pretrained``; zipped
    once and kept beside the checkpoint, so a download streams a file instead of compressing the weights again."""
    archive = directory_archive(service.checkpoint_dir(job_id))
    return FileResponse(archive, media_type="application/zip", filename=f"job-{job_id}-best.zip")


@router.get("/jobs/{job_id}/dynamics", response_class=FileResponse, summary="Download the attribution dynamics",
            dependencies=READ,
            responses={**JOB_ERRORS, **READ_ERRORS, 409: {"model": ErrorMessage, "description": "No dynamics recorded"}})
def job_dynamics(job_id: RowId, service: JobService = Depends(get_jobs)) -> FileResponse:
    """For a job that records attribution dynamics, a zip file of ``probe.json`` (the probe set's dev indices
    and tokens, the recorded layers, p) and ``epoch-<k>.npz`` for every epoch recorded so far (one float16 array
    ``[layer, head, n, n]`` of GA attribution per probe example, ``example<i>`` for the i-th of ``dev_indices``).
    The per-epoch summaries are the job's metric points of kind ``dynamics``."""
    archive = directory_archive(service.dynamics_dir(job_id))
    return FileResponse(archive, media_type="application/zip", filename=f"job-{job_id}-dynamics.zip")


DYNAMICS_ERRORS = {**JOB_ERRORS, **READ_ERRORS,
                   409: {"model": ErrorMessage, "description": "No dynamics recorded"}}


@router.get("/jobs/{job_id}/dynamics/probe", response_model=DynamicsProbe, dependencies=READ,
            responses=DYNAMICS_ERRORS, summary="The probe set of the attribution dynamics")
def job_dynamics_probe(job_id: RowId, service: JobService = Depends(get_jobs)) -> DynamicsProbe:
    """The probe set's dev indices, tokens and texts, the recorded layers, heads and epochs so far, and the
    candidate region the maps are shown with (the job's AD-DROP p and mode; a baseline's measured p)."""
    directory = service.dynamics_dir(job_id)
    return read_probe(directory, service.get(job_id).spec)


@router.get("/jobs/{job_id}/dynamics/maps", response_model=DynamicsMap, dependencies=READ,
            responses={**DYNAMICS_ERRORS, 404: {"model": ErrorMessage, "description": "No such job, or no maps of "
                                                "that epoch (the message lists the recorded ones)"},
                       422: {"model": ValidationProblem, "description": "No such example, layer or head (the message "
                             "lists those there are)"}},
            summary="One probe example's attribution map at one epoch")
def job_dynamics_map(
    job_id: RowId,
    example: int = Query(..., ge=0, le=MAX_ROW_ID, description="Index in the probe set (not the dev index)."),
    epoch: int = Query(..., ge=0, le=MAX_ROW_ID, description="A recorded epoch (404 for one not recorded)."),
    layer: int = Query(..., ge=0, le=MAX_ROW_ID, description="A recorded model layer."),
    head: int = Query(0, ge=0, le=MAX_ROW_ID),
    p: float | None = Query(None, gt=PROBABILITY_BOUNDS[0], lt=PROBABILITY_BOUNDS[1],
                            description="The candidate region's p (default: the job's)."),
    mode: Literal["high", "low"] | None = Query(None, description="The region's keys (default: the job's)."),
    service: JobService = Depends(get_jobs),
) -> DynamicsMap:
    """The GA attribution map (rows queries, columns keys) of probe example ``example`` recorded at the end of
    ``epoch`` on ``layer`` and ``head``, as stored (float16), with each row's top-p candidate region."""
    directory = service.dynamics_dir(job_id)
    return read_map(directory, service.get(job_id).spec, example, epoch, layer, head, p, mode)
