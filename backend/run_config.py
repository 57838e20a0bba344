"""A run's configuration, built in one place: the dict a worker turns into ``addrop.finetune.FinetuneConfig``
(a job row's ``config``), from a validated job request and its data files as this server resolved them. A job
(``JobSpecs.prepare``, after its checks) and a sweep's trial runs and baseline twins (``sweeps.rounds.job_row``)
all take theirs from here, so a field added to the config is added once. Reads no file."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping, Sequence

from addrop.dropout import ADDropConfig
from addrop.dynamics import DynamicsConfig
from addrop.finetune import FinetuneConfig
from addrop.tasks import TaskSpec, custom_task, get_task
from backend.job_errors import InvalidJob
from backend.schemas.jobs import JobCreate

# The config's keys for the data files: a directory, or an upload's two files; a hub dataset sets none.
DATA_FILE_KEYS = ("data_dir", "train_file", "validation_file")


def job_task(spec: JobCreate) -> TaskSpec:
    """The task ``spec`` trains: a known one, or the user's own from its data fields; :class:`InvalidJob` when
    neither."""
    data = spec.data
    try:
        if data.task_kind is None:
            return get_task(data.task)
        return custom_task(data.task_kind, data.text_fields, data.label_field, data.label_names, name=data.task)
    except ValueError as error:
        raise InvalidJob(f"data: {error}") from None


def run_config(spec: JobCreate, task: TaskSpec, files: Mapping[str, str], *,
               recorded_layers: Sequence[int] | None = None,
               save_checkpoint: bool = FinetuneConfig.save_checkpoint) -> dict[str, Any]:
    """The config of a run of ``spec`` (its ``task``) on ``files`` (``DATA_FILE_KEYS`` as resolved on this
    server; none for a hub dataset). ``recorded_layers``: the layers attribution dynamics records beside the
    masked ones, default the spec's ``addrop.layers`` (a baseline then records what its AD-DROP twin masks);
    ``save_checkpoint``: keep the best model. :class:`InvalidJob` for values the config refuses."""
    training, addrop, dynamics = spec.training, spec.addrop, spec.dynamics
    layers = addrop.layers if recorded_layers is None else recorded_layers
    try:
        config = FinetuneConfig(
            task=task.name, model=spec.model, **files,
            task_kind=spec.data.task_kind, text_fields=tuple(spec.data.text_fields),
            label_field=spec.data.label_field, label_names=tuple(spec.data.label_names),
            max_train_samples=spec.data.max_train_samples, max_eval_samples=spec.data.max_eval_samples,
            max_length=training.max_length, epochs=training.epochs, batch_size=training.batch_size,
            eval_batch_size=training.eval_batch_size, learning_rate=training.learning_rate,
            weight_decay=training.weight_decay, warmup_ratio=training.warmup_ratio,
            lr_schedule=training.lr_schedule, seed=training.seed, patience=training.patience,
            addrop=(ADDropConfig(method=addrop.method, p=addrop.p, q=addrop.q, layers=tuple(addrop.layers),
                                 mode=addrop.mode, steps=addrop.steps, target=addrop.target, kind=addrop.kind)
                    if addrop.enabled else None),
            cross_tuning=addrop.cross_tuning, logging_steps=training.logging_steps,
            dynamics=(DynamicsConfig(dynamics.probe_size, tuple(dynamics.probe_ids) if dynamics.probe_ids else None,
                                     tuple(layers))
                      if dynamics.enabled else None),
            num_beams=training.num_beams, max_new_tokens=training.max_new_tokens, save_checkpoint=save_checkpoint,
        )
    except ValueError as error:
        raise InvalidJob(str(error)) from None
    values = asdict(config)
    # The worker writes under its own jobs directory (settings.job_dir(id)).
    del values["output_dir"]
    # The API machine may have no GPU; the worker checks the device and precision when the run starts.
    values["device"] = None if training.device == "auto" else training.device
    values["precision"] = training.precision
    return values


def data_files(config: Mapping[str, Any]) -> dict[str, str]:
    """The data files a stored config reads (its ``DATA_FILE_KEYS`` that are set): what :func:`run_config`
    was given."""
    return {key: config[key] for key in DATA_FILE_KEYS if config.get(key)}
