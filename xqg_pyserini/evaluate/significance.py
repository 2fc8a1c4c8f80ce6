"""Paired tests of runs against a baseline, per metric, with effect sizes and confidence intervals.

Every comparison reports the difference run - baseline (on the metric's displayed scale), a 95%
bootstrap confidence interval of it (:mod:`~xqg_pyserini.evaluate.bootstrap`) and a two-sided
permutation p-value (:mod:`~xqg_pyserini.evaluate.permutation`), ``(b + 1) / (n + 1)``.

The unit that is permuted and resampled is a query, or with ``cluster_by`` a cluster of queries
that are not independent: in XQuAD and MLQA the topics of one question in its 11 (or 7) languages
are translations of each other, so a test that permutes them one by one overstates significance.
Without clusters the permutation test is ranx's Fisher randomization test, bit for bit (same
seed, same draws); with clusters all queries of a cluster swap together.

Corrections (Holm, Bonferroni) apply within a family: :class:`~xqg_pyserini.evaluate.report.Report`
corrects over the comparisons of each table it renders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.bootstrap import cluster_bootstrap_intervals
from xqg_pyserini.evaluate.measures import Scores
from xqg_pyserini.evaluate.permutation import cluster_flip_counts, fisher_counts, p_value
from xqg_pyserini.io.topics import question_id

CORRECTIONS = ("none", "holm", "bonferroni")
FISHER_TEST = "paired two-sided Fisher randomization test"
CLUSTER_RULES = ("none", "question")  # or a TSV file qid<TAB>cluster
AVERAGE = "Avg"  # the macro average over languages, next to the language codes
LanguageOf = Callable[[str], str]
ClusterOf = Callable[[str], str]


@dataclass(frozen=True)
class SignificanceSettings:
    """How runs are tested against the baseline: the experiment YAML's ``significance:`` keys, and
    ``xqg eval --permutations --seed --correction --significance-level --cluster-by --bootstrap``."""

    permutations: int = 10_000
    seed: int = 42
    correction: str = "none"  # one of CORRECTIONS, within each table
    level: float = 0.05  # significant: corrected p <= level
    cluster_by: str = "none"  # "none", "question" (qid without its "{lang}-" prefix), or a qid<TAB>cluster file
    bootstrap: int = 10_000  # resamples for the confidence intervals (0: none)
    confidence: float = 0.95

    @property
    def clustered(self) -> bool:
        return self.cluster_by != "none"

    @property
    def test_name(self) -> str:
        return FISHER_TEST if not self.clustered else f"{FISHER_TEST}, clustered ({self.cluster_unit})"

    @property
    def cluster_unit(self) -> str:
        if self.cluster_by == "question":
            return "one cluster per question: its topics in every language"
        return "none" if not self.clustered else f"clusters from {Path(self.cluster_by).name}"

    def to_json(self) -> dict:
        """The ``test`` object of leaderboard JSON (older key names kept: ``n_permutations``, ``alpha``)."""
        return {"name": FISHER_TEST, "n_permutations": self.permutations, "seed": self.seed,
                "correction": self.correction, "alpha": self.level, "cluster_by": self.cluster_by,
                "bootstrap": self.bootstrap, "confidence": self.confidence,
                "p_value": "(b + 1) / (n + 1)"}


def cluster_function(settings: SignificanceSettings) -> ClusterOf | None:
    """qid -> cluster key for ``settings.cluster_by``; None without clusters. A file is read once."""
    rule = settings.cluster_by
    if rule == "none":
        return None
    if rule == "question":
        return question_id
    path = Path(rule)
    if not path.is_file():
        raise InputError(f"--cluster-by must be one of {', '.join(CLUSTER_RULES)} or a qid<TAB>cluster file; "
                         "file not found", path=path)
    keys: dict[str, str] = {}
    for line, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        qid, sep, cluster = raw.partition("\t")
        if not sep or not qid.strip() or not cluster.strip():
            raise InputError("expected 'qid<TAB>cluster'", path=path, line=line)
        keys[qid.strip()] = cluster.strip()
    def cluster(qid: str) -> str:
        if qid not in keys:
            raise InputError(f"query {qid!r} has no cluster", path=path)
        return keys[qid]
    return cluster


@dataclass(frozen=True)
class Comparison:
    """One run against the baseline on one metric (and one language, or ``AVERAGE``, or None: all queries)."""

    run: str
    metric: str
    language: str | None
    baseline: str
    baseline_mean: float
    run_mean: float
    p_value: float  # (b + 1) / (n + 1)
    corrected_p_value: float
    significant: bool  # corrected_p_value <= settings.level
    settings: SignificanceSettings
    ci_low: float = math.nan  # bootstrap interval of run_mean - baseline_mean
    ci_high: float = math.nan
    units: int = 0  # queries, or clusters, the test permuted

    @property
    def difference(self) -> float:
        return self.run_mean - self.baseline_mean


def fisher_test(baseline: Mapping[str, float], run: Mapping[str, float],
                n_permutations: int = 10_000, seed: int = 42) -> float:
    """p-value ``(b + 1) / (n + 1)`` of one paired comparison; the runs are aligned by qid and must cover
    the same qids."""
    qids = _aligned_qids(baseline, run, "baseline", "run")
    counts = fisher_counts([[baseline[q] for q in qids]], [[run[q] for q in qids]], n_permutations, seed)
    return float(p_value(counts[0], n_permutations))


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
            macro: Mapping[str, LanguageOf] | None = None, cluster_of: ClusterOf | None = None,
            correct_family: bool = True) -> list[Comparison]:
    """Test every run (the baseline itself skipped) against ``baseline`` on every metric.

    Without ``by_lang`` there is one test per run and metric, on the difference of the means over
    all queries, or, for a metric in ``macro`` (metric -> qid -> language; R@kt, whose headline
    is the mean of the per-language scores), of the macro averages over languages. With
    ``by_lang`` (qid -> language) there is one test per language and one on the macro average
    (``AVERAGE``). ``cluster_of`` (qid -> cluster; default from ``settings.cluster_by``) makes the
    clusters the unit of the test and of the bootstrap. With ``correct_family`` the correction is
    applied across all the comparisons returned; the Report instead corrects per table.
    """
    if settings.correction not in CORRECTIONS:
        raise InputError(f"correction must be one of {', '.join(CORRECTIONS)}, not {settings.correction!r}")
    if cluster_of is None:
        cluster_of = cluster_function(settings)
    metrics = list(metrics if metrics is not None else baseline.per_query)
    macro = macro or {}
    cells = [cell for run in runs if run.name != baseline.name for metric in metrics
             for cell in _cells(baseline, run, metric, by_lang, macro.get(metric))]
    by_qids: dict[tuple[str, ...], list[int]] = {}
    for index, cell in enumerate(cells):
        by_qids.setdefault(cell.qids, []).append(index)
    p_values, intervals, units = [0.0] * len(cells), [(math.nan, math.nan)] * len(cells), [0] * len(cells)
    for qids, indexes in by_qids.items():
        group = [cells[i] for i in indexes]
        keys = [cluster_of(q) for q in qids] if cluster_of is not None else list(qids)
        counts = _test_counts(group, keys, settings, clustered=cluster_of is not None)
        ci = _intervals(group, keys, settings)
        for j, i in enumerate(indexes):
            p_values[i] = float(p_value(counts[j], settings.permutations))
            intervals[i] = (float(ci[j, 0]), float(ci[j, 1])) if ci is not None else (math.nan, math.nan)
            units[i] = len(set(keys))
    corrected = correct(p_values, settings.correction) if correct_family else p_values
    return [Comparison(run=c.run, metric=c.metric, language=c.language, baseline=baseline.name,
                       baseline_mean=c.baseline_mean, run_mean=c.run_mean, p_value=p, corrected_p_value=q,
                       significant=q <= settings.level, settings=settings, ci_low=lo, ci_high=hi, units=u)
            for c, p, q, (lo, hi), u in zip(cells, p_values, corrected, intervals, units)]


def correct_comparisons(comparisons: Sequence[Comparison], method: str) -> list[Comparison]:
    """The comparisons with ``corrected_p_value``/``significant`` recomputed over them as one family."""
    corrected = correct([c.p_value for c in comparisons], method)
    return [replace(c, corrected_p_value=q, significant=q <= c.settings.level) for c, q in zip(comparisons, corrected)]


def _test_counts(cells: Sequence["_Cell"], keys: Sequence[str], settings: SignificanceSettings,
                 clustered: bool) -> np.ndarray:
    """Permutation counts b for cells over the same qids; ``keys[i]``: the unit (cluster) of qid i."""
    if not clustered:  # ranx's Fisher test on the (weighted) per-query values, bit for bit
        return fisher_counts(np.array([c.weighted_baseline for c in cells]),
                             np.array([c.weighted_run for c in cells]), settings.permutations, settings.seed)
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    rows = np.array([index[key] for key in keys])
    differences = np.zeros((len(index), len(cells)), dtype=np.float64)
    for j, cell in enumerate(cells):
        np.add.at(differences[:, j], rows, np.asarray(cell.weighted_run) - np.asarray(cell.weighted_baseline))
    return cluster_flip_counts(differences, settings.permutations, settings.seed)


def _intervals(cells: Sequence["_Cell"], keys: Sequence[str], settings: SignificanceSettings) -> np.ndarray | None:
    """Bootstrap intervals (display scale) for cells over the same qids, resampling ``keys``' units."""
    if settings.bootstrap <= 0:
        return None
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    rows = np.array([index[key] for key in keys])
    position = {qid: i for i, qid in enumerate(cells[0].qids)}
    columns: list[tuple[np.ndarray, np.ndarray]] = []  # (sums, counts) per cluster
    groups: list[np.ndarray] = []
    for cell in cells:
        difference = np.asarray(cell.run_values) - np.asarray(cell.baseline_values)
        first = len(columns)
        for members in cell.groups:
            at = np.array([position[q] for q in members])
            sums = np.bincount(rows[at], weights=difference[at], minlength=len(index))
            columns.append((sums, np.bincount(rows[at], minlength=len(index)).astype(np.float64)))
        groups.append(np.arange(first, len(columns)))
    sums = np.stack([c[0] for c in columns], axis=1)
    counts = np.stack([c[1] for c in columns], axis=1)
    intervals = cluster_bootstrap_intervals(sums, counts, groups, settings.bootstrap, settings.seed,
                                            settings.confidence)
    return intervals * np.array([[c.scale, c.scale] for c in cells])


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
    """One comparison's data: per-query values over ``qids`` (sorted) and the groups it averages.

    Its statistic is the mean over ``groups`` of each group's mean (one group: the plain mean; one
    per language: the macro average). ``weighted_*`` are the values weighted so that their plain
    mean is that statistic, which is what the permutation test permutes.
    """

    run: str
    metric: str
    language: str | None
    qids: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]
    baseline_values: list[float]
    run_values: list[float]
    baseline_mean: float
    run_mean: float
    scale: float  # 100 for metrics shown in percent (R@kt)

    @property
    def weighted_baseline(self) -> list[float]:
        return self._weighted(self.baseline_values)

    @property
    def weighted_run(self) -> list[float]:
        return self._weighted(self.run_values)

    def _weighted(self, values: list[float]) -> list[float]:
        if len(self.groups) == 1:
            return values
        weight = {q: len(self.qids) / (len(self.groups) * len(group)) for group in self.groups for q in group}
        return [v * weight[q] for q, v in zip(self.qids, values)]


def _cells(baseline: Scores, run: Scores, metric: str, by_lang: LanguageOf | None,
           macro_lang: LanguageOf | None) -> list[_Cell]:
    base, other = _values(baseline, metric), _values(run, metric)
    qids = tuple(_aligned_qids(base, other, baseline.name, run.name, metric))
    scale = percent_scale(baseline, metric)
    values = ([base[q] for q in qids], [other[q] for q in qids])
    if by_lang is None:
        base_mean = baseline.mean.get(metric, _mean(list(base.values())))
        run_mean = run.mean.get(metric, _mean(list(other.values())))
        groups = tuple(map(tuple, group_by_language(qids, macro_lang).values())) if macro_lang else (qids,)
        return [_Cell(run.name, metric, None, qids, groups, *values, base_mean, run_mean, scale)]
    by_language = group_by_language(qids, by_lang)
    base_means, run_means = language_means(baseline, metric, by_lang), language_means(run, metric, by_lang)
    cells = [_Cell(run.name, metric, lang, tuple(group), (tuple(group),), [base[q] for q in group],
                   [other[q] for q in group], base_means[lang], run_means[lang], scale)
             for lang, group in by_language.items()]
    cells.append(_Cell(run.name, metric, AVERAGE, qids, tuple(map(tuple, by_language.values())), *values,
                       base_means[AVERAGE], run_means[AVERAGE], scale))
    return cells


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
