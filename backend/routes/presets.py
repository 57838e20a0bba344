"""``GET /api/presets``: named settings (the authors' protocol) that fill a job or sweep form per task."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from addrop.presets import PRESET_TASKS, PRESETS, catalog
from backend.deps import get_jobs
from backend.job_errors import InvalidJob, JobNotFound
from backend.jobs import JobService
from backend.routes.jobs import READ, READ_ERRORS
from backend.schemas.common import MAX_MODEL_CHARS, ErrorMessage, Text
from backend.schemas.presets import PresetInfo, PresetOut

router = APIRouter(prefix="/api", tags=["presets"])


@router.get("/presets", response_model=list[PresetInfo], dependencies=READ, responses=READ_ERRORS, summary="Presets")
def list_presets() -> list[PresetInfo]:
    """Every preset, with the tasks it has values for."""
    return [PresetInfo(**entry) for entry in catalog()]


@router.get("/presets/{name}", response_model=PresetOut, summary="A preset's values for a task and model",
            dependencies=READ,
            responses={**READ_ERRORS, 404: {"model": ErrorMessage, "description": "No such preset"},
                       422: {"model": ErrorMessage, "description": "Task not covered, or model unknown"}})
async def get_preset(name: str = Path(max_length=50), task: Text = Query(max_length=100),
                     model: Text = Query("minilm", min_length=1, max_length=MAX_MODEL_CHARS),
                     jobs: JobService = Depends(get_jobs)) -> PresetOut:
    """The preset's training and AD-DROP values for ``task``, its masked layers resolved for ``model``
    (every layer of the model where the preset masks all), and a line per value saying where it comes from."""
    make = PRESETS.get(name)
    if make is None:
        raise JobNotFound(f"no preset named {name[:50]!r}; the presets are {', '.join(PRESETS)}")
    if task not in PRESET_TASKS:
        raise InvalidJob(f"task: the preset {name!r} covers {', '.join(PRESET_TASKS)}; not {task[:100]!r}")
    preset = make(task)
    # reads the model's config (not on the loop); a translation preset's layers count among its kind's
    layers = await run_in_threadpool(jobs.specs.model_layers, model, preset.addrop.get("kind"))
    return PresetOut(name=preset.name, title=preset.title, task=task, model=model, training=preset.training,
                     addrop={**preset.addrop, "layers": preset.layers(layers)}, sources=preset.sources,
                     notes=list(preset.notes))
