"""AD-DROP on encoder-decoders (Marian, the OPUS-MT architecture), checked against independent definitions for
each kind of map: the encoder's self-attention, the decoder's (causal) self-attention and the cross-attention.

- GA equals autograd of the negative target loss with respect to the model's own eager attention maps
  (``output_attentions``), with and without materialising the maps in pass 1;
- pass 2 with nothing dropped is the model's own forward;
- a dropped position gets zero weight in that layer's map and nothing else of the layer or of earlier calls
  changes; padding of either side is never a candidate and a decoder's candidates stay causal.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from tests.tiny_translation import save_tiny_marian, toy_pairs
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, BartConfig, BartForSequenceClassification

from addrop import ADDrop, ADDropConfig, attribute, masked_forward
from addrop.hooks import KINDS, attach
from addrop.kinds import IGNORED

# the model's own eager maps of each kind, as transformers returns them with output_attentions
OWN_MAPS = {"encoder": "encoder_attentions", "decoder": "decoder_attentions", "cross": "cross_attentions"}


@pytest.fixture(scope="module")
def marian_dir(tmp_path_factory) -> Path:
    return save_tiny_marian(tmp_path_factory.mktemp("tiny-marian"))


@pytest.fixture(scope="module")
def batch(marian_dir) -> dict[str, torch.Tensor]:
    """Three pairs of different lengths on both sides, labels padded with -100 as DataCollatorForSeq2Seq pads."""
    tokenizer = AutoTokenizer.from_pretrained(marian_dir)
    pairs = toy_pairs(3, seed=5)
    pairs[1]["en"] = "the cat sees the red house"
    pairs[2]["ro"] = "le caine vede"
    encoded = tokenizer([p["en"] for p in pairs], text_target=[p["ro"] for p in pairs], padding=True,
                        return_tensors="pt")
    labels = encoded["labels"].masked_fill(encoded["labels"] == tokenizer.pad_token_id, IGNORED)
    assert not bool(encoded["attention_mask"].all()) and bool((labels == IGNORED).any())  # both sides padded
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "labels": labels}


def load(marian_dir: Path, attn: str = "sdpa"):
    return AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation=attn).eval()


def test_the_hooks_find_three_kinds_in_call_order(marian_dir):
    hooks = attach(load(marian_dir))
    assert hooks.kinds == ("encoder", "encoder", "decoder", "cross", "decoder", "cross")
    assert hooks.default_kind == "encoder" and hooks.encoder_decoder
    assert [hooks.num_layers(kind) for kind in KINDS] == [2, 2, 2]
    assert (hooks.is_causal("encoder"), hooks.is_causal("decoder"), hooks.is_causal("cross")) == (False, True, False)
    assert hooks.sites((0, -1), "cross") == (3, 5)
    with pytest.raises(ValueError, match="out of range: the model has 2 cross attention layers"):
        hooks.check_layers((2,), "cross")
    with pytest.raises(ValueError, match="unknown attention kind"):
        hooks.kind("self")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("materialise", [False, True])
def test_ga_equals_autograd_on_the_models_own_eager_maps(marian_dir, batch, kind, materialise):
    reference = load(marian_dir, "eager")
    model = load(marian_dir)
    out = reference(**batch, output_attentions=True)
    maps = getattr(out, OWN_MAPS[kind])
    grads = torch.autograd.grad(-out.loss, [maps[0], maps[1]])
    result = attribute(model, batch, "GA", (0, 1), kind=kind, return_attention=materialise)
    assert result.kind == kind and result.target == "loss" and result.layers == (0, 1)
    expected = torch.stack(grads)
    # rows of padded target positions carry no gradient in either; compare every entry
    torch.testing.assert_close(result.attribution, expected, atol=1e-6, rtol=1e-4)
    if materialise:
        torch.testing.assert_close(result.attention, torch.stack([maps[0], maps[1]]).detach(), atol=1e-6, rtol=1e-5)
    source, target = batch["input_ids"].shape[1], batch["labels"].shape[1]
    rows, keys = {"encoder": (source, source), "decoder": (target, target), "cross": (target, source)}[kind]
    assert tuple(result.attribution.shape) == (2, 3, 4, rows, keys)


def test_without_a_reference_the_target_is_the_loss_against_the_models_own_argmax(marian_dir, batch):
    """The explorer's case: the decoder reads a given output, F sums the cross-entropy of each real target
    position against its own argmax (autograd reference on the eager cross-attention)."""
    reference, model = load(marian_dir, "eager"), load(marian_dir)
    decoder_input_ids = reference.prepare_decoder_input_ids_from_labels(labels=batch["labels"].clamp(min=0))
    decoder_input_ids[2, 4:] = reference.config.pad_token_id  # a shorter output, padded
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
              "decoder_input_ids": decoder_input_ids}
    out = reference(**inputs, output_attentions=True)
    real = decoder_input_ids != reference.config.pad_token_id
    real[:, 0] = True
    own = out.logits.argmax(-1)
    value = -torch.nn.functional.cross_entropy(out.logits[real], own[real], reduction="sum")
    (expected,) = torch.autograd.grad(value, out.cross_attentions[1])
    result = attribute(model, inputs, "GA", (1,), kind="cross")
    assert result.target == "pseudo_loss"
    torch.testing.assert_close(result.pseudo_labels, own.masked_fill(~real, IGNORED))
    torch.testing.assert_close(result.attribution[0], expected, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_pass_two_with_nothing_dropped_is_the_models_own_forward(marian_dir, batch, attn):
    model = load(marian_dir, attn)
    plain = model(**batch)
    source, target = batch["input_ids"].shape[1], batch["labels"].shape[1]
    shapes = {"encoder": (source, source), "decoder": (target, target), "cross": (target, source)}
    for kind in KINDS:
        nothing = {layer: torch.zeros(3, 4, *shapes[kind], dtype=torch.bool) for layer in (0, 1)}
        masked = masked_forward(model, batch, nothing, kind=kind)
        torch.testing.assert_close(masked.logits, plain.logits, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(masked.loss, plain.loss)


@pytest.mark.parametrize("kind", KINDS)
def test_a_drop_lands_only_where_it_should(marian_dir, batch, kind):
    """Drops at layer 1 of ``kind``: those positions get weight 0 there, its other positions are the softmax of
    the same scores without them, and every map computed before it is unchanged."""
    model = load(marian_dir, "eager")
    hooks = attach(model)
    plain = model(**batch, output_attentions=True)
    own = getattr(plain, OWN_MAPS[kind])[1]
    g = torch.Generator().manual_seed(3)
    visible = own > 0
    dropped = (torch.rand(own.shape, generator=g) < 0.3) & visible
    lost_all = ~(visible & ~dropped).any(-1, keepdim=True)
    dropped &= ~lost_all  # a row that would lose everything keeps its drops off
    masked = masked_forward(model, batch, {1: dropped}, kind=kind)
    with hooks.drop({hooks.sites((1,), kind)[0]: dropped}):
        seen = model(**batch, output_attentions=True)
    torch.testing.assert_close(seen.logits, masked.logits)
    after = getattr(seen, OWN_MAPS[kind])[1]
    assert bool((after[dropped] == 0).all())
    # the rest of each row: the row's weights renormalised over what is left
    kept = own.masked_fill(dropped, 0)
    expected = kept / kept.sum(-1, keepdim=True).clamp(min=1e-30)
    rows = visible.any(-1, keepdim=True).expand_as(own)
    torch.testing.assert_close(after[rows], expected[rows], atol=1e-6, rtol=1e-4)
    # maps computed before the dropped call are untouched
    site = hooks.sites((1,), kind)[0]
    for other in KINDS:
        for layer in (0, 1):
            if hooks.sites((layer,), other)[0] < site:
                before = getattr(plain, OWN_MAPS[other])[layer]
                torch.testing.assert_close(getattr(seen, OWN_MAPS[other])[layer], before)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GA", "IGA", "AA", "RD"])
def test_an_addrop_step_trains_every_kind_and_never_drops_padding(marian_dir, batch, kind, method):
    model = load(marian_dir).train()
    addrop = ADDrop(model, ADDropConfig(method=method, p=0.5, q=0.9, layers=(0, 1), steps=3, kind=kind),
                    torch.Generator().manual_seed(0))
    plan = addrop.plan(batch)
    source = batch["attention_mask"].bool()
    target = torch.cat([torch.ones(3, 1, dtype=torch.bool), (batch["labels"] != IGNORED)[:, :-1]], dim=1)
    rows, keys = {"encoder": (source, source), "decoder": (target, target), "cross": (target, source)}[kind]
    candidate = plan.candidate
    assert bool(candidate.any())
    assert not bool((candidate & ~rows[None, :, None, :, None]).any())
    assert not bool((candidate & ~keys[None, :, None, None, :]).any())
    if kind == "decoder":
        assert not bool(candidate.triu(1).any())
    assert bool((plan.dropped <= candidate).all())
    with addrop.applied(plan.masks):
        loss = model(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_masks_dropping_every_real_key_of_a_row_keep_one(marian_dir, batch):
    model = load(marian_dir).train()
    addrop = ADDrop(model, ADDropConfig(p=0.99, q=0.99, layers=(0,), kind="cross"), torch.Generator().manual_seed(1))
    plan = addrop.plan(batch)
    source = batch["attention_mask"].bool()[:, None, None, :]
    left = (~plan.dropped[0] & source).sum(-1)
    assert bool((left >= 1).all())


def test_a_bart_classifier_is_attributed_at_its_encoder():
    """An encoder-decoder classifier (BART reads its decoder's last token): its encoder's maps by default, GA
    equal to autograd of the pseudo-label logit on the eager maps."""
    config = BartConfig(vocab_size=120, d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=4,
                        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                        pad_token_id=1, eos_token_id=2, num_labels=3)
    torch.manual_seed(0)
    reference = BartForSequenceClassification(config).eval()
    reference.config._attn_implementation = "eager"
    model = copy.deepcopy(reference)
    model.set_attn_implementation("sdpa")
    ids = torch.tensor([[0, 5, 6, 7, 8, 2], [0, 9, 10, 2, 1, 1]])
    inputs = {"input_ids": ids, "attention_mask": (ids != 1).long()}
    out = reference(**inputs, output_attentions=True)
    labels = out.logits.argmax(-1)
    (expected,) = torch.autograd.grad(out.logits.gather(-1, labels[:, None]).sum(), out.encoder_attentions[1])
    result = attribute(model, inputs, "GA", (1,))
    assert result.kind == "encoder"
    torch.testing.assert_close(result.attribution[0], expected, atol=1e-6, rtol=1e-4)
