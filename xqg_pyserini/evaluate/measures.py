"""Measures, ir-measures style: small parsed values behind one interface, and scoring a run on them.

A :class:`Measure` is a metric name parsed once (``parse_measures("MRR@10 R@100 R@2kt")``). Two kinds
share the interface:

* :class:`IrMeasure`, any ir-measures name: the mean over every judged query, a query missing from
  the run scoring 0 (as ``trec_eval -c``); run qids absent from the qrels are an error;
* :class:`RktMeasure`, R@kt (:mod:`~xqg_pyserini.evaluate.rkt`): per-query 0/1 hits of the counted
  queries; its aggregate is the official headline, the macro average over languages, in percent.

Each says which judgements it needs (``needs``), whether it applies to official prediction files
(``on_texts``) and whether its aggregate is a macro average over query languages (``macro``), which
is what a significance test of the aggregate has to test. :func:`score` scores one run on many
measures at once: one ``ir_measures.iter_calc`` for all ir measures, one R@kt pass for all k, with
the passage tokens of :class:`Judgements` shared by every run scored against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Mapping, Sequence, Union

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.rkt import RktEvaluator, TokenCache, evaluate_rkt_predictions, parse_rkt
from xqg_pyserini.io.answers import Answer, Prediction
from xqg_pyserini.io.corpus import Passage
from xqg_pyserini.io.qrels import Qrels
from xqg_pyserini.io.runs import Run

# A TREC run (qid -> [(docid, score)]) or an official prediction file (passage texts, best first).
Ranking = Union[Run, Sequence[Prediction]]
PerQuery = dict[str, float]


@dataclass
class Scores:
    """One run's scores: ``per_query[metric][qid]`` and the aggregate (``mean``) per metric."""

    name: str
    per_query: dict[str, dict[str, float]]
    mean: dict[str, float]


class Judgements:
    """What runs are scored against, and the R@kt token caches shared by every run scored with it.

    ``corpus``: passage texts (docid -> text, or passages) for R@kt of TREC runs. ``rkt_missing``:
    answered queries absent from a TREC run are left out of R@kt (``"skip"``, the official
    script's behaviour) or counted as misses (``"miss"``).
    """

    _NEEDED = {"qrels": "--qrels is needed for {names}", "answers": "--answers is needed for {names}",
               "corpus": "--corpus is needed for R@kt of a TREC run (passage texts)"}

    def __init__(self, qrels: Qrels | None = None, answers: Mapping[str, Answer] | None = None,
                 corpus: Mapping[str, str] | Iterable[Passage] | None = None, rkt_missing: str = "skip"):
        self.qrels = qrels
        self.answers = answers
        self.corpus = corpus
        self.rkt_missing = rkt_missing
        self._rkt: RktEvaluator | None = None  # docid-keyed tokens, built on the first TREC run
        self._text_tokens: TokenCache | None = None  # text-keyed tokens, for prediction files

    def require(self, measures: Sequence[Measure], *fields: str) -> None:
        """An InputError naming the flag of the first of ``fields`` some measure needs but is missing."""
        for name in fields:
            needing = [m.name for m in measures if name in m.needs]
            if needing and getattr(self, name) is None:
                raise InputError(self._NEEDED[name].format(names=", ".join(needing)))

    def rkt_evaluator(self) -> RktEvaluator:
        if self._rkt is None:
            self._rkt = RktEvaluator(self.corpus, self.answers)  # one token cache for all runs
        return self._rkt

    def text_tokens(self) -> TokenCache:
        if self._text_tokens is None:
            self._text_tokens = TokenCache(lambda text: text)
        return self._text_tokens


@dataclass(frozen=True)
class Measure:
    """One metric; ``name`` is its column label, as the user wrote it."""

    name: str
    needs: ClassVar[tuple[str, ...]] = ()  # Judgements fields
    on_texts: ClassVar[bool] = False  # applies to prediction files (ranked passage texts, no docids)
    macro: ClassVar[bool] = False  # aggregate: macro average over query languages (else: plain mean)

    @classmethod
    def calc_all(cls, measures: Sequence[Measure], name: str, ranking: Ranking,
                 judgements: Judgements) -> list[tuple[PerQuery, float]]:
        """(per-query values, aggregate) of each of ``measures`` (all of this class) on one run."""
        raise NotImplementedError

    def calc(self, ranking: Ranking, judgements: Judgements, name: str = "run") -> tuple[PerQuery, float]:
        """(per-query values, aggregate) of this measure alone."""
        scores = score(name, ranking, [self], judgements)
        return scores.per_query[self.name], scores.mean[self.name]


@dataclass(frozen=True)
class IrMeasure(Measure):
    measure: Any = field(compare=False, repr=False)  # the parsed ir_measures measure
    needs: ClassVar[tuple[str, ...]] = ("qrels",)

    @classmethod
    def calc_all(cls, measures, name, ranking, judgements):
        import ir_measures

        qrels = judgements.qrels
        check_qids(ranking, qrels, name)
        per_query = {m.name: dict.fromkeys(qrels, 0.0) for m in measures}
        names_of: dict[Any, list[str]] = {}  # aliases (MRR@10, RR@10) are one ir_measures measure
        for m in measures:
            names_of.setdefault(m.measure, []).append(m.name)
        scored_run = {qid: {docid: weight for docid, weight in hits} for qid, hits in ranking.items()}
        for value in ir_measures.iter_calc(list(names_of), qrels, scored_run):
            for metric in names_of[value.measure]:
                per_query[metric][value.query_id] = float(value.value)
        return [(per_query[m.name], sum(per_query[m.name].values()) / len(per_query[m.name])) for m in measures]


@dataclass(frozen=True)
class RktMeasure(Measure):
    k: float
    needs: ClassVar[tuple[str, ...]] = ("answers", "corpus")  # corpus: for TREC runs only
    on_texts: ClassVar[bool] = True
    macro: ClassVar[bool] = True

    @classmethod
    def calc_all(cls, measures, name, ranking, judgements):
        ks = [m.k for m in measures]
        if isinstance(ranking, Mapping):
            judgements.require(measures, "corpus")
            by_k = judgements.rkt_evaluator().evaluate(ranking, ks, missing=judgements.rkt_missing)
        else:  # languages come from the predictions, as officially
            by_k = evaluate_rkt_predictions(ranking, judgements.answers, ks, cache=judgements.text_tokens())
        results = [next(r for r in by_k.values() if r.k == m.k) for m in measures]
        return [({qid: float(hit) for qid, hit in r.per_query.items()}, r.macro) for r in results]


# Scores list ir measures before R@kt whatever the order asked (tables follow the order asked).
_KINDS = (IrMeasure, RktMeasure)


def parse_measure(name: str) -> Measure:
    """``R@2kt`` -> RktMeasure, an ir-measures name -> IrMeasure; anything else is an InputError."""
    k = parse_rkt(name)
    if k is not None:
        return RktMeasure(name, k=k)
    import ir_measures

    try:
        return IrMeasure(name, measure=ir_measures.parse_measure(name))
    except Exception:
        raise InputError(f"unknown metric {name!r} (use ir-measures names, e.g. R@100 MRR@10 nDCG@10)") from None


def parse_measures(names: str | Sequence[str | Measure]) -> list[Measure]:
    """Split (on spaces and commas) and parse metric names, in order; measures pass through."""
    if isinstance(names, str):
        names = names.replace(",", " ").split()
    if not names:
        raise InputError("no metrics given")
    return [name if isinstance(name, Measure) else parse_measure(name) for name in names]


def check_qids(run: Run, qrels: Qrels, where: str) -> None:
    extra = [qid for qid in run if qid not in qrels]
    if extra:
        raise InputError(f"{len(extra)} of {len(run)} queries are absent from the qrels "
                         f"(first: {extra[0]!r}); pass the qrels these topics were judged in", path=where)


def check_on_texts(measures: Sequence[Measure], where: str | None = None) -> None:
    """Prediction files rank passage texts: only measures with ``on_texts`` apply."""
    if any(not m.on_texts for m in measures):
        raise InputError("a prediction file has passage texts, not docids: only R@kt applies", path=where)


def score(name: str, ranking: Ranking, measures: Sequence[Measure], judgements: Judgements) -> Scores:
    """One run's :class:`Scores` on every measure (a TREC run, or prediction texts: R@kt only)."""
    judgements.require(measures, "qrels", "answers")
    if not isinstance(ranking, Mapping):
        check_on_texts(measures)
    scores = Scores(name=name, per_query={}, mean={})
    for kind in _KINDS:
        these = [m for m in measures if isinstance(m, kind)]
        if these:
            for measure, (per_query, aggregate) in zip(these, kind.calc_all(these, name, ranking, judgements)):
                scores.per_query[measure.name] = per_query
                scores.mean[measure.name] = aggregate
    return scores


def score_run(name: str, run: Run, qrels: Qrels, metrics: str | Sequence[str]) -> Scores:
    """A TREC run on ir-measures metrics against ``qrels`` (:func:`score` without R@kt)."""
    return score(name, run, parse_measures(metrics), Judgements(qrels=qrels))
