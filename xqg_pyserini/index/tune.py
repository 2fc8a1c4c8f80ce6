"""``xqg tune``: choose the fusion setting (α, fusion, queries per language, ...) by cross-validation.

The right α depends on the encoder's norms and on how many texts are fused into each passage, so a
user has to pick it on their own data. Topics are split into k folds by *cluster* (with
``cluster_by=question`` the translations of one question stay together); for each fold the
setting with the best metric on the other folds is chosen and measured on the held-out fold. The
merged held-out values estimate what the procedure gives on new topics, and are compared with
plain (difference, bootstrap interval, permutation p over clusters). The setting written to an
index is then the one best on all topics.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import Judgements, Measure, Scores, score
from xqg_pyserini.evaluate.report import language_of
from xqg_pyserini.evaluate.significance import Comparison, SignificanceSettings, cluster_function, compare
from xqg_pyserini.index.build import FusedPassages, fuse_stores
from xqg_pyserini.index.fusion import FUSIONS, UNAUGMENTED
from xqg_pyserini.search.exact import exact_search

KEYS = {"alpha": float, "fusion": str, "per-lang": int, "unaugmented": str, "renorm": bool}


def parse_grid(text: str) -> list[dict[str, Any]]:
    """``'alpha=0.01,0.1;fusion=sum,mean'`` -> every combination, as ``fuse_stores`` keyword arguments."""
    axes: dict[str, list[Any]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, values = part.partition("=")
        key = key.strip()
        if not sep or key not in KEYS:
            raise InputError(f"--grid: {part!r}: expected KEY=V1,V2,... with KEY one of {', '.join(KEYS)}")
        if key in axes:
            raise InputError(f"--grid: {key} is given twice")
        axes[key] = [_value(key, v.strip()) for v in values.split(",") if v.strip()]
        if not axes[key]:
            raise InputError(f"--grid: {key} has no values")
    if "alpha" not in axes:
        raise InputError("--grid needs alpha=... (the weight of the generated vectors)")
    names = list(axes)
    return [{k.replace("-", "_"): v for k, v in zip(names, combo)} for combo in itertools.product(*axes.values())]


def _value(key: str, text: str) -> Any:
    try:
        if KEYS[key] is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
        value = KEYS[key](text)
    except ValueError:
        raise InputError(f"--grid: {key}={text!r} is not a {KEYS[key].__name__}") from None
    if key == "alpha" and not 0 < value <= 1:
        raise InputError(f"--grid: alpha={text} must be within (0, 1]")
    if key == "fusion" and value not in FUSIONS or key == "unaugmented" and value not in UNAUGMENTED:
        raise InputError(f"--grid: {key}={text!r} is not one of {', '.join(FUSIONS if key == 'fusion' else UNAUGMENTED)}")
    if key == "per-lang" and value < 1:
        raise InputError(f"--grid: per-lang={text} must be at least 1")
    return value


def describe(setting: Mapping[str, Any]) -> str:
    return " ".join(f"{k.replace('_', '-')}={v:g}" if isinstance(v, float) else f"{k.replace('_', '-')}={v}"
                    for k, v in setting.items())


def assign_folds(qids: Sequence[str], cluster_of: Callable[[str], str] | None, k: int, seed: int) -> dict[str, int]:
    """qid -> fold, whole clusters to one fold, clusters dealt round-robin after a seeded shuffle."""
    clusters = list(dict.fromkeys(cluster_of(q) if cluster_of else q for q in qids))
    if len(clusters) < k:
        raise InputError(f"--folds {k}: only {len(clusters)} clusters of topics")
    random.Random(seed).shuffle(clusters)
    fold_of_cluster = {c: i % k for i, c in enumerate(clusters)}
    return {q: fold_of_cluster[cluster_of(q) if cluster_of else q] for q in qids}


@dataclass
class TuneResult:
    settings: list[dict[str, Any]]
    means: list[float]  # each setting's metric on all topics
    choices: dict[int, int]  # fold -> setting index chosen on the other folds
    held_out: Scores  # the merged held-out values of the chosen settings
    plain: Scores
    comparison: Comparison
    best: int  # the setting best on all topics (what an index is built with)
    fold_of: dict[str, int] = field(repr=False, default_factory=dict)


def tune(passages, generated, qids: Sequence[str], query_vectors: np.ndarray, measure: Measure,
         judgements: Judgements, grid: list[dict[str, Any]], *, hits: int = 100, folds: int = 5, seed: int = 42,
         settings: SignificanceSettings = SignificanceSettings(), langs=None,
         progress: bool = False) -> tuple[TuneResult, Callable[[int], FusedPassages]]:
    """Cross-validate ``grid`` (``fuse_stores`` keyword arguments) on the topics; see the module doc."""
    from tqdm.auto import tqdm

    def fused(i: int | None) -> FusedPassages:
        options = {"alpha": 0.0} if i is None else grid[i]
        return fuse_stores(passages, generated if i is not None else None, langs=langs, **options)

    def values(i: int | None, name: str) -> Scores:
        vectors = fused(i)
        run = exact_search(vectors.ids, vectors.vectors, list(qids), query_vectors, hits)
        return score(name, run, [measure], judgements)

    plain = values(None, "plain")
    scored = [values(i, describe(s)) for i, s in enumerate(tqdm(grid, desc="settings", disable=not progress))]
    cluster_of = cluster_function(settings)
    fold_of = assign_folds(list(qids), cluster_of, folds, seed)
    metric = measure.name
    lang_of = language_of(judgements.answers)
    choices, merged = {}, {}
    for fold in range(folds):
        dev = [q for q in qids if fold_of[q] != fold]
        dev_mean = [_aggregate(measure, {q: s.per_query[metric][q] for q in dev if q in s.per_query[metric]},
                               lang_of) for s in scored]
        choices[fold] = int(np.argmax(dev_mean))  # ties: the first setting
        merged.update({q: v for q, v in scored[choices[fold]].per_query[metric].items() if fold_of.get(q) == fold})
    held_out = Scores("cross-validated", {metric: merged}, {metric: _aggregate(measure, merged, lang_of)})
    base = {q: plain.per_query[metric][q] for q in merged}
    plain_subset = Scores("plain", {metric: base}, {metric: _aggregate(measure, base, lang_of)})
    comparison = compare(plain_subset, [plain_subset, held_out], [metric], settings=settings, cluster_of=cluster_of,
                         macro={metric: lang_of} if measure.macro else None)[0]
    means = [s.mean[metric] for s in scored]
    result = TuneResult(grid, means, choices, held_out, plain_subset, comparison, int(np.argmax(means)), fold_of)
    return result, fused


def _aggregate(measure: Measure, values: Mapping[str, float], lang_of) -> float:
    """The metric's headline over ``values``: the mean, or for R@kt the macro average in percent."""
    if not values:
        return 0.0
    if not measure.macro:
        return sum(values.values()) / len(values)
    from xqg_pyserini.evaluate.significance import language_means

    only = Scores("subset", {measure.name: dict(values)}, {measure.name: 100.0})
    return language_means(only, measure.name, lang_of)["Avg"]
