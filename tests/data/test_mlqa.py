"""MLQA-R -> retrieval set: counts, qrels, PG coverage, and the combined XQuAD + MLQA corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xqg_pyserini.data.combine import combine
from xqg_pyserini.data.mlqa import convert_mlqa
from xqg_pyserini.data.squad import read_squad
from xqg_pyserini.data.xquad import convert_xquad
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.answers import read_answers
from xqg_pyserini.io.corpus import read_corpus
from xqg_pyserini.io.generated import read_generated
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.topics import read_topics

LANGS = ["ar", "de", "en", "es", "hi", "vi", "zh"]


@pytest.fixture(scope="module")
def source(data_dir) -> Path:
    return data_dir / "mlqa-r"


@pytest.fixture(scope="module")
def mlqa(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mlqa") / "mlqa"
    convert_mlqa(source, out)
    return out


def stats_of(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text("utf-8"))


def test_counts(mlqa, source):
    stats = stats_of(mlqa)
    assert stats["languages"] == LANGS
    assert stats["contexts"] == stats["passages"] == 978
    assert stats["english_questions"] == 1148
    corpus = read_corpus(mlqa / "corpus.jsonl")
    assert len(corpus) == 978 and all(p.docid.startswith("mlqa-") for p in corpus)
    assert len(read_topics(mlqa / "topics.en.tsv")) == 1148
    union = set()
    for lang in LANGS[:2] + LANGS[3:]:
        questions = read_squad(source / f"{lang}.json", lang).questions
        topics = read_topics(mlqa / f"topics.{lang}.tsv")
        assert 450 < len(topics) == len(questions) < 600  # "~500", all linked to English
        assert stats["per_language"][lang]["topics"] == len(questions)
        union |= set(questions)
    assert len(union) == 1148  # every English question is asked in some other language
    assert stats["inconsistencies"] == {} and stats["warnings"] == []
    assert len(read_answers(mlqa / "answers.jsonl")) == len(read_topics(mlqa / "topics.tsv")) \
        == stats["totals"]["topics"]
    assert stats["license"].startswith("Attribution-NonCommercial 4.0")


def test_qrels_and_answers_are_english(mlqa, source):
    en = read_squad(source / "en.json", "en")
    contents = {p.docid: p.contents for p in read_corpus(mlqa / "corpus.jsonl")}
    answers = read_answers(mlqa / "answers.jsonl")
    qrels = read_qrels(mlqa / "qrels.txt")
    for qid, judged in qrels.items():
        lang, question_id = qid.split("-", 1)
        question = en.questions[question_id]
        (docid,) = judged
        for answer in question.answers:
            assert contents[docid][answer.start:answer.start + len(answer.text)] == answer.text
        assert answers[qid].answers == tuple(a.text for a in question.answers)
        assert answers[qid].lang == lang


def test_pg_oracle_coverage(mlqa, source):
    en = read_squad(source / "en.json", "en")
    stats = stats_of(mlqa)
    pg = {t.docid: {} for t in read_generated(mlqa / "oracle" / "pg.jsonl", field="generated_passages")}
    for t in read_generated(mlqa / "oracle" / "pg.jsonl", field="generated_passages"):
        pg[t.docid].setdefault(t.lang, []).append(t.text)
    qrels = read_qrels(mlqa / "qrels.en.txt")
    for lang in ["ar", "de", "es", "hi", "vi", "zh"]:
        other = read_squad(source / f"{lang}.json", lang)
        covered = set()
        for qid, question in other.questions.items():
            (docid,) = qrels[f"en-{qid}"]
            covered.add(docid)
            assert other.paragraphs[question.paragraph].context in pg[docid][lang]
        assert sum(1 for by_lang in pg.values() if lang in by_lang) == len(covered)
        cov = stats["coverage"][lang]
        assert cov["pg"]["covered"] == len(covered) == stats["oracle"]["pg"]["by_language"][lang]
        assert cov["pg"]["coverage"] == round(len(covered) / 978, 4)
        assert 0.3 < cov["pg"]["coverage"] < 0.6  # aligned for part of the passages only
        assert cov["translated_questions"] == len(other.questions)
        assert cov["pg"]["aligned"] + cov["pg"]["partial"] + cov["pg"]["multiple"] == len(covered)
    assert len(en.paragraphs) == 978


def test_combined_corpus(mlqa, data_dir, tmp_path):
    xquad = tmp_path / "xquad"
    convert_xquad(data_dir / "xquad", xquad)
    out = tmp_path / "combined"
    stats = combine([xquad, mlqa], out)
    corpus = read_corpus(out / "corpus.jsonl")  # raises on a duplicate docid
    assert len(corpus) == 240 + 978 == stats["passages"]
    assert {p.docid.split("-")[0] for p in corpus} == {"xquad", "mlqa"}
    topics = read_topics(out / "topics.tsv")
    qrels = read_qrels(out / "qrels.txt")
    answers = read_answers(out / "answers.jsonl")
    assert set(topics) == set(qrels) == set(answers)
    assert len(topics) == 1190 * 11 + stats_of(mlqa)["totals"]["topics"]
    assert len(read_topics(out / "topics.el.tsv")) == 1190  # XQuAD only
    assert len(read_topics(out / "topics.de.tsv")) == 1190 + stats_of(mlqa)["per_language"]["de"]["topics"]
    docids = {p.docid for p in corpus}
    assert all(set(judged) <= docids for judged in qrels.values())
    folds = json.loads((out / "oracle" / "qg" / "folds.json").read_text("utf-8"))
    assert folds["k"] == 5 and len(folds["fold_of"]) == 1190 + 1148
    for f in range(5):
        generated = read_generated(out / "oracle" / "qg" / f"fold-{f}.jsonl")
        assert {t.docid for t in generated} <= docids
        assert {t.docid.split("-")[0] for t in generated} == {"xquad", "mlqa"}
    assert "xquad" in stats["datasets"] and "mlqa" in stats["datasets"]
    readme = (out / "README.md").read_text("utf-8")
    assert "Attribution-NonCommercial" in readme and "ShareAlike" in readme
    # the same dataset twice, or different fold counts, are refused
    with pytest.raises(InputError, match="twice"):
        combine([xquad, xquad], tmp_path / "bad")
    other = tmp_path / "xquad3"
    convert_xquad(data_dir / "xquad", other, oracle_folds=3, languages=["de"])
    with pytest.raises(InputError, match="different fold counts"):
        combine([other, mlqa], tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_deterministic_with_splits(source, tmp_path):
    a = tmp_path / "a" / "mlqa"
    b = tmp_path / "b" / "mlqa"
    convert_mlqa(source, a, passage_words=100, seed=3)
    convert_mlqa(source, b, passage_words=100, seed=3)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    stats = stats_of(a)
    assert stats["passages"] > 978 and stats["splits"]["contexts_split"] > 0
    # every passage id is a context id plus the piece number
    assert all(p.docid.rsplit("-", 1)[1].isdigit() for p in read_corpus(a / "corpus.jsonl"))
