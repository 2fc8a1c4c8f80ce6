import numpy as np
import pytest

from helpers import write_jsonl
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_dir, atomic_file
from xqg_pyserini.io.corpus import read_corpus
from xqg_pyserini.io.embeddings import read_store, write_store
from xqg_pyserini.io.generated import read_generated, select
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.runs import read_run, write_run
from xqg_pyserini.io.topics import read_topics


def test_corpus_reads_title_and_renders_template(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "d1", "title": "T", "contents": "body"},
                                              {"id": 7, "contents": "no title"}])
    passages = read_corpus(path)
    assert [p.docid for p in passages] == ["d1", "7"]
    assert passages[0].render("{title} {contents}") == "T body"
    assert passages[1].render("{title} {contents}") == "no title"


@pytest.mark.parametrize("rows, line, needle", [
    ([{"id": "a", "contents": "x"}, '{"id": "b", "contents": '], 2, "malformed JSON"),
    ([{"id": "a", "contents": "x"}, {"id": "b"}], 2, "missing field 'contents'"),
    ([{"id": "a", "contents": "x"}, {"id": "a", "contents": "y"}], 2, "duplicate docid 'a' (first on line 1)"),
    ([{"id": "a", "contents": "   "}], 1, "field 'contents' is empty"),
    (["[1, 2]"], 1, "expected a JSON object"),
])
def test_corpus_errors_name_file_and_line(tmp_path, rows, line, needle):
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert err.value.line == line
    assert needle in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}:")


def test_topics_and_errors(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("q1\thello world\nq2\tsecond\n", encoding="utf-8")
    assert read_topics(path) == {"q1": "hello world", "q2": "second"}
    path.write_text("q1\thello\nq1\tagain\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t.tsv:2: duplicate qid 'q1'"):
        read_topics(path)
    path.write_text("q1 no tab\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t.tsv:1: expected 'qid<TAB>query'"):
        read_topics(path)
    path.write_text("q1\t \n", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        read_topics(path)


def test_qrels_and_runs_roundtrip_and_errors(tmp_path):
    qrels = tmp_path / "q.txt"
    qrels.write_text("q1 0 d1 1\nq1 0 d2 0\n", encoding="utf-8")
    assert read_qrels(qrels) == {"q1": {"d1": 1, "d2": 0}}
    qrels.write_text("q1 0 d1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"q.txt:1: expected 4 columns"):
        read_qrels(qrels)

    run = {"q1": [("d2", 2.5), ("d1", 1.0)]}
    write_run(run, tmp_path / "r.trec", tag="t")
    assert (tmp_path / "r.trec").read_text().splitlines()[0] == "q1 Q0 d2 1 2.500000 t"
    assert read_run(tmp_path / "r.trec") == run
    (tmp_path / "r.trec").write_text("q1 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n")
    with pytest.raises(InputError, match=r"r.trec:2: docid d1 appears twice for query q1"):
        read_run(tmp_path / "r.trec")


def test_generated_schema_select_and_errors(tmp_path):
    path = write_jsonl(tmp_path / "g.jsonl", [
        {"docid": "d1", "generated_queries": {"ar": ["a1", "a2"], "ja": ["j1"]}},
        {"docid": "d2", "generated_queries": {"ar": ["b1"]}},
    ])
    texts = read_generated(path)
    assert [(t.docid, t.lang, t.rank) for t in texts] == [("d1", "ar", 0), ("d1", "ar", 1), ("d1", "ja", 0),
                                                          ("d2", "ar", 0)]
    assert [t.text for t in select(texts, langs=["ar"], per_lang=1)] == ["a1", "b1"]
    write_jsonl(path, [{"docid": "d1", "generated_queries": {"ar": "not a list"}}])
    with pytest.raises(InputError, match=r"g.jsonl:1: generated_queries\['ar'\] must be a list"):
        read_generated(path)
    write_jsonl(path, [{"docid": "d1", "generated_queries": {"ar": ["ok"]}},
                       {"docid": "d1", "generated_queries": {"ar": ["x"]}}])
    with pytest.raises(InputError, match=r"g.jsonl:2: duplicate docid"):
        read_generated(path)


def test_store_rejects_nan_naming_the_docid(tmp_path):
    vectors = np.ones((3, 4), dtype=np.float32)
    vectors[1, 2] = np.inf
    with pytest.raises(InputError, match=r"docid b\): 1 vector\(s\) contain NaN or inf"):
        write_store(tmp_path / "s", ["a", "b", "c"], vectors, {"kind": "passage"})
    assert not (tmp_path / "s").exists()
    assert list(tmp_path.iterdir()) == []
    write_store(tmp_path / "s", ["a", "b", "c"], np.ones((3, 4)), {"kind": "passage"})
    store = read_store(tmp_path / "s", kind="passage")
    assert store.ids == ["a", "b", "c"] and store.dim == 4 and store.meta["count"] == 3
    with pytest.raises(InputError, match="expected generated embeddings"):
        read_store(tmp_path / "s", kind="generated")


def test_atomic_writers_leave_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_file(tmp_path / "f.txt") as out:
            out.write("partial")
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "x").write_text("partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with atomic_dir(tmp_path / "d") as tmp:
        (tmp / "x").write_text("one")
    with atomic_dir(tmp_path / "d") as tmp:  # replaces it: everything there is rewritten
        (tmp / "x").write_text("two")
        (tmp / "y").write_text("two")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["x", "y"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_gzip_runs_round_trip_and_are_deterministic(tmp_path):
    import gzip

    from xqg_pyserini.evaluate.report import run_name
    from xqg_pyserini.io.runs import read_run, write_run

    run = {"q1": [("d1", 2.5), ("d2", 1.0)], "q2": [("d3", 0.5)]}
    write_run(run, tmp_path / "a.trec.gz", tag="a")
    first = (tmp_path / "a.trec.gz").read_bytes()
    write_run(run, tmp_path / "a.trec.gz", tag="a")  # replaces its own kind, same bytes
    assert (tmp_path / "a.trec.gz").read_bytes() == first
    assert gzip.decompress(first).decode().splitlines()[0] == "q1 Q0 d1 1 2.500000 a"
    assert read_run(tmp_path / "a.trec.gz") == run
    assert run_name(tmp_path / "a.trec.gz") == "a"
