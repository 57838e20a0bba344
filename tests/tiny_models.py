"""Tiny randomly initialised models for the tests: configs of several encoder families, random inputs for them,
and tiny BERTs with a real tokenizer, in memory or saved like a hub checkpoint."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import torch
from transformers import (
    BertConfig,
    BertModel,
    BertTokenizer,
    DistilBertConfig,
    ElectraConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    RobertaConfig,
)

from addrop.models import load_tokenizer

TINY = dict(
    vocab_size=120,
    hidden_size=32,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
)
# MiniLM's (BERT uncased) vocabulary: its single characters and their "##" forms, then whole words and pieces
# roughly by frequency; the first 3000 of those leave no [UNK] in the SST-2 slices the job tests train on.
MINILM_CHARACTERS = range(999, 1996)
MINILM_WORDS = range(1996, 1996 + 3000)
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def tiny_config(arch: str, dropout: float = 0.0, **overrides):
    """A tiny config of ``arch`` (bert, roberta, electra, distilbert) with the given dropout everywhere."""
    if arch == "distilbert":
        values = dict(vocab_size=120, dim=32, n_layers=3, n_heads=4, hidden_dim=64, max_position_embeddings=64,
                      dropout=dropout, attention_dropout=dropout, seq_classif_dropout=dropout)
        values.update(overrides)
        return DistilBertConfig(**values)
    values = dict(TINY, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    if arch == "roberta":
        values.update(pad_token_id=1, bos_token_id=0, eos_token_id=2)
    if arch == "electra":
        values.update(embedding_size=32)
    values.update(overrides)
    return {"bert": BertConfig, "roberta": RobertaConfig, "electra": ElectraConfig}[arch](**values)


def tiny_batch(batch: int = 3, n: int = 9, seed: int = 0, vocab: int = 120) -> dict[str, torch.Tensor]:
    """Random token ids with ragged padding (row 0 full, later rows shorter)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, n), generator=g)
    mask = torch.ones(batch, n, dtype=torch.long)
    for row in range(1, batch):
        mask[row, max(2, n - 2 * row):] = 0
    ids[0, 0] = 0
    return {"input_ids": ids * mask + (1 - mask) * 1, "attention_mask": mask}


@cache
def tiny_tokenizer(vocab: Literal["small", "minilm"] = "small") -> PreTrainedTokenizerBase:
    """A WordPiece tokenizer with real token ids for English text. ``"small"``: MiniLM's vocabulary cut to its
    special tokens, single characters and first 3000 words and pieces (4002 entries, so a tiny model's embedding
    stays small); ``"minilm"``: MiniLM's own tokenizer (30522 entries)."""
    minilm = load_tokenizer("minilm")
    if vocab == "minilm":
        return minilm
    tokens = minilm.convert_ids_to_tokens([*MINILM_CHARACTERS, *MINILM_WORDS])
    return BertTokenizer(vocab={token: i for i, token in enumerate((*SPECIAL_TOKENS, *tokens))}, do_lower_case=True)


def tiny_bert(vocab_size: int, head: type[PreTrainedModel] = BertModel, layers: int = 3, seed: int = 0,
              **config) -> PreTrainedModel:
    """A tiny BERT (hidden 32, 4 heads, dropout 0.1, 512 positions) of class ``head``, initialised from ``seed``;
    ``config`` sets further BertConfig fields (labels, dropout)."""
    values = dict(vocab_size=vocab_size, num_hidden_layers=layers, max_position_embeddings=512, **config)
    torch.manual_seed(seed)
    return head(tiny_config("bert", dropout=0.1, **values))


def save_tiny_model(path: Path, head: type[PreTrainedModel] = BertModel,
                    vocab: Literal["small", "minilm"] = "small", **model) -> Path:
    """:func:`tiny_bert` with :func:`tiny_tokenizer` ``vocab``, saved to ``path`` like a hub checkpoint (the
    default, a bare encoder, is what a job fine-tunes) or, with a head, like a fine-tuned one."""
    tokenizer = tiny_tokenizer(vocab)
    tiny_bert(len(tokenizer), head, **model).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
