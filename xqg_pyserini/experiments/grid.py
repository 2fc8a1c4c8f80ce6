"""The grid of an experiment: its points, its sweeps, and which generated texts fuse for a point.

Arms: ``plain`` (the baseline), ``qg`` (fold f's generated queries fused, fold f's questions
searched, the per-fold runs merged), ``pg`` (translations, no folds), ``qg+pg`` (both, the QG part
per fold). A point's fusion inputs name generated *sources* (``qg/fold-{f}``, ``pg``) that the job
maps to embedding stores.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass
from typing import Mapping

from xqg_pyserini.errors import InputError
from xqg_pyserini.experiments.config import ExperimentConfig
from xqg_pyserini.experiments.dataset import Dataset
from xqg_pyserini.experiments.settings import PG_ARMS, QG_ARMS, Sweep

PLAIN = "plain"


@dataclass(frozen=True)
class GridPoint:
    """One configuration; ``per_lang`` is None where it does not apply (plain, PG arms).

    ``suffix`` marks settings other than the experiment's defaults (``"mean-scale"`` -> ``...-mean-scale``).
    """

    arm: str
    alpha: float = 0.0
    per_lang: int | None = None
    num_langs: int = 0
    fusion: str = "sum"
    suffix: str = ""
    counts: str = "as-is"
    order: int | None = None  # seed of an extra language order; None: the reference order
    control: str = "none"
    langs: tuple[str, ...] | None = None  # an explicit language subset (instead of the first num_langs)
    unaugmented: str = "keep"
    renorm: bool = False

    @property
    def tag(self) -> str:
        if self.arm == PLAIN:
            return PLAIN
        parts = [self.arm, f"a{self.alpha:g}"]
        if self.uses_qg:
            parts.append(f"n{self.per_lang}" + ("u" if self.counts == "uniform" else ""))
        parts.append(f"L{'+'.join(self.langs)}" if self.langs else f"L{self.num_langs}")
        if self.order is not None:
            parts.append(f"o{self.order}")
        if self.suffix:
            parts.append(self.suffix)
        return "-".join(parts)

    @property
    def series(self) -> str:
        """The line a point belongs to in plots: its arm, and its non-default settings."""
        marks = [m for m in (self.suffix, "uniform" if self.counts == "uniform" else "") if m]
        return f"{self.arm} ({', '.join(marks)})" if marks else self.arm

    @property
    def uses_qg(self) -> bool:
        return self.arm in QG_ARMS

    @property
    def uses_pg(self) -> bool:
        return self.arm in PG_ARMS


@dataclass(frozen=True)
class FusionInputs:
    """What fuses for one point and fold: generated sources (in order), α, fusion, languages, count.

    A source is ``qg/fold-{f}``, ``mt-qg/fold-{f}``, ``pg`` or ``mt-pg``, optionally modified:
    ``:uniform`` (n drawn per passage and language), ``:shuffle`` / ``:random`` (the controls).
    """

    sources: tuple[str, ...]
    alpha: float
    fusion: str
    langs: tuple[str, ...]
    per_lang: int | None
    unaugmented: str = "keep"
    renorm: bool = False


def qg_source(fold: int, arm: str = "qg") -> str:
    return f"{'mt-qg' if arm == 'mt-qg' else 'qg'}/fold-{fold}"


class Grid:
    """Target languages in sweep order, the points of every sweep, and the folds each point uses.

    Every config error that depends on the data (languages, counts) is raised here, before any
    encoding.
    """

    def __init__(self, config: ExperimentConfig, data: Dataset):
        self.config, self.data = config, data
        self.lang_order = _lang_order(config, data)
        self.orders: dict[int | None, list[str]] = {None: self.lang_order}
        for seed in config.extra_orders:
            shuffled = sorted(self.lang_order)
            random.Random(seed).shuffle(shuffled)
            self.orders[seed] = shuffled
        texts = [(fold, t) for fold, ts in [*data.qg.items(), *data.mt_qg.items()] for t in ts]
        counts = Counter((fold, t.docid, t.lang) for fold, t in texts if t.lang in set(self.lang_order))
        self.max_per_lang = max(counts.values()) if counts else None
        self.points, self.sweeps = self._sweeps()
        if config.alignment is not None:
            self.alignment_points()

    def _sweeps(self) -> tuple[dict[str, GridPoint], dict[str, list[str]]]:
        config = self.config
        total = len(self.lang_order)
        points: dict[str, GridPoint] = {PLAIN: GridPoint(PLAIN)}
        sweeps: dict[str, list[str]] = {}
        if config.reference.num_langs is not None and config.reference.num_langs > total:
            raise InputError(f"reference.num_langs: {config.reference.num_langs} is more than the {total} target "
                             f"languages ({', '.join(self.lang_order)})", path=config.path)
        for sweep in config.grid:
            tags = sweeps.setdefault(sweep.name, [])
            for point in self._sweep_points(sweep):
                points.setdefault(point.tag, point)
                if point.tag not in tags:
                    tags.append(point.tag)
        return points, sweeps

    def _sweep_points(self, sweep: Sweep) -> list[GridPoint]:
        config, total, key = self.config, len(self.lang_order), f"grid.{sweep.name}"
        per_langs = list(sweep.per_lang) or ([] if sweep.per_lang_range_to_all else [config.reference.per_lang])
        if sweep.per_lang_range_to_all and self.max_per_lang:
            per_langs += list(range(sweep.per_lang_range_to_all, self.max_per_lang + 1))
        if sweep.counts == "uniform" and None in per_langs:
            raise InputError(f"{key}.per_lang: counts: uniform draws exactly n per passage and language; give "
                             "numbers, not all", path=config.path)
        nums = list(sweep.num_langs) or ([] if sweep.num_langs_range_to_all else [config.reference.num_langs])
        if sweep.num_langs_range_to_all:
            nums += list(range(sweep.num_langs_range_to_all, total + 1))
        for n in nums:
            if n is not None and n > total:
                raise InputError(f"{key}.num_langs: {n} is more than the {total} target languages "
                                 f"({', '.join(self.lang_order)})", path=config.path)
        for lang in sweep.langs or ():
            if lang not in self.lang_order:
                raise InputError(f"{key}.langs: {lang!r} is not a target language ({', '.join(self.lang_order)})",
                                 path=config.path)
        orders = list(self.orders) if sweep.orders == "all" else [None]
        points = []
        for arm in sweep.arms:
            if arm == PLAIN:
                points.append(GridPoint(PLAIN))
                continue
            for fusion, alpha, per_lang, n, order, control, unaugmented, renorm in itertools.product(
                    sweep.fusions or (config.fusion,), sweep.alphas or (config.reference.alpha,), per_langs,
                    [None] if sweep.langs else nums, orders, sweep.controls, sweep.unaugmented or (config.unaugmented,),
                    sweep.renorm or (config.renorm,)):
                points.append(self.point(arm, alpha, per_lang, n, fusion, counts=sweep.counts, order=order,
                                         control=control, langs=sweep.langs, unaugmented=unaugmented, renorm=renorm))
        return points

    def point(self, arm: str, alpha: float, per_lang: int | None, num_langs: int | None,
              fusion: str | None = None, *, counts: str = "as-is", order: int | None = None, control: str = "none",
              langs: tuple[str, ...] | None = None, unaugmented: str | None = None,
              renorm: bool | None = None) -> GridPoint:
        """A grid point with ``all``/None resolved: per_lang to the most queries any passage has per language
        (uniform counts take it as given: n texts are drawn with replacement)."""
        config = self.config
        fusion = fusion or config.fusion
        unaugmented = unaugmented or config.unaugmented
        renorm = config.renorm if renorm is None else renorm
        if arm == PLAIN:
            return GridPoint(PLAIN)
        if arm in QG_ARMS:
            top = self.max_per_lang or 1
            per_lang = top if per_lang is None else per_lang if counts == "uniform" else min(per_lang, top)
        else:
            per_lang, counts = None, "as-is"
        n = len(langs) if langs else total_or(num_langs, self.lang_order)
        if order is not None and (langs or set(self.orders.get(order, self.lang_order)[:n]) == set(self.lang_order[:n])):
            order = None  # the same languages as the reference order (e.g. all of them): the same point
        marks = [fusion if fusion != config.fusion else "", unaugmented if unaugmented != config.unaugmented else "",
                 ("renorm" if renorm else "ip") if renorm != config.renorm else "", control if control != "none" else ""]
        return GridPoint(arm, float(alpha), per_lang, n, fusion, "-".join(m for m in marks if m), counts=counts,
                         order=order if order in self.orders and order is not None else None, control=control,
                         langs=tuple(langs) if langs else None, unaugmented=unaugmented, renorm=renorm)

    def reference_point(self, arm: str, fusion: str | None = None) -> GridPoint:
        ref = self.config.reference
        return self.point(arm, ref.alpha, ref.per_lang, ref.num_langs, fusion)

    def alignment_points(self) -> list[GridPoint]:
        """The points the alignment analysis compares with plain: by tag, or the one the settings describe."""
        tags = self.config.alignment.tags
        missing = [t for t in tags if t not in self.points]
        if missing:
            raise InputError(f"alignment.tags: {missing[0]!r} is not a point of the grid", path=self.config.path)
        return [self.points[t] for t in tags] if tags else [self.alignment_point()]

    def alignment_point(self) -> GridPoint:
        settings, ref = self.config.alignment, self.config.reference
        alpha = ref.alpha if settings.alpha is None else settings.alpha
        per_lang = ref.per_lang if settings.per_lang == "reference" else settings.per_lang
        num_langs = ref.num_langs if settings.num_langs == "reference" else settings.num_langs
        if num_langs is not None and num_langs > len(self.lang_order):
            raise InputError(f"alignment.num_langs: {num_langs} is more than the {len(self.lang_order)} target "
                             "languages", path=self.config.path)
        return self.point(settings.arm, alpha, per_lang, num_langs, settings.fusion)

    def folds_of(self, point: GridPoint) -> list[int | None]:
        return list(self.data.folds) if point.uses_qg else [None]

    def topics_of(self, fold: int | None) -> list[str]:
        return list(self.data.topics) if fold is None else self.data.fold_topics(fold)

    def langs_of(self, point: GridPoint) -> list[str]:
        if point.arm == PLAIN:
            return []
        return list(point.langs) if point.langs else self.orders[point.order][:point.num_langs]

    def fusion_inputs(self, point: GridPoint, fold: int | None) -> FusionInputs | None:
        """The generated sources fused for (point, fold); None for the plain baseline."""
        if point.arm == PLAIN:
            return None
        modifiers = (":uniform" if point.counts == "uniform" else "", f":{point.control}" if point.control != "none"
                     else "")
        sources = []
        if point.uses_qg:
            sources.append(qg_source(fold, point.arm) + modifiers[0] + modifiers[1])
        if point.uses_pg:
            sources.append(("mt-pg" if point.arm == "mt-pg" else "pg") + modifiers[1])
        return FusionInputs(tuple(sources), point.alpha, point.fusion, tuple(self.langs_of(point)), point.per_lang,
                            point.unaugmented, point.renorm)

    # ------------------------------------------------------------------ choosing configurations

    def best_point(self, means: Mapping[str, Mapping[str, float]], arm: str | None, metric: str) -> GridPoint | None:
        """The augmented point (α > 0 unless there is none) of ``arm`` (None: any) with the highest mean."""
        candidates = [self.points[tag] for tag in means if tag != PLAIN and (arm is None or self.points[tag].arm == arm)]
        augmented = [p for p in candidates if p.alpha > 0]  # alpha = 0 is plain under another name
        candidates = augmented or candidates
        if not candidates:
            return None
        return max(candidates, key=lambda p: means[p.tag][metric])

    def final_points(self, means: Mapping[str, Mapping[str, float]]) -> list[GridPoint]:
        """plain, then per arm its reference configuration (if run) and its best by the select metric."""
        metric = self.config.select_metric
        chosen = [self.points[PLAIN]]
        for arm in self.config.arms:
            if arm == PLAIN:
                continue
            ref = self.reference_point(arm)
            if ref.tag in means and ref not in chosen:
                chosen.append(ref)
            best = self.best_point(means, arm, metric)
            if best is not None and best not in chosen:
                chosen.append(best)
        return chosen


def total_or(num_langs: int | None, order: list[str]) -> int:
    return len(order) if num_langs is None else num_langs


def _lang_order(config: ExperimentConfig, data: Dataset) -> list[str]:
    """The target languages, checked against the oracle files, in ``num_langs`` order."""
    sources: list[tuple[str, set[str]]] = []
    for fold, texts in data.qg.items():
        sources.append((f"oracle/qg/fold-{fold}.jsonl", {t.lang for t in texts}))
    if data.pg is not None:
        sources.append(("oracle/pg.jsonl", {t.lang for t in data.pg}))
    if config.target_langs:
        for i, lang in enumerate(config.target_langs):
            for name, langs in sources:
                if lang not in langs:
                    raise InputError(f"target_langs[{i}]: no {lang!r} texts in {name}", path=data.root / name)
        target = list(config.target_langs)
    else:
        common = set.intersection(*(langs for _, langs in sources)) if sources else set()
        target = sorted(common)
        if sources and not target:
            raise InputError("the oracle files share no language; set target_langs", path=data.root / "oracle")
    if config.lang_order:
        for i, lang in enumerate(config.lang_order):
            if lang not in target:
                raise InputError(f"lang_order[{i}]: {lang!r} is not a target language ({', '.join(target)})",
                                 path=config.path)
        return list(config.lang_order)
    if config.lang_order_seed is not None:
        order = sorted(target)
        random.Random(config.lang_order_seed).shuffle(order)
        return order
    return target
