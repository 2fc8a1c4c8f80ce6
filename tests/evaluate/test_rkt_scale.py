"""R@kt without the corpus in memory: passage texts read through an on-disk docid -> offset index."""

import random

import pytest

from helpers import write_jsonl
from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import Judgements, parse_measures, score
from xqg_pyserini.io.answers import Answer
from xqg_pyserini.io.corpus import CorpusTexts, open_corpus_texts, read_corpus


@pytest.fixture
def collection(tmp_path, monkeypatch):
    monkeypatch.setenv("XQG_CACHE", str(tmp_path / "cache"))
    rng = random.Random(2)
    words = "the a lava river mountain city old new north south".split()
    rows = [{"id": f"doc-{i}", "title": "T", "contents": " ".join(rng.choices(words, k=40)) + f" answer{i} ."}
            for i in range(200)]
    path = write_jsonl(tmp_path / "corpus.jsonl", rows)
    run = {f"en-{q}": [(f"doc-{(q * 3 + j) % 200}", 10.0 - j) for j in range(20)] for q in range(30)}
    answers = {f"en-{q}": Answer(lang="en" if q % 2 else "fi", answers=(f"answer{(q * 3 + 3) % 200}",))
               for q in range(30)}
    return path, run, answers


def test_rkt_from_disk_equals_rkt_from_memory_and_reads_only_retrieved_passages(collection, monkeypatch):
    path, run, answers = collection
    measures = parse_measures("R@2kt R@0.1kt")
    in_memory = score("run", run, measures, Judgements(answers=answers, corpus=read_corpus(path)))
    texts = open_corpus_texts(path)
    reads = []
    real = CorpusTexts._read
    monkeypatch.setattr(CorpusTexts, "_read", lambda self, offset: reads.append(offset) or real(self, offset))
    on_disk = score("run", run, measures, Judgements(answers=answers, corpus=texts))
    assert on_disk.per_query == in_memory.per_query and on_disk.mean == in_memory.mean
    retrieved = {docid for ranked in run.values() for docid, _ in ranked}
    assert len(set(reads)) <= len(retrieved) < 200 and len(texts._offsets) == len(retrieved)
    assert texts["doc-5"] == read_corpus(path)[5].contents and "doc-999" not in texts


def test_offsets_are_built_once_and_rebuilt_when_the_corpus_changes(collection, tmp_path):
    path, _, _ = collection
    CorpusTexts(path)
    built = sorted((tmp_path / "cache" / "corpus-offsets").iterdir())
    CorpusTexts(path)
    assert sorted((tmp_path / "cache" / "corpus-offsets").iterdir()) == built and len(built) == 1
    write_jsonl(path, [{"id": "x", "contents": "changed"}])
    assert CorpusTexts(path)["x"] == "changed"


def test_missing_passages_and_bad_lines_are_named(collection, tmp_path):
    path, run, answers = collection
    run["en-0"].append(("ghost", 0.0))
    with pytest.raises(InputError, match=r"\(docid ghost\): 1 ranked passages of 1 queries are absent"):
        score("run", run, parse_measures("R@2kt"), Judgements(answers=answers, corpus=CorpusTexts(path)))
    bad = write_jsonl(tmp_path / "bad.jsonl", ['{"id": "a", "contents": "x"}', '{"id": "b"'])
    with pytest.raises(InputError, match="bad.jsonl:2: malformed JSON"):
        CorpusTexts(bad)
