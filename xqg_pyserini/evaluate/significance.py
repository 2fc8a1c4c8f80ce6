"""Paired two-sided Fisher randomization tests of runs against a baseline, per metric.

The test is ranx's (``ranx/statistical_tests/fisher_randomization_test.py``): each permutation
swaps the two runs' values of each query with probability 1/2, and the p-value is the share of
permutations whose ``|mean(a) - mean(b)|`` is at least the observed one (no +1 correction, so it
can be 0). ranx draws the swaps with numba in parallel threads whose random states are seeded
from ``os.urandom``, so its ``random_seed`` does not make its result reproducible. This module
draws the same swaps from NumPy's legacy ``RandomState(seed)`` in the order ranx's own code does
when run as plain Python, and matches that bit for bit (tested), vectorized over permutations
and shared by every comparison on the same queries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import Scores

CORRECTIONS = ("none", "holm", "bonferroni")
FISHER_TEST = "paired two-sided Fisher randomization test"
AVERAGE = "Avg"  # the macro average over languages, next to the language codes
LanguageOf = Callable[[str], str]

# Permutations are drawn and scored in blocks of about this many (permutation, query) cells.
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class SignificanceSettings:
    """How runs are tested against the baseline: the experiment YAML's ``significance:`` keys, and
    ``xqg eval --permutations --seed --correction --significance-level``."""

    permutations: int = 10_000
    seed: int = 42
    correction: str = "none"  # one of CORRECTIONS, over each family of comparisons
    level: float = 0.05  # significant: corrected p <= level

    def to_json(self) -> dict:
        """The ``test`` object of leaderboard JSON (its key names predate this type; files keep them)."""
        return {"name": FISHER_TEST, "n_permutations": self.permutations, "seed": self.seed,
                "correction": self.correction, "alpha": self.level}


@dataclass(frozen=True)
class Comparison:
    """One run against the baseline on one metric (and one language, or ``AVERAGE``, or None: all queries)."""

    run: str
    metric: str
    language: str | None
    baseline: str
    baseline_mean: float
    run_mean: float
    p_value: float
    corrected_p_value: float
    significant: bool  # corrected_p_value <= settings.level (ranx's `p <= max_p`)
    settings: SignificanceSettings


def fisher_test(baseline: Mapping[str, float], run: Mapping[str, float],
                n_permutations: int = 10_000, seed: int = 42) -> float:
    """p-value of one paired comparison; the two runs are aligned by qid and must cover the same qids."""
    qids = _aligned_qids(baseline, run, "baseline", "run")
    p_values = fisher_p_values([[baseline[q] for q in qids]], [[run[q] for q in qids]], n_permutations, seed)
    return float(p_values[0])


def fisher_p_values(baselines: np.ndarray, runs: np.ndarray, n_permutations: int = 10_000,
                    seed: int = 42) -> np.ndarray:
    """p-values for k paired comparisons over the same n queries: row i of ``baselines`` vs row i of ``runs``.

    Every row sees the same swaps, as ranx reseeds with the same seed for every comparison.
    """
    baselines = np.atleast_2d(np.asarray(baselines, dtype=np.float64))
    runs = np.atleast_2d(np.asarray(runs, dtype=np.float64))
    if baselines.shape != runs.shape or baselines.shape[1] == 0:
        raise ValueError("need two equal non-empty (comparisons, queries) arrays, "
                         f"got {baselines.shape} and {runs.shape}")
    if n_permutations < 1:
        raise ValueError("n_permutations must be >= 1")
    if not (np.isfinite(baselines).all() and np.isfinite(runs).all()):
        raise InputError("per-query values must be finite numbers")
    n_queries = baselines.shape[1]
    # Row by row on 1-D arrays, exactly as ranx computes `control.mean()`.
    observed = np.array([abs(b.mean() - r.mean()) for b, r in zip(baselines, runs)])
    # Fast path: with d = run - baseline and s the 0/1 swaps, the permuted difference of means is
    # |2 s.d - sum(d)| / n, one matrix product for all comparisons. Only permutations within
    # rounding error of the observed difference (ties, common with 0/1 values) are recomputed the
    # way ranx computes them, so the p-values come out bit for bit the same.
    differences = runs - baselines
    total_difference = differences.sum(axis=1)
    magnitude = np.maximum(np.abs(baselines).max(axis=1), np.abs(runs).max(axis=1))
    tolerance = 32 * (n_queries + 1) * np.finfo(np.float64).eps * magnitude
    identical = ~differences.any(axis=1)  # every permutation gives exactly 0 >= 0: p = 1
    at_least_observed = np.where(identical, n_permutations, 0).astype(np.int64)
    # ranx permutes each row [a, b] with np.random.permutation: one 32-bit draw per query, in
    # permutation-major order, swapping when its lowest bit is 0. randint(0, 2) is that same draw.
    rng = np.random.RandomState(seed)
    block = max(1, _CHUNK_ELEMENTS // n_queries)
    for start in range(0, n_permutations, block):
        swapped = rng.randint(0, 2, size=(min(block, n_permutations - start), n_queries)) == 0
        approximate = np.abs(2 * (swapped.astype(np.float64) @ differences.T) - total_difference) / n_queries
        for i in np.flatnonzero(~identical):
            b, r = baselines[i], runs[i]
            gap = approximate[:, i] - observed[i]
            at_least_observed[i] += np.count_nonzero(gap > tolerance[i])
            near = swapped[np.abs(gap) <= tolerance[i]]
            if len(near):
                first, second = np.where(near, r, b).mean(axis=1), np.where(near, b, r).mean(axis=1)
                at_least_observed[i] += np.count_nonzero(np.abs(first - second) >= observed[i])
    return at_least_observed / n_permutations


def correct(p_values: Sequence[float], method: str = "none") -> list[float]:
    """Adjust p-values for multiple comparisons over the whole family given."""
    p_values = [float(p) for p in p_values]
    count = len(p_values)
    if method == "none":
        return p_values
    if method == "bonferroni":
        return [min(1.0, p * count) for p in p_values]
    if method == "holm":
        adjusted = [0.0] * count
        running_max = 0.0
        for rank, index in enumerate(sorted(range(count), key=p_values.__getitem__)):
            running_max = max(running_max, min(1.0, (count - rank) * p_values[index]))
            adjusted[index] = running_max
        return adjusted
    raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, not {method!r}")


def compare(baseline: Scores, runs: Sequence[Scores], metrics: Sequence[str] | None = None, *,
            settings: SignificanceSettings = SignificanceSettings(), by_lang: LanguageOf | None = None,
            macro: Mapping[str, LanguageOf] | None = None) -> list[Comparison]:
    """Test every run (the baseline itself skipped) against ``baseline`` on every metric.

    Without ``by_lang`` there is one test per run and metric, on the difference of the means over
    all queries, or, for a metric in ``macro`` (metric -> qid -> language; R@kt, whose headline
    is the mean of the per-language scores), of the macro averages over languages. With
    ``by_lang`` (qid -> language) there is one test per language and one on the macro average
    (``AVERAGE``). The correction is applied across all the comparisons returned (one family).
    """
    if settings.correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, not {settings.correction!r}")
    metrics = list(metrics if metrics is not None else baseline.per_query)
    macro = macro or {}
    cells = []
    for run in runs:
        if run.name == baseline.name:
            continue
        for metric in metrics:
            cells.extend(_cells(baseline, run, metric, by_lang, macro.get(metric)))

    by_qids: dict[tuple[str, ...], list[int]] = {}
    for index, cell in enumerate(cells):
        by_qids.setdefault(cell.qids, []).append(index)
    p_values = [0.0] * len(cells)
    for indexes in by_qids.values():
        block = fisher_p_values(np.array([cells[i].baseline_values for i in indexes]),
                                np.array([cells[i].run_values for i in indexes]), settings.permutations,
                                settings.seed)
        for i, p in zip(indexes, block):
            p_values[i] = float(p)

    corrected = correct(p_values, settings.correction)
    return [Comparison(run=c.run, metric=c.metric, language=c.language, baseline=baseline.name,
                       baseline_mean=c.baseline_mean, run_mean=c.run_mean, p_value=p, corrected_p_value=q,
                       significant=q <= settings.level, settings=settings)
            for c, p, q in zip(cells, p_values, corrected)]


def group_by_language(qids: Iterable[str], by_lang: LanguageOf) -> dict[str, list[str]]:
    """language -> its qids (sorted), languages in sorted order."""
    groups: dict[str, list[str]] = {}
    for qid in sorted(qids):
        groups.setdefault(str(by_lang(qid)), []).append(qid)
    return dict(sorted(groups.items()))


def language_means(scores: Scores, metric: str, by_lang: LanguageOf) -> dict[str, float]:
    """Mean per language and their macro average (key ``AVERAGE``), on the scale of ``scores.mean``."""
    values = _values(scores, metric)
    scale = percent_scale(scores, metric)
    means = {lang: scale * _mean([values[q] for q in qids])
             for lang, qids in group_by_language(values, by_lang).items()}
    means[AVERAGE] = _mean(list(means.values()))
    return means


def percent_scale(scores: Scores, metric: str) -> float:
    """100 when ``mean`` is in percent of per-query values in [0, 1] (R@kt: 0/1 hits), else 1.

    Told apart by the mean being above 1 or 100 times the per-query mean; a percent mean of at
    most 1% that is a macro average over languages reads as a fraction.
    """
    values = list(scores.per_query.get(metric, {}).values())
    if not values or min(values) < 0 or max(values) > 1:
        return 1.0
    per_query_mean = _mean(values)
    mean = scores.mean.get(metric, per_query_mean)
    if mean > 1 + 1e-9 or (per_query_mean != 0 and math.isclose(mean, 100 * per_query_mean, rel_tol=1e-9)):
        return 100.0
    return 1.0


@dataclass(frozen=True)
class _Cell:
    run: str
    metric: str
    language: str | None
    qids: tuple[str, ...]
    baseline_values: list[float]
    run_values: list[float]
    baseline_mean: float
    run_mean: float


def _cells(baseline: Scores, run: Scores, metric: str, by_lang: LanguageOf | None,
           macro_lang: LanguageOf | None) -> list[_Cell]:
    base, other = _values(baseline, metric), _values(run, metric)
    qids = tuple(_aligned_qids(base, other, baseline.name, run.name, metric))
    if by_lang is None:
        base_mean = baseline.mean.get(metric, _mean(list(base.values())))
        run_mean = run.mean.get(metric, _mean(list(other.values())))
        if macro_lang is not None:
            return [_macro_cell(run.name, metric, None, qids, macro_lang, base, other, base_mean, run_mean)]
        return [_Cell(run.name, metric, None, qids, [base[q] for q in qids], [other[q] for q in qids],
                      base_mean, run_mean)]
    groups = group_by_language(qids, by_lang)
    base_means, run_means = language_means(baseline, metric, by_lang), language_means(run, metric, by_lang)
    cells = [_Cell(run.name, metric, lang, tuple(group), [base[q] for q in group], [other[q] for q in group],
                   base_means[lang], run_means[lang]) for lang, group in groups.items()]
    cells.append(_macro_cell(run.name, metric, AVERAGE, qids, by_lang, base, other,
                             base_means[AVERAGE], run_means[AVERAGE]))
    return cells


def _macro_cell(run: str, metric: str, language: str | None, qids: tuple[str, ...], by_lang: LanguageOf,
                base: Mapping[str, float], other: Mapping[str, float], base_mean: float, run_mean: float) -> _Cell:
    # The macro average over languages is the plain mean of the values weighted by
    # n / (languages * queries in the language): testing those values tests the macro average.
    groups = group_by_language(qids, by_lang)
    weight = {q: len(qids) / (len(groups) * len(group)) for group in groups.values() for q in group}
    return _Cell(run, metric, language, qids, [base[q] * weight[q] for q in qids],
                 [other[q] * weight[q] for q in qids], base_mean, run_mean)


def _values(scores: Scores, metric: str) -> dict[str, float]:
    if metric not in scores.per_query:
        raise InputError(f"run {scores.name!r} has no per-query values for {metric}")
    return scores.per_query[metric]


def _aligned_qids(base: Mapping[str, float], other: Mapping[str, float], base_name: str, other_name: str,
                  metric: str | None = None) -> list[str]:
    """The shared qids, sorted, so the result never depends on dict order; any difference is an error."""
    only_base, only_other = sorted(set(base) - set(other)), sorted(set(other) - set(base))
    if only_base or only_other:
        first = lambda qids: f" (first: {qids[0]!r})" if qids else ""
        raise InputError(f"cannot pair {other_name!r} with {base_name!r}" + (f" on {metric}" if metric else "")
                         + f": {len(only_base)} queries only in {base_name!r}{first(only_base)}, "
                         f"{len(only_other)} only in {other_name!r}{first(only_other)}; "
                         "score both runs on the same queries")
    if not base:
        raise InputError(f"no queries to compare in {base_name!r}")
    return sorted(base)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
