"""Checks a job request against this server before anything is stored: the task, the data files, the model
(its layers and position limit), the device the live workers have, and the hyper-parameters; builds the run's
configuration. Reads files, model configs and the workers' presence, but writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from transformers import AutoConfig, PretrainedConfig

from addrop.data.errors import DataError, NoDataFiles
from addrop.data.files import EXTENSIONS
from addrop.data.hub import hub_dataset_available
from addrop.data.splits import load_splits
from addrop.dynamics import DynamicsConfig
from addrop.models import resolve_model
from addrop.tasks import TaskSpec, get_task
from backend.job_errors import InvalidJob
from backend.run_config import job_task, run_config
from backend.schemas.jobs import JobCreate
from backend.settings import Settings
from backend.shown import LOCAL_PREFIXES, without_paths
from backend.workers import WorkerRegistry
from jobstore.database import Database
from jobstore.orm import Upload


# The attribution targets each kind of task's pass 1 can take: "logit" is a sequence classifier's (or a regressor's)
# one output, "pseudo_loss" the loss against the argmax of per-token logits (token classification, translation).
TARGETS = {"classification": ("auto", "logit", "loss"), "regression": ("auto", "logit", "loss"),
           "token_classification": ("auto", "loss", "pseudo_loss"), "translation": ("auto", "loss", "pseudo_loss")}
# One answer for a data directory that is missing and for one that holds no data: an answer that told them
# apart would let a client map the server's directories.
NO_DATA_FILES = (f"data.data_dir: no train and validation files ({', '.join(EXTENSIONS)}) found in that directory on "
                 "this machine, nor in its <task>/ or glue/<task>/ subdirectory (or the directory is not there)")


@dataclass
class PreparedJob:
    """A validated request: the run's configuration and what lists show about it."""

    config: dict
    task: TaskSpec
    name: str


class JobSpecs:
    """Validates job requests for the job service and the sweeps."""

    def __init__(self, db: Database, settings: Settings, workers: WorkerRegistry) -> None:
        self.db = db
        self.settings = settings
        self.workers = workers

    def prepare(self, spec: JobCreate) -> PreparedJob:
        """Check everything a worker would trip over (task, model, layers, hyper-parameters, then the data,
        the costliest check) and build the run's configuration; :class:`InvalidJob` says what is wrong."""
        task = job_task(spec)
        model = self.model_config(spec.model)
        encoder_decoder = bool(getattr(model, "is_encoder_decoder", False))
        if task.kind == "translation" and not encoder_decoder:
            raise InvalidJob(f"model: {spec.model!r} is not an encoder-decoder; a translation job needs one such as a "
                             "Marian (OPUS-MT) model, e.g. Helsinki-NLP/opus-mt-en-ro")
        if task.kind == "translation" and spec.dynamics.enabled:
            raise InvalidJob("dynamics.enabled: attribution dynamics are recorded for classifiers and taggers, not "
                             "for translation jobs")
        if spec.addrop.target not in TARGETS[task.kind]:
            raise InvalidJob(f"addrop.target: a {task.kind} task's attribution target is one of "
                             f"{', '.join(TARGETS[task.kind])}; got {spec.addrop.target!r}")
        num_layers = _layers(spec.model, model, spec.addrop.kind)
        bad = [layer for layer in spec.addrop.layers if layer >= num_layers]
        if (spec.addrop.enabled or spec.dynamics.enabled) and bad:  # a baseline's dynamics records them too
            named = f"{spec.addrop.kind or 'encoder'} " if encoder_decoder else ""
            raise InvalidJob(f"addrop.layers: the model has {num_layers} {named}layers (0..{num_layers - 1}); got {bad}")
        training = spec.training
        positions = getattr(model, "max_position_embeddings", None)
        if positions and training.max_length > positions:
            raise InvalidJob(f"training.max_length: {spec.model!r} reads at most {positions} positions; got "
                             f"{training.max_length}")
        self._device(training.device)
        files = self._data_files(spec)
        config = run_config(spec, task, files)
        if files:
            try:
                splits = load_splits(task, **files, max_train_samples=config["max_train_samples"],
                                     max_eval_samples=config["max_eval_samples"], seed=config["seed"])
            except NoDataFiles:  # the answer a missing directory gets: whether it exists stays unsaid
                raise InvalidJob(NO_DATA_FILES) from None
            except DataError as error:
                raise InvalidJob(f"data: {without_paths(str(error), files, self.settings.data_dir)}") from None
            except OSError as error:  # a file it cannot open or a path too long: the reason, not the path
                raise InvalidJob(f"data: the data files cannot be read on this machine ({_reason(error)})") from None
            if config["dynamics"] is not None:
                try:
                    DynamicsConfig(**config["dynamics"]).probe(len(splits["validation"]), config["seed"])
                except ValueError as error:
                    raise InvalidJob(str(error)) from None
        return PreparedJob(config, task, spec.name or _default_name(spec, task))

    def _data_files(self, spec: JobCreate) -> dict[str, str]:
        data = spec.data
        if data.source == "hub":
            task = get_task(data.task)
            if task.hf_dataset is None:
                raise InvalidJob(f"data: task {data.task!r} has no Hugging Face dataset; give a directory or upload files")
            if not hub_dataset_available(task):
                raise InvalidJob(f"data.source: this server is offline (HF_HUB_OFFLINE) and its datasets cache has no "
                                 f"copy of {' '.join(filter(None, task.hf_dataset))} for task {data.task!r}; give a "
                                 "directory on the workers or upload files")
            return {}
        if data.source == "directory":
            directory = self._local_path(data.data_dir or "", "data.data_dir", relative_to=self.settings.data_dir)
            if not _probe(directory.is_dir, "data.data_dir"):
                raise InvalidJob(NO_DATA_FILES)
            return {"data_dir": str(directory)}
        with self.db.session() as session:
            uploads = {key: session.get(Upload, upload_id or "")
                       for key, upload_id in (("train_file", data.train_upload), ("validation_file", data.validation_upload))}
        missing = [key for key, upload in uploads.items() if upload is None]
        if missing:
            ids = {"train_file": data.train_upload, "validation_file": data.validation_upload}
            raise InvalidJob("data: unknown upload id " + ", ".join(repr(ids[key]) for key in missing)
                             + "; upload files with POST /api/uploads first")
        return {key: str(self.settings.uploads_dir / upload.path) for key, upload in uploads.items()}

    def _local_path(self, value: str, field: str, relative_to: Path | None = None) -> Path:
        """``value`` as an absolute path; a relative one is taken under ``relative_to`` when given (the data
        directory, as answers show data directories), else refused."""
        if not self.settings.allow_local_paths:
            raise InvalidJob(f"{field}: this server does not let jobs read local directories; upload files instead")
        try:
            path = Path(value).expanduser()
        except RuntimeError:  # "~name/..." for a user this machine does not have
            raise InvalidJob(f"{field}: '~' in this path names no user on this machine; give an absolute path") from None
        if not path.is_absolute() and relative_to is not None:
            return relative_to.resolve() / path
        if not path.is_absolute():
            raise InvalidJob(f"{field}: give an absolute path (got {value!r})")
        return path

    def model_layers(self, model: str, kind: str | None = None) -> int:
        """How many transformer layers ``model`` has (an encoder-decoder's of ``kind``, default its encoder's);
        :class:`InvalidJob` when it cannot be loaded."""
        return _layers(model, self.model_config(model), kind)

    def model_config(self, model: str) -> PretrainedConfig:
        """``model``'s configuration; :class:`InvalidJob` when it cannot be loaded or may not be read."""
        source = resolve_model(model)
        if source == model and not self.settings.allow_local_paths and _looks_local(model):
            # The same answer whether the path exists or not, so the API cannot be used to probe the disk.
            raise InvalidJob(f"model: {model!r} is not a model this server can load: use 'minilm' or a Hugging Face "
                             "hub id (this server does not let jobs read local directories)")
        if source == model and (model.startswith(LOCAL_PREFIXES) or _probe(Path(source).exists, "model")):
            self._local_path(model, "model")
        try:
            config = AutoConfig.from_pretrained(source)
        except (OSError, ValueError) as error:
            if model.startswith(LOCAL_PREFIXES):
                # The loader's reason would say whether the directory exists (and repeat its path): one answer.
                raise InvalidJob(f"model: {model!r} is not a model directory this server can load (it is not there, "
                                 "or it has no config.json)") from None
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise InvalidJob(
                f"model: unknown model {model!r} (not 'minilm', a model directory, or a hub id this server can "
                f"load: {first})"
            ) from None
        return config

    def _device(self, device: str) -> None:
        # A CPU worker would take a CUDA job and fail it as it starts: refuse it while no live worker has a GPU
        # (with no worker seen at all, the job waits for one like any other).
        if device != "cuda":
            return
        live = self.workers.live()
        if live and not any(worker.gpus for worker in live):
            raise InvalidJob(f"training.device: 'cuda', but none of the {len(live)} live job worker(s) has a GPU; "
                             "use 'auto' or 'cpu', or start a worker on a GPU machine")


def _probe(check: Callable[[], bool], field: str) -> bool:
    """``check()``, a look at the disk (``exists``, ``is_dir``) for a path a request gave. Python answers False
    only for a path that is missing; what else the system refuses (a name over 255 bytes or a path over 4096,
    no permission, a loop of links) it raises, and that is the request's fault, so :class:`InvalidJob` names
    ``field`` and the reason (never the path)."""
    try:
        return check()
    except OSError as error:
        raise InvalidJob(f"{field}: not a path this machine can look up ({_reason(error)})") from None
    except ValueError:  # a NUL character, which no file name may hold
        raise InvalidJob(f"{field}: this path contains a NUL character, which no file name may hold") from None


def _reason(error: OSError) -> str:
    # strerror alone: str(error) would add the path (an uploaded file's is under the server's data directory).
    return error.strerror or type(error).__name__


def _looks_local(model: str) -> bool:
    """A path rather than a hub id: absolute, relative to the home or current directory, or present on disk
    (from_pretrained would read a local folder of that name first)."""
    try:
        return model.startswith(LOCAL_PREFIXES) or Path(model).expanduser().exists()
    except (OSError, ValueError):  # a NUL byte or a name the file system cannot hold: not a hub id either
        return True


def _layers(model: str, config: PretrainedConfig, kind: str | None = None) -> int:
    """The model's layers of attention ``kind``, from its config alone (loading the weights to count the hooked
    layers would cost a request seconds): an encoder-decoder has ``encoder_layers`` encoder layers, and a self-
    and a cross-attention in each of its ``decoder_layers``; a model of one stack takes no kind."""
    if getattr(config, "is_encoder_decoder", False):
        name = "decoder_layers" if kind in ("decoder", "cross") else "encoder_layers"
        layers = getattr(config, name, None) or getattr(config, "num_hidden_layers", None)
    elif kind is not None:
        raise InvalidJob(f"addrop.kind: {model!r} is not an encoder-decoder, so its attention has no kinds to choose "
                         "from; leave addrop.kind empty")
    else:
        layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", None)
    if not layers:
        raise InvalidJob(f"model: {model!r} is not a transformer encoder AD-DROP can fine-tune")
    return int(layers)


def _default_name(spec: JobCreate, task: TaskSpec) -> str:
    model = Path(spec.model).name if "/" in spec.model else spec.model
    if not spec.addrop.enabled:
        return f"{task.name} · {model} · baseline"
    layers = ",".join(map(str, spec.addrop.layers))
    return f"{task.name} · {model} · {spec.addrop.method} p={spec.addrop.p:g} q={spec.addrop.q:g} L{layers}"
