"""Which models AD-DROP hooks: with nothing dropped pass 2 is the model's own forward (encoders and causal
decoders alike), a decoder stays causal under drops, GA on a decoder matches autograd on its eager
attention, and models whose attention the hooks cannot reproduce are refused by name and reason."""

import copy

import pytest
import torch
from tests.tiny_models import tiny_batch, tiny_config
from transformers import (
    AutoModelForSequenceClassification,
    Gemma2Config,
    GPT2Config,
    GptOssConfig,
    LlamaConfig,
    MistralConfig,
    Qwen2Config,
)

from addrop import ADDrop, ADDropConfig, attribute, discard_masks, masked_forward
from addrop.explain import draw_masks
from addrop.hooks import UnsupportedModelError, attach

PAD = 1  # tiny_batch pads with id 1
DECODER = dict(
    vocab_size=120, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
    head_dim=8, intermediate_size=64, max_position_embeddings=64, pad_token_id=PAD, num_labels=3,
)


def decoder_config(family: str, **overrides):
    """A tiny config of a decoder family (grouped-query attention where the family has it)."""
    if family == "gpt2":
        values = dict(vocab_size=120, n_embd=32, n_layer=3, n_head=4, n_positions=64, pad_token_id=PAD,
                      bos_token_id=0, eos_token_id=0, num_labels=3, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
        return GPT2Config(**{**values, **overrides})
    classes = {"llama": LlamaConfig, "qwen2": Qwen2Config, "mistral": MistralConfig}
    values = dict(DECODER, sliding_window=None) if family == "mistral" else dict(DECODER)
    return classes[family](**{**values, **overrides})


def model_of(family: str, attn: str, dropout: float = 0.0):
    torch.manual_seed(0)
    if family in ("bert", "roberta"):
        config = tiny_config(family, dropout=dropout, num_labels=3)
    else:
        config = decoder_config(family)
    return AutoModelForSequenceClassification.from_config(config, attn_implementation=attn).double().eval()


FAMILIES = ["bert", "roberta", "llama", "qwen2", "mistral", "gpt2"]
DECODERS = ["llama", "qwen2", "mistral", "gpt2"]


def tolerance(family: str, attn: str) -> dict[str, float]:
    """Exact up to rounding, except that Llama-like eager attention takes its softmax in float32 where the
    hooks' eager attention keeps the model's dtype (float64 here)."""
    if attn == "eager" and family in ("llama", "qwen2", "mistral"):
        return dict(rtol=1e-6, atol=1e-8)
    return dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("padded", [False, True])
def test_pass_two_with_nothing_dropped_is_the_models_own_forward(family, attn, padded):
    model = model_of(family, attn)
    inputs = tiny_batch() if padded else {"input_ids": tiny_batch()["input_ids"][:1]}
    with torch.no_grad():
        expected = model(**inputs).logits
        hooks = attach(model)
        batch, n = inputs["input_ids"].shape
        nothing = torch.zeros(batch, 4, n, n, dtype=torch.bool)
        dropped_nothing = masked_forward(model, inputs, {layer: nothing for layer in range(hooks.num_layers())})
    torch.testing.assert_close(dropped_nothing.logits, expected, **tolerance(family, attn))
    assert hooks.is_causal() is (family in DECODERS)


@pytest.mark.parametrize("family", DECODERS)
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_a_decoder_stays_causal_under_drops(family, attn):
    """A token's hidden state must not depend on later tokens, with drops or without."""
    model = model_of(family, attn)
    hooks = attach(model)
    ids = tiny_batch(batch=1)["input_ids"]
    changed = ids.clone()
    changed[0, -1] = (ids[0, -1] + 7) % 100 + 5
    g = torch.Generator().manual_seed(3)
    masks = {layer: torch.rand(1, 4, 9, 9, generator=g) < 0.2 for layer in range(hooks.num_layers())}
    for mask in masks.values():
        mask[..., 0] = False  # every row keeps a key
    with torch.no_grad(), hooks.drop(masks):
        first = model(input_ids=ids, output_hidden_states=True).hidden_states[-1]
        second = model(input_ids=changed, output_hidden_states=True).hidden_states[-1]
    torch.testing.assert_close(first[:, :-1], second[:, :-1], rtol=1e-12, atol=1e-12)
    # drops at keys after the query are no-ops: the map there is zero already
    future = torch.ones(9, 9, dtype=torch.bool).triu(1).expand(1, 4, 9, 9)
    with torch.no_grad():
        plain = model(input_ids=ids).logits
        torch.testing.assert_close(masked_forward(model, {"input_ids": ids}, {0: future}).logits, plain)


def reference_ga(reference, inputs, layers):
    out = reference(**inputs, output_attentions=True)
    value = out.logits.gather(-1, out.logits.argmax(-1, keepdim=True)).sum()
    grads = torch.autograd.grad(value, [out.attentions[layer] for layer in layers])
    return torch.stack(grads), torch.stack([out.attentions[layer].detach() for layer in layers])


@pytest.mark.parametrize("family", DECODERS)
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("padded", [False, True])
def test_decoder_ga_equals_autograd_on_eager_attention(family, attn, padded):
    reference = model_of(family, "eager")
    model = copy.deepcopy(reference)
    model.set_attn_implementation(attn)
    inputs = tiny_batch() if padded else {"input_ids": tiny_batch()["input_ids"][:1]}
    layers = (0, 2)
    expected, attention = reference_ga(reference, inputs, layers)
    fast = attribute(model, inputs, "GA", layers, return_attention=False)
    materialised = attribute(model, inputs, "GA", layers, return_attention=True)
    close = tolerance(family, "eager")
    torch.testing.assert_close(fast.attribution, expected, **close)
    torch.testing.assert_close(materialised.attribution, expected, **close)
    torch.testing.assert_close(materialised.attention, attention, **close)
    assert bool((materialised.attention.triu(1) == 0).all())


def test_causal_candidates_are_the_keys_a_row_sees():
    g = torch.Generator().manual_seed(0)
    attribution = torch.rand(1, 2, 3, 8, 8, generator=g)
    padding = torch.ones(2, 8, dtype=torch.long)
    padding[1, 6:] = 0
    candidate, dropped = discard_masks(attribution, padding, p=0.5, q=0.99, generator=g, causal=True)
    visible = torch.ones(8, 8, dtype=torch.bool).tril() & padding.bool()[:, None, None, :]
    real_rows = padding.bool()[:, None, :, None]
    assert not bool((candidate & ~visible).any())
    counts = candidate.sum(-1)[0]  # [b, h, n]
    seen = (visible & real_rows).sum(-1).expand(2, 3, 8)
    expected = torch.where(real_rows[..., 0].expand(2, 3, 8), torch.ceil(0.5 * seen.double()).long(), 0)
    assert torch.equal(counts, expected)
    # at q = 0.99 nearly every candidate goes, but no real row loses every key it sees (row 0 sees one)
    assert bool(((visible & ~dropped[0]).any(-1) | ~real_rows[..., 0]).all())
    # the explorer's draw for a decoder's view
    explorer_candidate, _ = draw_masks(attribution[:, 0], (0,), p=0.5, q=0.5, causal=True)
    assert not bool(explorer_candidate.triu(1).any())


@pytest.mark.parametrize("method", ["GA", "IGA", "AA", "RD"])
def test_addrop_trains_a_decoder_with_causal_masks(method):
    model = model_of("llama", "sdpa").train()
    addrop = ADDrop(model, ADDropConfig(method=method, p=0.5, q=0.9, layers=(0, 1), steps=3))
    inputs = {**tiny_batch(), "labels": torch.tensor([0, 1, 2])}
    plan = addrop.plan(inputs)
    assert not bool(plan.candidate.triu(1).any())
    with addrop.applied(plan.masks):
        loss = model(**inputs).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def refused_models():
    """(model, reason, config, attention implementations transformers lets it load with)."""
    full = ["full_attention"] * 2
    small = dict(DECODER, num_hidden_layers=2)
    both = ("sdpa", "eager")
    yield "MistralForSequenceClassification", "sliding-window", MistralConfig(**small, sliding_window=4), both
    yield "Gemma2ForSequenceClassification", "soft-capping", Gemma2Config(**small, layer_types=full), ("eager",)
    yield "GptOssForSequenceClassification", "sinks", GptOssConfig(
        **small, layer_types=full, num_local_experts=2, num_experts_per_tok=1
    ), ("eager",)


@pytest.mark.parametrize(
    "name, reason, config, attn",
    [(name, reason, config, attn) for name, reason, config, attns in refused_models() for attn in attns],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_attention_the_hooks_cannot_reproduce_is_refused(name, reason, config, attn):
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation=attn).eval()
    assert type(model).__name__ == name
    with pytest.raises(UnsupportedModelError, match=f"{name}.*{reason}"):
        attribute(model, tiny_batch(), "GA", (0,))
    with pytest.raises(UnsupportedModelError, match=f"{name}.*{reason}"):
        ADDrop(model, ADDropConfig())
    assert model.config._attn_implementation == attn  # left as it was found


def test_decoder_iga_equals_looped_definition():
    """IG by the definition on Llama's own eager attention (grouped-query: 4 query heads share 2 key/value
    heads): the head's output scaled by k/m, which o_proj (no bias) passes on linearly."""
    reference = model_of("llama", "eager")
    model = copy.deepcopy(reference)
    model.set_attn_implementation("sdpa")
    inputs, layer, steps = tiny_batch(), 1, 5
    base = reference(**inputs, output_attentions=True)
    labels = base.logits.argmax(-1)
    total = torch.zeros_like(base.attentions[layer])
    module = reference.model.layers[layer].self_attn
    for k in range(1, steps + 1):
        handle = module.register_forward_hook(lambda m, args, out, alpha=k / steps: (out[0] * alpha, *out[1:]))
        try:
            out = reference(**inputs, output_attentions=True)
            (grad,) = torch.autograd.grad(out.logits.gather(-1, labels[:, None]).sum(), out.attentions[layer])
        finally:
            handle.remove()
        total += grad * steps / k
    expected = base.attentions[layer].detach() * total / steps
    result = attribute(model, inputs, "IGA", (layer,), steps=steps)
    torch.testing.assert_close(result.attribution[0], expected, **tolerance("llama", "eager"))
    torch.testing.assert_close(result.pseudo_labels, labels)
