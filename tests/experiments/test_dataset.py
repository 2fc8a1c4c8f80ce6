"""A converted dataset dir read and cross-checked for an experiment (experiments/dataset.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import make_dataset, write_config
from xqg_pyserini.errors import InputError
from xqg_pyserini.experiments.config import load_config
from xqg_pyserini.experiments.dataset import load_dataset
from xqg_pyserini.io.topics import question_id


@pytest.fixture()
def dataset(tmp_path):
    make_dataset(tmp_path / "data")
    return tmp_path


def _load(tmp: Path, **overrides):
    return load_dataset(load_config(write_config(tmp, Path("unused-model"), **overrides)))


def test_reads_every_file_and_links_topics_to_folds(dataset):
    data = _load(dataset)
    assert data.langs == ["ar", "de", "es", "fr", "ja", "zh"]
    assert len(data.topics) == 576 and set(data.topic_lang.values()) == set(data.langs)
    assert all(qid.startswith(f"{data.topic_lang[qid]}-") for qid in data.topics)
    assert set(data.qrels) == set(data.topics)
    assert data.folds == [0, 1] and data.fold_k == 2
    assert sorted(set(data.fold_of_topic.values())) == [0, 1]
    # A question is in the same fold in every language.
    by_question = {}
    for qid, fold in data.fold_of_topic.items():
        assert by_question.setdefault(question_id(qid), fold) == fold
    assert sum(len(data.fold_topics(f)) for f in data.folds) == len(data.topics)
    assert data.pg is not None and {t.lang for t in data.pg} == set(data.langs)
    assert data.answers is not None and set(data.answers) == set(data.topics)  # R@2kt is a metric


def test_only_what_the_config_needs_is_read(dataset):
    data = _load(dataset, metrics=["MRR@10"], grid={"a": {"arms": ["pg"]}}, alignment=None)
    assert data.answers is None and data.qg == {} and data.pg is not None
    data = _load(dataset, topic_langs=["de"], metrics=["MRR@10"], grid={"a": {"arms": ["qg"]}}, alignment=None)
    assert data.langs == ["de"] and all(q.startswith("de-") for q in data.topics) and data.pg is None


def test_question_id_drops_the_language_prefix():
    assert question_id("de-001-2") == "001-2"
    assert question_id("plain") == "plain"


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "topics.de.tsv").write_text("fr-001-0\tWas?\n", encoding="utf-8"),
     "qids must be 'de-<question id>'"),
    (lambda root: (root / "qrels.de.txt").write_text("de-001-0 0 demo-001 1\n", encoding="utf-8"),
     "have no relevant passage here"),
    (lambda root: (root / "qrels.de.txt").write_text(
        (root / "qrels.de.txt").read_text("utf-8").replace("demo-001", "nowhere", 1), encoding="utf-8"),
     "not in corpus.jsonl"),
    (lambda root: (root / "oracle" / "qg" / "folds.json").write_text('{"k": 2}', encoding="utf-8"),
     "expected"),
    (lambda root: (root / "oracle" / "qg" / "folds.json").write_text(
        json.dumps({"k": 2, "seed": 1, "fold_of": {"001-0": 0}}), encoding="utf-8"), "topics have no fold"),
    (lambda root: (root / "oracle" / "qg" / "fold-1.jsonl").unlink(), "the questions of fold 1"),
    (lambda root: (root / "oracle" / "pg.jsonl").write_text(
        '{"docid": "nowhere", "generated_passages": {"de": ["x"]}}\n', encoding="utf-8"), "not in corpus.jsonl"),
    (lambda root: (root / "answers.jsonl").unlink(), "needed for the R@kt metrics"),
])
def test_inconsistent_files_are_named(dataset, damage, message):
    damage(dataset / "data")
    with pytest.raises(InputError, match=message) as caught:
        _load(dataset)
    assert caught.value.path is not None


def test_missing_dataset_dir(tmp_path):
    with pytest.raises(InputError, match="dataset dir not found"):
        _load(tmp_path)
