"""Attribution dynamics: how a model's attribution changes while it trains, measured on a fixed probe set.

At the end of an epoch, for the probe examples and the masked layers, :func:`record_epoch` takes the GA
attribution maps (eval mode, the model's own prediction as the target, as the explorer does) and summarises
them:

- concentration: the share of a row's attribution mass (absolute values, over its valid keys) held by its
  top-p keys, the candidate region AD-DROP draws from; mean over rows, heads and examples;
- entropy: the entropy of a row's normalised absolute attribution over its valid keys, divided by
  ``log(n_valid)`` (1 = spread evenly, 0 = on one key); mean over rows, heads and examples;
- both count only rows that carry attribution: in a sequence classifier's last layer only the [CLS] row
  reaches the logits, and every other row's gradient is exactly zero;
- stability (:func:`rank_stability`): Spearman's rank correlation of an example's map with the previous
  epoch's, mean over examples;
- reliance (:func:`reliance`): how often the prediction changes when each row's top-p region is dropped (q = 1)
  on every recorded layer at once, against as many random keys per row (the paper's Figure 2 contrast, on the
  model itself); for a regression head, the mean absolute change of the predicted score.

Recording changes nothing in training: it runs in eval mode (no dropout), under a forked random state, and its
random keys come from a stream of its own (``DYNAMICS_STREAM``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch
from torch import nn
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from addrop.attribution import attribute
from addrop.dropout import masked_forward
from addrop.masking import check_probability, discard_masks
from addrop.streams import DYNAMICS_STREAM, isolated_rng, stream_generator, stream_seed

PROBE_SIZE = 64
MEASURED_P = 0.3  # the paper's default p: one top-p region for every run, so runs of other p's compare


def probe_indices(num_examples: int, seed: int, size: int = PROBE_SIZE) -> list[int]:
    """A fixed sample of ``size`` dev examples (all of them when fewer), sorted: the same for every run of a
    task and seed, so a baseline and its AD-DROP twin share it, and drawn from a stream of its own."""
    if size <= 0 or num_examples <= 0:
        return []
    if size >= num_examples:
        return list(range(num_examples))
    rng = np.random.default_rng(stream_seed(seed, DYNAMICS_STREAM, 0))
    return sorted(int(i) for i in rng.choice(num_examples, size=size, replace=False))


@dataclass
class DynamicsConfig:
    """What a fine-tuning run records (``FinetuneConfig.dynamics``; None records nothing).

    The recorded layers are the run's masked layers, ``layers`` and the model's last layer: ``layers`` lets a
    baseline twin (nothing masked) record the layers its AD-DROP run masks. Concentration and reliance measure
    the top-``p`` region, the same ``p`` for every run rather than each run's own, so that runs compare."""

    probe_size: int = PROBE_SIZE
    probe_ids: tuple[int, ...] | None = None  # dev example indices instead of the seeded sample
    layers: tuple[int, ...] = (0,)
    p: float = MEASURED_P

    def __post_init__(self) -> None:
        if self.probe_size < 1:
            raise ValueError(f"dynamics.probe_size must be at least 1, got {self.probe_size}")
        if self.probe_ids is not None:
            self.probe_ids = tuple(int(i) for i in self.probe_ids)
            if not self.probe_ids or min(self.probe_ids) < 0 or len(set(self.probe_ids)) != len(self.probe_ids):
                raise ValueError("dynamics.probe_ids must be distinct dev example indices (from 0), at least one")
        self.layers = tuple(int(layer) for layer in self.layers)
        if any(layer < 0 for layer in self.layers):
            raise ValueError(f"dynamics.layers start at 0, got {list(self.layers)}")
        self.p = check_probability("dynamics.p", self.p)

    def probe(self, num_examples: int, seed: int) -> list[int]:
        """The dev examples of the probe set: ``probe_ids`` (sorted), else the seeded sample of ``probe_size``."""
        if self.probe_ids is None:
            return probe_indices(num_examples, seed, self.probe_size)
        outside = [i for i in self.probe_ids if i >= num_examples]
        if outside:
            raise ValueError(f"dynamics.probe_ids: the dev set has {num_examples} examples (0..{num_examples - 1}); "
                             f"got {outside[:5]}")
        return sorted(self.probe_ids)


def _valid_rows(attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys a row may look at ([b, 1, 1, n]) and rows of real queries ([b, 1, n, 1]), as booleans."""
    valid = attention_mask.to(torch.bool)[:, None, None, :]
    return valid, valid.transpose(-1, -2)


def concentration(attribution: torch.Tensor, attention_mask: torch.Tensor, p: float) -> torch.Tensor:
    """Per layer and example (``[L, b]``): the mean over heads and real rows of the share of the row's absolute
    attribution held by its top-p keys (the candidate region of ``discard_masks``, ties included)."""
    candidate = _region(attribution, attention_mask, p)
    valid, rows = _valid_rows(attention_mask)
    mass = attribution.detach().float().abs() * valid
    share = (mass * candidate).sum(-1) / mass.sum(-1).clamp_min(1e-30)  # [L, b, h, n]
    return _mean_rows(share, rows[..., 0] & (mass.sum(-1) > 0))


def attribution_entropy(attribution: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Per layer and example (``[L, b]``): the mean over heads and real rows of the entropy of the row's
    normalised absolute attribution over its valid keys, divided by ``log(n_valid)``."""
    valid, rows = _valid_rows(attention_mask)
    mass = attribution.detach().float().abs() * valid
    dist = mass / mass.sum(-1, keepdim=True).clamp_min(1e-30)
    entropy = -(dist * dist.clamp_min(1e-30).log()).sum(-1)  # [L, b, h, n]
    n_valid = attention_mask.sum(-1).float()  # [b]
    scale = n_valid.log().clamp_min(1e-30)[:, None, None]  # one key: entropy 0 over log 1, reported as 0
    return _mean_rows(entropy / scale, rows[..., 0] & (mass.sum(-1) > 0))


def candidate_region(attribution: np.ndarray, p: float, mode: str = "high") -> np.ndarray:
    """The top-p candidate region (``mode`` high: highest attribution; low: lowest) of a saved map ``[..., n, n]``
    cropped to its real tokens, as booleans of its shape: the keys ``discard_masks`` would draw drops from."""
    scores = torch.from_numpy(np.asarray(attribution, dtype=np.float32))
    n = scores.shape[-1]
    flat = scores.reshape(-1, 1, n, n)  # [b, h, n, n] with every token real
    candidate, _ = discard_masks(flat, torch.ones(len(flat), n, dtype=torch.long), p, 0.5, mode,
                                 generator=torch.Generator().manual_seed(0))
    return candidate.reshape(scores.shape).numpy()


def _region(attribution: torch.Tensor, attention_mask: torch.Tensor, p: float) -> torch.Tensor:
    """The top-p candidate region of ``discard_masks`` (its drop draw, unused, from a throwaway generator)."""
    candidate, _ = discard_masks(attribution, attention_mask, p, 0.5,
                                 generator=torch.Generator(device=attribution.device).manual_seed(0))
    return candidate


def _mean_rows(values: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``values`` [L, b, h, n] averaged over heads and the rows ``rows`` ([L, b, h, n] or broadcastable) that
    count: [L, b] (NaN where none does)."""
    weights = rows.expand(values.shape).float()
    return (values * weights).sum((-1, -2)) / weights.sum((-1, -2))


def rank_stability(previous: list[np.ndarray], current: list[np.ndarray]) -> float:
    """Mean over examples of Spearman's rank correlation between an example's maps at two epochs (each
    ``[h, n, n]`` over its valid tokens, all recorded layers stacked); NaN where a map is constant."""
    from scipy.stats import spearmanr

    values = []
    for before, after in zip(previous, current, strict=True):
        if before.shape != after.shape:
            raise ValueError(f"maps of one example differ in shape: {before.shape} and {after.shape}")
        a, b = before.astype(np.float64).ravel(), after.astype(np.float64).ravel()
        if np.ptp(a) > 0 and np.ptp(b) > 0:
            values.append(float(spearmanr(a, b)[0]))
    return float(np.mean(values)) if values else float("nan")


def _prediction_change(logits: torch.Tensor, changed: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Per example: 1.0 where the predicted class changed (a token classifier: the share of its real tokens
    that did), or the absolute change of a regression head's score."""
    if logits.shape[-1] == 1:
        return (changed - logits).abs().reshape(len(logits), -1).mean(-1)
    flips = (changed.argmax(-1) != logits.argmax(-1)).float()
    if flips.dim() == 2:  # tokens
        mask = attention_mask.float()
        return (flips * mask).sum(-1) / mask.sum(-1)
    return flips


def reliance(model: nn.Module, inputs: Mapping[str, torch.Tensor], attribution: torch.Tensor,
             layers: tuple[int, ...], p: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per example: the prediction change when each row's top-p keys by ``attribution`` ([L, b, h, n, n] of
    ``layers``) are dropped on every layer at once, and when as many random valid keys per row are; the model
    runs in its current mode (eval for a deterministic look). A row never loses all of its keys."""
    mask = inputs["attention_mask"]
    with torch.no_grad():
        logits = model(**inputs).logits.float()
        noise = torch.rand(attribution.shape, generator=generator, device=generator.device).to(attribution.device)
        out = []
        for scores in (attribution, noise):
            dropped = _keep_one(_region(scores, mask, p), scores, mask)
            changed = masked_forward(model, inputs, {layer: dropped[i] for i, layer in enumerate(layers)}).logits
            out.append(_prediction_change(logits, changed.float(), mask))
    return out[0], out[1]


def _keep_one(candidate: torch.Tensor, scores: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """All candidates dropped (q = 1), except that a row whose every valid key is a candidate keeps the one with
    the lowest score (``discard_masks``' rule)."""
    valid, rows = _valid_rows(attention_mask)
    lost_all = ((candidate | ~valid).all(-1, keepdim=True)) & rows
    keep = torch.nn.functional.one_hot(scores.float().masked_fill(~valid, float("inf")).argmin(-1),
                                       scores.shape[-1]).bool()
    return candidate & ~(keep & lost_all)


@dataclass
class EpochDynamics:
    """One epoch's record for the probe set: summaries per layer, and each example's maps."""

    epoch: int
    layers: tuple[int, ...]
    p: float
    concentration: list[float]  # per layer, mean over examples
    entropy: list[float]
    reliance: float  # mean prediction change with the top-p region dropped
    reliance_random: float  # with as many random keys dropped
    stability: float | None = None  # against the previous epoch's maps; None at the first
    maps: list[np.ndarray] = field(default_factory=list, repr=False)  # per example [L, h, n_i, n_i] float16

    def summary(self) -> dict[str, float]:
        """The numbers a metrics stream carries, one key per value (``concentration_L0``, ...)."""
        values = {f"concentration_L{layer}": c for layer, c in zip(self.layers, self.concentration)}
        values.update({f"entropy_L{layer}": e for layer, e in zip(self.layers, self.entropy)})
        values.update(reliance=self.reliance, reliance_random=self.reliance_random)
        if self.stability is not None and math.isfinite(self.stability):
            values["stability"] = self.stability
        return values


def record_epoch(model: nn.Module, batches: list[Mapping[str, torch.Tensor]], layers: tuple[int, ...], p: float,
                 seed: int, epoch: int, previous: list[np.ndarray] | None = None) -> EpochDynamics:
    """Attribution maps and summaries of the probe ``batches`` at the end of ``epoch`` (stability against the
    ``previous`` epoch's maps, when given).

    Runs in eval mode under a forked random state, so the training that goes on afterwards draws exactly what
    it would have drawn without the recording."""
    was_training = model.training
    device = next(model.parameters()).device
    generator = stream_generator(seed, DYNAMICS_STREAM, epoch + 1, device)
    concentrations, entropies, top, rand, maps = [], [], [], [], []
    model.eval()
    try:
        with isolated_rng(device):
            for batch in batches:
                inputs = {k: v.to(device) for k, v in batch.items() if k != "labels"}
                result = attribute(model, inputs, "GA", layers, return_attention=False)
                concentrations.append(concentration(result.attribution, inputs["attention_mask"], p))
                entropies.append(attribution_entropy(result.attribution, inputs["attention_mask"]))
                flips = reliance(model, inputs, result.attribution, result.layers, p, generator)
                top.append(flips[0])
                rand.append(flips[1])
                lengths = inputs["attention_mask"].sum(-1).tolist()
                attribution = result.attribution.detach().to(torch.float16).cpu()
                maps.extend(attribution[:, i, :, :n, :n].numpy() for i, n in enumerate(lengths))
    finally:
        model.train(was_training)
    record = EpochDynamics(
        epoch, tuple(layers), p,
        concentration=torch.cat(concentrations, 1).nanmean(1).tolist(), entropy=torch.cat(entropies, 1).nanmean(1).tolist(),
        reliance=float(torch.cat(top).mean()), reliance_random=float(torch.cat(rand).mean()), maps=maps,
    )
    if previous is not None:
        record.stability = rank_stability(previous, record.maps)
    return record


class DynamicsRecorder(TrainerCallback):
    """Records :func:`record_epoch` for the probe ``batches`` at the end of every training epoch, calls
    ``report(record)`` and, with ``directory``, saves the epoch's maps as ``epoch-<k>.npz`` (one float16
    array per probe example, ``[L, h, n_i, n_i]``, under its index in the probe set). A run resumed from a
    checkpoint reads the previous epoch's maps back from there, for its stability."""

    def __init__(self, batches: list[Mapping[str, torch.Tensor]], layers: tuple[int, ...], p: float, seed: int,
                 report: Callable[[EpochDynamics], None], directory: Path | None = None) -> None:
        self.batches = batches
        self.layers = tuple(layers)
        self.p = p
        self.seed = seed
        self.report = report
        self.directory = directory
        self.previous: list[np.ndarray] | None = None

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model=None, **kwargs):
        epoch = round(state.epoch or 0)
        if self.previous is None and self.directory is not None:
            self.previous = saved_maps(self.directory, epoch - 1)
        record = record_epoch(model, self.batches, self.layers, self.p, self.seed, epoch, self.previous)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f"epoch-{epoch}.tmp.npz"
            np.savez_compressed(tmp, **{f"example{i}": m for i, m in enumerate(record.maps)})
            tmp.replace(self.directory / f"epoch-{epoch}.npz")
        self.previous = record.maps
        self.report(record)


def saved_epochs(directory: Path) -> list[int]:
    """The epochs whose maps :class:`DynamicsRecorder` saved under ``directory``, in order."""
    found = (re.fullmatch(r"epoch-(\d+)\.npz", path.name) for path in directory.glob("epoch-*.npz"))
    return sorted(int(match[1]) for match in found if match)


def saved_map(directory: Path, epoch: int, example: int) -> np.ndarray:
    """One probe example's saved maps (``[L, h, n, n]`` float16) of ``epoch``: only that array is read.
    KeyError when the epoch's file has no such example, FileNotFoundError when there is no such epoch."""
    with np.load(directory / f"epoch-{epoch}.npz") as saved:
        return saved[f"example{example}"]


def saved_maps(directory: Path, epoch: int) -> list[np.ndarray] | None:
    """The maps :class:`DynamicsRecorder` saved for ``epoch`` under ``directory``, in probe order, if any."""
    path = directory / f"epoch-{epoch}.npz"
    if not path.is_file():
        return None
    with np.load(path) as saved:
        return [saved[f"example{i}"] for i in range(len(saved.files))]
