"""What the explorer's attribution cache holds in memory: the bytes of one entry, short and long, and the process's
resident memory while many distinct long inputs are explained, with and without the cache's byte budget.

Loads the models through the explain service (``backend.explainer.Explainer``) in this process, GA over every
layer, on the bundled MiniLM (6 layers x 12 heads) and on a random BERT of BERT-base's attention shape (12 layers
x 12 heads, hidden 48: the maps' size depends on layers, heads and length only). An entry's maps are what
``attribute_text`` returns for every layer, which the service keeps as it is: their tensors' ``nbytes``, and
``LayerMaps.nbytes`` (the storages behind them, which a view would keep alive whole).

    python benchmarks/explain_cache_memory.py [--short-inputs 1000] [--inputs 10] [--max-tokens 512] [--budget-mib 512]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import tempfile
from pathlib import Path

import psutil
import torch
import transformers
from transformers import BertConfig, BertForSequenceClassification

from addrop.explain import attribute_text
from addrop.models import load_tokenizer
from backend.explainer import Explainer
from backend.schemas.explain import ExplainRequest
from backend.settings import Settings

MIB = 1024 * 1024
UNBOUNDED = 1 << 60
WORDS = (
    "the film is a gorgeous witty and seductive movie with a story that never quite finds its feet but the "
    "cast makes every scene worth watching from the first minute to the last one even when plot turns slow"
).split()


def text(rng: random.Random, tokens: int) -> str:
    """A distinct text of ``tokens - 2`` single-token words ([CLS] and [SEP] make up the rest)."""
    return " ".join(rng.choice(WORDS) for _ in range(tokens - 2))


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def tiny_base(folder: Path) -> Path:
    """A random BERT with BERT-base's 12 layers x 12 heads (hidden 48) and MiniLM's tokenizer, saved."""
    tokenizer = load_tokenizer("minilm")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=48, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=96, max_position_embeddings=512)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def entries(settings: Settings, lengths: tuple[int, ...], rng: random.Random) -> None:
    """One entry's maps for each model and input length."""
    explainer = Explainer(settings)
    for model in (entry.name for entry in explainer.catalog.entries()):
        warm = explainer.warm(model)
        for tokens in lengths:
            maps = attribute_text(warm.model, warm.tokenizer, text(rng, tokens), max_length=settings.explain_max_tokens)
            tensors = (maps.attention, maps.attribution)
            graph = any(t.requires_grad or t.grad_fn is not None for t in tensors)
            print(f"{model:<10} {tokens:>4} tokens  maps {tuple(maps.attention.shape)}  tensors "
                  f"{sum(t.nbytes for t in tensors) / MIB:8.2f} MiB  storages {maps.nbytes / MIB:8.2f} MiB  "
                  f"autograd graph kept: {graph}")
    explainer.close()


def resident(settings: Settings, inputs: int, rng: random.Random) -> None:
    """Resident memory and the cache's figures while ``inputs`` distinct long inputs are explained on MiniLM."""
    explainer = Explainer(settings)
    explainer.explain(ExplainRequest(text=text(rng, 16), fields=["dropped"]))  # loaded and warm
    explainer.cache.clear()
    start = rss()
    budget = ("none" if settings.explain_cache_max_bytes == UNBOUNDED
              else f"{settings.explain_cache_max_bytes / MIB:.0f} MiB")
    print(f"\nMiniLM, {inputs} distinct {settings.explain_max_tokens}-token inputs in turn, byte budget {budget}:")
    for i in range(1, inputs + 1):
        explainer.explain(ExplainRequest(text=text(rng, settings.explain_max_tokens), fields=["dropped"]))
        held, kept = explainer.cache.usage()
        print(f"  after {i:>3}: {kept:>3} entries, {held / MIB:8.1f} MiB held, resident memory "
              f"+{(rss() - start) / MIB:8.1f} MiB")
    explainer.close()


def short(settings: Settings, inputs: int) -> None:
    """Resident memory per entry against the cache's count of it, for many short inputs on MiniLM (where what an
    entry holds besides its maps weighs most)."""
    explainer = Explainer(settings)
    explainer.explain(ExplainRequest(text="warm", fields=["dropped"]))
    explainer.cache.clear()
    start = rss()
    maps = 0
    for i in range(inputs):
        tokens = len(explainer.explain(ExplainRequest(text=f"w{i}", fields=["dropped"])).tokens)
        maps += 2 * 6 * 12 * tokens * tokens * 4  # attention and attribution, float32
    grown = rss() - start
    held, kept = explainer.cache.usage()
    print(f"MiniLM, {inputs} distinct short inputs: {kept} entries, per entry {maps / kept:,.0f} B of maps, "
          f"resident memory +{grown / kept:,.0f} B, counted {held / kept:,.0f} B\n")
    explainer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=10, help="distinct long inputs for the resident-memory runs")
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--short-inputs", type=int, default=1000, help="distinct short inputs for the first run")
    parser.add_argument("--budget-mib", type=int, action="append",
                        help="byte budgets of the resident-memory runs (default: none, then the setting's default)")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(1)
    rng = random.Random(0)
    default = Settings.model_fields["explain_cache_max_bytes"].default
    budgets = [UNBOUNDED, default] if args.budget_mib is None else [mib * MIB for mib in args.budget_mib]
    with tempfile.TemporaryDirectory(prefix="addrop-cache-") as folder:
        base = tiny_base(Path(folder) / "base12x12")
        settings = Settings(data_dir=Path(folder) / "data", models=["minilm", str(base)],
                            explain_max_tokens=args.max_tokens, explain_max_chars=10_000)
        print(f"explain cache, GA over every layer, explain_max_tokens={args.max_tokens}, "
              f"{os.cpu_count()} CPUs, torch {torch.__version__}\n")
        # first: memory the long inputs' maps freed would take these small entries without the process growing
        short(settings.model_copy(update={"explain_cache_max_bytes": UNBOUNDED}), args.short_inputs)
        entries(settings, (16, 128, args.max_tokens), rng)
        for budget in budgets:
            resident(settings.model_copy(update={"explain_cache_max_bytes": budget}), args.inputs, rng)


if __name__ == "__main__":
    main()
