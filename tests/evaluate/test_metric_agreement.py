"""The same runs score the same through ir-measures (score_run), ranx and Pyserini's trec_eval.

Runs: the bundled demo qrels (576 queries, one relevant passage each, 48 passages) with seeded
random rankings of 30 passages per query and distinct scores (no tie-breaking differences:
trec_eval breaks score ties by docid, ranx and ir-measures otherwise). One run leaves 5% of the
queries out, which is where the conventions differ:

- score_run counts every judged query, a missing one as 0 -- trec_eval's ``-c``.
  Without ``-c`` trec_eval averages over the queries in the run only.
- ranx refuses qrels and runs with different qids unless ``make_comparable=True``, which adds
  the missing queries with empty results (so they score 0, as ``-c``).
- MRR@10: trec_eval's ``recip_rank`` has no cutoff; ``-M 10`` (read at most 10 hits per query)
  makes it MRR@10. ranx ``mrr@10`` and ir-measures ``RR@10`` cut at 10 themselves.
- trec_eval prints 4 decimals, so it is compared to 5e-5; ranx and ir-measures to 1e-9.
"""
import os

import numpy as np
import pytest

from xqg_pyserini.data import demo_dir
from xqg_pyserini.evaluate.measures import score_run
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.runs import read_run, write_run

# ours (ir-measures) -> ranx name, trec_eval flags
METRICS = {
    "R@5": ("recall@5", ["-m", "recall.5"]),
    "R@20": ("recall@20", ["-m", "recall.20"]),
    "MRR@10": ("mrr@10", ["-M", "10", "-m", "recip_rank"]),
    "nDCG@10": ("ndcg@10", ["-m", "ndcg_cut.10"]),
}


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """qrels path, qrels, {name: run path}: a weak run and a stronger run missing 5% of the queries."""
    qrels_path = demo_dir() / "qrels.txt"
    qrels = read_qrels(qrels_path)
    docids = sorted({docid for judged in qrels.values() for docid in judged})
    rng = np.random.default_rng(2023)
    out = tmp_path_factory.mktemp("runs")
    paths = {}
    for name, boost, dropped in (("weak", 0.5, 0.0), ("strong", 2.5, 0.05)):
        run = {}
        for qid, judged in qrels.items():
            if rng.random() < dropped:
                continue
            affinity = rng.normal(size=len(docids)) + boost * np.array([d in judged for d in docids])
            top = np.argsort(-affinity)[:30]
            scores = np.sort(rng.choice(10**6, size=30, replace=False) / 1e4)[::-1]  # distinct at 4 decimals
            run[qid] = [(docids[i], float(s)) for i, s in zip(top, scores)]
        paths[name] = out / f"{name}.trec"
        write_run(run, paths[name], tag=name)
    return qrels_path, qrels, paths


@pytest.fixture(scope="module")
def trec_eval():
    """Pyserini's trec_eval wrapper: it shells out to the `java` on PATH, so put ours first."""
    from xqg_pyserini.java import ensure_jvm

    runtime = ensure_jvm()  # before any pyserini import
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{runtime.home / 'bin'}{os.pathsep}{os.environ['PATH']}")
        from pyserini.eval.trec_eval import trec_eval as pyserini_trec_eval

        def per_query(flags: list[str], qrels_path, run_path) -> dict[str, float]:
            # one measure per call: the wrapper keys its result by qid only
            args = ["trec_eval", *flags, str(qrels_path), str(run_path)]
            return pyserini_trec_eval(args, return_per_query_results="-q" in flags)

        yield per_query


@pytest.fixture(scope="module")
def ours(demo_runs):
    _, qrels, paths = demo_runs
    return {name: score_run(name, read_run(path), qrels, list(METRICS)) for name, path in paths.items()}


@pytest.mark.filterwarnings("ignore:unsafe cast")
@pytest.mark.parametrize("name", ["weak", "strong"])
def test_ir_measures_and_ranx_agree(demo_runs, ours, name):
    from ranx import Qrels, Run, evaluate

    _, qrels, paths = demo_runs
    run = Run({qid: dict(hits) for qid, hits in read_run(paths[name]).items()})
    evaluate(Qrels(qrels), run, [ranx_name for ranx_name, _ in METRICS.values()], make_comparable=True)
    for metric, (ranx_name, _) in METRICS.items():
        theirs = {qid: float(value) for qid, value in run.scores[ranx_name].items()}
        assert theirs.keys() == ours[name].per_query[metric].keys()
        assert theirs == pytest.approx(ours[name].per_query[metric], abs=1e-9), metric
        assert run.mean_scores[ranx_name] == pytest.approx(ours[name].mean[metric], abs=1e-9)


@pytest.mark.parametrize("name", ["weak", "strong"])
def test_ir_measures_and_trec_eval_agree(demo_runs, ours, trec_eval, name):
    qrels_path, _, paths = demo_runs
    for metric, (_, flags) in METRICS.items():
        theirs = trec_eval(["-c", "-q", *flags], qrels_path, paths[name])
        mean = theirs.pop("all")
        expected = ours[name].per_query[metric]
        assert set(theirs) <= set(expected)  # trec_eval lists the queries in the run
        assert theirs == pytest.approx({qid: expected[qid] for qid in theirs}, abs=5e-5), metric
        assert all(expected[qid] == 0 for qid in set(expected) - set(theirs))
        assert mean == pytest.approx(ours[name].mean[metric], abs=5e-5), metric
        assert 0.05 < mean < 0.95  # a realistic run, neither empty nor perfect


def test_missing_queries_conventions(demo_runs, ours, trec_eval):
    from ranx import Qrels, Run, evaluate

    qrels_path, qrels, paths = demo_runs
    run = read_run(paths["strong"])
    missing = set(qrels) - set(run)
    assert 0 < len(missing) < 0.1 * len(qrels)
    with_c = trec_eval(["-c", *METRICS["R@5"][1]], qrels_path, paths["strong"])
    without_c = trec_eval(METRICS["R@5"][1], qrels_path, paths["strong"])
    per_query = ours["strong"].per_query["R@5"]
    assert with_c == pytest.approx(ours["strong"].mean["R@5"], abs=5e-5)
    assert without_c == pytest.approx(sum(per_query[q] for q in run) / len(run), abs=5e-5)
    assert without_c > with_c + 0.01
    with pytest.raises(AssertionError, match="make_comparable"):
        evaluate(Qrels(qrels), Run({qid: dict(hits) for qid, hits in run.items()}), "recall@5")
