"""Cost of an AD-DROP training step relative to a plain step, measured side by side in one run.

On the bundled MiniLM-L6-H384 (batch 32, length 128 by default, CPU; ``--device cuda`` for a GPU, where
every timed step ends with a device synchronisation and peak memory is the CUDA allocator's):

1. Step times, interleaved round-robin in one process so that machine noise hits every configuration
   alike: ``plain`` (forward, backward, AdamW step; the baseline of every ratio); AD-DROP steps with GA,
   AA, RD on layer 0 and GA on all layers, as ``addrop`` implements them; and the same definitions
   implemented straightforwardly (``naive-*``: eager attention returning the maps, one backward per
   masked layer). IGA (m = 20) and its looped version run in a second, shorter round-robin, next to
   ``interp-pass``: one interpolation pass (eval-mode forward and backward to the masked map), so that
   ``plain + m x interp-pass`` is what IGA should cost at most.
2. transformers' own ``Trainer`` against ``ADDropTrainer`` (plain and GA on layer 0), each timed per
   step by a callback in its own process.
3. Peak memory of each configuration, each in its own process (max RSS on CPU, peak allocated on CUDA).
4. With ``--epoch-pair DIR``: one plain and one AD-DROP (GA, layer 0) epoch of real MRPC fine-tuning
   (batch 16, dynamic padding, length-grouped batches) through ``addrop.finetune``.

Usage: python benchmarks/step_cost.py [--repeats 5] [--device cuda] [--epoch-pair ../shared/data/glue/mrpc]
       [--json out.json]
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
from typing import Callable

FAST = ["plain", "GA-L0", "naive-GA-L0", "GA-all", "naive-GA-all", "AA-L0", "naive-AA-L0", "RD-L0", "naive-RD-L0"]
SLOW = ["plain", "interp-pass", "IGA-L0", "naive-IGA-L0"]
MEMORY = ["plain", "GA-L0", "GA-all", "AA-L0", "RD-L0", "IGA-L0", "naive-GA-L0", "naive-GA-all", "naive-IGA-L0"]
STEPS = 20  # IGA interpolation points


def make_batch(batch_size: int, length: int, device: str) -> dict:
    import torch

    g = torch.Generator().manual_seed(0)
    batch = {
        "input_ids": torch.randint(1000, 30000, (batch_size, length), generator=g),
        "attention_mask": torch.ones(batch_size, length, dtype=torch.long),
        "token_type_ids": torch.zeros(batch_size, length, dtype=torch.long),
        "labels": torch.randint(0, 2, (batch_size,), generator=g),
    }
    return {k: v.to(device) for k, v in batch.items()}


def load(attn: str, model_name: str, device: str):
    import torch
    from transformers import AutoModelForSequenceClassification

    from addrop.models import resolve_model

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        resolve_model(model_name), num_labels=2, attn_implementation=attn
    ).to(device)
    return model.train(), torch.optim.AdamW(model.parameters(), lr=2e-5)


def synchronize(device: str) -> None:
    """Wait for queued kernels, so that a step's wall time is its whole cost on an asynchronous device."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def build_step(name: str, batch: dict, models: dict, iga_batch: int) -> Callable[[], None]:
    """A closure running one training step of configuration ``name``."""
    import torch

    from addrop import ADDrop, ADDropConfig, masked_forward
    from addrop.attribution import GradientAttribution, IntegratedGradients

    naive = name.startswith("naive-")
    model, optimizer = models["eager" if naive else "sdpa"]
    method, _, where = name.removeprefix("naive-").partition("-")
    layers = tuple(range(model.config.num_hidden_layers)) if where == "all" else (0,)

    def update(loss: torch.Tensor) -> None:
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    if name == "plain":
        return lambda: update(model(**batch).loss)
    if name == "interp-pass":
        attribution = GradientAttribution(model, (0,))

        def interpolation_pass() -> None:
            model.eval()
            try:
                attribution.attribute(batch, return_attention=False)
            finally:
                model.train()

        return interpolation_pass
    if naive:
        return lambda: update(masked_forward(model, batch, naive_masks(model, batch, method, layers)).loss)
    addrop = ADDrop(model, ADDropConfig(method, p=0.3, q=0.3, layers=layers, steps=STEPS))
    if method == "IGA":
        addrop.attribution = IntegratedGradients(model, layers, steps=STEPS, internal_batch_size=iga_batch)

    def step() -> None:
        plan = addrop.plan(batch)
        with addrop.applied(plan.masks):
            loss = model(**batch).loss
        update(loss)

    return step


def naive_masks(model, batch: dict, method: str, layers: tuple[int, ...]) -> dict:
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
            for k in range(1, STEPS + 1):
                alpha = k / STEPS
                handle = module.register_forward_hook(lambda m, a, o: (o[0] * alpha, *o[1:]))
                try:
                    step_out = model(**batch, output_attentions=True)
                    step_value = step_out.logits.gather(1, labels[:, None]).sum()
                    (grad,) = torch.autograd.grad(step_value, step_out.attentions[layer])
                finally:
                    handle.remove()
                total += grad / alpha
            scores = attention.detach() * total / STEPS
        _, dropped = discard_masks(scores, batch["attention_mask"], 0.3, 0.3)
        masks[layer] = dropped
    return masks


def round_robin(names: list[str], batch: dict, rounds: int, warmup: int, iga_batch: int, model_name: str,
                device: str) -> dict[str, list[float]]:
    """Time every configuration once per round, rounds interleaved."""
    models = {"sdpa": load("sdpa", model_name, device), "eager": load("eager", model_name, device)}
    steps = {name: build_step(name, batch, models, iga_batch) for name in names}
    for name in names:
        for _ in range(warmup):
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            synchronize(device)
            start = time.perf_counter()
            steps[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def trainer_steps(batch: dict, repeats: int, warmup: int, model_name: str, device: str) -> dict[str, float]:
    """Median step time of transformers.Trainer and ADDropTrainer (plain, GA layer 0) on the same batch."""
    from datasets import Dataset
    from transformers import Trainer, TrainerCallback, TrainingArguments, default_data_collator

    from addrop import ADDropConfig, ADDropTrainer

    rows = [{k: v[i].cpu() for k, v in batch.items()} for i in range(len(batch["labels"]))]
    steps = warmup + repeats
    results = {}
    for label, cls, extra in [
        ("Trainer", Trainer, {}),
        ("ADDropTrainer-plain", ADDropTrainer, {"addrop": None}),
        ("ADDropTrainer-GA-L0", ADDropTrainer, {"addrop": ADDropConfig("GA", 0.3, 0.3), "cross_tuning": False}),
    ]:
        times: list[float] = []

        class StepTimer(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                synchronize(device)
                self.start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                synchronize(device)
                times.append(time.perf_counter() - self.start)

        model, _ = load("sdpa", model_name, device)
        args = TrainingArguments(output_dir="/tmp/addrop-bench", report_to="none", use_cpu=device == "cpu",
                                 max_steps=steps,
                                 per_device_train_batch_size=len(rows), learning_rate=2e-5, weight_decay=0.0,
                                 save_strategy="no", logging_strategy="no", disable_tqdm=True,
                                 lr_scheduler_type="constant")
        trainer = cls(model=model, args=args, train_dataset=Dataset.from_list(rows * steps),
                      data_collator=default_data_collator, callbacks=[StepTimer()], **extra)
        trainer.train()
        results[label] = statistics.median(times[warmup:])
    return results


def peak_memory(name: str, batch: dict, iga_batch: int, model_name: str, device: str) -> float:
    """Peak memory (MB) of this process over two steps of ``name`` (run it in a fresh process): max RSS on the
    CPU, the CUDA allocator's peak on a GPU."""
    attn = "eager" if name.startswith("naive-") else "sdpa"
    step = build_step(name, batch, {attn: load(attn, model_name, device)}, iga_batch)
    for _ in range(2):
        step()
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated(device) / 2**20
    return vm_hwm_mb()


def vm_hwm_mb() -> float:
    """Peak RSS of this process image (VmHWM); unlike ru_maxrss it does not inherit the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def epoch_pair(data_dir: str, model_name: str, device: str) -> dict:
    """One plain and one AD-DROP epoch of real MRPC fine-tuning (batch 16, GA on layer 0)."""
    import tempfile

    from addrop.finetune import FinetuneConfig, finetune

    with tempfile.TemporaryDirectory() as out:
        config = FinetuneConfig(task="mrpc", model=model_name, data_dir=data_dir, output_dir=out, epochs=2,
                                batch_size=16, max_length=128, patience=None, save_checkpoint=False, device=device)
        started = time.perf_counter()
        result = finetune(config, progress=False)
        total = time.perf_counter() - started
    dev = [e["values"] for e in result.history if e["kind"] == "eval"]
    return {"total_s": total, "train_s": result.train_seconds, "dev": dev}


def _subprocess(args: list[str]) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error")
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5, help="rounds of the fast configurations")
    parser.add_argument("--iga-repeats", type=int, default=2, help="rounds of the IGA configurations")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iga-batch", type=int, default=32, help="examples per IGA interpolation pass")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    parser.add_argument("--model", default="minilm", help="a Hugging Face id or directory; the bundled MiniLM by default")
    parser.add_argument("--skip", nargs="*", default=[], choices=["iga", "trainer", "memory"])
    parser.add_argument("--epoch-pair", metavar="MRPC_DIR", help="also time a plain + AD-DROP MRPC epoch pair")
    parser.add_argument("--json", help="write all figures to this file")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    parser.add_argument("--trainer-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    batch = make_batch(args.batch, args.length, args.device)
    if args.memory_of:
        print(json.dumps({"peak_mb": peak_memory(args.memory_of, batch, args.iga_batch, args.model, args.device)}))
        return
    if args.trainer_only:
        print(json.dumps(trainer_steps(batch, args.repeats, args.warmup, args.model, args.device)))
        return

    common = ["--batch", str(args.batch), "--length", str(args.length), "--threads", str(args.threads),
              "--iga-batch", str(args.iga_batch), "--repeats", str(args.repeats), "--warmup", str(args.warmup),
              "--device", args.device, "--model", args.model]
    where = (torch.cuda.get_device_name(args.device) if args.device.startswith("cuda")
             else f"{args.threads} CPU threads")
    print(f"{args.model}, batch {args.batch}, length {args.length}, {where}, torch {torch.__version__}", flush=True)
    results: dict = {"setup": vars(args)}

    def report(times: dict[str, list[float]]) -> None:
        base = statistics.median(times["plain"])
        for name, values in times.items():
            median = statistics.median(values)
            results.setdefault("step_s", {})[name] = median
            print(f"  {name:>14}: {median:8.4f} s  {median / base:6.2f}x plain  (runs: "
                  f"{', '.join(f'{v:.4f}' for v in values)})", flush=True)

    print(f"step times, {args.repeats} interleaved rounds:", flush=True)
    report(round_robin(FAST, batch, args.repeats, args.warmup, args.iga_batch, args.model, args.device))
    if "iga" not in args.skip:
        print(f"IGA (m = {STEPS}), {args.iga_repeats} interleaved rounds:", flush=True)
        times = round_robin(SLOW, batch, args.iga_repeats, args.warmup, args.iga_batch, args.model, args.device)
        report(times)
        bound = statistics.median(times["plain"]) + STEPS * statistics.median(times["interp-pass"])
        results["iga_bound_s"] = bound
        iga = statistics.median(times["IGA-L0"])
        print(f"  plain + {STEPS} x interp-pass = {bound:.4f} s; IGA-L0 / that = {iga / bound:.2f} "
              f"(IGA-L0 also runs pass 1's forward, which the bound leaves out)", flush=True)
    if "trainer" not in args.skip:
        trainer = _subprocess(["--trainer-only", *common])
        results["trainer_step_s"] = trainer
        print("Trainer steps: " + ", ".join(f"{k} {v:.4f} s" for k, v in trainer.items()), flush=True)
    if "memory" not in args.skip:
        kind = "CUDA peak allocated" if args.device.startswith("cuda") else "max RSS"
        print(f"peak memory ({kind}, own process, 2 steps):", flush=True)
        memory = {name: _subprocess(["--memory-of", name, *common])["peak_mb"] for name in MEMORY}
        results["peak_mb"] = memory
        for name, mb in memory.items():
            print(f"  {name:>14}: {mb:7.0f} MB ({mb - memory['plain']:+.0f} MB vs plain)", flush=True)
    if args.epoch_pair:
        pair = epoch_pair(args.epoch_pair, args.model, args.device)
        results["epoch_pair"] = pair
        dev = "; ".join(", ".join(f"{k} {v:.4f}" for k, v in d.items() if k in ("accuracy", "f1")) for d in pair["dev"])
        print(f"MRPC epoch pair (plain + AD-DROP GA layer 0, batch 16): training {pair['train_s']:.1f} s, "
              f"end to end {pair['total_s']:.1f} s; dev after each epoch: {dev}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
