"""The translation explain path against independent definitions, on a tiny random Marian:

- the translation is ``model.generate`` with greedy search, and the decoder reads its start token and that output
  (or the tokenised reference);
- GA maps equal autograd of the negative loss (against the reference, or summed against the model's own argmax)
  with respect to the model's own eager maps of each kind, and AA maps equal those maps;
- the masks are :func:`addrop.masking.discard_masks` drawn from each kind's own streams: a decoder's causal, and
  every real row keeping a key.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tests.tiny_translation import save_tiny_marian
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from addrop.explain import draw_masks
from addrop.explain_seq2seq import attribute_translation, explain_translation
from addrop.hooks import KINDS
from addrop.masking import discard_masks
from addrop.streams import DROP_STREAM, NOISE_STREAM, layer_stream, stream_generator

SOURCE = "the cat sees the red house"
REFERENCE = "le pisica vede le casa rosu"
OWN_MAPS = {"encoder": "encoder_attentions", "decoder": "decoder_attentions", "cross": "cross_attentions"}
LIMIT = 16  # tokens: the random model's translation runs to the limit, which keeps its maps small


@pytest.fixture(scope="module")
def marian_dir(tmp_path_factory) -> Path:
    return save_tiny_marian(tmp_path_factory.mktemp("tiny-marian"))


@pytest.fixture(scope="module")
def tokenizer(marian_dir):
    return AutoTokenizer.from_pretrained(marian_dir)


def load(marian_dir: Path, attn: str = "sdpa"):
    return AutoModelForSeq2SeqLM.from_pretrained(marian_dir, attn_implementation=attn).eval()


def greedy(model, tokenizer) -> torch.Tensor:
    encoded = tokenizer(SOURCE, return_tensors="pt")
    return model.generate(**encoded, num_beams=1, do_sample=False, max_new_tokens=LIMIT)[0]


def test_the_translation_is_greedy_generation_and_the_decoder_reads_it(marian_dir, tokenizer):
    model = load(marian_dir)
    expected = greedy(load(marian_dir), tokenizer)
    view = attribute_translation(model, tokenizer, SOURCE, kind="cross", layers=(0,), max_length=LIMIT)
    assert view.translation == tokenizer.decode(expected, skip_special_tokens=True)
    assert view.target_tokens == tokenizer.convert_ids_to_tokens(expected[:-1].tolist())
    assert view.target_special[0] and view.target_tokens[0] == tokenizer.pad_token  # Marian starts with pad
    assert view.source_tokens == tokenizer.convert_ids_to_tokens(tokenizer(SOURCE)["input_ids"])
    assert view.source_special[-1] and not any(view.source_special[:-1])  # only the closing </s>
    assert view.target == "pseudo_loss" and view.reference is None and not view.truncated
    # greedy decoding scores each position against its own argmax: the next token of the translation, except
    # where generation forced eos at the limit
    assert view.target_labels[:-1] == tokenizer.convert_ids_to_tokens(expected[1:-1].tolist())
    assert view.attribution.shape == (1, 4, len(view.target_tokens), len(view.source_tokens))
    assert (view.query_tokens, view.key_tokens) == (view.target_tokens, view.source_tokens)


def test_a_reference_is_what_the_decoder_reads(marian_dir, tokenizer):
    view = attribute_translation(load(marian_dir), tokenizer, SOURCE, REFERENCE, kind="decoder", max_length=LIMIT)
    labels = tokenizer(text_target=REFERENCE)["input_ids"]
    assert view.target_tokens == [tokenizer.pad_token] + tokenizer.convert_ids_to_tokens(labels[:-1])
    assert view.target_labels == tokenizer.convert_ids_to_tokens(labels)
    assert view.target == "loss" and view.reference == REFERENCE and view.causal
    assert view.layers == (0, 1) and view.attribution.shape == (2, 4, len(labels), len(labels))
    cut = attribute_translation(load(marian_dir), tokenizer, SOURCE * 3, REFERENCE * 3, layers=(0,), max_length=LIMIT)
    assert cut.truncated and cut.target_truncated and len(cut.source_tokens) == LIMIT and len(cut.target_tokens) == LIMIT


def _own_inputs(tokenizer, view, reference: bool) -> dict[str, torch.Tensor]:
    inputs = dict(tokenizer(SOURCE, return_tensors="pt"))
    inputs["decoder_input_ids"] = torch.tensor([tokenizer.convert_tokens_to_ids(view.target_tokens)])
    if reference:
        inputs["labels"] = torch.tensor([tokenizer(text_target=REFERENCE)["input_ids"]])
    return inputs


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reference", [False, True])
def test_ga_and_aa_equal_autograd_on_the_models_own_eager_maps(marian_dir, tokenizer, kind, reference):
    model = load(marian_dir)
    view = attribute_translation(model, tokenizer, SOURCE, REFERENCE if reference else None, kind=kind,
                                 max_length=LIMIT)
    eager = load(marian_dir, "eager")
    out = eager(**_own_inputs(tokenizer, view, reference), output_attentions=True)
    if reference:
        value = -out.loss
    else:  # the negative cross-entropy against the model's own argmax, summed over the target positions
        logits = out.logits[0]
        value = -torch.nn.functional.cross_entropy(logits, logits.argmax(-1), reduction="sum")
    maps = getattr(out, OWN_MAPS[kind])
    grads = torch.autograd.grad(value, list(maps))
    torch.testing.assert_close(view.attribution, torch.stack(grads)[:, 0], atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(view.attention, torch.stack(maps)[:, 0].detach(), atol=1e-6, rtol=1e-5)
    aa = attribute_translation(model, tokenizer, SOURCE, REFERENCE if reference else None, kind=kind, method="AA",
                               max_length=LIMIT)
    torch.testing.assert_close(aa.attribution, aa.attention)


@pytest.mark.parametrize("kind", KINDS)
def test_masks_are_discard_masks_from_each_kinds_own_streams(marian_dir, tokenizer, kind):
    explained = explain_translation(load(marian_dir), tokenizer, SOURCE, REFERENCE, kind=kind, p=0.4, q=0.5, seed=9,
                                    max_length=LIMIT)
    rows, keys = explained.attribution.shape[-2:]
    for index, layer in enumerate(explained.layers):
        generator = stream_generator(9, DROP_STREAM, layer_stream(layer, kind))
        candidate, dropped = discard_masks(explained.attribution[index : index + 1].unsqueeze(1),
                                           torch.ones(1, keys), 0.4, 0.5, "high", generator, causal=kind == "decoder",
                                           query_mask=torch.ones(1, rows))
        assert torch.equal(explained.candidate[index], candidate[0, 0])
        assert torch.equal(explained.dropped[index], dropped[0, 0])
    assert explained.candidate.shape == explained.attribution.shape
    assert not (explained.dropped & ~explained.candidate).any()
    assert (~explained.dropped).any(-1).all()  # every row keeps a key
    seen = torch.arange(keys)[None, :] <= torch.arange(rows)[:, None] if kind == "decoder" else torch.ones(rows, keys).bool()
    assert not (explained.candidate & ~seen).any()  # a decoder's candidates are keys its row sees
    per_row = explained.candidate.sum(-1)
    expected = torch.tensor([math.ceil(0.4 * int(n)) for n in seen.sum(-1)])
    assert (per_row >= expected).all()  # ties with the threshold join the region


def test_each_kind_draws_its_own_streams(marian_dir, tokenizer):
    model = load(marian_dir)
    noise = {kind: attribute_translation(model, tokenizer, SOURCE, REFERENCE, kind=kind, method="RD", layers=(1,),
                                         seed=4, max_length=LIMIT).attribution for kind in KINDS}
    for kind in KINDS:
        expected = torch.rand(noise[kind].shape[1:], generator=stream_generator(4, NOISE_STREAM, layer_stream(1, kind)))
        torch.testing.assert_close(noise[kind][0], expected)
    # the same layer of the decoder's and the cross-attention's maps (both target rows) is not the same noise
    assert not torch.equal(noise["decoder"][0, :, :, :3], noise["cross"][0, :, :, :3])
    square = noise["decoder"]
    _, encoder_like = draw_masks(square, (1,), 0.5, 0.5, seed=4)
    _, decoder = draw_masks(square, (1,), 0.5, 0.5, seed=4, kind="decoder")
    assert not torch.equal(encoder_like, decoder)  # the drop draws too


def test_layers_merge_and_select(marian_dir, tokenizer):
    model = load(marian_dir)
    both = attribute_translation(model, tokenizer, SOURCE, REFERENCE, kind="cross", max_length=LIMIT)
    first = attribute_translation(model, tokenizer, SOURCE, REFERENCE, kind="cross", layers=(1,), max_length=LIMIT)
    merged = first.merge(attribute_translation(model, tokenizer, SOURCE, REFERENCE, kind="cross", layers=(0,),
                                               max_length=LIMIT))
    assert merged.layers == (0, 1)
    torch.testing.assert_close(merged.attribution, both.attribution)
    torch.testing.assert_close(both.select((1,)).attention, first.attention)


def test_bad_inputs_are_refused_by_name(marian_dir, tokenizer):
    model = load(marian_dir)
    with pytest.raises(ValueError, match="the source sentence is empty"):
        attribute_translation(model, tokenizer, "  ")
    with pytest.raises(ValueError, match="unknown attention kind 'self'"):
        attribute_translation(model, tokenizer, SOURCE, kind="self")
    with pytest.raises(ValueError, match="out of range: the model has 2 cross attention layers"):
        attribute_translation(model, tokenizer, SOURCE, kind="cross", layers=(2,))
