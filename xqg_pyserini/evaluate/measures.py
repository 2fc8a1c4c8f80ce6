"""Standard metrics through ir-measures, per query and averaged over the judged queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.qrels import Qrels
from xqg_pyserini.io.runs import Run


@dataclass
class Scores:
    """One run's scores: ``per_query[metric][qid]`` and the mean over every judged query."""

    name: str
    per_query: dict[str, dict[str, float]]
    mean: dict[str, float]


def parse_metrics(names: str | Sequence[str]) -> list[str]:
    """Split and validate metric names (ir-measures syntax: ``R@100 MRR@10 nDCG@10``)."""
    import ir_measures

    if isinstance(names, str):
        names = names.replace(",", " ").split()
    if not names:
        raise InputError("no metrics given")
    for name in names:
        try:
            ir_measures.parse_measure(name)
        except Exception:
            raise InputError(f"unknown metric {name!r} (use ir-measures names, e.g. R@100 MRR@10 nDCG@10)") from None
    return list(names)


def check_qids(run: Run, qrels: Qrels, where: str) -> None:
    extra = [qid for qid in run if qid not in qrels]
    if extra:
        raise InputError(f"{len(extra)} of {len(run)} queries are absent from the qrels "
                         f"(first: {extra[0]!r}); pass the qrels these topics were judged in", path=where)


def score_run(name: str, run: Run, qrels: Qrels, metrics: Sequence[str]) -> Scores:
    """Every judged query counts; one missing from the run scores 0 (as ``trec_eval -c``)."""
    import ir_measures

    check_qids(run, qrels, name)
    parsed = {metric: ir_measures.parse_measure(metric) for metric in metrics}
    by_measure = {measure: metric for metric, measure in parsed.items()}
    per_query: dict[str, dict[str, float]] = {metric: dict.fromkeys(qrels, 0.0) for metric in metrics}
    scored_run = {qid: {docid: score for docid, score in hits} for qid, hits in run.items()}
    for value in ir_measures.iter_calc(list(parsed.values()), qrels, scored_run):
        per_query[by_measure[value.measure]][value.query_id] = float(value.value)
    mean = {metric: sum(values.values()) / len(values) for metric, values in per_query.items()}
    return Scores(name=name, per_query=per_query, mean=mean)
