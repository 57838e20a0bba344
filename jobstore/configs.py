"""Versions of the stored job config: the ``addrop.finetune.FinetuneConfig`` fields a job row holds.

A job may wait in the queue while the code is updated. When a release renames or changes a field, it raises
``CONFIG_VERSION`` and registers in ``UPGRADES`` the step from the previous version, so that a worker reads
jobs queued by older code; a config stored by newer code than the worker's is refused with that reason
instead of failing on an unknown field.
"""

from __future__ import annotations

from typing import Any, Callable

CONFIG_VERSION = 4
# version n -> the function that turns a version-n config into version n + 1
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    # 2 adds the learning-rate schedule; every run before it decayed linearly (transformers' default)
    1: lambda config: {**config, "lr_schedule": "linear"},
    # 3 adds attribution dynamics (a probe set's record at every epoch's end); no earlier run recorded them
    2: lambda config: {**config, "dynamics": None},
    # 4 adds translation: the dev set's generation (beams, new tokens) and the kind of attention AD-DROP drops in
    # (an encoder-decoder's); a version-3 config trained a classifier, so OPUS-MT's beams and the default kind
    # change nothing (configs written while the fields were being added may hold them already: they are kept)
    3: lambda config: _translation_fields(config),
}


def _translation_fields(config: dict[str, Any]) -> dict[str, Any]:
    addrop = config.get("addrop")
    return {"num_beams": 4, "max_new_tokens": None, **config,
            "addrop": None if addrop is None else {"kind": None, **addrop}}


class ConfigTooNew(ValueError):
    """The config was stored by newer code than this process runs."""


def readable_config(config: dict[str, Any], version: int) -> dict[str, Any]:
    """A stored config as this code reads it: upgraded step by step from ``version``."""
    if version > CONFIG_VERSION:
        raise ConfigTooNew(f"the job's config has version {version}, newer than this worker understands "
                           f"({CONFIG_VERSION}): update the worker to the API's release")
    for step in range(version, CONFIG_VERSION):
        config = UPGRADES[step](dict(config))
    return config
