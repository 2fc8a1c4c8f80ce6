"""Fisher randomization tests against a baseline: ranx's semantics, qid alignment, corrections."""
import importlib
import itertools
import math

import numpy as np
import pytest

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import Scores
from xqg_pyserini.evaluate import permutation
from xqg_pyserini.evaluate.permutation import fisher_p_values
from xqg_pyserini.evaluate.significance import AVERAGE, SignificanceSettings, compare, correct, fisher_test


def make_scores(name: str, per_query: dict[str, dict[str, float]], scale: float = 1.0) -> Scores:
    return Scores(name, per_query, {m: scale * sum(v.values()) / len(v) for m, v in per_query.items()})


def ranx_as_python(control: np.ndarray, treatment: np.ndarray, n_permutations: int, seed: int) -> float:
    """ranx's own fisher_randomization_test run as plain Python, where its seed takes effect.

    Jitted, ranx draws in numba worker threads seeded from os.urandom, so two calls with the same
    seed differ; this is the only deterministic reading of "ranx's test with seed s".
    """
    module = importlib.import_module("ranx.statistical_tests.fisher_randomization_test")
    saved_state, saved_permute = np.random.get_state(), module.permute
    module.permute = saved_permute.py_func
    try:
        return module.fisher_randomization_test.py_func(control, treatment, n_permutations, 0.05, seed)[0]
    finally:
        module.permute = saved_permute
        np.random.set_state(saved_state)


def value_kinds(rng: np.random.Generator, n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    a = rng.random(n)
    hits = (rng.random(n) < 0.5).astype(float)
    few_flipped = hits.copy()
    few_flipped[:3] = 1 - few_flipped[:3]
    reciprocal_ranks = 1 / rng.integers(1, 11, n) * (rng.random(n) < 0.7)
    return {
        "continuous": (a, np.clip(a + rng.normal(0.03, 0.2, n), 0, 1)),
        "hits (R@kt)": (hits, (rng.random(n) < 0.6).astype(float)),
        "few differences": (hits, few_flipped),  # many exact ties with the observed difference
        "percent": (hits * 100, (rng.random(n) < 0.6) * 100.0),
        "reciprocal ranks": (reciprocal_ranks, 1 / rng.integers(1, 11, n) * (rng.random(n) < 0.7)),
    }


@pytest.mark.parametrize("n_queries", [1, 9, 60, 257])
def test_bit_for_bit_with_ranx_for_the_same_seed(n_queries, monkeypatch):
    rng = np.random.default_rng(n_queries)
    for kind, (control, treatment) in value_kinds(rng, n_queries).items():
        for seed in (42, 7):
            expected = ranx_as_python(control, treatment, 300, seed)
            assert fisher_p_values(control, treatment, 300, seed)[0] == expected, (kind, seed)
            monkeypatch.setattr(permutation, "_CHUNK_ELEMENTS", 100)  # permutations drawn in many blocks
            assert fisher_p_values(control, treatment, 300, seed)[0] == expected, (kind, seed, "blocks")
            monkeypatch.undo()


def test_identical_runs_give_p_one():
    values = {f"q{i}": v for i, v in enumerate(np.random.default_rng(0).random(40))}
    assert fisher_test(values, dict(values)) == 1.0


def test_better_on_every_query_gives_tiny_p():
    baseline = {f"q{i}": 0.2 + 0.01 * i for i in range(50)}
    better = {qid: value + 0.05 for qid, value in baseline.items()}
    # Only the two all-or-nothing swaps of the 2**50 reach the observed difference (exact p = 2**-49).
    assert fisher_test(baseline, better, n_permutations=10_000) <= 1e-4


def test_matches_exact_enumeration():
    control = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8], dtype=float)
    treatment = np.array([4, 1, 6, 0, 7, 9, 3, 6, 4, 6, 5, 9], dtype=float)
    observed = abs(treatment.sum() - control.sum())
    extreme = sum(abs(np.where(swap, control - treatment, treatment - control).sum()) >= observed
                  for swap in itertools.product([False, True], repeat=len(control)))
    exact = extreme / 2 ** len(control)
    n = 20_000
    assert fisher_p_values(control, treatment, n)[0] == pytest.approx(exact, abs=5 * math.sqrt(exact * (1 - exact) / n))


@pytest.mark.filterwarnings("ignore:unsafe cast")  # raised inside ranx's metrics while numba compiles them
def test_agrees_with_ranx_compare_within_monte_carlo_error():
    """ranx.compare's jitted test ignores its seed (see ranx_as_python), so: same p up to sampling error."""
    from ranx import Qrels, Run, compare as ranx_compare

    rng = np.random.default_rng(3)
    qrels = {f"q{i:03d}": {f"d{i}": 1} for i in range(200)}

    def run(success: float) -> dict[str, dict[str, float]]:
        """The relevant passage at a geometric rank (capped at 30), fillers elsewhere."""
        ranks = np.minimum(rng.geometric(success, size=len(qrels)), 30)
        return {qid: {(f"d{i}" if k == rank else f"x{k}"): 100.0 - k for k in range(1, 31)}
                for i, (qid, rank) in enumerate(zip(qrels, ranks))}

    runs = [Run(run(0.35), name="base"), Run(run(0.41), name="better")]
    n = 5_000
    report = ranx_compare(Qrels(qrels), runs, ["mrr@10", "recall@5"], stat_test="fisher", n_permutations=n,
                          max_p=0.05, random_seed=42)
    for metric in ("mrr@10", "recall@5"):
        base, other = ({q: float(v) for q, v in r.scores[metric].items()} for r in runs)
        ours = fisher_test(base, other, n_permutations=n, seed=42)
        theirs = report.comparisons["base", "better"][metric]["p_value"]
        spread = 5 * math.sqrt(2 * max(ours * (1 - ours), 1e-3) / n)
        assert abs(ours - theirs) <= spread, (metric, ours, theirs)
        assert report.results["better"][metric] == pytest.approx(sum(other.values()) / len(other))


def test_aligned_by_qid_not_by_position():
    rng = np.random.default_rng(1)
    baseline = {f"q{i:02d}": float(v) for i, v in enumerate(rng.random(30))}
    run = {qid: value + rng.normal(0, 0.1) for qid, value in baseline.items()}
    reordered = dict(reversed(list(run.items())))
    assert fisher_test(baseline, reordered) == fisher_test(baseline, run)
    assert fisher_test(baseline, dict(reversed(list(baseline.items())))) == 1.0  # same values, other order


def test_different_qids_are_an_error():
    with pytest.raises(InputError, match="1 queries only in 'baseline'.*'q2'"):
        fisher_test({"q1": 1.0, "q2": 0.0}, {"q1": 1.0, "q3": 0.0})
    base = make_scores("plain", {"MRR@10": {"q1": 1.0, "q2": 0.5}})
    with pytest.raises(InputError, match="cannot pair 'xqg' with 'plain' on MRR@10"):
        compare(base, [make_scores("xqg", {"MRR@10": {"q1": 1.0}})])


def test_corrections_by_hand():
    p_values = [0.01, 0.04, 0.03, 0.005]
    assert correct(p_values, "none") == p_values
    assert correct(p_values, "bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.02])
    # Holm: sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> 0.02, 0.03, 0.06, max(0.06, 0.04)
    assert correct(p_values, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert correct([0.5, 0.6], "bonferroni") == [1.0, 1.0]
    with pytest.raises(ValueError, match="holm"):
        correct(p_values, "fdr")


def test_compare_every_run_and_metric_with_correction():
    rng = np.random.default_rng(2)
    qids = [f"q{i:03d}" for i in range(100)]
    base_values = rng.random(100)
    per_run = {"plain": base_values, "same": base_values, "better": np.clip(base_values + 0.2, 0, 1),
               "noisy": np.clip(base_values + rng.normal(0, 0.05, 100), 0, 1)}
    scores = [make_scores(name, {m: dict(zip(qids, values * w)) for m, w in (("MRR@10", 1.0), ("R@5", 0.9))})
              for name, values in per_run.items()]
    results = compare(scores[0], scores, ["MRR@10", "R@5"],
                      settings=SignificanceSettings(permutations=2_000, correction="holm"))
    expected_order = [(r, m) for r in ("same", "better", "noisy") for m in ("MRR@10", "R@5")]
    assert [(c.run, c.metric) for c in results] == expected_order
    by_key = {(c.run, c.metric): c for c in results}
    assert by_key["same", "MRR@10"].p_value == 1.0 and not by_key["same", "MRR@10"].significant
    better = by_key["better", "R@5"]
    assert better.significant and better.run_mean > better.baseline_mean
    assert [c.corrected_p_value for c in results] == correct([c.p_value for c in results], "holm")
    assert all(c.significant == (c.corrected_p_value <= 0.05) for c in results)
    assert results[0].settings.correction == "holm" and results[0].settings.permutations == 2_000
    assert by_key["noisy", "MRR@10"].p_value == fisher_test(scores[0].per_query["MRR@10"],
                                                            scores[3].per_query["MRR@10"], 2_000)


def rkt_scores(name: str, hits: dict[str, float], lang_of) -> Scores:
    """As R@kt reports: 0/1 hits per query, headline = mean of the per-language percentages."""
    by_lang: dict[str, list[float]] = {}
    for qid, hit in hits.items():
        by_lang.setdefault(lang_of(qid), []).append(hit)
    macro = sum(100 * sum(v) / len(v) for v in by_lang.values()) / len(by_lang)
    return Scores(name, {"R@2kt": hits}, {"R@2kt": macro})


def test_per_language_and_macro_average():
    lang_of = lambda qid: qid.split("-")[0]
    # unequal language sizes, so the macro average (50 -> 100) differs from the mean over all queries (75 -> 100)
    base = {**{f"ar-{i}": 0.0 for i in range(10)}, **{f"ja-{i}": 1.0 for i in range(30)}}
    run = {**{f"ar-{i}": 1.0 for i in range(10)}, **{f"ja-{i}": 1.0 for i in range(30)}}
    baseline, other = rkt_scores("a", base, lang_of), rkt_scores("b", run, lang_of)
    thousand = SignificanceSettings(permutations=1_000)
    results = compare(baseline, [other], settings=thousand, by_lang=lang_of)
    by_lang = {c.language: c for c in results}
    assert list(by_lang) == ["ar", "ja", AVERAGE]
    assert by_lang["ja"].p_value == 1.0 and by_lang["ja"].baseline_mean == 100.0  # in percent, as Scores.mean
    assert by_lang["ar"].p_value <= 0.01 and by_lang["ar"].run_mean == 100.0
    assert by_lang[AVERAGE].baseline_mean == pytest.approx(50.0) and by_lang[AVERAGE].run_mean == 100.0
    assert by_lang[AVERAGE].p_value <= 0.01

    # R@kt's headline is the macro average: with `macro` the all-queries test is on that statistic
    mixed = rkt_scores("c", {**run, **{f"ja-{i}": 0.0 for i in range(8)}}, lang_of)  # ar 100, ja 73.3
    headline = compare(baseline, [mixed], settings=thousand, macro={"R@2kt": lang_of})
    by_lang = {c.language: c for c in compare(baseline, [mixed], settings=thousand, by_lang=lang_of)}
    assert [(c.language, c.p_value, c.run_mean) for c in headline] == [
        (None, by_lang[AVERAGE].p_value, pytest.approx(100 * (1 + 22 / 30) / 2))]
    weights = {q: 40 / (2 * (10 if q.startswith("ar") else 30)) for q in base}
    assert headline[0].p_value == fisher_test({q: v * weights[q] for q, v in baseline.per_query["R@2kt"].items()},
                                              {q: v * weights[q] for q, v in mixed.per_query["R@2kt"].items()}, 1_000)
    micro = compare(baseline, [mixed], settings=thousand)  # mean over all queries: +10 -8 of 40
    assert micro[0].p_value > 0.5 and headline[0].p_value < 0.05


def test_thousand_queries_five_runs_five_metrics_is_fast():
    import time

    rng = np.random.default_rng(4)
    qids = [f"q{i:04d}" for i in range(1000)]
    metrics = ["m1", "m2", "m3", "m4", "m5"]
    scores = [make_scores(f"r{k}", {m: dict(zip(qids, rng.random(1000))) for m in metrics}) for k in range(6)]
    started = time.perf_counter()
    assert len(compare(scores[0], scores[1:], settings=SignificanceSettings(permutations=10_000))) == 25
    assert time.perf_counter() - started < 20  # about 0.3 s on 2 cores
