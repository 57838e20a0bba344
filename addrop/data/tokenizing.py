"""Tokenising validated splits for a model, and the collator that pads their batches."""

from __future__ import annotations

from datasets import DatasetDict, Value
from transformers import (
    DataCollatorForSeq2Seq,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    PreTrainedTokenizerBase,
)

from addrop.kinds import IGNORED
from addrop.tasks import TaskSpec



def tokenize_splits(
    splits: DatasetDict, tokenizer: PreTrainedTokenizerBase, task: TaskSpec, max_length: int = 128
) -> DatasetDict:
    """Tokenise without padding (the collator pads per batch); keep only model inputs and ``labels``.

    For token classification the tag goes to the first sub-token of each word; other sub-tokens and
    special tokens get -100. A translation's ``labels`` are its target's token ids (``max_length`` caps both sides).
    """

    def encode(batch: dict[str, list]) -> dict[str, list]:
        if task.kind == "token_classification":
            return _encode_words(batch, tokenizer, task, max_length)
        if task.kind == "translation":
            (source,) = task.text_fields
            return tokenizer(batch[source], text_target=batch[task.label_field], truncation=True, max_length=max_length)
        encoded = tokenizer(*(batch[f] for f in task.text_fields), truncation=True, max_length=max_length)
        return {**encoded, "labels": batch[task.label_field]}

    tokenized = DatasetDict(
        {
            name: split.map(encode, batched=True, remove_columns=split.column_names, desc=f"Tokenising {name}")
            for name, split in splits.items()
        }
    )
    if task.kind == "regression":
        # map() stores Python floats as float64; keep targets in the model's dtype so the loss is not promoted.
        tokenized = tokenized.cast_column("labels", Value("float32"))
    return tokenized


def data_collator(
    task: TaskSpec, tokenizer: PreTrainedTokenizerBase
) -> DataCollatorWithPadding | DataCollatorForTokenClassification | DataCollatorForSeq2Seq:
    """Dynamic-padding collator for ``task`` (token labels and translation targets are padded with -100)."""
    if task.kind == "token_classification":
        return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORED)
    if task.kind == "translation":
        return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORED)
    return DataCollatorWithPadding(tokenizer)


def _encode_words(
    batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, task: TaskSpec, max_length: int
) -> dict[str, list]:
    (field,) = task.text_fields
    encoded = tokenizer(batch[field], is_split_into_words=True, truncation=True, max_length=max_length)
    labels = []
    for i, tags in enumerate(batch[task.label_field]):
        aligned, previous = [], None
        for word in encoded.word_ids(i):
            aligned.append(tags[word] if word is not None and word != previous else IGNORED)
            previous = word
        labels.append(aligned)
    return {**encoded, "labels": labels}
