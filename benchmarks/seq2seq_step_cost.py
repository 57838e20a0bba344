"""Cost of an AD-DROP training step of a translation model relative to a plain step, side by side in one run.

A Marian model of OPUS-MT's shape (``Helsinki-NLP/opus-mt-en-ro``: d_model 512, 6 encoder and 6 decoder layers,
8 heads, feed-forward 2048, a 59,543-piece vocabulary), randomly initialised from its config (no weights are
downloaded), a batch of random source and target ids. Steps run round-robin, so that machine noise hits every
configuration alike: ``plain`` (forward, backward, AdamW step) and AD-DROP steps (pass 1 with GA, the masks, pass 2,
backward, AdamW step) on the encoder's self-attention (every layer, as the authors' translation code; and layer 0),
on the cross-attention and on the decoder's self-attention (every layer). The median of each is printed with its
ratio to ``plain``.

Usage: python benchmarks/seq2seq_step_cost.py [--batch 16] [--source 48] [--target 48] [--repeats 5]
       [--threads 1] [--out benchmarks/results/seq2seq_step_cost_cpu.txt]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from transformers import MarianConfig, MarianMTModel

from addrop import ADDrop, ADDropConfig

OPUS_MT_EN_RO = dict(vocab_size=59543, d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                     decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048, max_position_embeddings=512,
                     pad_token_id=59542, eos_token_id=0, decoder_start_token_id=59542, dropout=0.1,
                     attention_dropout=0.0, activation_function="swish", scale_embedding=True, share_encoder_decoder_embeddings=True)
ALL = (0, 1, 2, 3, 4, 5)
CONFIGS: dict[str, ADDropConfig | None] = {
    "plain": None,
    "GA encoder, every layer": ADDropConfig(p=0.2, q=0.2, layers=ALL, kind="encoder"),
    "GA encoder, layer 0": ADDropConfig(p=0.2, q=0.2, layers=(0,), kind="encoder"),
    "GA cross, every layer": ADDropConfig(p=0.2, q=0.2, layers=ALL, kind="cross"),
    "GA decoder, every layer": ADDropConfig(p=0.2, q=0.2, layers=ALL, kind="decoder"),
}


def batch(size: int, source: int, target: int) -> dict[str, torch.Tensor]:
    """Random ids with ragged padding on both sides (a quarter of each row's tail padded in half the rows)."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 59000, (size, source), generator=g)
    mask = torch.ones(size, source, dtype=torch.long)
    labels = torch.randint(10, 59000, (size, target), generator=g)
    for row in range(0, size, 2):
        mask[row, source - source // 4:] = 0
        labels[row, target - target // 4:] = -100
    return {"input_ids": ids.masked_fill(mask == 0, OPUS_MT_EN_RO["pad_token_id"]), "attention_mask": mask,
            "labels": labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--source", type=int, default=48)
    parser.add_argument("--target", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = MarianMTModel(MarianConfig(**OPUS_MT_EN_RO)).train()
    model.set_attn_implementation("sdpa")
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    inputs = batch(args.batch, args.source, args.target)
    droppers = {name: ADDrop(model, config, torch.Generator().manual_seed(0)) for name, config in CONFIGS.items()
                if config is not None}

    def step(name: str) -> float:
        started = time.perf_counter()
        if name in droppers:
            plan = droppers[name].plan(inputs)
            with droppers[name].applied(plan.masks):
                loss = model(**inputs).loss
                loss.backward()
        else:
            model(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - started

    for name in CONFIGS:  # warm-up: first calls allocate and attach the hooks
        step(name)
    times: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for _ in range(args.repeats):
        for name in CONFIGS:
            times[name].append(step(name))
    plain = statistics.median(times["plain"])
    load = os.getloadavg()[0]  # other work on the machine widens the spread; the ratios are side by side all the same
    lines = [
        f"AD-DROP step cost on a Marian model of OPUS-MT en-ro's shape (random weights), {platform.processor() or 'cpu'}, "
        f"{args.threads} thread(s), torch {torch.__version__}",
        f"batch {args.batch}, source {args.source} and target {args.target} tokens (half the rows padded by a quarter), "
        f"sdpa, p = q = 0.2, median of {args.repeats} round-robin repeats after a warm-up; load average {load:.1f} on "
        f"{os.cpu_count()} cores at the end",
        "",
        f"{'configuration':<28}{'seconds':>10}{'x plain':>10}",
    ]
    for name in CONFIGS:
        median = statistics.median(times[name])
        lines.append(f"{name:<28}{median:>10.3f}{median / plain:>10.2f}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
