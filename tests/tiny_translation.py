"""A tiny translation setting built in the test, the way transformers' own tests build theirs: a toy parallel
corpus (English-like source, a word-for-word "target language" with its own word order), a sentencepiece model
trained on it, a ``MarianTokenizer`` over that model and a random ``MarianMTModel`` of a few thousand weights."""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

SUBJECTS = ["the cat", "a dog", "my friend", "the teacher", "our neighbour", "the child", "a farmer", "the doctor"]
VERBS = ["sees", "likes", "finds", "helps", "calls", "follows", "paints", "visits"]
ADJECTIVES = ["red", "small", "old", "happy", "quiet", "green", "tall", "young"]
OBJECTS = ["house", "river", "garden", "city", "horse", "tree", "window", "market"]
PLACES = ["today", "at night", "in the morning", "every day", "again", "", "", ""]
# The toy target: every word has its own translation, and an adjective follows its noun (as in Romanian).
LEXICON = {
    "the": "le", "a": "un", "my": "meu", "our": "nostru", "cat": "pisica", "dog": "caine", "friend": "prieten",
    "teacher": "profesor", "neighbour": "vecin", "child": "copil", "farmer": "fermier", "doctor": "medic",
    "sees": "vede", "likes": "place", "finds": "gaseste", "helps": "ajuta", "calls": "suna", "follows": "urmeaza",
    "paints": "picteaza", "visits": "viziteaza", "red": "rosu", "small": "mic", "old": "vechi", "happy": "fericit",
    "quiet": "linistit", "green": "verde", "tall": "inalt", "young": "tanar", "house": "casa", "river": "rau",
    "garden": "gradina", "city": "oras", "horse": "cal", "tree": "copac", "window": "fereastra", "market": "piata",
    "today": "azi", "at": "la", "night": "noapte", "in": "in", "morning": "dimineata", "every": "fiecare",
    "day": "zi", "again": "iar",
}


def toy_pairs(count: int, seed: int = 0) -> list[dict[str, str]]:
    """``count`` sentence pairs ``{"en": ..., "ro": ...}`` of the toy language."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        subject, verb, adjective, noun, place = (rng.choice(words) for words in (SUBJECTS, VERBS, ADJECTIVES, OBJECTS, PLACES))
        source = " ".join(part for part in (subject, verb, "the", adjective, noun, place) if part)
        words = [LEXICON[w] for w in subject.split()] + [LEXICON[verb], "le", LEXICON[noun], LEXICON[adjective]]
        words += [LEXICON[w] for w in place.split()]
        pairs.append({"en": source, "ro": " ".join(words)})
    return pairs


def write_parallel(folder: Path, train: int = 300, validation: int = 40) -> Path:
    """``train.jsonl`` and ``validation.jsonl`` in the Hub's ``wmt16`` layout, one ``{"translation": ...}`` per line."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, count, seed in (("train", train, 0), ("validation", validation, 1)):
        lines = (json.dumps({"translation": pair}) for pair in toy_pairs(count, seed))
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def save_tiny_marian(path: Path, layers: int = 2, vocab_size: int = 120, **config) -> Path:
    """A random ``MarianMTModel`` (d_model 32, 4 heads, ``layers`` encoder and decoder layers) with a
    ``MarianTokenizer`` whose sentencepiece models are trained here on the toy corpus; saved to ``path``."""
    import sentencepiece as spm
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    path.mkdir(parents=True, exist_ok=True)
    pairs = toy_pairs(300)
    corpus = path / "corpus.txt"
    corpus.write_text("\n".join(p[side] for p in pairs for side in ("en", "ro")) + "\n")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(path / "spm"), vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, pad_id=-1, bos_id=-1, eos_id=-1, unk_id=0, minloglevel=2,
    )
    corpus.unlink()


    pieces = spm.SentencePieceProcessor(model_file=str(path / "spm.model"))
    vocab = {"</s>": 0, "<unk>": 1, "<pad>": 2}  # Marian's order: eos 0, unk 1, pad last in the real models
    for index in range(pieces.get_piece_size()):
        vocab.setdefault(pieces.id_to_piece(index), len(vocab))
    (path / "vocab.json").write_text(json.dumps(vocab))
    for name in ("source.spm", "target.spm"):
        (path / name).write_bytes((path / "spm.model").read_bytes())
    for leftover in ("spm.model", "spm.vocab"):
        (path / leftover).unlink()
    tokenizer = MarianTokenizer(str(path / "source.spm"), str(path / "target.spm"), str(path / "vocab.json"))
    values = dict(
        vocab_size=len(vocab), d_model=32, encoder_layers=layers, decoder_layers=layers, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        pad_token_id=vocab["<pad>"], eos_token_id=vocab["</s>"], decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=vocab["</s>"],
    )
    torch.manual_seed(0)
    MarianMTModel(MarianConfig(**{**values, **config})).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def save_finetuned_marian(root: Path, epochs: int = 10) -> Path:
    """A tiny Marian fine-tuned with AD-DROP on the toy corpus by ``finetune`` (tens of seconds on a CPU); returns
    its best checkpoint, a directory saved by ``save_pretrained`` as a translation job's is."""
    from addrop import ADDropConfig
    from addrop.finetune import FinetuneConfig, finetune

    model = save_tiny_marian(root / "base")
    data = write_parallel(root / "data", train=300, validation=16)
    result = finetune(FinetuneConfig(
        task="toy-en-ro", task_kind="translation", text_fields=("en",), label_field="ro", model=str(model),
        data_dir=str(data), output_dir=str(root / "run"), epochs=epochs, batch_size=16, learning_rate=1e-2,
        max_length=32, num_beams=1, patience=None, device="cpu", logging_steps=50, seed=0,
        addrop=ADDropConfig(p=0.3, q=0.3, layers=(0, 1)),
    ))
    return Path(result.best_checkpoint)
