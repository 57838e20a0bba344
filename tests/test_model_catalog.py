"""The explorer's configured models: how each is named, so that a client sees names and never a server path."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.catalog import ModelCatalog, UnknownModelError


def names_and_sources(configured: list[str]) -> list[tuple[str, str]]:
    return [(entry.name, entry.source) for entry in ModelCatalog(configured).entries()]


def test_hub_ids_are_their_own_names_and_directories_their_last_component(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "local").mkdir()  # an existing directory given relative to the working directory
    assert names_and_sources(["minilm", "bert-base-uncased", "org/model", str(tmp_path / "my-bert"), "local"]) == [
        ("minilm", "minilm"), ("bert-base-uncased", "bert-base-uncased"), ("org/model", "org/model"),
        ("my-bert", str(tmp_path / "my-bert")), ("local", "local")]


def test_name_equals_source_names_a_model_and_a_home_directory_is_expanded():
    home = str(Path("~").expanduser())
    assert names_and_sources(["paper-bert=/data/models/run/best", "mine=~/model", "b=bert-base-uncased", "~/other"]) == [
        ("paper-bert", "/data/models/run/best"), ("mine", f"{home}/model"), ("b", "bert-base-uncased"),
        ("other", f"{home}/other")]
    descriptions = [entry.description for entry in ModelCatalog(["x=/data/x", "b=bert-base-uncased"]).entries()]
    assert descriptions == ["x (a local model)", "b (bert-base-uncased from the Hub)"]


def test_directories_of_one_name_are_told_apart_and_nothing_shown_holds_a_path():
    catalog = ModelCatalog(["/data/a/run/best", "/data/b/run/best", "./", "best"])
    assert [entry.name for entry in catalog.entries()] == ["best", "best-2", "model", "best-3"]
    assert not any("/" in entry.name + entry.description for entry in catalog.entries())
    assert catalog.resolve("best-2").source == "/data/b/run/best"
    with pytest.raises(UnknownModelError):
        catalog.resolve("/data/a/run/best")
