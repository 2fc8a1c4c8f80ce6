"""XQuAD -> retrieval set: counts, qrels, splits, stats for injected inconsistencies, determinism."""

from __future__ import annotations

import json
import logging
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from xqg_pyserini.data.squad import read_squad
from xqg_pyserini.data.xquad import convert_xquad
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.answers import read_answers
from xqg_pyserini.io.corpus import read_corpus
from xqg_pyserini.io.generated import read_generated
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.topics import read_topics

LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]


@pytest.fixture(scope="module")
def source(data_dir) -> Path:
    return data_dir / "xquad"


@pytest.fixture(scope="module")
def plain(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("xquad") / "xquad"
    convert_xquad(source, out)
    return out


@pytest.fixture(scope="module")
def split(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("xquad100") / "xquad100"
    convert_xquad(source, out, passage_words=100)
    return out


def english(source: Path):
    return read_squad(source / "xquad.en.json", "en")


def test_counts_match_the_readme(plain):
    stats = json.loads((plain / "stats.json").read_text("utf-8"))
    assert stats["languages"] == LANGS
    assert stats["contexts"] == stats["passages"] == 240
    assert stats["english_questions"] == 1190
    corpus = read_corpus(plain / "corpus.jsonl")
    assert len(corpus) == 240 and len({p.docid for p in corpus}) == 240
    assert corpus[0].title == "Super Bowl 50"  # SQuAD's title, underscores as spaces
    for lang in LANGS:
        topics = read_topics(plain / f"topics.{lang}.tsv")
        assert len(topics) == 1190 and all(qid.startswith(f"{lang}-") for qid in topics)
        assert len(read_qrels(plain / f"qrels.{lang}.txt")) == 1190
        assert stats["per_language"][lang] == {"questions": 1190, "paragraphs": 240, "topics": 1190,
                                               "qrels": 1190, "answers": 1190}
    assert len(read_topics(plain / "topics.tsv")) == len(read_qrels(plain / "qrels.txt")) == 1190 * 11
    answers = read_answers(plain / "answers.jsonl")
    assert len(answers) == 1190 * 11
    # every language shares the English answers of its question id
    assert answers["de-56beb4343aeaaa14008c925b"].answers == answers["en-56beb4343aeaaa14008c925b"].answers == ("308",)
    assert answers["de-56beb4343aeaaa14008c925b"].lang == "de"
    assert stats["inconsistencies"] == {} and stats["warnings"] == []
    assert "Creative Commons Attribution-ShareAlike 4.0" in stats["license"]
    readme = (plain / "README.md").read_text("utf-8")
    assert "Creative Commons Attribution-ShareAlike 4.0" in readme and "xqg data xquad" in readme


def test_qrels_point_at_the_answer(plain, source):
    en = english(source)
    contents = {p.docid: p.contents for p in read_corpus(plain / "corpus.jsonl")}
    qrels = read_qrels(plain / "qrels.txt")
    for qid, question in en.questions.items():
        for lang in LANGS:
            judged = qrels[f"{lang}-{qid}"]
            assert list(judged.values()) == [1]
            text = contents[next(iter(judged))]
            for answer in question.answers:
                assert text[answer.start:answer.start + len(answer.text)] == answer.text


def test_splits_hold_their_answers(split, source):
    en = english(source)
    stats = json.loads((split / "stats.json").read_text("utf-8"))
    corpus = read_corpus(split / "corpus.jsonl")
    contents = {p.docid: p.contents for p in corpus}
    assert stats["passages"] == len(corpus) > 240
    # the splits of a context are its words, in order, nothing lost
    by_context: dict[str, list[str]] = {}
    for p in corpus:
        by_context.setdefault(p.docid.rsplit("-", 1)[0], []).append(p.contents)
    assert len(by_context) == 240
    for para, (cid, pieces) in zip(en.paragraphs, by_context.items()):
        assert cid == f"xquad-a{para.article}-p{para.index}"
        assert " ".join(pieces).split() == para.context.split()
        # ~100 words: round(W / 100) pieces of equal size (no short tail)
        assert all(len(piece.split()) < 150 for piece in pieces)
        assert len(pieces) == 1 or all(len(piece.split()) >= 75 for piece in pieces)
    qrels = read_qrels(split / "qrels.en.txt")
    spanning = []
    for qid, question in en.questions.items():
        relevant = [contents[d] for d in qrels[f"en-{qid}"]]
        if len(relevant) == 1:
            assert all(a.text in relevant[0] for a in question.answers)
        else:  # an answer across a split boundary: both splits are relevant
            spanning.append(qid)
            assert all(a.text not in r for a in question.answers for r in relevant)
            joined = " ".join(" ".join(relevant).split())
            assert all(" ".join(a.text.split()) in joined for a in question.answers)
    assert stats["splits"]["answers_spanning_splits"]["count"] == len(spanning)
    assert stats["splits"]["answers_spanning_splits"]["examples"] == spanning[:5]
    assert read_qrels(split / "qrels.de.txt")[f"de-{spanning[0]}"] == qrels[f"en-{spanning[0]}"]
    # the QG oracle and PG oracle name only corpus docids, in the released schema
    for f in range(5):
        assert {t.docid for t in read_generated(split / "oracle" / "qg" / f"fold-{f}.jsonl")} <= set(contents)
    assert {t.docid for t in read_generated(split / "oracle" / "pg.jsonl", field="generated_passages")} \
        == set(contents)


def test_clusters_join_the_translations_of_a_question(plain):
    rows = [line.split("\t") for line in (plain / "clusters.tsv").read_text("utf-8").splitlines()]
    clusters: dict[str, set[str]] = {}
    for qid, cluster in rows:
        assert qid.endswith(f"-{cluster}")
        clusters.setdefault(cluster, set()).add(qid.split("-", 1)[0])
    assert len(rows) == 11 * 1190 and len(clusters) == 1190
    assert all(len(langs) == 11 for langs in clusters.values())


def test_deterministic(plain, source, tmp_path):
    again = tmp_path / "xquad"
    convert_xquad(str(source), again)
    files = sorted(p.relative_to(plain) for p in plain.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (plain / name).read_bytes() == (again / name).read_bytes(), name
    assert len(files) == 2 * 11 + 2 + 1 + 1 + 1 + 5 + 1 + 1 + 2  # per-lang, all, clusters, answers, corpus, folds...


def _small_source(source: Path, tmp: Path) -> Path:
    """The first two XQuAD articles in en and de; de gets a foreign id and loses a paragraph,
    en an answer offset off by one."""
    small = tmp / "src"
    small.mkdir()
    (small / "LICENSE").write_text("Some License 1.0\n\nbody\n", encoding="utf-8")
    for lang in ("en", "de"):
        doc = json.loads((source / f"xquad.{lang}.json").read_text("utf-8"))
        doc["data"] = doc["data"][:2]
        if lang == "en":  # an answer_start off by one: found nearby, counted
            doc["data"][0]["paragraphs"][0]["qas"][1]["answers"][0]["answer_start"] += 1
        if lang == "de":
            doc["data"][0]["paragraphs"][0]["qas"][0]["id"] = "not-in-english"
            doc["data"][1]["paragraphs"].pop(1)
        (small / f"xquad.{lang}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return small


def test_injected_inconsistencies_are_counted_and_warned(source, tmp_path, caplog):
    small = _small_source(source, tmp_path)
    en = json.loads((small / "xquad.en.json").read_text("utf-8"))
    first_qid = en["data"][0]["paragraphs"][0]["qas"][0]["id"]
    dropped = [q["id"] for q in en["data"][1]["paragraphs"][1]["qas"]]
    n_en = sum(len(p["qas"]) for a in en["data"] for p in a["paragraphs"])
    with caplog.at_level(logging.WARNING, logger="xqg_pyserini.data"):
        stats = convert_xquad(small, tmp_path / "out", oracle_folds=3, seed=1)
    bad = stats["inconsistencies"]["de"]
    assert bad["question_not_in_english"] == {"count": 1, "examples": ["not-in-english"]}
    assert bad["english_question_not_in_language"]["count"] == 1 + len(dropped)
    assert bad["english_question_not_in_language"]["examples"][0] == first_qid
    assert bad["context_translation_missing"] == {"count": 1, "examples": ["xquad-a1-p1"]}
    # the de paragraph of a0-p0 holds a question id English does not have there
    assert bad["context_question_ids_differ"] == {"count": 1, "examples": ["xquad-a0-p0"]}
    second_qid = en["data"][0]["paragraphs"][0]["qas"][1]["id"]
    assert stats["inconsistencies"]["en"] == {"answer_offset_mismatch": {"count": 1, "examples": [second_qid]}}
    assert stats["coverage"]["de"]["pg"]["missing"] == 1
    assert stats["per_language"]["de"]["topics"] == n_en - 1 - len(dropped)
    assert stats["license"] == "Some License 1.0"
    topics = read_topics(tmp_path / "out" / "topics.de.tsv")
    assert f"de-{first_qid}" not in topics and "de-not-in-english" not in topics
    assert len(read_topics(tmp_path / "out" / "topics.en.tsv")) == n_en
    assert len(stats["warnings"]) == 5
    logged = [r.getMessage() for r in caplog.records]
    assert logged == stats["warnings"] and any("not-in-english" in m for m in logged)
    pg = [json.loads(l) for l in (tmp_path / "out" / "oracle" / "pg.jsonl").read_text("utf-8").splitlines()]
    assert [r["docid"] for r in pg] == [f"xquad-a{a}-p{p}" for a, art in enumerate(en["data"])
                                        for p in range(len(art["paragraphs"])) if (a, p) != (1, 1)]


def test_language_selection_and_errors(source, tmp_path):
    stats = convert_xquad(source, tmp_path / "de", languages=["de"], oracle_folds=2)
    assert stats["languages"] == ["de", "en"]
    assert sorted(p.name for p in (tmp_path / "de").glob("topics.*.tsv")) == ["topics.de.tsv", "topics.en.tsv"]
    with pytest.raises(InputError, match="language.*xx.*not in the source"):
        convert_xquad(source, tmp_path / "x", languages=["xx"])
    with pytest.raises(InputError, match="no English file"):
        empty = tmp_path / "empty"
        empty.mkdir()
        convert_xquad(empty, tmp_path / "x")
    with pytest.raises(InputError, match="passage_words"):
        convert_xquad(source, tmp_path / "x", passage_words=0)
    with pytest.raises(InputError, match="at least 2 folds"):
        convert_xquad(source, tmp_path / "x", oracle_folds=1)
    assert not (tmp_path / "x").exists()


def test_url_failure_is_a_clear_error(tmp_path):
    # nothing listens on port 9 of localhost: the download fails at once, without a network
    pattern = r"cannot download http://127\.0\.0\.1:9/xquad/xquad\.(de|en)\.json .*pass their directory"
    with pytest.raises(InputError, match=pattern):
        convert_xquad("http://127.0.0.1:9/xquad", tmp_path / "out", languages=["de"])
    assert not (tmp_path / "out").exists()


def test_url_source_downloads_the_files(source, tmp_path):
    small = _small_source(source, tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(small)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        stats = convert_xquad(url, tmp_path / "from-url", languages=["de"], oracle_folds=3)
    finally:
        server.shutdown()
        server.server_close()
    local = convert_xquad(small, tmp_path / "from-dir", languages=["de"], oracle_folds=3)
    assert stats["source"] == url and stats["license"] == "Some License 1.0"
    assert {k: v for k, v in stats.items() if k != "source"} == {k: v for k, v in local.items() if k != "source"}
    for name in ("corpus.jsonl", "topics.tsv", "qrels.txt", "answers.jsonl", "oracle/pg.jsonl"):
        assert (tmp_path / "from-url" / name).read_bytes() == (tmp_path / "from-dir" / name).read_bytes()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
