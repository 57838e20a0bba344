"""A sweep's space takes the base job's method, mode and masked layers where it leaves them out: a base that
masks every layer (the authors' protocol for CoLA, MRPC and RTE) must not be searched on layer 0 alone."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from backend.schemas.sweeps import SweepCreate

BASE = {"model": "minilm", "data": {"source": "directory", "task": "cola", "data_dir": "/data/cola"}}


def created(addrop: dict, space: dict) -> SweepCreate:
    return SweepCreate.model_validate({"base": {**BASE, "addrop": addrop}, "space": space, "seeds": [1]})


def test_left_out_settings_come_from_the_base_job():
    sweep = created({"method": "IGA", "mode": "low", "layers": [5, 0, 3]}, {"p": [0.1, 0.2], "q": [0.3]})
    assert sweep.space.method == ["IGA"] and sweep.space.mode == ["low"] and sweep.space.layers == [[0, 3, 5]]
    assert sweep.space.size() == 2
    assert sweep.model_dump()["space"]["layers"] == [[0, 3, 5]]  # what is stored and shown is the complete space


def test_a_default_base_gives_the_old_defaults():
    sweep = created({}, {"p": [0.1], "q": [0.3]})
    assert (sweep.space.method, sweep.space.mode, sweep.space.layers) == (["GA"], ["high"], [[0]])


def test_settings_the_space_gives_win_over_the_base():
    sweep = created({"layers": [0, 1, 2]}, {"p": [0.1], "q": [0.3], "layers": [[1], [0, 2]], "method": ["GA", "AA"]})
    assert sweep.space.layers == [[1], [0, 2]] and sweep.space.method == ["GA", "AA"]
    assert sweep.space.size() == 4


@pytest.mark.parametrize("space", [{"layers": []}, {"method": []}, {"layers": [[]]}, {"layers": [[0, 0]]}])
def test_an_empty_or_bad_set_is_still_refused(space):
    with pytest.raises(ValidationError):
        created({}, {"p": [0.1], "q": [0.3], **space})
