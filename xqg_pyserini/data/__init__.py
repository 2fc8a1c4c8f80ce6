"""Datasets: the bundled demo collection, and converters of XQuAD / MLQA into retrieval sets with oracles."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DEMO_FILES = ("corpus.jsonl", "topics.tsv", "qrels.txt", "generated.jsonl")


def demo_dir() -> Path:
    """The bundled demo collection (written for this project): corpus, topics, qrels, generated."""
    return Path(str(files("xqg_pyserini.data") / "demo"))
