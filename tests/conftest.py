"""Shared test setup: offline Hub, the shared GLUE data, and tiny randomly initialised encoders."""

import json
import os

# Nothing in the tests may reach the network; the Hub client reads this at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The app answers only its configured host names (loopback ones by default); Starlette's TestClient says
# "testserver", and the tests' httpx ASGI clients "test". Tests of the default remove this.
os.environ.setdefault("ADDROP_ALLOWED_HOSTS", '["localhost", "127.0.0.1", "[::1]", "testserver", "test"]')

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    DistilBertConfig,
    ElectraConfig,
    RobertaConfig,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

TINY = dict(
    vocab_size=120,
    hidden_size=32,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
)


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


def save_tiny_classifier(path: Path, layers: int = 2, **config) -> Path:
    """A tiny random BERT classifier (hidden 32, 4 heads) with the MiniLM tokenizer, saved to ``path`` like a
    fine-tuned checkpoint; ``config`` sets further BertConfig fields (labels, dropout)."""
    from transformers import BertForSequenceClassification

    from addrop.models import load_tokenizer

    tokenizer = load_tokenizer("minilm")
    values = dict(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                  intermediate_size=64, num_labels=2)
    torch.manual_seed(0)
    BertForSequenceClassification(BertConfig(**{**values, **config})).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_batch(batch: int = 3, n: int = 9, seed: int = 0, vocab: int = 120) -> dict[str, torch.Tensor]:
    """Random token ids with ragged padding (row 0 full, later rows shorter)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, n), generator=g)
    mask = torch.ones(batch, n, dtype=torch.long)
    for row in range(1, batch):
        mask[row, max(2, n - 2 * row):] = 0
    ids[0, 0] = 0
    return {"input_ids": ids * mask + (1 - mask) * 1, "attention_mask": mask}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "glue").is_dir():
        pytest.skip(f"the shared GLUE data is not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sst2_dir(tmp_path_factory) -> Path:
    """A data directory of a few SST-2-shaped rows, for requests that must pass validation without the Hub
    (the tests run offline, where a ``source: hub`` job is refused) or the shared data."""
    folder = tmp_path_factory.mktemp("sst2-rows")
    rows = [{"sentence": "a gorgeous, witty movie", "label": 1}, {"sentence": "dull and overlong", "label": 0}]
    for split in ("train", "validation"):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder
