"""evaluate() -> Report: measures, scoring TREC runs and prediction JSON, tests, tables, the footnote."""
import json
import random

import pytest

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import (IrMeasure, Judgements, RktMeasure, Scores, parse_measures, score,
                                            score_run)
from xqg_pyserini.evaluate.report import Report, evaluate, language_of, run_name, score_files
from xqg_pyserini.evaluate.rkt import evaluate_rkt
from xqg_pyserini.evaluate.significance import SignificanceSettings, compare, correct_comparisons
from xqg_pyserini.evaluate.tables import leaderboard
from xqg_pyserini.io.answers import Answer, write_predictions
from xqg_pyserini.io.runs import write_run

LANGS = ("ar", "fi", "ja")
CORPUS = {f"d{i}": f"filler words number {i} about the topic here answer{i} ." for i in range(12)}
QRELS = {f"{lang}-{n}": {f"d{n % 12}": 1} for lang in LANGS for n in range(12)}
ANSWERS = {qid: Answer(qid.split("-")[0], (f"answer{int(qid.split('-')[1]) % 12}",)) for qid in QRELS}
FAST = SignificanceSettings(permutations=500)


def ranking(qid: str, first: bool) -> list[tuple[str, float]]:
    """The relevant passage first, or third behind two others."""
    target = next(iter(QRELS[qid]))
    others = [d for d in CORPUS if d != target][:5]
    docids = [target, *others] if first else [*others[:2], target, *others[2:]]
    return [(docid, 10.0 - rank) for rank, docid in enumerate(docids)]


def make_runs() -> dict[str, dict]:
    rng = random.Random(3)
    good = {qid: ranking(qid, first=not qid.startswith("fi") or rng.random() < 0.5) for qid in QRELS}
    bad = {qid: ranking(qid, first=rng.random() < 0.2) for qid in QRELS}
    return {"bad": bad, "good": good, "same": dict(bad)}


def judgements(**kwargs) -> Judgements:
    return Judgements(**{"qrels": QRELS, "answers": ANSWERS, "corpus": CORPUS, **kwargs})


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(make_runs(), "MRR@10 R@1 R@0.01kt", judgements(), baseline="bad", settings=FAST)


# ----------------------------------------------------------------------------- measures


def test_parse_measures_kinds_and_what_they_need():
    measures = parse_measures("MRR@10, R@2kt nDCG@10 r@0.5KT")
    assert [type(m) for m in measures] == [IrMeasure, RktMeasure, IrMeasure, RktMeasure]
    assert [m.name for m in measures] == ["MRR@10", "R@2kt", "nDCG@10", "r@0.5KT"]
    assert measures[3].k == 0.5 and measures[1].macro and not measures[0].macro
    assert measures[0].needs == ("qrels",) and measures[1].needs == ("answers", "corpus")
    assert measures[1].on_texts and not measures[0].on_texts
    assert parse_measures(measures) == measures  # parsed measures pass through


@pytest.mark.parametrize("names, message", [
    ("MRR@10 Bogus@3", "unknown metric 'Bogus@3'"),
    ("R@0.0001kt", "whole number of tokens"),
    ("", "no metrics given"),
])
def test_parse_errors_name_the_metric(names, message):
    with pytest.raises(InputError, match=message):
        parse_measures(names)


@pytest.mark.parametrize("missing, metrics, flag", [
    ("qrels", "MRR@10 R@1", "--qrels is needed for MRR@10, R@1"),
    ("answers", "MRR@10 R@2kt", "--answers is needed for R@2kt"),
    ("corpus", "R@2kt", "--corpus is needed for R@kt of a TREC run"),
])
def test_a_missing_judgement_names_its_flag(missing, metrics, flag):
    with pytest.raises(InputError, match=flag):
        score("good", make_runs()["good"], parse_measures(metrics), judgements(**{missing: None}))


def test_ir_measures_and_rkt_in_one_scores():
    run = make_runs()["good"]
    scores = score("good", run, parse_measures("R@0.01kt MRR@10"), judgements())
    assert list(scores.mean) == ["MRR@10", "R@0.01kt"]  # ir-measures first, as scores.json has always had
    assert scores.mean["MRR@10"] == score_run("good", run, QRELS, ["MRR@10"]).mean["MRR@10"]
    expected = evaluate_rkt(run, CORPUS, ANSWERS, ks=[0.01])["R@0.01kt"]
    assert scores.mean["R@0.01kt"] == expected.macro  # macro over languages, in percent
    assert scores.per_query["R@0.01kt"] == {qid: float(hit) for qid, hit in expected.per_query.items()}
    per_query, aggregate = parse_measures("MRR@10")[0].calc(run, judgements())
    assert per_query == scores.per_query["MRR@10"] and aggregate == scores.mean["MRR@10"]


def test_aliases_of_one_ir_measure_each_get_its_values():
    scores = score_run("good", make_runs()["good"], QRELS, ["MRR@10", "RR@10"])
    assert scores.per_query["MRR@10"] == scores.per_query["RR@10"] and scores.mean["MRR@10"] > 0.5


def test_unjudged_run_queries_are_an_error():
    with pytest.raises(InputError, match="1 of 1 queries are absent from the qrels"):
        score_run("r", {"xx-1": [("d1", 1.0)]}, QRELS, ["MRR@10"])


def test_passages_are_tokenized_once_across_runs():
    judged, runs, measures = judgements(), make_runs(), parse_measures("R@0.01kt R@2kt")
    score("bad", runs["bad"], measures, judged)
    cache = judged.rkt_evaluator().cache
    assert len(cache) == len(CORPUS)  # R@2kt reads every ranked passage
    calls, tokenize = [], cache._tokenize
    cache._tokenize = lambda text: calls.append(text) or tokenize(text)
    for name, run in runs.items():
        score(name, run, measures, judged)
    assert calls == [] and judged.rkt_evaluator().cache is cache


# ----------------------------------------------------------------------------- files


def test_trec_runs_and_prediction_json_score_alike(tmp_path):
    runs = make_runs()
    write_run(runs["good"], tmp_path / "good.trec", tag="good")
    write_predictions(runs["good"], CORPUS, ANSWERS, tmp_path / "good-pred.json")
    from_run, from_json = score_files([tmp_path / "good.trec", tmp_path / "good-pred.json"], "R@0.01kt R@2kt",
                                      judgements())
    assert (from_run.name, from_json.name) == ("good", "good-pred")
    assert from_run.mean == from_json.mean and from_run.per_query == from_json.per_query
    with pytest.raises(InputError, match="good-pred.json: a prediction file has passage texts"):
        score_files([tmp_path / "good-pred.json"], "MRR@10 R@2kt", judgements())
    # predictions need no corpus
    assert score_files([tmp_path / "good-pred.json"], "R@2kt", judgements(corpus=None))[0].mean == {
        "R@2kt": from_json.mean["R@2kt"]}


def test_evaluate_files_with_the_baseline_given_as_a_path(tmp_path):
    for name, run in make_runs().items():
        write_run(run, tmp_path / f"{name}.trec", tag=name)
    paths = [tmp_path / f"{name}.trec" for name in ("bad", "good")]
    report = evaluate(paths, "MRR@10", judgements(), baseline=str(paths[0]), settings=FAST)
    assert report.baseline == "bad" and list(report.scores) == ["bad", "good"]
    with pytest.raises(InputError, match=r"--baseline 'nope.trec' is not among the runs \(bad, good\)"):
        evaluate(paths, "MRR@10", judgements(), baseline="nope.trec")
    assert run_name("x/a.run") == "a" and run_name("x/a.b") == "a.b"


def test_language_of_prefers_the_answers():
    lang = language_of({"q1": Answer("sw", ("x",))}, separator="_")
    assert (lang("q1"), lang("te_7"), lang("plain")) == ("sw", "te", "all")


# ----------------------------------------------------------------------------- report


def test_tests_use_the_measures_aggregate(report):
    plain, others = report.scores["bad"], list(report.scores.values())
    lang = language_of(ANSWERS)
    assert report.comparisons() == compare(plain, others, report.metrics, settings=FAST,
                                           macro={"R@0.01kt": lang})
    assert report.comparisons(per_lang=True) == compare(plain, others, report.metrics, settings=FAST, by_lang=lang)
    assert [(c.run, c.metric) for c in report.comparisons()][:3] == [("good", "MRR@10"), ("good", "R@1"),
                                                                     ("good", "R@0.01kt")]


def test_tables_render_subsets_marked_by_the_whole_family():
    holm = SignificanceSettings(permutations=500, correction="holm")
    report = evaluate(make_runs(), "MRR@10 R@0.01kt", judgements(), baseline="bad", settings=holm)
    scores = list(report.scores.values())
    every = correct_comparisons(report.comparisons(), "holm")  # the whole table is the family
    assert report.table() == leaderboard(scores, report.metrics, baseline="bad", tests=every)
    subset = report.table("json", runs=["good", "bad"], metrics=["R@0.01kt"])
    document = json.loads(subset)
    assert [row["run"] for row in document["rows"]] == ["good", "bad"] and document["metrics"] == ["R@0.01kt"]
    # Holm within the table shown: its comparisons are good and mixed on R@0.01kt, not the 2 x 2 of the report
    shown = correct_comparisons([c for c in report.comparisons() if c.metric == "R@0.01kt" and c.run == "good"],
                                "holm")
    assert document["rows"][0]["corrected_p_values"]["R@0.01kt"] == shown[0].corrected_p_value
    assert shown[0].corrected_p_value == shown[0].p_value  # one comparison: nothing to correct
    assert document["test"] == {"name": "paired two-sided Fisher randomization test", "n_permutations": 500,
                                "seed": 42, "correction": "holm", "alpha": 0.05, "cluster_by": "none",
                                "bootstrap": 10_000, "confidence": 0.95, "p_value": "(b + 1) / (n + 1)"}
    header = report.table("csv", metrics=["MRR@10"], per_lang=True).splitlines()[0]
    assert header.startswith("run,baseline,MRR@10 Ar,MRR@10 Ar p,") and "MRR@10 Avg significant" in header
    assert report.table("tex", runs=["bad"]).count(r"\\") == 2  # the header and one row
    with pytest.raises(ValueError, match="not in this report: nope, P@5"):
        report.table(runs=["nope"], metrics=["P@5"])


def test_without_a_baseline_nothing_is_tested():
    report = evaluate(make_runs(), "MRR@10", judgements())
    assert report.comparisons() == [] and "†" not in report.table() and "(baseline)" not in report.table()
    assert json.loads(report.table("json"))["test"] is None
    with pytest.raises(ValueError, match="no baseline"):
        report.footnote()


def test_footnote_once_for_both_callers(report):
    tail = ("p = (b+1)/(n+1), correction: none; 95% intervals of the difference: percentile bootstrap over "
            "queries, 10000 resamples")
    assert report.footnote() == ("† p <= 0.05 vs bad: two-sided paired Fisher randomization test, "
                                 f"500 permutations, seed 42, {tail}.")
    assert report.footnote(scope="every run and metric of the table's family") == (
        "† p <= 0.05 vs bad: two-sided paired Fisher randomization test, 500 permutations, seed 42, "
        f"{tail} (over every run and metric of the table's family). Best value per column in bold. "
        "R@0.01kt: macro average over topic languages, in percent, tested on per-query hits.")
    plain = Report(list(report.scores.values()), "MRR@10", baseline="bad", settings=FAST)
    assert plain.footnote(scope="the table").endswith("(over the table). Best value per column in bold.")


def test_report_from_scores_checks_names():
    one = Scores("a", {"MRR@10": {"q": 1.0}}, {"MRR@10": 1.0})
    with pytest.raises(ValueError, match="run names must be distinct"):
        Report([one, one], "MRR@10")
    with pytest.raises(InputError, match="--baseline 'b' is not among the runs"):
        Report([one], "MRR@10", baseline="b")
