"""Cost of an AD-DROP training step relative to a plain step, side by side in one run.

On the bundled MiniLM-L6-H384 (batch 32, length 128 by default) it times, each in its own process so that
peak memory (max RSS) is per configuration:

- ``plain``: forward, backward, AdamW step (our code path, also the baseline for every ratio);
- ``trainer``: the same step through ``transformers.Trainer.training_step``;
- AD-DROP steps with GA, IGA, AA, RD on layer 0 and GA on all layers, as implemented in ``addrop``;
- the same definitions implemented straightforwardly (``naive-*``): eager attention with the maps
  materialised, one backward per masked layer, IGA as m separate forward/backward passes.

With ``--epoch-pair DIR`` it also runs one plain and one AD-DROP (GA, layer 0) epoch of real fine-tuning
on the MRPC files in DIR (batch 16) through ``addrop.finetune`` and prints their wall time.

Usage: python benchmarks/step_cost.py [--batch 32] [--length 128] [--repeats 5] [--epoch-pair ../shared/data/glue/mrpc]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = [
    "plain",
    "trainer",
    "GA-L0",
    "naive-GA-L0",
    "GA-all",
    "naive-GA-all",
    "AA-L0",
    "naive-AA-L0",
    "RD-L0",
    "naive-RD-L0",
    "IGA-L0",
    "naive-IGA-L0",
]


def measure(name: str, batch_size: int, length: int, repeats: int, warmup: int, iga_batch: int) -> dict:
    """Run one configuration in this process and return its timings and peak memory."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from addrop import ADDrop, ADDropConfig, masked_forward
    from addrop.attribution import IntegratedGradients
    from addrop.models import resolve_model

    torch.manual_seed(0)
    naive = name.startswith("naive-")
    model = AutoModelForSequenceClassification.from_pretrained(
        resolve_model("minilm"), num_labels=2, attn_implementation="eager" if naive else "sdpa"
    )
    model.train()
    g = torch.Generator().manual_seed(0)
    batch = {
        "input_ids": torch.randint(1000, 30000, (batch_size, length), generator=g),
        "attention_mask": torch.ones(batch_size, length, dtype=torch.long),
        "token_type_ids": torch.zeros(batch_size, length, dtype=torch.long),
        "labels": torch.randint(0, 2, (batch_size,), generator=g),
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    method, _, where = name.removeprefix("naive-").partition("-")
    layers = tuple(range(model.config.num_hidden_layers)) if where == "all" else (0,)

    def update(loss: torch.Tensor) -> None:
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    if name == "plain":
        def step() -> None:
            update(model(**batch).loss)
    elif name == "trainer":
        return trainer_step_times(model, batch, repeats, warmup)
    elif not naive:
        config = ADDropConfig(method, p=0.3, q=0.3, layers=layers, steps=20)
        addrop = ADDrop(model, config)
        if method == "IGA":
            addrop.attribution = IntegratedGradients(model, layers, steps=20, internal_batch_size=iga_batch)

        def step() -> None:
            plan = addrop.plan(batch)
            with addrop.applied(plan.masks):
                loss = model(**batch).loss
            update(loss)
    else:
        def step() -> None:
            masks = naive_masks(model, batch, method, layers)
            update(masked_forward(model, batch, masks).loss)

    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"name": name, "median_s": statistics.median(times), "times": times, "peak_rss_mb": peak_mb}


def trainer_step_times(model, batch: dict, repeats: int, warmup: int) -> dict:
    """transformers' own Trainer on the same batch: each step timed between on_step_begin and on_step_end."""
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback, TrainingArguments, default_data_collator

    rows = [{k: v[i] for k, v in batch.items()} for i in range(len(batch["labels"]))]
    steps = warmup + repeats
    times: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - self.start)

    args = TrainingArguments(output_dir="/tmp/addrop-bench", report_to="none", use_cpu=True, max_steps=steps,
                             per_device_train_batch_size=len(rows), learning_rate=2e-5, weight_decay=0.0,
                             save_strategy="no", logging_strategy="no", disable_tqdm=True, lr_scheduler_type="constant")
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list(rows * steps),
                      data_collator=default_data_collator, callbacks=[StepTimer()])
    trainer.train()
    times = times[warmup:]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"name": "trainer", "median_s": statistics.median(times), "times": times, "peak_rss_mb": peak_mb}


def naive_masks(model, batch, method: str, layers: tuple[int, ...]):
    """The definition implemented the obvious way: eager attention returns the maps, one backward per
    layer, IGA by m separate passes with the layer's attention output scaled (O = A V is linear in A)."""
    import torch

    from addrop import discard_masks

    out = model(**batch, output_attentions=True)
    labels = out.logits.argmax(-1)
    value = out.logits.gather(1, labels[:, None]).sum()
    masks = {}
    for layer in layers:
        attention = out.attentions[layer]
        if method == "GA":
            (scores,) = torch.autograd.grad(value, attention, retain_graph=True)
        elif method == "AA":
            scores = attention.detach()
        elif method == "RD":
            scores = torch.rand_like(attention)
        else:
            module = model.base_model.encoder.layer[layer].attention.self
            total = torch.zeros_like(attention)
            for k in range(1, 21):
                alpha = k / 20
                handle = module.register_forward_hook(lambda m, a, o: (o[0] * alpha, *o[1:]))
                try:
                    step_out = model(**batch, output_attentions=True)
                    step_value = step_out.logits.gather(1, labels[:, None]).sum()
                    (grad,) = torch.autograd.grad(step_value, step_out.attentions[layer])
                finally:
                    handle.remove()
                total += grad / alpha
            scores = attention.detach() * total / 20
        _, dropped = discard_masks(scores, batch["attention_mask"], 0.3, 0.3)
        masks[layer] = dropped
    return masks


def epoch_pair(data_dir: str, threads: int) -> dict:
    """One plain and one AD-DROP epoch of real MRPC fine-tuning (batch 16, GA on layer 0)."""
    import tempfile

    from addrop.finetune import FinetuneConfig, finetune

    with tempfile.TemporaryDirectory() as out:
        config = FinetuneConfig(task="mrpc", data_dir=data_dir, output_dir=out, epochs=2, batch_size=16,
                                max_length=128, patience=None, save_checkpoint=False, device="cpu")
        started = time.perf_counter()
        result = finetune(config, progress=False)
        total = time.perf_counter() - started
    epochs = [e for e in result.history if e["kind"] == "eval"]
    return {"total_s": total, "train_s": result.train_seconds, "dev": [e["values"] for e in epochs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iga-repeats", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iga-batch", type=int, default=64, help="examples per IGA interpolation pass")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="*", choices=CONFIGS, help="run only these configurations")
    parser.add_argument("--epoch-pair", metavar="MRPC_DIR", help="also time a plain + AD-DROP MRPC epoch pair")
    parser.add_argument("--json", help="write all figures to this file")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    if args.measure:
        repeats = args.iga_repeats if "IGA" in args.measure else args.repeats
        print(json.dumps(measure(args.measure, args.batch, args.length, repeats, args.warmup, args.iga_batch)))
        return

    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    results = {}
    print(f"MiniLM-L6-H384, batch {args.batch}, length {args.length}, {args.threads} threads, "
          f"torch {torch.__version__}", flush=True)
    for name in args.only or CONFIGS:
        command = [sys.executable, __file__, "--measure", name, "--batch", str(args.batch), "--length",
                   str(args.length), "--repeats", str(args.repeats), "--iga-repeats", str(args.iga_repeats),
                   "--warmup", str(args.warmup), "--threads", str(args.threads), "--iga-batch", str(args.iga_batch)]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr[-2000:]}", flush=True)
            continue
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        base = results.get("plain", results[name])
        r = results[name]
        print(f"{name:>14}: {r['median_s']:7.3f} s  {r['median_s'] / base['median_s']:6.2f}x plain  "
              f"peak RSS {r['peak_rss_mb']:7.0f} MB ({r['peak_rss_mb'] - base['peak_rss_mb']:+.0f} MB vs plain)",
              flush=True)
    if args.epoch_pair:
        pair = epoch_pair(args.epoch_pair, args.threads)
        results["epoch_pair"] = pair
        print(f"MRPC epoch pair (plain + AD-DROP GA layer 0, batch 16): train {pair['train_s']:.1f} s, "
              f"end to end {pair['total_s']:.1f} s; dev after each epoch: {pair['dev']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
