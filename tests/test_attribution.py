"""Attribution against independent references: plain autograd on transformers' own eager attention
(float64), the looped definition of integrated gradients, and the completeness axiom."""

import copy

import pytest
import torch
from tests.tiny_models import tiny_batch, tiny_config
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from addrop import attribute
from addrop.hooks import UnsupportedModelError, attach


def make_pair(arch: str, num_labels: int = 3, token: bool = False, attn: str = "sdpa", seed: int = 0):
    """The model under test (``attn`` attention, hooked by addrop) and an untouched eager twin."""
    torch.manual_seed(seed)
    config = tiny_config(arch, num_labels=num_labels)
    auto = AutoModelForTokenClassification if token else AutoModelForSequenceClassification
    reference = auto.from_config(config, attn_implementation="eager").double().eval()
    model = copy.deepcopy(reference)
    model.set_attn_implementation(attn)
    return model, reference


def reference_ga(reference, inputs, layers, target="logit"):
    out = reference(**inputs, output_attentions=True)
    if target == "logit":
        labels = out.logits.argmax(-1)
        value = out.logits.gather(-1, labels.unsqueeze(-1)).sum()
    else:
        value = -out.loss
    grads = torch.autograd.grad(value, [out.attentions[layer] for layer in layers])
    return torch.stack(grads), torch.stack([out.attentions[layer].detach() for layer in layers]), out.logits


@pytest.mark.parametrize("arch", ["bert", "roberta", "electra", "distilbert"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_ga_equals_autograd_on_eager_attention(arch, attn):
    model, reference = make_pair(arch, attn=attn)
    inputs = tiny_batch()
    layers = (0, 2)
    expected, attention, logits = reference_ga(reference, inputs, layers)

    fast = attribute(model, inputs, "GA", layers, return_attention=False)
    materialised = attribute(model, inputs, "GA", layers, return_attention=True)

    assert fast.attribution.shape == (2, 3, 4, 9, 9)
    torch.testing.assert_close(fast.attribution, expected, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(materialised.attribution, expected, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(materialised.attention, attention, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(fast.pseudo_labels, logits.argmax(-1))
    assert fast.target == "logit"
    assert fast.attention is None
    # with the last layer not attributed, pass 1 computes only its first query (for sequence classifiers)
    below_top = attribute(model, inputs, "GA", (0,), return_attention=False)
    torch.testing.assert_close(below_top.attribution[0], expected[0], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(below_top.logits, logits, rtol=1e-9, atol=1e-12)


def test_ga_all_layers_one_backward_matches_per_layer():
    model, reference = make_pair("bert")
    inputs = tiny_batch()
    together = attribute(model, inputs, "GA", (0, 1, 2), return_attention=False).attribution
    for index, layer in enumerate((0, 1, 2)):
        alone = attribute(model, inputs, "GA", (layer,), return_attention=False).attribution[0]
        torch.testing.assert_close(together[index], alone, rtol=1e-10, atol=1e-14)


def test_negative_loss_target_for_regression_and_tokens():
    model, reference = make_pair("bert", num_labels=1)
    inputs = dict(tiny_batch(), labels=torch.tensor([0.5, 2.0, 4.5], dtype=torch.float64))
    expected, _, _ = reference_ga(reference, inputs, (1,), target="loss")
    result = attribute(model, inputs, "GA", (1,), return_attention=False)
    assert result.target == "loss" and result.pseudo_labels is None
    torch.testing.assert_close(result.attribution, expected, rtol=1e-9, atol=1e-12)

    model, reference = make_pair("roberta", num_labels=5, token=True)
    batch = tiny_batch()
    labels = torch.randint(0, 5, batch["input_ids"].shape).masked_fill(batch["attention_mask"] == 0, -100)
    inputs = dict(batch, labels=labels)
    expected, _, _ = reference_ga(reference, inputs, (0,), target="loss")
    result = attribute(model, inputs, "GA", (0,), return_attention=False)
    assert result.target == "loss"
    torch.testing.assert_close(result.attribution, expected, rtol=1e-9, atol=1e-12)


def looped_integrated_gradients(reference, inputs, layer, steps):
    """IG by the definition: m separate passes, the head's output scaled by k/m (O = A V is linear in A),
    pseudo label fixed from the unscaled pass.  dF/dA' at A' = aA equals (1/a) dF/dA of the scaled pass."""
    base = reference(**inputs, output_attentions=True)
    labels = base.logits.argmax(-1)
    attention = base.attentions[layer].detach()
    module = reference.base_model.encoder.layer[layer].attention.self
    total = torch.zeros_like(attention)
    for k in range(1, steps + 1):
        alpha = k / steps
        handle = module.register_forward_hook(lambda m, args, out: (out[0] * alpha, *out[1:]))
        try:
            out = reference(**inputs, output_attentions=True)
            value = out.logits.gather(-1, labels.unsqueeze(-1)).sum()
            (grad,) = torch.autograd.grad(value, out.attentions[layer])
        finally:
            handle.remove()
        total += grad / alpha
    return attention * total / steps, labels


@pytest.mark.parametrize("arch", ["bert", "roberta"])
def test_iga_equals_looped_definition(arch):
    model, reference = make_pair(arch)
    inputs = tiny_batch()
    expected, labels = looped_integrated_gradients(reference, inputs, 1, steps=7)
    result = attribute(model, inputs, "IGA", (1,), steps=7)
    torch.testing.assert_close(result.attribution[0], expected, rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(result.pseudo_labels, labels)


def test_iga_chunking_does_not_change_the_result():
    from addrop.attribution import IntegratedGradients

    model, _ = make_pair("bert")
    inputs = tiny_batch()
    whole = IntegratedGradients(model, (0, 2), steps=6, internal_batch_size=100).attribute(inputs).attribution
    chunked = IntegratedGradients(model, (0, 2), steps=6, internal_batch_size=3).attribute(inputs).attribution
    torch.testing.assert_close(whole, chunked, rtol=1e-10, atol=1e-14)


def test_iga_completeness():
    """Attributions of one map sum to F(A) - F(0) per example, up to the Riemann error."""
    model, reference = make_pair("bert")
    inputs = tiny_batch()
    layer = 1
    result = attribute(model, inputs, "IGA", (layer,), steps=400)
    labels = result.pseudo_labels
    module = reference.base_model.encoder.layer[layer].attention.self
    with torch.no_grad():
        full = reference(**inputs).logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        handle = module.register_forward_hook(lambda m, args, out: (out[0] * 0.0, *out[1:]))
        zero = reference(**inputs).logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        handle.remove()
    sums = result.attribution[0].sum(dim=(1, 2, 3))
    torch.testing.assert_close(sums, full - zero, rtol=2e-2, atol=1e-4)


def test_aa_is_the_attention_and_rd_is_random():
    model, reference = make_pair("bert")
    inputs = tiny_batch()
    _, attention, _ = reference_ga(reference, inputs, (0, 1))
    aa = attribute(model, inputs, "AA", (0, 1))
    torch.testing.assert_close(aa.attribution, attention)
    torch.testing.assert_close(aa.attention, attention)

    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    rd1 = attribute(model, inputs, "RD", (0, 1), return_attention=False, generator=g1)
    rd2 = attribute(model, inputs, "RD", (0, 1), return_attention=False, generator=g2)
    assert rd1.attribution.shape == (2, 3, 4, 9, 9)
    assert rd1.logits is None  # no forward pass needed for random scores
    torch.testing.assert_close(rd1.attribution, rd2.attribution)
    assert 0.0 <= float(rd1.attribution.min()) and float(rd1.attribution.max()) < 1.0


@pytest.mark.parametrize("arch", ["bert", "distilbert"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_train_mode_ga_is_the_gradient_of_the_map_multiplied_with_v(arch, attn):
    """In train mode the attributed map is the one after attention dropout.  With the same seed, the
    dO V^T path and autograd on the materialised map see the same dropout draws and must agree."""
    torch.manual_seed(0)
    config = tiny_config(arch, dropout=0.3, num_labels=2)
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation=attn).double().train()
    inputs = tiny_batch(batch=8, n=16)
    torch.manual_seed(1)
    materialised = attribute(model, inputs, "GA", (0, 1), return_attention=True)
    torch.manual_seed(1)
    fast = attribute(model, inputs, "GA", (0, 1), return_attention=False)

    torch.testing.assert_close(fast.logits, materialised.logits, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast.attribution, materialised.attribution, rtol=1e-9, atol=1e-12)
    valid_key = inputs["attention_mask"].bool()[None, :, None, None, :].expand_as(materialised.attention)
    zeroed = float((materialised.attention[valid_key] == 0).double().mean())
    assert abs(zeroed - 0.3) < 0.03  # attention dropout zeroed about p of the real entries
    torch.manual_seed(2)
    assert not torch.equal(attribute(model, inputs, "GA", (0, 1), return_attention=False).logits, fast.logits)


def test_layer_and_method_errors():
    model, _ = make_pair("bert")
    inputs = tiny_batch()
    with pytest.raises(ValueError, match="out of range"):
        attribute(model, inputs, "GA", (3,))
    with pytest.raises(ValueError, match="unknown attribution method"):
        attribute(model, inputs, "XYZ", (0,))
    with pytest.raises(ValueError, match="repeat"):
        attribute(model, inputs, "GA", (0, 0))
    result = attribute(model, inputs, "GA", (-1,), return_attention=False)
    assert result.layers == (2,)


def test_unhookable_model_gets_a_clear_error():
    class NotAnHFModel(torch.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(UnsupportedModelError, match="AttentionInterface"):
        attach(NotAnHFModel())


def test_hooks_leave_plain_forward_unchanged():
    model, reference = make_pair("bert")
    inputs = tiny_batch()
    attach(model)
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, reference(**inputs).logits)


def test_hooked_eager_model_trains_with_transformers_own_dropout_draws():
    """Plain passes of a hooked model (e.g. the plain epochs of cross-tuning) consume the random stream as
    the unhooked model does, so a seeded run is the same run with or without AD-DROP attached."""
    torch.manual_seed(0)
    reference = AutoModelForSequenceClassification.from_config(
        tiny_config("bert", dropout=0.3, num_labels=2), attn_implementation="eager"
    ).double().train()
    model = copy.deepcopy(reference)
    attach(model)
    inputs = tiny_batch(batch=8, n=16)
    torch.manual_seed(5)
    expected = reference(**inputs).logits
    torch.manual_seed(5)
    torch.testing.assert_close(model(**inputs).logits, expected, rtol=1e-12, atol=1e-12)


def test_a_copy_of_a_hooked_model_gets_its_own_hooks():
    model, reference = make_pair("bert")
    inputs = tiny_batch()
    first = attribute(model, inputs, "GA", (1,), return_attention=False).attribution
    clone = copy.deepcopy(model)
    assert attach(clone) is not attach(model)
    torch.testing.assert_close(attribute(clone, inputs, "GA", (1,), return_attention=False).attribution, first)


@pytest.mark.parametrize("arch, token, expected", [("bert", False, True), ("roberta", False, True),
                                                   ("electra", False, True), ("bert", True, False)])
def test_first_token_shortcut_only_where_the_output_is_unchanged(arch, token, expected):
    model, reference = make_pair(arch, token=token)
    hooks = attach(model)
    with hooks.first_token_only() as active:
        assert active is expected
    inputs = tiny_batch()
    with torch.no_grad(), hooks.first_token_only():
        torch.testing.assert_close(model(**inputs).logits, reference(**inputs).logits)
