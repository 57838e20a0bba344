"""A complete fine-tuning run (data, model, ADDropTrainer, early stopping, best checkpoint, metrics file).

Used by ``addrop train`` and by the job workers; callers observe it through Trainer callbacks.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from datasets import Dataset
from transformers import (
    EarlyStoppingCallback,
    PreTrainedTokenizerBase,
    Seq2SeqTrainingArguments,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from addrop.callbacks import (
    DYNAMICS_PREFIX,
    KEPT_PREDICTIONS,
    PREDICTIONS_FILE,
    DevPredictions,
    KeptExample,
    MetricEvent,
    MetricsReporter,
    StopWhen,
    logged_events,
)
from addrop.data.splits import load_splits
from addrop.data.tokenizing import data_collator, tokenize_splits
from addrop.dropout import ADDropConfig
from addrop.dynamics import DynamicsConfig, DynamicsRecorder, EpochDynamics
from addrop.hooks import attach
from addrop.metrics import trainer_metrics
from addrop.models import DEFAULT_MODEL, load_model, load_tokenizer
from addrop.tasks import TaskSpec, custom_task, get_task
from addrop.trainer import ADDropSeq2SeqTrainer, ADDropTrainer

PRECISIONS = ("fp32", "bf16", "fp16")  # bf16/fp16: mixed precision under autocast
# The learning rate over the run, after the warm-up (warmup_ratio): linear decay to 0 (transformers' default),
# held constant (the authors' scripts: their scheduler step is commented out), or a cosine decay.
LR_SCHEDULES = ("linear", "constant", "cosine")


@dataclass
class FinetuneConfig:
    """Everything a run needs; defaults follow the paper's setting for BERT-sized models."""

    task: str = "sst2"
    model: str = DEFAULT_MODEL
    output_dir: str = "outputs/run"
    data_dir: str | None = None
    train_file: str | None = None
    validation_file: str | None = None
    # for user files that are not a known task: kind, text columns, label column and label names (a translation:
    # text_fields = (source language,), label_field = target language)
    task_kind: str | None = None
    text_fields: tuple[str, ...] = ()
    label_field: str = "label"
    label_names: tuple[str, ...] = ()
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    max_length: int = 128
    epochs: int = 10
    batch_size: int = 16
    eval_batch_size: int = 64
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0
    lr_schedule: str = "linear"
    seed: int = 42
    patience: int | None = 5
    addrop: ADDropConfig | None = field(default_factory=ADDropConfig)  # None: plain fine-tuning baseline
    cross_tuning: bool = True
    logging_steps: int = 10
    group_by_length: bool = True
    device: str | None = None  # "cpu", "cuda", or None for CUDA when available
    precision: str = "fp32"  # "bf16" or "fp16" train under autocast (fp16 with loss scaling, CUDA only)
    save_checkpoint: bool = True  # keep the best model in output_dir/best (epoch checkpoints last as long as the run)
    num_beams: int = 4  # translation: beams of the dev set's generation (OPUS-MT's own setting)
    max_new_tokens: int | None = None  # translation: new tokens the dev set's generation may add (None: up to max_length)
    dynamics: DynamicsConfig | None = None  # record attribution dynamics on a probe set (None: not)

    def __post_init__(self) -> None:
        self.text_fields = tuple(self.text_fields)
        self.label_names = tuple(self.label_names)
        if isinstance(self.addrop, dict):  # a config read back from JSON
            self.addrop = ADDropConfig(**self.addrop)
        if isinstance(self.dynamics, dict):
            self.dynamics = DynamicsConfig(**self.dynamics)
        checks = {
            "max_length": self.max_length >= 8,
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "eval_batch_size": self.eval_batch_size >= 1,
            "learning_rate": 0 < self.learning_rate < 1,
            "weight_decay": self.weight_decay >= 0,
            "warmup_ratio": 0 <= self.warmup_ratio < 1,
            "logging_steps": self.logging_steps >= 1,
            "num_beams": 1 <= self.num_beams <= 16,
            "max_new_tokens": self.max_new_tokens is None or 1 <= self.max_new_tokens <= 4096,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError("invalid " + ", ".join(f"{name}={getattr(self, name)!r}" for name in bad))
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be at least 1 (or None to disable early stopping), got {self.patience}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.device not in (None, "cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was requested but no CUDA device is available")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.precision == "fp16" and (self.device == "cpu" or not torch.cuda.is_available()):
            raise ValueError("precision 'fp16' needs a CUDA device; use 'bf16' on the CPU")

    def task_spec(self) -> TaskSpec:
        if self.task_kind is None:
            return get_task(self.task)
        return custom_task(self.task_kind, self.text_fields, self.label_field, self.label_names, name=self.task)


@dataclass
class FinetuneResult:
    """What a run produced; the same content is written to ``metrics.json`` in the output directory."""

    task: str
    metric: str
    best_metric: float | None
    best_epoch: float | None
    final_metrics: dict[str, float]
    best_checkpoint: str | None
    metrics_file: str
    stopped: bool  # on request (a cancel), not by early stopping
    train_seconds: float
    epochs_run: int = 0
    stop_reason: str | None = None  # why the run ended before its last epoch (early stopping), else None
    history: list[dict] = field(default_factory=list)


CHECKPOINTS = "checkpoints"  # under the output directory: the latest epoch's checkpoint (and the best)
DYNAMICS = "dynamics"  # under the output directory: the probe set (probe.json) and each epoch's maps
RESUME_FILES = ("optimizer.pt", "scheduler.pt", "rng_state.pth")  # beside the model, in a resumable checkpoint


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The checkpoint of the last completed epoch a run left under ``output_dir`` (it was cut), if any.

    The Trainer writes a checkpoint's ``trainer_state.json`` after everything else, so one that reads as JSON
    marks a complete checkpoint; a process killed while writing leaves the previous epoch's as the latest. A
    checkpoint without the optimizer, schedule and random states (written by older code) could not go on
    exactly, so it does not count."""
    found = [path for path in (Path(output_dir) / CHECKPOINTS).glob("checkpoint-*")
             if path.name.split("-")[-1].isdigit() and _readable_state(path)]
    return max(found, key=lambda path: int(path.name.split("-")[-1]), default=None)


def _readable_state(checkpoint: Path) -> bool:
    if not all((checkpoint / name).is_file() for name in RESUME_FILES):
        return False
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def finetune(
    config: FinetuneConfig,
    callbacks: Sequence[TrainerCallback] = (),
    should_stop: Callable[[], bool] | None = None,
    progress: bool = True,
    resume_from: str | Path | None = None,
) -> FinetuneResult:
    """Fine-tune ``config.model`` on ``config.task`` with AD-DROP (or plainly) and keep the best checkpoint.

    Every epoch ends with a checkpoint of the whole training state (model, optimizer, schedule, random
    states, early stopping) under ``output_dir/checkpoints``, removed when the run ends; ``resume_from`` (such a
    checkpoint, see :func:`latest_checkpoint`) carries a cut run on from it, with the same batches and draws
    as if it had not been cut, its earlier evaluations counted for the best epoch.

    With ``config.dynamics``, every epoch ends with a record of attribution dynamics on the probe set: its
    summaries are logged (``dynamics`` events) and its maps saved under ``output_dir/dynamics``.

    A translation run keeps, at every dev evaluation, the generated translations of the first dev examples
    (``KEPT_PREDICTIONS``) in ``output_dir/predictions.jsonl`` (``addrop.callbacks.DevPredictions``)."""
    task = config.task_spec()
    if task.kind == "translation" and config.dynamics is not None:  # its probe passes have no target side
        raise ValueError("attribution dynamics are recorded for classifiers and taggers, not for translation runs")
    set_seed(config.seed)
    splits = load_splits(
        task,
        data_dir=config.data_dir,
        train_file=config.train_file,
        validation_file=config.validation_file,
        max_train_samples=config.max_train_samples,
        max_eval_samples=config.max_eval_samples,
        seed=config.seed,
    )
    tokenizer = load_tokenizer(config.model)
    model = load_model(config.model, task)
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions and config.max_length > positions:  # past them the position embedding fails with an IndexError
        raise ValueError(f"max_length {config.max_length} is past the {positions} positions {config.model!r} reads")
    data = tokenize_splits(splits, tokenizer, task, config.max_length)
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    if resume_from is None:  # a fresh run's kept predictions do not follow an earlier run's in the same directory
        (output / PREDICTIONS_FILE).unlink(missing_ok=True)
    history: list[dict] = []
    if resume_from is not None:
        state = json.loads((Path(resume_from) / "trainer_state.json").read_text())
        history.extend(event.to_dict() for event in logged_events(state["log_history"], state.get("max_steps", 0)))
    stopper = StopWhen(should_stop) if should_stop is not None else None
    extra: list[TrainerCallback] = [MetricsReporter(lambda event: history.append(event.to_dict()))]
    if config.patience is not None:
        extra.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    if stopper is not None:
        extra.append(stopper)
    translation = task.kind == "translation"
    # translation: the dev set is generated (its sources come with the predictions, so the kept examples' are found)
    generation = dict(predict_with_generate=True, generation_num_beams=config.num_beams,
                      generation_max_length=config.max_length, include_for_metrics=["inputs"]) if translation else {}
    args = (Seq2SeqTrainingArguments if translation else TrainingArguments)(
        **generation,
        output_dir=str(output / CHECKPOINTS),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a fraction of all steps
        lr_scheduler_type=_scheduler_type(config),
        seed=config.seed,
        eval_strategy="epoch",
        save_strategy="epoch",  # a cut run resumes from its last epoch; the checkpoints go when the run ends
        save_total_limit=1,
        restore_callback_states_from_checkpoint=True,  # early stopping's count goes on where it was cut
        load_best_model_at_end=config.save_checkpoint,
        metric_for_best_model=task.metric,
        greater_is_better=True,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        report_to="none",
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        use_cpu=config.device == "cpu",
        bf16=config.precision == "bf16",
        fp16=config.precision == "fp16",
        disable_tqdm=not progress,
    )
    collate = data_collator(task, tokenizer)
    kept = _kept_predictions(splits["validation"], data["validation"], task, tokenizer, output) if translation else None
    trainer = (ADDropSeq2SeqTrainer if translation else ADDropTrainer)(
        model=model,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["validation"],
        processing_class=tokenizer,
        data_collator=collate,
        compute_metrics=trainer_metrics(task, tokenizer, kept.observe if kept else None),
        callbacks=[*extra, *([kept] if kept else []), *callbacks],
        addrop=config.addrop,
        cross_tuning=config.cross_tuning,
        **({"max_new_tokens": config.max_new_tokens} if translation else {}),
    )
    if config.dynamics is not None:
        trainer.add_callback(_dynamics_recorder(config, trainer, splits["validation"], data["validation"], tokenizer,
                                                collate, output / DYNAMICS))
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from is not None else None)
    elapsed = time.perf_counter() - started

    evaluations = [event for event in history if event["kind"] == "eval"]
    best = max(evaluations, key=lambda event: event["values"].get(task.metric, float("-inf")), default=None)
    best_dir = None
    if config.save_checkpoint and evaluations:
        best_dir = output / "best"
        trainer.save_model(str(best_dir))  # the best model is loaded back at the end of training
    shutil.rmtree(output / CHECKPOINTS, ignore_errors=True)
    result = FinetuneResult(
        task=task.name,
        metric=task.metric,
        best_metric=best["values"].get(task.metric) if best else None,
        best_epoch=best["epoch"] if best else None,
        final_metrics=evaluations[-1]["values"] if evaluations else {},
        best_checkpoint=str(best_dir) if best_dir else None,
        metrics_file=str(output / "metrics.json"),
        stopped=bool(stopper and stopper.stopped),
        train_seconds=elapsed,
        epochs_run=len(evaluations),
        # a resumed run's early stopping is the checkpoint's restored callback, not the one made above
        stop_reason=_early_stop_reason(
            next((c for c in trainer.callback_handler.callbacks if isinstance(c, EarlyStoppingCallback)), None),
            config, task, evaluations, best),
        history=history,
    )
    payload = {"config": asdict(config), **asdict(result)}
    tmp = output / "metrics.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(output / "metrics.json")
    return result


def _kept_predictions(raw: Dataset, dev: Dataset, task: TaskSpec, tokenizer: PreTrainedTokenizerBase,
                      output: Path) -> DevPredictions:
    """The recorder of the first dev examples' generated translations, in ``output/predictions.jsonl``."""
    count = min(KEPT_PREDICTIONS, len(dev))
    (source,) = task.text_fields
    examples = [KeptExample(raw[i][source], raw[i][task.label_field], dev[i]["input_ids"]) for i in range(count)]
    return DevPredictions(examples, output / PREDICTIONS_FILE, tokenizer.pad_token_id)


def _dynamics_recorder(config: FinetuneConfig, trainer: ADDropTrainer, raw: Dataset, dev: Dataset,
                       tokenizer: PreTrainedTokenizerBase, collate: Callable, directory: Path) -> DynamicsRecorder:
    """The recorder of ``config.dynamics``: the probe set's batches, its examples written down in
    ``probe.json`` (dev indices, tokens, texts, layers), and each epoch's summaries logged through the Trainer."""
    dynamics = config.dynamics
    indices = dynamics.probe(len(dev), config.seed)
    if not indices:
        raise ValueError("dynamics: the dev set is empty, so there is no probe set")
    masked = config.addrop.layers if config.addrop is not None else ()
    hooks = attach(trainer.model)
    layers = tuple(sorted({hooks.check_layers((layer,))[0] for layer in (*masked, *dynamics.layers, -1)}))
    probe = dev.select(indices)
    # batches of the training batch size: the device holds those with their gradients
    batches = []
    for start in range(0, len(probe), config.batch_size):
        batch = collate([probe[i] for i in range(start, min(start + config.batch_size, len(probe)))])
        batches.append({key: value for key, value in batch.items() if key != "labels"})
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "probe.json").write_text(json.dumps({
        "dev_indices": indices, "layers": layers, "p": dynamics.p, "seed": config.seed,
        "tokens": [tokenizer.convert_ids_to_tokens(ids) for ids in probe["input_ids"]],
        # the raw text fields (text, and its pair where the task has one): what the explorer is given to explain
        "texts": [[str(raw[i][name]) for name in config.task_spec().text_fields] for i in indices],
    }))

    def report(record: EpochDynamics) -> None:
        trainer.log({f"{DYNAMICS_PREFIX}{key}": value for key, value in record.summary().items()})

    return DynamicsRecorder(batches, layers, dynamics.p, config.seed, report, directory)


def _early_stop_reason(callback: EarlyStoppingCallback | None, config: FinetuneConfig, task: TaskSpec,
                       evaluations: list[dict], best: dict | None) -> str | None:
    """Why and when early stopping ended the run, or None when it did not."""
    if callback is None or best is None or callback.early_stopping_patience_counter < callback.early_stopping_patience:
        return None
    last = round(evaluations[-1]["epoch"])
    return (f"early stopping after epoch {last} of {config.epochs}: dev {task.metric} did not improve for "
            f"{config.patience} epochs after its best, {best['values'][task.metric]:.4f} at epoch {round(best['epoch'])}")


def _scheduler_type(config: FinetuneConfig) -> str:
    """transformers' name of the run's schedule (its constant schedule ignores a warm-up)."""
    if config.lr_schedule == "constant" and config.warmup_ratio > 0:
        return "constant_with_warmup"
    return config.lr_schedule


__all__ = ["DynamicsConfig", "FinetuneConfig", "FinetuneResult", "MetricEvent", "finetune"]
