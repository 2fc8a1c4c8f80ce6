"""Clustered permutation tests, bootstrap intervals, per-table corrections and p = (b+1)/(n+1)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.bootstrap import cluster_bootstrap_intervals
from xqg_pyserini.evaluate.measures import Scores
from xqg_pyserini.evaluate.permutation import cluster_flip_counts, p_value
from xqg_pyserini.evaluate.report import Report
from xqg_pyserini.evaluate.significance import SignificanceSettings, cluster_function, compare

LANGS = ["ar", "de", "es", "hi", "ja", "ru", "th", "tr", "vi", "zh", "en"]


def exact_flip_p(cluster_sums: np.ndarray) -> float:
    """The exact two-sided sign-flip p over every assignment (the observed one included)."""
    observed = abs(cluster_sums.sum())
    stats = [abs(np.dot(signs, cluster_sums)) for signs in itertools.product((1, -1), repeat=len(cluster_sums))]
    return sum(s >= observed - 1e-12 for s in stats) / len(stats)


def translated_runs(questions: int = 12, seed: int = 3) -> tuple[Scores, Scores]:
    """Per question one effect shared by all of its 11 translations: the translations are not independent."""
    rng = np.random.default_rng(seed)
    effect = np.array([0.3] * 7 + [-0.2] * 5)[:questions]
    base, other = {}, {}
    for q in range(questions):
        for lang in LANGS:
            qid = f"{lang}-q{q}"
            base[qid] = 0.5
            other[qid] = 0.5 + effect[q] + rng.normal(0, 0.01)
    return (Scores("plain", {"MRR@10": base}, {"MRR@10": float(np.mean(list(base.values())))}),
            Scores("xqg", {"MRR@10": other}, {"MRR@10": float(np.mean(list(other.values())))}))


def test_p_is_never_zero():
    assert p_value(0, 9_999) == 1 / 10_000
    assert p_value(9_999, 9_999) == 1.0


def test_cluster_flips_match_the_exact_test():
    rng = np.random.default_rng(0)
    sums = rng.normal(0.3, 1.0, size=(10, 3))
    counts = cluster_flip_counts(sums, n_permutations=20_000, seed=1)
    for i in range(3):
        exact = exact_flip_p(sums[:, i])
        estimate = (counts[i] + 1) / 20_001
        assert estimate == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-4)


def test_translations_are_one_unit_and_clustering_is_less_significant():
    plain, xqg = translated_runs()
    loose = compare(plain, [plain, xqg], ["MRR@10"], settings=SignificanceSettings(permutations=5_000))[0]
    clustered = compare(plain, [plain, xqg], ["MRR@10"],
                        settings=SignificanceSettings(permutations=5_000, cluster_by="question"))[0]
    assert loose.units == 132 and clustered.units == 12
    sums = np.array([sum(xqg.per_query["MRR@10"][f"{l}-q{q}"] - 0.5 for l in LANGS) for q in range(12)])
    assert clustered.p_value == pytest.approx(exact_flip_p(sums), abs=0.02)
    assert loose.p_value < 0.001 < 0.05 < clustered.p_value  # 132 "independent" queries overstate it
    assert loose.difference == clustered.difference
    # the interval is wider too: 12 clusters, not 132 queries
    assert clustered.ci_high - clustered.ci_low > 2 * (loose.ci_high - loose.ci_low)
    assert clustered.ci_low < clustered.difference < clustered.ci_high


def test_intervals_of_a_constant_difference_and_of_macro_averages():
    # every query +0.1: the interval is the point
    sums, counts = np.full((5, 1), 0.3), np.full((5, 1), 3.0)
    assert np.allclose(cluster_bootstrap_intervals(sums, counts, [np.array([0])], 500), 0.1)
    # two groups (languages); cluster 0 holds the only query of language 1: resamples without it skip it
    sums = np.array([[0.0, 1.0], [0.2, 0.0], [0.2, 0.0]])
    counts = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    low, high = cluster_bootstrap_intervals(sums, counts, [np.array([0, 1])], 2_000, seed=5)[0]
    assert 0.0 <= low <= high <= 0.6 and not math.isnan(low)


def test_cluster_rules(tmp_path):
    question = cluster_function(SignificanceSettings(cluster_by="question"))
    assert question("de-5733be284776f41900661182") == "5733be284776f41900661182" and question("q1") == "q1"
    assert cluster_function(SignificanceSettings()) is None
    path = tmp_path / "clusters.tsv"
    path.write_text("ar-1\t1\nde-1\t1\n", encoding="utf-8")
    clusters = cluster_function(SignificanceSettings(cluster_by=str(path)))
    assert clusters("ar-1") == clusters("de-1") == "1"
    with pytest.raises(InputError, match="'zh-1' has no cluster"):
        clusters("zh-1")
    path.write_text("ar-1 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"clusters.tsv:1: expected 'qid<TAB>cluster'"):
        cluster_function(SignificanceSettings(cluster_by=str(path)))
    with pytest.raises(InputError, match="file not found"):
        cluster_function(SignificanceSettings(cluster_by=str(tmp_path / "missing.tsv")))


def test_report_corrects_within_each_table_and_renders_effects():
    plain, xqg = translated_runs()
    worse = Scores("worse", {"MRR@10": {q: v - 0.05 for q, v in plain.per_query["MRR@10"].items()}},
                   {"MRR@10": plain.mean["MRR@10"] - 0.05})
    settings = SignificanceSettings(permutations=2_000, cluster_by="question", correction="holm", bootstrap=1_000)
    report = Report([plain, xqg, worse], "MRR@10", baseline="plain", settings=settings)
    raw = {c.run: c for c in report.comparisons()}
    both = {c.run: c for c in report.tests()}
    alone = {c.run: c for c in report.tests(runs=["plain", "xqg"])}
    assert alone["xqg"].corrected_p_value == raw["xqg"].p_value  # a family of one
    assert both["xqg"].corrected_p_value >= raw["xqg"].p_value
    effects = report.effects(runs=["plain", "xqg", "worse"]).splitlines()
    assert effects[0].startswith("| run") and "Δ MRR@10" in effects[0] and len(effects) == 4
    assert "-0.0500 [-0.0500, -0.0500]" in effects[3] and effects[3].rstrip(" |").endswith("†")
    document = json.loads(report.effects("json"))
    assert {row["run"] for row in document["effects"]} == {"xqg", "worse"}
    assert document["test"]["cluster_by"] == "question"
    assert "clustered Fisher randomization test" in report.footnote()
    assert "unit: one cluster per question" in report.footnote()
    per_lang = report.effects(per_lang=True, languages=["Avg"]).splitlines()
    assert per_lang[0].count("Δ") == 1 and "Avg" in per_lang[0]
