"""Oracle generations: k-fold cross-fitted QG oracle (no question ever augments its own passage
in its own fold, in any language) and the PG oracle's alignment by question ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xqg_pyserini.data.mlqa import convert_mlqa
from xqg_pyserini.data.oracle import assign_folds, pg_rows, qg_fold_rows
from xqg_pyserini.data.squad import read_squad
from xqg_pyserini.data.xquad import convert_xquad
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.topics import read_topics


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def check_qg_oracle(out: Path) -> int:
    """Check the fold files of ``out`` from its topics, qrels and folds alone; returns queries seen."""
    folds = json.loads((out / "oracle" / "qg" / "folds.json").read_text("utf-8"))
    k, fold_of = folds["k"], folds["fold_of"]
    langs = json.loads((out / "stats.json").read_text("utf-8"))["languages"]
    topics = {lang: read_topics(out / f"topics.{lang}.tsv") for lang in langs}
    text_of = {lang: {qid.split("-", 1)[1]: text for qid, text in t.items()} for lang, t in topics.items()}
    assert set(fold_of) == set(text_of["en"])  # every English question id is in one fold
    questions_of: dict[str, list[str]] = {}
    for qid, judged in read_qrels(out / "qrels.en.txt").items():
        for docid in judged:
            questions_of.setdefault(docid, []).append(qid.split("-", 1)[1])
    seen = 0
    for f in range(k):
        got = {row["docid"]: row["generated_queries"] for row in rows(out / "oracle" / "qg" / f"fold-{f}.jsonl")}
        for docid, qids in questions_of.items():
            # the fold property: no held-out question's text (in any language, up to case) is a
            # generated query of its passage in fold f
            held = {text_of[lang][q].strip().casefold() for lang in langs for q in qids
                    if q in text_of[lang] and fold_of[q] == f}
            assert not {t.strip().casefold() for queries in got.get(docid, {}).values() for t in queries} & held
            # and every other question, in the passage's order, every language, every passage
            expected = {lang: [text_of[lang][q] for q in qids if q in text_of[lang] and fold_of[q] != f
                               and text_of[lang][q].strip().casefold() not in held]
                        for lang in langs if lang != "en"}
            expected = {lang: queries for lang, queries in expected.items() if queries}
            assert got.get(docid, {}) == expected, (f, docid)
            seen += sum(len(q) for q in expected.values())
        assert set(got) <= set(questions_of)
    return seen


def test_assign_folds():
    ids = [f"q{i}" for i in range(103)]
    folds = assign_folds(reversed(ids), 5, seed=13)
    assert folds == assign_folds(ids, 5, seed=13)  # input order does not matter
    assert list(folds) == sorted(ids)
    sizes = [list(folds.values()).count(f) for f in range(5)]
    assert sorted(sizes) == [20, 20, 21, 21, 21]
    assert folds != assign_folds(ids, 5, seed=14)
    with pytest.raises(InputError, match="at least 2 folds"):
        assign_folds(ids, 1, seed=0)


def test_qg_fold_rows_leave_out_the_fold():
    questions_of = {"p1": ["a", "b"], "p2": ["c"], "p3": []}
    texts = {"de": {"a": "A?", "b": "B?", "c": "C?"}, "ar": {"a": "ا؟"}}
    fold_of = {"a": 0, "b": 1, "c": 1}
    assert qg_fold_rows(["p1", "p2", "p3"], questions_of, texts, fold_of, 0) == [
        {"docid": "p1", "generated_queries": {"de": ["B?"]}},
        {"docid": "p2", "generated_queries": {"de": ["C?"]}},
    ]
    assert qg_fold_rows(["p1", "p2", "p3"], questions_of, texts, fold_of, 1) == [
        {"docid": "p1", "generated_queries": {"ar": ["ا؟"], "de": ["A?"]}},
    ]
    # a different question with the same text as a held-out one (up to case) is left out as well
    texts["de"]["c"] = "a? "
    questions_of["p1"].append("c")
    assert qg_fold_rows(["p1"], questions_of, texts, fold_of, 0) == [
        {"docid": "p1", "generated_queries": {"de": ["B?"]}}]
    assert pg_rows(["p1", "p2"], {"p2": {"de": ["x"], "ar": []}}) == [
        {"docid": "p2", "generated_passages": {"de": ["x"]}}]


@pytest.mark.parametrize("passage_words", [None, 100])
def test_xquad_qg_oracle_folds(data_dir, tmp_path, passage_words):
    out = tmp_path / "xquad"
    stats = convert_xquad(data_dir / "xquad", out, passage_words=passage_words)
    seen = check_qg_oracle(out)
    # every non-English question augments its passage(s) in k-1 of the k folds
    assert seen == sum(stats["oracle"]["qg"]["folds"][f"fold-{f}"]["queries"] for f in range(5))
    if passage_words is None:  # each question augments its passage in 4 of 5 folds, less same-text duplicates
        assert 0.99 * 1190 * 10 * 4 < seen < 1190 * 10 * 4
    assert stats["oracle"]["qg"]["questions_per_fold"] == [238] * 5


def test_mlqa_qg_oracle_folds(data_dir, tmp_path):
    out = tmp_path / "mlqa"
    stats = convert_mlqa(data_dir / "mlqa-r", out, oracle_folds=3, seed=7)
    seen = check_qg_oracle(out)
    translated = sum(stats["per_language"][lang]["topics"] for lang in stats["languages"] if lang != "en")
    assert 0.99 * translated * 2 < seen <= translated * 2
    folds = json.loads((out / "oracle" / "qg" / "folds.json").read_text("utf-8"))
    assert (folds["k"], folds["seed"], len(folds["fold_of"])) == (3, 7, 1148)


def test_xquad_pg_oracle_is_aligned_by_question_ids(data_dir, tmp_path):
    out = tmp_path / "xquad"
    convert_xquad(data_dir / "xquad", out)
    en = read_squad(data_dir / "xquad" / "xquad.en.json", "en")
    pg = {row["docid"]: row["generated_passages"] for row in rows(out / "oracle" / "pg.jsonl")}
    assert len(pg) == 240
    qrels = read_qrels(out / "qrels.en.txt")
    for lang in ["ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh"]:
        other = read_squad(data_dir / "xquad" / f"xquad.{lang}.json", lang)
        for qid, question in other.questions.items():
            docid = next(iter(qrels[f"en-{qid}"]))
            assert pg[docid][lang] == [other.paragraphs[question.paragraph].context]
            # and it is the translation of that passage: the same questions, in language L
            english = en.paragraphs[en.questions[qid].paragraph]
            assert set(other.paragraphs[question.paragraph].qids) == set(english.qids)
