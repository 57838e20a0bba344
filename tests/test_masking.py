"""Candidate regions, dropped positions, and the masked second pass."""

import math

import pytest
import torch
from tests.tiny_models import tiny_batch, tiny_config
from transformers import AutoModelForSequenceClassification

from addrop import ADDrop, ADDropConfig, discard_masks, masked_forward


def ragged_mask(batch=4, n=12):
    mask = torch.ones(batch, n, dtype=torch.long)
    for row, length in enumerate([12, 9, 5, 1][:batch]):
        mask[row, length:] = 0
    return mask


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_candidate_count_is_ceil_p_times_valid_keys(p):
    g = torch.Generator().manual_seed(0)
    mask = ragged_mask()
    attribution = torch.randn(2, 4, 3, 12, 12, generator=g)  # continuous: no ties
    candidate, dropped = discard_masks(attribution, mask, p, 0.5, generator=g)
    for b, length in enumerate([12, 9, 5, 1]):
        counts = candidate[:, b, :, :length].sum(-1)
        assert (counts == max(1, math.ceil(p * length))).all()
        assert not candidate[:, b, :, length:].any()  # padded query rows
        assert not candidate[:, b, :, :, length:].any()  # padded keys
        assert not dropped[:, b, :, :, length:].any()
    assert not (dropped & ~candidate).any()


def test_high_takes_the_largest_and_low_the_smallest():
    g = torch.Generator().manual_seed(1)
    mask = ragged_mask()
    attribution = torch.randn(4, 2, 12, 12, generator=g)
    for mode in ("high", "low"):
        candidate, _ = discard_masks(attribution, mask, 0.3, 0.5, mode=mode, generator=g)
        sign = 1 if mode == "high" else -1
        for b, length in enumerate([12, 9, 5, 1]):
            for h in range(2):
                for i in range(length):
                    row = sign * attribution[b, h, i, :length]
                    chosen = row[candidate[b, h, i, :length]]
                    rest = row[~candidate[b, h, i, :length]]
                    if len(rest):
                        assert chosen.min() > rest.max()


def test_ties_with_the_threshold_are_all_candidates():
    attribution = torch.tensor([[[[1.0, 5.0, 5.0, 5.0, 0.0, 2.0]]]]).expand(1, 1, 6, 6).contiguous()
    mask = torch.ones(1, 6, dtype=torch.long)
    candidate, _ = discard_masks(attribution, mask, 0.2, 0.5)  # ceil(1.2) = 2, but 3 keys tie at 5.0
    assert candidate[0, 0, 0].tolist() == [False, True, True, True, False, False]


def test_drop_rate_is_q_over_many_draws():
    g = torch.Generator().manual_seed(2)
    mask = torch.ones(8, 32, dtype=torch.long)
    attribution = torch.randn(8, 4, 32, 32, generator=g)
    rates = []
    for _ in range(20):
        candidate, dropped = discard_masks(attribution, mask, 0.5, 0.3, generator=g)
        rates.append(dropped.sum().item() / candidate.sum().item())
    assert abs(sum(rates) / len(rates) - 0.3) < 0.01
    # fresh masks on every call
    _, first = discard_masks(attribution, mask, 0.5, 0.3, generator=g)
    _, second = discard_masks(attribution, mask, 0.5, 0.3, generator=g)
    assert not torch.equal(first, second)


def test_no_row_loses_all_its_keys():
    g = torch.Generator().manual_seed(3)
    mask = ragged_mask()  # the last example has one valid token
    attribution = torch.randn(4, 3, 12, 12, generator=g)
    for _ in range(20):
        _, dropped = discard_masks(attribution, mask, 0.99, 0.99, generator=g)
        kept = (~dropped & mask.bool()[:, None, None, :]).sum(-1)
        valid_rows = mask.bool()[:, None, :].expand(4, 3, 12)
        assert (kept[valid_rows] >= 1).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(p=0.0, q=0.5), "p must be"),
        (dict(p=1.0, q=0.5), "p must be"),
        (dict(p=0.3, q=1.5), "q must be"),
        (dict(p=0.3, q=0.5, mode="middle"), "mode"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        discard_masks(torch.zeros(1, 1, 4, 4), torch.ones(1, 4), **kwargs)


def test_shape_errors():
    with pytest.raises(ValueError, match="attention_mask"):
        discard_masks(torch.zeros(2, 1, 4, 4), torch.ones(3, 4), 0.3, 0.3)
    with pytest.raises(ValueError, match="attribution must be"):
        discard_masks(torch.zeros(4, 4), torch.ones(1, 4), 0.3, 0.3)


@pytest.mark.parametrize("arch", ["bert", "roberta", "distilbert"])
def test_pass_two_gives_dropped_positions_zero_attention(arch):
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(
        tiny_config(arch, num_labels=2), attn_implementation="eager"
    ).double().eval()
    inputs = tiny_batch()
    plan = ADDrop(model, ADDropConfig("GA", p=0.5, q=0.5, layers=(0, 2))).plan(inputs)
    assert plan.dropped.any()
    out = masked_forward(model, inputs, plan.masks)
    # attentions are recorded from the eager implementation's returned weights
    reference = AutoModelForSequenceClassification.from_config(
        tiny_config(arch, num_labels=2), attn_implementation="eager"
    ).double().eval()
    reference.load_state_dict(model.state_dict())
    recorded = masked_forward_attentions(model, inputs, plan.masks)
    for index, layer in enumerate((0, 2)):
        assert (recorded[layer][plan.dropped[index]] == 0).all()
        valid = inputs["attention_mask"].bool()
        row_sums = recorded[layer].sum(-1)[valid[:, None, :].expand_as(recorded[layer].sum(-1))]
        torch.testing.assert_close(row_sums, torch.ones_like(row_sums))
    assert not torch.allclose(out.logits, reference(**inputs).logits)


def masked_forward_attentions(model, inputs, masks):
    out = masked_forward(model, inputs | {"output_attentions": True}, masks)
    return out.attentions


@pytest.mark.parametrize("padded", [True, False])
def test_sdpa_and_eager_pass_two_agree(padded):
    torch.manual_seed(0)
    eager = AutoModelForSequenceClassification.from_config(
        tiny_config("bert", num_labels=2), attn_implementation="eager"
    ).double().eval()
    sdpa = AutoModelForSequenceClassification.from_config(
        tiny_config("bert", num_labels=2), attn_implementation="sdpa"
    ).double().eval()
    sdpa.load_state_dict(eager.state_dict())
    inputs = tiny_batch()
    if not padded:
        inputs["attention_mask"] = torch.ones_like(inputs["attention_mask"])
    plan = ADDrop(eager, ADDropConfig("AA", p=0.4, q=0.6, layers=(1,))).plan(inputs)
    torch.testing.assert_close(
        masked_forward(sdpa, inputs, plan.masks).logits, masked_forward(eager, inputs, plan.masks).logits
    )


def test_masks_do_not_leak_outside_the_block():
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", num_labels=2)).double().eval()
    inputs = tiny_batch()
    with torch.no_grad():
        before = model(**inputs).logits
        addrop = ADDrop(model, ADDropConfig("RD", p=0.5, q=0.9, layers=(0, 1, 2)))
        plan = addrop.plan(inputs)
        with addrop.applied(plan.masks):
            during = model(**inputs).logits
        after = model(**inputs).logits
    assert not torch.allclose(before, during)
    torch.testing.assert_close(before, after)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="XX"), "unknown attribution method"),
        (dict(p=1.2), "p must be"),
        (dict(q=0), "q must be"),
        (dict(mode="random"), "mode"),
        (dict(steps=0), "steps"),
        (dict(layers=()), "at least one"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ADDropConfig(**kwargs)


def test_plans_reuse_buffers_and_out_is_checked():
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", num_labels=2)).double().eval()
    inputs = tiny_batch()
    addrop = ADDrop(model, ADDropConfig("GA", p=0.5, q=0.5, layers=(0, 1)))
    first = addrop.plan(inputs)
    kept = first.dropped.clone()
    second = addrop.plan(inputs)
    assert second.dropped.data_ptr() == first.dropped.data_ptr()  # one buffer across steps
    assert not torch.equal(second.dropped, kept)  # fresh draws
    fresh_candidate, _ = discard_masks(second.result.attribution, inputs["attention_mask"], 0.5, 0.5)
    assert torch.equal(second.candidate, fresh_candidate)
    with pytest.raises(ValueError, match="out must be"):
        discard_masks(second.result.attribution, inputs["attention_mask"], 0.5, 0.5, out=(kept, kept[:1]))


def test_plan_works_under_autocast():
    """Under autocast the gradients (and so the reused attribution buffer) are bf16 while parameters stay fp32."""
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", num_labels=2))
    inputs = tiny_batch()
    addrop = ADDrop(model, ADDropConfig(method="GA", p=0.3, q=0.5, layers=(0, 1)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plan = addrop.plan(inputs)
    assert plan.result.attribution.dtype == torch.bfloat16
    assert plan.dropped.shape == (2, 3, 4, 9, 9) and plan.dropped.any()
