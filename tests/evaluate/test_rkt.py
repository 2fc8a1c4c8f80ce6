"""R@kt: hand-computed cases, equality with the official algorithm, files, bad input, offline NLTK."""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import warnings

import pytest

from helpers import write_jsonl
from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate import nltk_data
from xqg_pyserini.evaluate.rkt import (RktEvaluator, RktWarning, _official_reference, evaluate_rkt, evaluate_rkt_predictions,
                                       max_tokens_for, parse_rkt)
from xqg_pyserini.io.answers import (Answer, Prediction, build_predictions, read_answers, read_predictions,
                                     write_predictions)
from xqg_pyserini.io.corpus import read_corpus

# k = 0.005 is 5 tokens: small enough to count by hand.
CORPUS = {
    "a": "a1 a2 a3",
    "b": "b1 b2",
    "c": "c1 c2 c3",
    "punct": "Hello, world.",
    "blank": "",
}


def run_of(rankings: dict[str, list[str]]) -> dict[str, list[tuple[str, float]]]:
    return {qid: [(docid, float(-rank)) for rank, docid in enumerate(docids)] for qid, docids in rankings.items()}


def answers_of(rows: dict[str, tuple[str, list[str]]]) -> dict[str, Answer]:
    return {qid: Answer(lang=lang, answers=tuple(texts)) for qid, (lang, texts) in rows.items()}


def one_query(ranking: list[str], answers: list[str], k: float) -> int | None:
    result = evaluate_rkt(run_of({"q": ranking}), CORPUS, answers_of({"q": ("ja", answers)}), ks=[k])
    return next(iter(result.values())).per_query.get("q")


@pytest.mark.parametrize("answer, k, hit", [
    ("b2", 0.005, 1),     # 3 + 2 tokens: the 5th token is the last one kept
    ("c1", 0.005, 0),     # the next passage is never reached
    ("b2", 0.004, 0),     # cut inside passage b
    ("b1", 0.004, 1),
    ("a3 b1", 0.005, 1),  # passages are joined by one space, so answers may span them
    ("a", 0.001, 1),      # substring, not token match
    ("a2", 0.001, 0),
    ("A1", 0.005, 0),     # case-sensitive, no normalization
    ("c3", 0.008, 1),     # exactly 8 tokens in all
    ("c3", 0.05, 1),      # fewer tokens than asked for: everything retrieved counts
])
def test_token_budget_by_hand(answer, k, hit):
    assert one_query(["a", "b", "c"], [answer], k) == hit


def test_tokens_are_nltk_words_joined_by_spaces():
    assert one_query(["punct"], ["Hello, world"], 2) == 0  # the text searched is "Hello , world ."
    assert one_query(["punct"], ["Hello , world ."], 2) == 1


def test_passage_without_tokens_adds_no_space():
    assert one_query(["a", "blank", "b"], ["a3 b1"], 2) == 1


def test_yes_no_answers_are_skipped_case_sensitively():
    answers = answers_of({
        "only-yes-no": ("ja", ["yes", "no"]),
        "capital-yes": ("ja", ["Yes"]),       # a span answer: searched for, and missed
        "span-and-no": ("ja", ["no", "b1"]),
        "all-skipped-lang": ("fi", ["no"]),
    })
    run = run_of({qid: ["a", "b"] for qid in answers})
    result = evaluate_rkt(run, CORPUS, answers, ks=[2])["R@2kt"]
    assert result.per_query == {"capital-yes": 0, "span-and-no": 1}
    assert result.skipped == 2
    assert result.counts == {"ja": 2} and result.per_lang == {"ja": 50.0}  # fi has nothing counted: dropped
    assert result.macro == 50.0


def test_macro_average_over_languages():
    answers = answers_of({
        "ja1": ("ja", ["a1"]), "ja2": ("ja", ["zz"]),
        "ar1": ("ar", ["b1"]), "ar2": ("ar", ["zz"]), "ar3": ("ar", ["zz"]),
    })
    result = evaluate_rkt(run_of({qid: ["a", "b"] for qid in answers}), CORPUS, answers)
    for name in ("R@2kt", "R@5kt"):
        assert result[name].per_lang == {"ja": 50.0, "ar": (1 / 3) * 100}
        assert result[name].counts == {"ja": 2, "ar": 3} and result[name].hits == {"ja": 1, "ar": 1}
        assert result[name].macro == statistics.mean([50.0, (1 / 3) * 100])
    assert result["R@2kt"].max_tokens == 2000 and result["R@5kt"].max_tokens == 5000


def test_parse_rkt():
    assert parse_rkt("R@2kt") == 2.0
    assert parse_rkt("R@0.5kt") == 0.5 and max_tokens_for(0.5) == 500
    assert parse_rkt("r@5KT") == 5.0
    for other in ("R@100", "nDCG@10", "R@kt", "R@2k"):
        assert parse_rkt(other) is None
    for bad in ("R@0kt", "R@0.0005kt"):
        with pytest.raises(InputError, match="whole number of tokens"):
            parse_rkt(bad)


def random_case(rng: random.Random, texts: dict[str, str], queries: int, hits: int):
    """A random run over ``texts`` with answers cut from the texts (hits and misses), some yes/no."""
    docids = list(texts)
    words = [word for text in texts.values() for word in text.split()]
    run, answers = {}, {}
    for number in range(queries):
        qid = f"q{number}"
        run[qid] = [(docid, 1.0 / (rank + 1)) for rank, docid in enumerate(rng.sample(docids, min(hits, len(docids))))]
        start = rng.randrange(len(words) - 3)
        candidates = [" ".join(words[start:start + rng.randint(1, 3)]), rng.choice(words).upper(),
                      rng.choice(words)[1:], "yes", "no"]
        answers[qid] = Answer(lang=rng.choice(["ar", "bn", "fi", "ja"]),
                              answers=tuple(answer for answer in rng.sample(candidates, rng.randint(1, 3)) if answer))
    return run, answers


def xquad_contexts(data_dir) -> dict[str, str]:
    data = json.loads((data_dir / "xquad" / "xquad.en.json").read_text("utf-8"))
    paragraphs = [p["context"] for article in data["data"] for p in article["paragraphs"]]
    return {f"xquad-{number}": text for number, text in enumerate(paragraphs)}


@pytest.mark.parametrize("source, queries, hits", [("demo", 50, 30), ("xquad", 60, 60)])
def test_equals_official_algorithm_on_random_runs(source, queries, hits, data_dir):
    from xqg_pyserini.data import demo_dir

    if source == "demo":
        texts = {p.docid: p.contents for p in read_corpus(demo_dir() / "corpus.jsonl")}
    else:
        texts = xquad_contexts(data_dir)
    run, answers = random_case(random.Random(7), texts, queries, hits)
    ks = (0.1, 0.5, 2, 5)
    fast = evaluate_rkt(run, texts, answers, ks=ks)
    predictions = build_predictions(run, texts, answers)
    official = {result.name: result for result in (_official_reference(predictions, answers, k) for k in ks)}
    assert fast == official
    assert 0 < fast["R@0.1kt"].macro < fast["R@5kt"].macro < 100  # the random case holds hits and misses
    assert fast["R@2kt"].skipped > 0


def test_prediction_file_round_trip(tmp_path):
    answers = answers_of({"q1": ("ja", ["b1"]), "q2": ("ar", ["c3"])})
    run = run_of({"q1": ["a", "b", "c"], "q2": ["c", "punct", "a"]})
    path = tmp_path / "predictions.json"
    write_predictions(run, CORPUS, answers, path, hits=2)
    rows = json.loads(path.read_text("utf-8"))
    assert rows == [{"id": "q1", "lang": "ja", "ctxs": ["a1 a2 a3", "b1 b2"]},
                    {"id": "q2", "lang": "ar", "ctxs": ["c1 c2 c3", "Hello, world."]}]
    predictions = read_predictions(path)
    assert predictions == build_predictions(run, CORPUS, answers, hits=2)
    from_file = evaluate_rkt_predictions(predictions, answers)
    truncated = {qid: ranked[:2] for qid, ranked in run.items()}
    assert from_file == evaluate_rkt(truncated, CORPUS, answers)


def test_answers_reader_loads_xor_tydi_rows(tmp_path):
    path = write_jsonl(tmp_path / "xor_dev.jsonl", [
        {"id": "-801750", "question": "東京の人口は？", "answers": ["13 million"], "lang": "ja"},
        {"id": 42, "lang": "fi", "answers": ["yes"]},
    ])
    assert read_answers(path) == {"-801750": Answer("ja", ("13 million",)), "42": Answer("fi", ("yes",))}


@pytest.mark.parametrize("rows, line, needle", [
    ([{"id": "a", "lang": "ja", "answers": ["x"]}, '{"id": "b", '], 2, "malformed JSON"),
    ([{"id": "a", "answers": ["x"]}], 1, "missing field 'lang'"),
    ([{"id": "a", "lang": "ja"}], 1, "missing field 'answers'"),
    ([{"lang": "ja", "answers": ["x"]}], 1, "missing field 'id'"),
    ([{"id": "a", "lang": "ja", "answers": ["x"]}, {"id": "a", "lang": "ar", "answers": ["y"]}], 2,
     "duplicate id 'a' (first on line 1)"),
    ([{"id": "a", "lang": "ja", "answers": "x"}], 1, "must be a list of strings"),
    ([{"id": "a", "lang": "ja", "answers": ["x", 3]}], 1, "must be a list of strings"),
    ([{"id": "a", "lang": "ja", "answers": [" "]}], 1, "empty answer"),
])
def test_answers_errors_name_file_and_line(tmp_path, rows, line, needle):
    path = write_jsonl(tmp_path / "answers.jsonl", rows)
    with pytest.raises(InputError) as err:
        read_answers(path)
    assert err.value.line == line and needle in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}:")


@pytest.mark.parametrize("content, needle", [
    ('{"id": "q"}', "expected a JSON list"),
    ('[{"id": "q", "lang": "ja"}]', "item 0: missing field 'ctxs'"),
    ('[{"id": "q", "lang": "ja", "ctxs": [{"text": "x"}]}]', "'ctxs' must be a list of passage texts"),
    ('[{"id": "q", "lang": "ja", "ctxs": []}, {"id": "q", "lang": "ja", "ctxs": []}]', "item 1: duplicate id 'q'"),
    ('[{"id": "q", ', "malformed JSON"),
    ("[]", "empty"),
])
def test_prediction_file_errors(tmp_path, content, needle):
    path = tmp_path / "predictions.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_predictions(path)
    assert needle in str(err.value) and str(err.value).startswith(str(path))


def test_bad_runs_are_errors():
    answers = answers_of({"q1": ("ja", ["a1"]), "q2": ("ja", ["yes"])})
    with pytest.raises(InputError, match="run is empty"):
        evaluate_rkt({}, CORPUS, answers)
    run = run_of({"q1": ["a", "gone", "b", "gone2"], "q2": ["gone"]})
    with pytest.raises(InputError) as err:
        evaluate_rkt(run, CORPUS, answers)
    assert err.value.docid == "gone"
    assert "3 ranked passages of 2 queries are absent from the corpus (first: query 'q1')" in str(err.value)
    with pytest.raises(InputError, match="no query to score"), pytest.warns(RktWarning):
        evaluate_rkt(run_of({"q2": ["a"]}), CORPUS, answers)


def test_mismatched_queries_warn_and_follow_the_official_script():
    answers = answers_of({"q1": ("ja", ["a1"]), "q2": ("ja", ["zz"]), "unretrieved": ("ja", ["zz"])})
    run = run_of({"q1": ["a"], "q2": ["b"], "stray": ["c"]})
    with pytest.warns(RktWarning) as caught:
        result = evaluate_rkt(run, CORPUS, answers, ks=[2])["R@2kt"]
    messages = [str(w.message) for w in caught]
    assert any("1 of 3 queries of the run have no answers entry" in m and "'stray'" in m for m in messages)
    assert any("1 of 3 answered queries are absent from the run" in m and "'unretrieved'" in m for m in messages)
    # "stray" is ignored and "unretrieved" is not counted as a miss: 1 hit of 2.
    assert result.per_query == {"q1": 1, "q2": 0} and result.per_lang == {"ja": 50.0}
    assert result.not_in_answers == 1 and result.not_in_run == 1
    official = _official_reference(build_predictions({q: run[q] for q in ("q1", "q2")}, CORPUS, answers), answers, 2)
    assert (official.per_query, official.macro) == (result.per_query, result.macro)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate_rkt({q: run[q] for q in ("q1", "q2")}, CORPUS, {q: answers[q] for q in ("q1", "q2")})


# NLTK's documented outputs of its English word_tokenize (nltk/test/tokenize.doctest and the
# nltk.tokenize docstring), which exercise Punkt's sentence splitting.
NLTK_DOCUMENTED = [
    ("I called Dr. Jones. I called Dr. Jones.",
     ["I", "called", "Dr.", "Jones", ".", "I", "called", "Dr.", "Jones", "."]),
    ("Ich muss unbedingt daran denken, Mehl, usw. fur einen Kuchen einzukaufen. Ich muss.",
     ["Ich", "muss", "unbedingt", "daran", "denken", ",", "Mehl", ",", "usw", ".", "fur", "einen", "Kuchen",
      "einzukaufen", ".", "Ich", "muss", "."]),
    ("Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\n\nThanks.",
     ["Good", "muffins", "cost", "$", "3.88", "in", "New", "York", ".", "Please", "buy", "me", "two", "of", "them",
      ".", "Thanks", "."]),
    ("It's more'n enough.", ["It", "'s", "more", "'n", "enough", "."]),
]


@pytest.fixture
def fresh_nltk(tmp_path, monkeypatch):
    """An empty $XQG_CACHE, a private nltk.data.path and no network: only our punkt_tab can load."""
    import nltk
    import nltk.data
    from nltk.tokenize import _get_punkt_tokenizer

    def no_download(*args, **kwargs):
        raise AssertionError("nltk.download called")

    monkeypatch.setenv("XQG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(nltk, "download", no_download)
    monkeypatch.setattr(nltk.data, "path", [])
    monkeypatch.setattr(nltk_data, "_ready_dir", None)
    _get_punkt_tokenizer.cache_clear()
    yield tmp_path / "cache" / "nltk_data"
    _get_punkt_tokenizer.cache_clear()


def test_word_tokenize_offline_matches_nltk_documented_output(fresh_nltk):
    import nltk

    with pytest.raises(LookupError):
        nltk.word_tokenize("No model yet. None at all.")
    for text, tokens in NLTK_DOCUMENTED:
        assert nltk_data.word_tokenize(text) == tokens
        assert nltk.word_tokenize(text) == tokens
    model_dir = fresh_nltk / "tokenizers" / "punkt_tab" / "english"
    assert sorted(p.name for p in model_dir.iterdir()) == ["abbrev_types.txt", "collocations.tab",
                                                          "ortho_context.tab", "sent_starters.txt"]


def test_punkt_tab_files_round_trip_through_nltk_loader(fresh_nltk):
    from nltk.data import FileSystemPathPointer
    from nltk.tokenize.punkt import load_punkt_params
    from punkt.data import load_module

    nltk_data.ensure_punkt()
    params = load_punkt_params(FileSystemPathPointer(str(fresh_nltk / "tokenizers" / "punkt_tab" / "english")))
    model = load_module("english")
    assert params.abbrev_types == set(model.ABBREV_TYPES) and ". . " in params.abbrev_types
    assert params.sent_starters == set(model.SENT_STARTERS)
    assert params.collocations == set(model.COLLOCATIONS)
    assert dict(params.ortho_context) == dict(model.ORTHO_CONTEXT)
    assert {"dr", "mr", "u.s", "inc"} <= params.abbrev_types
    # A second call rewrites nothing; a damaged file is repaired.
    target = fresh_nltk / "tokenizers" / "punkt_tab" / "english" / "sent_starters.txt"
    stamp = target.stat().st_mtime_ns
    nltk_data._ready_dir = None
    nltk_data.ensure_punkt()
    assert target.stat().st_mtime_ns == stamp
    target.write_text("broken", encoding="utf-8")
    nltk_data._ready_dir = None
    nltk_data.ensure_punkt()
    assert target.read_text("utf-8") == "\n".join(sorted(model.SENT_STARTERS))


def test_import_has_no_side_effects(tmp_path):
    # NLTK's own search path (it includes sys.prefix/nltk_data, inside a checkout's .venv) is left
    # as it was, and the resource is not written: both wait for the first R@kt evaluation.
    code = ("import nltk.data, sys; before = list(nltk.data.path);"
            "import xqg_pyserini.evaluate.rkt, xqg_pyserini.evaluate.nltk_data, xqg_pyserini.io.answers;"
            "sys.exit(nltk.data.path != before)")
    env = {"XQG_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert not (tmp_path / "cache").exists()


def test_missing_miss_counts_unretrieved_queries_as_misses():
    answers = answers_of({"q1": ("ja", ["a1"]), "q2": ("ja", ["zz"]), "unretrieved": ("ja", ["zz"])})
    run = run_of({"q1": ["a"], "q2": ["b"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left out, nothing to warn about
        result = RktEvaluator(CORPUS, answers).evaluate(run, ks=[2], missing="miss")["R@2kt"]
    assert result.per_query == {"q1": 1, "q2": 0, "unretrieved": 0}
    assert result.per_lang == {"ja": pytest.approx(100 / 3)}
    # what the official script reports when the query is in the prediction file with no passages
    predictions = build_predictions(run, CORPUS, answers) + [Prediction("unretrieved", "ja", [])]
    official = _official_reference(predictions, answers, 2)
    assert (official.per_query, official.macro) == (result.per_query, result.macro)
    with pytest.raises(ValueError, match="'skip' or 'miss'"):
        RktEvaluator(CORPUS, answers).evaluate(run, missing="zero")
