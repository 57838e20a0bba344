"""Attribution dynamics (``addrop.dynamics``) against independent definitions: the concentration and entropy of
hand-made maps, rank stability, the probe set, reliance on a model that learned that one token decides the
label, and a recording that leaves training exactly as it was."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, TrainingArguments

from addrop import ADDropConfig, ADDropTrainer
from addrop.dynamics import (DynamicsRecorder, attribution_entropy, concentration, probe_indices, rank_stability,
                             record_epoch, reliance)
from addrop.streams import stream_generator
from tests.tiny_models import tiny_config
from tests.test_trainer import pad, synthetic


def hand_map(rows: list[list[float]]) -> torch.Tensor:
    """One layer, one example, one head: ``[1, 1, 1, n, n]``."""
    return torch.tensor(rows, dtype=torch.float64)[None, None, None]


def test_concentration_and_entropy_of_a_hand_made_map():
    # 4 tokens, the last is padding. p = 0.5 over 3 valid keys: ceil(1.5) = 2 keys per row.
    rows = [[4.0, -1.0, 1.0, 9.0],   # top 2 by value: keys 0 and 2 (|.| 4, 1) of |.| mass 6 -> 5/6
            [1.0, 1.0, 1.0, 9.0],    # all tied: every key is a candidate -> 3/3
            [0.0, 2.0, -6.0, 9.0],   # top 2: keys 1 and 0 (|.| 2, 0) of mass 8 -> 2/8
            [5.0, 5.0, 5.0, 5.0]]    # a padding query: not counted
    mask = torch.tensor([[1, 1, 1, 0]])
    got = concentration(hand_map(rows), mask, 0.5)
    assert got.shape == (1, 1)
    assert float(got) == pytest.approx((5 / 6 + 1 + 2 / 8) / 3)

    def entropy(values):  # of |values| normalised, over log(3)
        d = np.abs(values) / np.abs(values).sum()
        return -sum(x * math.log(x) for x in d if x > 0) / math.log(3)

    expected = (entropy([4, -1, 1]) + entropy([1, 1, 1]) + entropy([0, 2, -6])) / 3
    assert float(attribution_entropy(hand_map(rows), mask)) == pytest.approx(expected)
    assert entropy([1, 1, 1]) == pytest.approx(1.0)


def test_summaries_average_over_heads_and_examples_separately_per_layer():
    sharp = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    soft = torch.tensor([[3.0, 1.0], [1.0, 3.0]])
    maps = torch.stack([torch.stack([torch.stack([sharp, soft])] * 2)] * 3)  # [L=3, b=2, h=2, 2, 2]
    maps[2] = soft
    mask = torch.ones(2, 2, dtype=torch.long)
    # p 0.5: one key of two; a sharp row puts all its mass there, a soft one 3/4
    assert concentration(maps, mask, 0.5).tolist() == [[0.875, 0.875]] * 2 + [[0.75, 0.75]]
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2)
    assert attribution_entropy(maps, mask).flatten().tolist() == pytest.approx([h / 2] * 4 + [h, h])
    # a last layer of a sequence classifier: only the [CLS] row carries attribution, the others are exactly 0
    # and do not count
    maps[2] = torch.tensor([[3.0, 1.0], [0.0, 0.0]])
    assert concentration(maps, mask, 0.5)[2].tolist() == [0.75, 0.75]
    assert attribution_entropy(maps, mask)[2].tolist() == pytest.approx([h, h])


def test_rank_stability_is_spearman_over_each_example():
    rng = np.random.default_rng(0)
    a = [rng.normal(size=(2, 5, 5)) for _ in range(3)]
    assert rank_stability(a, a) == pytest.approx(1.0)
    assert rank_stability(a, [-m for m in a]) == pytest.approx(-1.0)
    assert rank_stability(a, [m ** 3 for m in a]) == pytest.approx(1.0)  # ranks, not values
    assert math.isnan(rank_stability([np.zeros((1, 2, 2))], [np.ones((1, 2, 2))]))
    with pytest.raises(ValueError, match="differ in shape"):
        rank_stability([np.zeros((1, 2, 2))], [np.zeros((1, 3, 3))])


def test_the_probe_set_is_fixed_by_task_size_and_seed():
    first = probe_indices(1043, seed=1)
    assert first == probe_indices(1043, seed=1) and len(first) == 64 == len(set(first))
    assert first == sorted(first) and all(0 <= i < 1043 for i in first)
    assert first != probe_indices(1043, seed=2)
    assert probe_indices(10, seed=1) == list(range(10)) and probe_indices(10, seed=1, size=0) == []


KEY, FILLER = 7, range(10, 40)


def keyword_batch(size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """[CLS] + 9 filler tokens; half the examples carry KEY at a random place, and their label is 1."""
    ids = torch.randint(FILLER.start, FILLER.stop, (size, 10), generator=generator)
    ids[:, 0] = 2
    labels = torch.randint(0, 2, (size,), generator=generator)
    where = torch.randint(1, 10, (size,), generator=generator)
    ids[labels == 1, where[labels == 1]] = KEY
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


@pytest.fixture(scope="module")
def keyword_model():
    """A tiny 1-layer BERT trained until one token (KEY) decides its label: [CLS] learns of it only through
    that layer's attention."""
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", num_labels=2, num_hidden_layers=1),
                                                           attn_implementation="sdpa")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(300):
        loss = model(**keyword_batch(32, generator)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    test = keyword_batch(256, torch.Generator().manual_seed(1))
    with torch.no_grad():
        accuracy = (model(**{k: v for k, v in test.items() if k != "labels"}).logits.argmax(-1) == test["labels"])
    assert accuracy.float().mean() > 0.97, "the model did not learn the keyword"
    return model


def test_reliance_drops_what_decides_the_prediction(keyword_model):
    """Dropping each row's top-p keys by GA attribution flips the keyword examples far more often than dropping
    as many random keys does (p 0.1: one key of ten per row); examples without the keyword hardly move."""
    batch = keyword_batch(128, torch.Generator().manual_seed(2))
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    from addrop.attribution import attribute

    result = attribute(keyword_model, inputs, "GA", (0,), return_attention=False)
    top, rand = reliance(keyword_model, inputs, result.attribution, (0,), 0.1, stream_generator(0, 5, 1))
    keyword = batch["labels"] == 1
    assert top.shape == rand.shape == (128,)
    assert float(top[keyword].mean()) > 0.9 and float(rand[keyword].mean()) < 0.3  # seen: 1.00 and 0.07
    assert float(top[~keyword].mean()) < 0.1 and float(rand[~keyword].mean()) < 0.1


def tiny(dropout: float = 0.1):
    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_config(tiny_config("bert", dropout=dropout, num_labels=2),
                                                           attn_implementation="sdpa")


def test_recording_leaves_training_exactly_as_it_was(tmp_path):
    """The same AD-DROP run (dropout on, drops drawn) with and without the recorder ends with identical weights,
    and the recorder saw every epoch, with stability from the second on."""
    probe = [pad(list(synthetic(6, seed=9)))]
    records = []
    weights = []
    for recorder in (None, DynamicsRecorder([{k: v for k, v in probe[0].items() if k != "labels"}], (0, 1), 0.3, 1,
                                            records.append, tmp_path / "dynamics")):
        args = TrainingArguments(output_dir=str(tmp_path / ("with" if recorder else "without")), num_train_epochs=3,
                                 per_device_train_batch_size=4, report_to="none", use_cpu=True, disable_tqdm=True,
                                 save_strategy="no", seed=3)
        trainer = ADDropTrainer(model=tiny(), args=args, train_dataset=synthetic(16), data_collator=pad,
                                addrop=ADDropConfig(p=0.5, q=0.5, layers=(0, 1)), cross_tuning=True,
                                callbacks=[recorder] if recorder else [])
        trainer.train()
        weights.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert [r.epoch for r in records] == [1, 2, 3]
    assert records[0].stability is None and all(-1 <= r.stability <= 1 for r in records[1:])
    saved = np.load(tmp_path / "dynamics" / "epoch-2.npz")
    assert sorted(saved.files) == [f"example{i}" for i in range(6)]
    assert saved["example0"].dtype == np.float16 and saved["example0"].shape[:2] == (2, 4)
    summary = records[1].summary()
    assert set(summary) == {"concentration_L0", "concentration_L1", "entropy_L0", "entropy_L1", "reliance",
                            "reliance_random", "stability"}


def test_a_record_of_the_same_model_is_the_same_whatever_ran_before():
    """Eval mode and a stream of its own: recording twice gives the same numbers, and the global random state
    after it is the one before it."""
    model = tiny()
    batch = {k: v for k, v in pad(list(synthetic(6, seed=9))).items() if k != "labels"}
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    first = record_epoch(model, [batch], (0, 1), 0.3, seed=1, epoch=1)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(123)
    second = record_epoch(model, [batch], (0, 1), 0.3, seed=1, epoch=1)
    assert first.summary() == second.summary()
    assert all(np.array_equal(a, b) for a, b in zip(first.maps, second.maps))
    assert model.training  # put back as it was
