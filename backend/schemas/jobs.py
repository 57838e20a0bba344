"""Request and response schemas of the jobs API (kept apart from the ORM rows in ``jobstore.orm``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from addrop.attribution import Target
from addrop.dropout import ADDropConfig
from addrop.dynamics import PROBE_SIZE
from addrop.hooks import Kind
from addrop.masking import PROBABILITY_BOUNDS
from addrop.tasks import TaskKind
from backend.schemas.common import MAX_MODEL_CHARS, AttributionMethod, StrictRequest, Text

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled", "pruned"]
MetricKind = Literal["step", "eval", "epoch", "dynamics"]
MAX_PROBE = 1024  # probe examples: each costs its maps on disk at every epoch, and passes over it
MAX_MASKED = 64  # layers one job masks
MAX_LABELS = 1000  # a task's classes (or tags): more than any classification benchmark's


class DataSpec(StrictRequest):
    """Where the data comes from and, for your own files, which columns hold what. A translation task reads
    rows ``{"translation": {"en": "...", "ro": "..."}}`` (the Hub's wmt16 layout) or with the languages as
    columns; its ``text_fields`` is ``[source language]`` and its ``label_field`` the target language."""

    source: Literal["hub", "directory", "upload"] = Field(
        "hub", description="hub: a known task's Hugging Face dataset; directory: a folder on the workers' disk "
        "with train and validation files; upload: files sent to POST /api/uploads."
    )
    task: Text = Field("sst2", min_length=1, max_length=100, description="A known task (sst2, mrpc, ..., "
                      "wmt16-en-ro, wmt16-tr-en) or a name for your own task.")
    data_dir: Text | None = Field(None, description="For source=directory.")
    train_upload: Text | None = Field(None, description="For source=upload: the train file's upload id.")
    validation_upload: Text | None = Field(None, description="For source=upload: the validation file's upload id.")
    task_kind: TaskKind | None = Field(None, description="Set for your own task; leave empty for a known task.")
    text_fields: list[Text] = Field([], max_length=2, description="Your task's text column(s); a translation's "
                                    "source language, e.g. [\"en\"].")
    label_field: Text = Field("label", min_length=1, description="Your task's label column; a translation's target "
                              "language, e.g. \"ro\".")
    label_names: list[Text] = Field([], max_length=MAX_LABELS, description="Your task's classes, in id order "
                                    "(classification).")
    max_train_samples: int | None = Field(None, ge=1, description="Train on a random subset of this size.")
    max_eval_samples: int | None = Field(None, ge=1, description="Evaluate on a random subset of this size.")

    @model_validator(mode="after")
    def _source_fields(self) -> DataSpec:
        if self.source == "directory" and not self.data_dir:
            raise ValueError("data.data_dir is required when data.source is 'directory'")
        if self.source == "upload" and not (self.train_upload and self.validation_upload):
            raise ValueError("data.train_upload and data.validation_upload are required when data.source is 'upload'")
        if self.source == "hub" and self.task_kind is not None:
            raise ValueError("your own task (data.task_kind) needs files: use source 'directory' or 'upload'")
        return self


class TrainingSpec(StrictRequest):
    """Optimisation settings (defaults: the paper's BERT-base setting)."""

    learning_rate: float = Field(2e-5, gt=0, lt=1)
    epochs: int = Field(10, ge=1, le=1000)
    batch_size: int = Field(16, ge=1, le=4096)
    eval_batch_size: int = Field(64, ge=1, le=4096)
    max_length: int = Field(128, ge=8, le=8192)
    seed: int = Field(42, ge=0, le=2**32 - 1)
    patience: int | None = Field(5, ge=1, description="Early stopping on the dev metric; null disables it.")
    weight_decay: float = Field(0.01, ge=0, le=1)
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="The first fraction of all steps warms the learning "
                                "rate up from 0.")
    lr_schedule: Literal["linear", "constant", "cosine"] = Field(
        "linear", description="The learning rate after the warm-up: linear decay to 0, held constant (the authors' "
        "scripts), or cosine decay.")
    logging_steps: int = Field(10, ge=1, le=100000, description="A training-loss point every this many steps.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: the worker's GPU when it has one.")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="bf16 or fp16: mixed precision under autocast (fp16, with loss scaling, needs a GPU)."
    )
    num_beams: int = Field(4, ge=1, le=16, description="Translation: beams of the dev set's generation (OPUS-MT's "
                           "own setting is 4; 1 is greedy and fastest).")
    max_new_tokens: int | None = Field(None, ge=1, le=4096, description="Translation: new tokens the dev set's "
                                       "generation may add; null: up to max_length tokens.")

    @field_validator("precision")
    @classmethod
    def _precision_on_device(cls, value: str, info: ValidationInfo) -> str:
        if value == "fp16" and info.data.get("device") == "cpu":
            raise ValueError("fp16 needs a CUDA device; use bf16 on the CPU")
        return value


class ADDropSpec(StrictRequest):
    """AD-DROP settings (defaults: the authors' GA, layer 0, p=0.3, q=0.2, cross-tuning)."""

    enabled: bool = Field(True, description="False: the plain fine-tuning baseline.")
    method: AttributionMethod = "GA"
    mode: Literal["high", "low"] = Field("high", description="Candidates: highest (AD-DROP) or lowest attribution.")
    p: float = Field(ADDropConfig.p, gt=PROBABILITY_BOUNDS[0], lt=PROBABILITY_BOUNDS[1],
                     description="Fraction of each row's keys in the candidate discard region.")
    q: float = Field(ADDropConfig.q, gt=PROBABILITY_BOUNDS[0], lt=PROBABILITY_BOUNDS[1],
                     description="Probability that a candidate is dropped.")
    layers: list[int] = Field([0], min_length=1, max_length=MAX_MASKED, description="Masked layers.")
    steps: int = Field(20, ge=1, le=200, description="Integration steps (IGA only).")
    cross_tuning: bool = Field(True, description="Alternate plain and AD-DROP epochs, plain first.")
    kind: Kind | None = Field(None, description="An encoder-decoder's (translation model's) attention maps to drop "
                              "in: encoder (self-attention), decoder (causal self-attention) or cross; layers count "
                              "among the layers of that kind. null: the encoder's, as the authors' translation code. "
                              "Leave null for any other model.")
    target: Target = Field("auto", description="What pass 1 attributes: auto (the pseudo label's logit for "
                           "classification, else the negative loss), logit, loss, or pseudo_loss (the loss against "
                           "pass 1's own argmax: token classification and translation, as the authors' translation "
                           "code).")

    @field_validator("layers")
    @classmethod
    def _layers(cls, value: list[int]) -> list[int]:
        if any(layer < 0 for layer in value):
            raise ValueError("layer indices start at 0")
        if len(set(value)) != len(value):
            raise ValueError("each layer may be listed once")
        return sorted(value)


class DynamicsSpec(StrictRequest):
    """Attribution dynamics: at every epoch's end, the GA attribution of a probe set of dev examples on the
    masked layers (also for a baseline, so it compares with its twin) and the last layer, with per-epoch
    summaries (concentration, entropy, stability, reliance) as metric points of kind ``dynamics``."""

    enabled: bool = Field(False, description="Record attribution dynamics (costs a few passes over the probe set "
                          "per epoch).")
    probe_size: int = Field(PROBE_SIZE, ge=1, le=MAX_PROBE, description="Dev examples in the probe set: a fixed "
                            "sample per task and seed, so a baseline and its AD-DROP twin probe the same ones.")
    probe_ids: list[int] | None = Field(None, min_length=1, max_length=MAX_PROBE, description="Dev example "
                                        "indices (from 0) to probe instead of the sample.")

    @field_validator("probe_ids")
    @classmethod
    def _probe_ids(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(index < 0 for index in value):
            raise ValueError("dev example indices start at 0")
        if value is not None and len(set(value)) != len(value):
            raise ValueError("each dev example may be listed once")
        return value


class JobCreate(StrictRequest):
    """A fine-tuning job: model, data and hyper-parameters; everything is checked before it is queued."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "rte-addrop",
                    "model": "minilm",
                    "data": {"source": "directory", "task": "rte", "data_dir": "/data/glue/rte"},
                    "training": {"epochs": 4, "batch_size": 16, "learning_rate": 2e-5},
                    "addrop": {"method": "GA", "p": 0.3, "q": 0.2, "layers": [0]},
                }
            ]
        },
    )

    name: Text | None = Field(None, max_length=200, description="Shown in lists; default: task and setting.")
    model: Text = Field("minilm", min_length=1, max_length=MAX_MODEL_CHARS, description="Hub id, a directory on the workers, "
                       "or 'minilm' (bundled MiniLM-L6-H384).")
    data: DataSpec
    training: TrainingSpec = TrainingSpec()
    addrop: ADDropSpec = ADDropSpec()
    dynamics: DynamicsSpec = DynamicsSpec()


class Progress(BaseModel):
    epoch: float
    epochs: int
    step: int
    max_steps: int
    percent: float
    eta_seconds: float | None


class JobEnvironment(BaseModel):
    """What trained a job, as its worker found it on starting the job (each field null where it could not tell)."""

    addrop: str | None = Field(None, description="The addrop package's version.")
    commit: str | None = Field(None, description="The short git commit of the code that ran the job; null when the "
                               "worker does not run from a git checkout (an installed package) or git could not say.")
    dirty: bool | None = Field(None, description="Whether that checkout's tracked files had uncommitted changes.")
    python: str | None = Field(None, description="Python's version.")
    torch: str | None = Field(None, description="PyTorch's version.")
    transformers: str | None = Field(None, description="transformers' version.")
    device: str | None = Field(None, description="The device it trained on (cpu, cuda, ...).")
    torch_threads: int | None = Field(None, description="PyTorch's intra-op threads in the worker's process.")
    cpu: str | None = Field(None, description="The worker machine's CPU model.")
    cores: int | None = Field(None, description="The worker machine's logical CPU cores.")
    gpu: str | None = Field(None, description="The GPU's name, when it trained on CUDA.")


class JobOut(BaseModel):
    """A job as the API shows it."""

    id: int
    name: str
    state: JobState
    task: str
    task_kind: TaskKind | None = Field(None, description="The task's kind (a translation job keeps dev predictions).")
    model: str | None = Field(description="'minilm', a hub id, or a local model directory relative to the data "
                              "directory (null for one outside it: answers show no server path).")
    metric: str = Field(description="The dev metric that picks the best checkpoint.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    worker: str | None
    progress: Progress
    best_metric: float | None
    best_epoch: float | None
    final_metrics: dict[str, float] | None
    error: str | None
    checkpoint_available: bool
    keep: bool = Field(description="Marked keep: retention never removes its checkpoint.")
    checkpoint_pruned_at: datetime | None = Field(
        description="When retention (keep_checkpoints) removed its checkpoint; its metrics and log stay.")
    explorer_model: str | None = Field(description="The name under which the explorer offers the checkpoint.")
    spec: dict[str, Any] = Field(description="The request, with its data directory and local model shown as model "
                                 "is (relative to the data directory, or null).")
    environment: JobEnvironment | None = Field(None, description="The code, libraries, device and machine that "
                                               "trained it; null for a job not started yet, or started before "
                                               "workers recorded it.")
    revision: int
    sweep_id: int | None = Field(None, description="The sweep this job is a run of.")
    sweep_role: Literal["trial", "baseline"] | None = Field(None, description="A trial's run or a baseline twin.")
    waiting_reason: str | None = Field(None, description="For a queued job: why it does not start (no job "
                                       "worker alive), when that is the reason.")
    addrop_epochs: list[int] = Field(default_factory=list, description="The epochs (from 1) that train with AD-DROP: "
                                     "empty for a baseline, and for a cross-tuned job of one epoch.")
    warnings: list[str] = Field(default_factory=list, description="What the job does that its settings do not say "
                                "at a glance (e.g. a cross-tuned job too short to reach an AD-DROP epoch).")


class JobUpdate(StrictRequest):
    """What a user may change on a job."""

    keep: bool = Field(description="Keep its checkpoint whatever the retention setting (keep_checkpoints).")


class JobList(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class MetricPointOut(BaseModel):
    """One reported point: a training log (kind step), a dev evaluation (eval), an epoch start (epoch) or an
    epoch's attribution dynamics on the probe set (dynamics)."""

    id: int
    kind: MetricKind
    step: int
    epoch: float
    values: dict[str, float]
    time: datetime


class TranslationExample(BaseModel):
    """One kept dev example: its source, its reference translation, and the model's."""

    source: str
    reference: str
    prediction: str | None = Field(description="The generated translation (null if the evaluation lacked it).")


class EpochPredictions(BaseModel):
    """A translation job's kept dev examples at one epoch's evaluation."""

    epoch: float
    step: int
    examples: list[TranslationExample]


class UploadOut(BaseModel):
    """An uploaded data file, parsed: its columns and number of rows."""

    id: str
    filename: str
    size: int
    columns: list[str]
    rows: int
    preview: list[dict[str, Any]] = Field(
        description="The first rows as parsed; a value over 500 characters is cut (a list or object to its JSON text)."
    )
    distinct: dict[str, list[Any] | None] = Field(
        description="Each column's distinct values (null when there are more than 50, or one is over 200 characters): "
        "a label column's classes."
    )


class DynamicsProbe(BaseModel):
    """A recording job's probe set and what of it is recorded so far: what the maps endpoint may be asked for."""

    dev_indices: list[int] = Field(description="The dev example of each probe example (``example`` 0, 1, ...).")
    tokens: list[list[str]] = Field(description="Each probe example's tokens: the rows and columns of its maps.")
    texts: list[list[str]] | None = Field(description="Each probe example's text fields (text, and its pair where "
                                          "the task has one); null for a job recorded before texts were kept.")
    layers: list[int] = Field(description="The recorded layers (the masked ones and the last).")
    heads: int | None = Field(description="Attention heads per layer (null before the first epoch's maps).")
    epochs: list[int] = Field(description="Epochs whose maps are recorded so far.")
    measured_p: float = Field(description="The p of the job's concentration and reliance summaries.")
    region_p: float = Field(description="The p of the candidate region the maps are shown with by default: the "
                            "job's AD-DROP p, or measured_p for a job that drops nothing.")
    region_mode: Literal["high", "low"] = Field(description="Which keys the region holds: the highest or lowest.")


class DynamicsMap(BaseModel):
    """One probe example's GA attribution map at one epoch, layer and head, with its top-p candidate region."""

    example: int = Field(description="Its index in the probe set.")
    dev_index: int
    epoch: int
    layer: int
    head: int
    tokens: list[str]
    values: list[list[float]] = Field(description="Rows are queries, columns keys, as recorded (float16).")
    region: list[list[bool]] = Field(description="The keys of each row in its top-p candidate region.")
    p: float
    mode: Literal["high", "low"]
