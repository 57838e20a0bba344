"""The ``addrop`` command: ``addrop train`` fine-tunes with AD-DROP, ``addrop explain`` shows the maps for one input."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Sequence, get_args

from addrop.attribution import METHODS, Target
from addrop.dropout import ADDropConfig
from addrop.dynamics import PROBE_SIZE, DynamicsConfig
from addrop.finetune import LR_SCHEDULES, PRECISIONS, FinetuneConfig
from addrop.hooks import KINDS
from addrop.masking import check_probability
from addrop.models import DEFAULT_MODEL
from addrop.presets import PRESETS
from addrop.tasks import KNOWN_TASKS, TaskKind

_DEFAULTS = {f.name: f.default for f in (*fields(FinetuneConfig), *fields(ADDropConfig))}


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    try:
        return check_probability("p and q", value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _layers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of layer indices") from None


def _indices(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of dev example indices") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _add_addrop_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", type=str.upper, choices=METHODS, default="GA",
                        help="attribution: GA gradient, IGA integrated gradients, AA attention, RD random (default GA)")
    parser.add_argument("--p", type=_probability, default=_DEFAULTS["p"], help="candidate discard fraction per row")
    parser.add_argument("--q", type=_probability, default=_DEFAULTS["q"], help="drop probability within the region")
    parser.add_argument("--mode", choices=("high", "low"), default="high",
                        help="candidates are the highest (AD-DROP) or lowest attributions")
    parser.add_argument("--steps", type=_positive, default=20, help="IGA interpolation steps m")


def preset_defaults(name: str, task: str, model: str) -> dict[str, object]:
    """The ``train`` defaults that preset ``name`` sets for ``task`` and ``model`` (flags given still win)."""
    from addrop.models import num_layers
    preset = PRESETS[name](task)
    values: dict[str, object] = dict(preset.training)
    values.update(method=preset.addrop["method"], mode=preset.addrop["mode"],
                  layers=tuple(preset.layers(num_layers(model))), no_cross_tuning=not preset.addrop["cross_tuning"])
    if values.get("patience", 0) is None:  # the preset trains every epoch (the translation scripts do)
        values.update(patience=_DEFAULTS["patience"], no_early_stopping=True)
    # a preset that fixes p and q (the translation scripts), and an encoder-decoder's maps and target
    values.update({key: preset.addrop[key] for key in ("p", "q", "target") if key in preset.addrop})
    if "kind" in preset.addrop:
        values["attention"] = preset.addrop["kind"]
    return values


def build_parser(defaults: dict[str, object] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="addrop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="fine-tune a model with AD-DROP (or as a plain baseline)")
    train.add_argument("--task", default="sst2",
                       help=f"a known task ({', '.join(sorted(KNOWN_TASKS))}) or, with --task-kind, a name for your data")
    train.add_argument("--model", default=DEFAULT_MODEL, help="hub id or local directory (default: bundled MiniLM)")
    train.add_argument("--output-dir", default="outputs/run", help="where the best checkpoint and metrics.json go")
    train.add_argument("--data-dir", help="directory with train.* and validation.* (jsonl/csv/tsv)")
    train.add_argument("--train-file")
    train.add_argument("--validation-file")
    train.add_argument("--task-kind", choices=get_args(TaskKind),
                       help="for your own data: the kind of task (then also --text-fields)")
    train.add_argument("--text-fields", type=lambda s: tuple(s.split(",")), default=(),
                       help="comma-separated text columns of your data (one, or two for pairs; a translation's "
                            "source language, e.g. en)")
    train.add_argument("--label-field", default="label", help="the label column (a translation's target language)")
    train.add_argument("--label-names", type=lambda s: tuple(s.split(",")), default=(),
                       help="comma-separated class names of your data")
    train.add_argument("--max-train-samples", type=_positive)
    train.add_argument("--max-eval-samples", type=_positive)
    train.add_argument("--max-length", type=_positive, default=_DEFAULTS["max_length"])
    train.add_argument("--epochs", type=_positive, default=_DEFAULTS["epochs"])
    train.add_argument("--batch-size", type=_positive, default=_DEFAULTS["batch_size"])
    train.add_argument("--eval-batch-size", type=_positive, default=_DEFAULTS["eval_batch_size"])
    train.add_argument("--learning-rate", type=float, default=_DEFAULTS["learning_rate"])
    train.add_argument("--weight-decay", type=float, default=_DEFAULTS["weight_decay"])
    train.add_argument("--warmup-ratio", type=float, default=_DEFAULTS["warmup_ratio"])
    train.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=_DEFAULTS["lr_schedule"],
                       help="learning rate after the warm-up: linear decay to 0, constant (the authors' scripts), cosine")
    train.add_argument("--seed", type=int, default=_DEFAULTS["seed"])
    train.add_argument("--patience", type=_positive, default=_DEFAULTS["patience"],
                       help="early stopping: epochs without dev improvement (default 5)")
    train.add_argument("--no-early-stopping", action="store_true")
    train.add_argument("--baseline", action="store_true", help="plain fine-tuning, no AD-DROP")
    train.add_argument("--layers", type=_layers, default=_DEFAULTS["layers"], help="masked layers, e.g. 0 or 0,1,2")
    train.add_argument("--no-cross-tuning", action="store_true", help="drop in every epoch instead of alternating")
    train.add_argument("--target", choices=get_args(Target), default="auto",
                       help="what is attributed: auto (the pseudo-label logit of a classifier, else the negative "
                            "loss), logit, loss (against the gold labels) or pseudo_loss (against pass 1's argmax)")
    train.add_argument("--attention", choices=KINDS,
                       help="an encoder-decoder's maps to drop in: encoder (default, as the authors' translation "
                            "code), decoder (its causal self-attention) or cross; --layers count among them")
    train.add_argument("--num-beams", type=_positive, default=_DEFAULTS["num_beams"],
                       help="translation: beams of the dev set's generation")
    train.add_argument("--logging-steps", type=_positive, default=_DEFAULTS["logging_steps"])
    train.add_argument("--no-group-by-length", action="store_true", help="shuffle without grouping by length")
    train.add_argument("--device", choices=("cpu", "cuda"))
    train.add_argument("--precision", choices=PRECISIONS, default=_DEFAULTS["precision"],
                       help="mixed precision under autocast (fp16: CUDA only)")
    train.add_argument("--dynamics", action="store_true",
                       help="record attribution dynamics on a probe set of dev examples at every epoch's end "
                            "(summaries in the logs and metrics.json, maps under OUTPUT_DIR/dynamics)")
    train.add_argument("--probe-size", type=_positive, default=PROBE_SIZE,
                       help=f"with --dynamics: dev examples in the probe set, a fixed sample per seed (default {PROBE_SIZE})")
    train.add_argument("--probe-ids", type=_indices,
                       help="with --dynamics: comma-separated dev example indices to probe instead of the sample")
    train.add_argument("--preset", choices=tuple(PRESETS),
                       help="take the training and AD-DROP settings of a preset for --task (authors: the AD-DROP "
                            "authors' protocol: lr 1e-5 constant, batch 16, patience, the task's max length and "
                            "masked layers); options given on the command line win")
    _add_addrop_options(train)
    if defaults:  # after every option is added: an option's own default would win over an earlier one
        train.set_defaults(**defaults)

    explain = commands.add_parser("explain", help="show attention, attribution and AD-DROP masks for one input")
    explain.add_argument("text")
    explain.add_argument("--pair", help="second sentence of a pair")
    explain.add_argument("--model", default=DEFAULT_MODEL, help="hub id, local directory or a job's checkpoint")
    explain.add_argument("--layers", type=_layers, help="layers to show (default: all)")
    explain.add_argument("--head", type=int, default=0, help="head whose masks are printed")
    explain.add_argument("--seed", type=int, default=0)
    explain.add_argument("--max-length", type=_positive, default=128)
    explain.add_argument("--save", help="write every map to this .json file")
    _add_addrop_options(explain)
    return parser


def _train(args: argparse.Namespace) -> int:
    from addrop.finetune import finetune

    config = FinetuneConfig(
        task=args.task,
        model=args.model,
        output_dir=args.output_dir,
        data_dir=args.data_dir,
        train_file=args.train_file,
        validation_file=args.validation_file,
        task_kind=args.task_kind,
        text_fields=args.text_fields,
        label_field=args.label_field,
        label_names=args.label_names,
        max_train_samples=args.max_train_samples,
        max_eval_samples=args.max_eval_samples,
        max_length=args.max_length,
        epochs=args.epochs,
        batch_size=args.batch_size,
        eval_batch_size=args.eval_batch_size,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        warmup_ratio=args.warmup_ratio,
        lr_schedule=args.lr_schedule,
        seed=args.seed,
        patience=None if args.no_early_stopping else args.patience,
        addrop=None if args.baseline else ADDropConfig(args.method, args.p, args.q, args.layers, args.mode, args.steps,
                                                       target=args.target, kind=args.attention),
        cross_tuning=not args.no_cross_tuning,
        logging_steps=args.logging_steps,
        group_by_length=not args.no_group_by_length,
        device=args.device,
        precision=args.precision,
        num_beams=args.num_beams,
        # the masked layers are recorded also in a baseline run, so that it compares with its AD-DROP twin
        dynamics=DynamicsConfig(args.probe_size, args.probe_ids, args.layers) if args.dynamics else None,
    )
    result = finetune(config)  # Trainer's progress bar prints each log and dev evaluation
    best = "n/a" if result.best_metric is None else f"{result.best_metric:.4f}"
    print(f"best dev {result.metric}: {best} (epoch {result.best_epoch})")
    print(f"best checkpoint: {result.best_checkpoint}")
    print(f"metrics: {result.metrics_file}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from addrop.explain import explain
    from addrop.models import load_classifier, load_tokenizer

    model = load_classifier(args.model)
    tokenizer = load_tokenizer(args.model)
    result = explain(
        model, tokenizer, args.text, args.pair, method=args.method, layers=args.layers, p=args.p, q=args.q,
        mode=args.mode, seed=args.seed, steps=args.steps, max_length=args.max_length,
    )
    heads = result.attention.shape[1]
    if not 0 <= args.head < heads:
        raise ValueError(f"head {args.head} is out of range: the model has {heads} heads")
    print(f"tokens ({len(result.tokens)}{', truncated' if result.truncated else ''}): {' '.join(result.tokens)}")
    if result.token_predictions is not None:
        tags = [
            f"{token}/{result.label_names[tag]}"
            for token, tag in zip(result.tokens, result.token_predictions)
            if tag is not None
        ]
        print(f"predicted tags: {' '.join(tags)}")
        print("attribution target: the negative loss against these tags (the pseudo labels)")
    else:
        probabilities = ", ".join(f"{n}={p:.3f}" for n, p in zip(result.label_names, result.probabilities))
        print(f"prediction: {result.label_names[result.prediction]} ({probabilities}); "
              f"attribution target: {result.target}")
    if not result.head_trained:
        print("note: the model has no named labels, so its classification head is probably untrained; "
              "predictions are arbitrary (fine-tune first with 'addrop train')")
    print(f"method {result.method}, mode {result.mode}, p={result.p}, q={result.q}, seed={result.seed}")
    for index, layer in enumerate(result.layers):
        candidate, dropped = result.candidate[index], result.dropped[index]
        print(f"\nlayer {layer}: {int(candidate.sum())} candidates, {int(dropped.sum())} dropped over {heads} heads")
        print(f"  head {args.head} (row: query -> dropped keys [candidates])")
        for row, token in enumerate(result.tokens):
            cand = [result.tokens[j] for j in candidate[args.head, row].nonzero().flatten().tolist()]
            drop = [result.tokens[j] for j in dropped[args.head, row].nonzero().flatten().tolist()]
            print(f"    {token:>12} -> {' '.join(drop) or '-'}  [{' '.join(cand)}]")
    if args.save:
        payload = {
            key: getattr(result, key)
            for key in ("tokens", "special", "segments", "truncated", "label_names", "probabilities", "prediction",
                        "pseudo_label", "target", "token_predictions", "token_probabilities", "method", "mode", "p",
                        "q", "seed", "layers")
        }
        payload.update({key: getattr(result, key).tolist() for key in ("attention", "attribution", "candidate", "dropped")})
        Path(args.save).write_text(json.dumps(payload))
        print(f"\nsaved maps to {args.save}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``addrop`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    # the load report of a new classification head is expected here, not a problem to show
    hf_logging.set_verbosity_error()
    from addrop.data.errors import DataError
    from addrop.hooks import UnsupportedModelError
    from addrop.models import ModelLoadError

    try:
        if args.command == "train" and args.preset:
            defaults = preset_defaults(args.preset, args.task, args.model)
            args = build_parser(defaults).parse_args(argv)
            print(f"preset {args.preset} for {args.task}: " + ", ".join(f"{k}={v}" for k, v in defaults.items()
                                                                          if getattr(args, k) == v))
        return _train(args) if args.command == "train" else _explain(args)
    except (ValueError, DataError, ModelLoadError, UnsupportedModelError, FileNotFoundError) as error:
        print(f"addrop: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("addrop: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
