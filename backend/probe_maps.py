"""Reads a job's recorded attribution dynamics for the dashboard: its probe set (``probe.json``) and one probe
example's map at one epoch, layer and head, with its candidate region; every value out of range is refused
with a message that names the ones there are."""

from __future__ import annotations

import json
from pathlib import Path

from addrop.dynamics import candidate_region, saved_epochs, saved_map
from backend.job_errors import InvalidJob, JobNotFound
from backend.schemas.jobs import DynamicsMap, DynamicsProbe


def default_region(spec: dict, measured_p: float) -> tuple[float, str]:
    """The p and mode of the region a job's maps are shown with: its AD-DROP's own, or for a job that drops
    nothing (a baseline) the p its summaries measure, highest keys."""
    addrop = spec.get("addrop") or {}
    if addrop.get("enabled"):
        return float(addrop["p"]), addrop.get("mode", "high")
    return measured_p, "high"


def read_probe(directory: Path, spec: dict) -> DynamicsProbe:
    """The probe set under ``directory`` (the dynamics directory of the job of ``spec``) and the epochs
    recorded so far."""
    probe = json.loads((directory / "probe.json").read_text())
    region_p, region_mode = default_region(spec, probe["p"])
    epochs = saved_epochs(directory)
    heads = int(saved_map(directory, epochs[0], 0).shape[1]) if epochs else None
    return DynamicsProbe(dev_indices=probe["dev_indices"], tokens=probe["tokens"], texts=probe.get("texts"),
                         layers=probe["layers"], heads=heads, epochs=epochs, measured_p=probe["p"],
                         region_p=region_p, region_mode=region_mode)


def read_map(directory: Path, spec: dict, example: int, epoch: int, layer: int, head: int,
             p: float | None = None, mode: str | None = None) -> DynamicsMap:
    """Probe example ``example``'s map at ``epoch`` on model layer ``layer`` and ``head``, with the keys of each
    row in its top-``p`` region (``mode``: highest or lowest attribution; both default to the job's)."""
    probe = json.loads((directory / "probe.json").read_text())
    shown_p, shown_mode = default_region(spec, probe["p"])
    p, mode = p if p is not None else shown_p, mode or shown_mode
    size = len(probe["dev_indices"])
    if example >= size:
        raise InvalidJob(f"example: the probe set has {size} examples (0..{size - 1}); got {example}")
    if layer not in probe["layers"]:
        raise InvalidJob(f"layer: the recorded layers are {probe['layers']}; got {layer}")
    epochs = saved_epochs(directory)
    if epoch not in epochs:
        recorded = f"the recorded epochs are {epochs}" if epochs else "no epoch has been recorded yet"
        raise JobNotFound(f"epoch: {recorded}; got {epoch}")
    maps = saved_map(directory, epoch, example)[probe["layers"].index(layer)]  # [h, n, n]
    if head >= len(maps):
        raise InvalidJob(f"head: the layer has {len(maps)} heads (0..{len(maps) - 1}); got {head}")
    values = maps[head]
    return DynamicsMap(example=example, dev_index=probe["dev_indices"][example], epoch=epoch, layer=layer, head=head,
                       tokens=probe["tokens"][example], values=values.astype(float).tolist(),
                       region=candidate_region(values, p, mode).tolist(), p=p, mode=mode)
