"""Score several runs on ir-measures metrics and R@kt alike, ready for tests and leaderboards."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import Scores, parse_metrics, score_run
from xqg_pyserini.evaluate.rkt import RktEvaluator, evaluate_rkt_predictions, parse_rkt
from xqg_pyserini.io.answers import Answer, read_predictions
from xqg_pyserini.io.qrels import Qrels
from xqg_pyserini.io.runs import read_run


def split_metrics(names: str | Sequence[str]) -> tuple[list[str], list[str]]:
    """(ir-measures names, R@kt names), each validated; order within each kept."""
    if isinstance(names, str):
        names = names.replace(",", " ").split()
    rkt = [name for name in names if parse_rkt(name) is not None]
    standard = [name for name in names if parse_rkt(name) is None]
    return (parse_metrics(standard) if standard else []), rkt


def run_name(path: str | Path) -> str:
    """A run's name in tables: its file name without the .trec/.txt/.run/.json suffix."""
    path = Path(path)
    return path.stem if path.suffix in (".trec", ".txt", ".run", ".json") else path.name


def score_files(paths: Sequence[str | Path], metrics: Sequence[str], qrels: Qrels | None = None,
                answers: dict[str, Answer] | None = None, corpus=None, rkt_missing: str = "skip") -> list[Scores]:
    """One Scores per run file. TREC runs, or official prediction JSON files (R@kt only).

    ``rkt_missing``: answered queries absent from a TREC run are left out of R@kt (``"skip"``, the
    official script's behaviour) or counted as misses (``"miss"``).

    R@kt per-query values are the 0/1 hits of counted queries and its mean is the official
    headline, the macro average over languages (in percent).
    """
    standard, rkt = split_metrics(metrics)
    if standard and qrels is None:
        raise InputError(f"--qrels is needed for {', '.join(standard)}")
    if rkt and answers is None:
        raise InputError(f"--answers is needed for {', '.join(rkt)}")
    ks = [parse_rkt(name) for name in rkt]
    evaluator = None
    results = []
    for path in paths:
        name = run_name(path)
        if Path(path).suffix == ".json":
            if standard:
                raise InputError("a prediction file has passage texts, not docids: only R@kt applies", path=path)
            scores = Scores(name=name, per_query={}, mean={})
            by_k = evaluate_rkt_predictions(read_predictions(path), answers, ks)
        else:
            run = read_run(path)
            scores = score_run(name, run, qrels, standard) if standard else Scores(name, {}, {})
            by_k = {}
            if rkt:
                if corpus is None:
                    raise InputError("--corpus is needed for R@kt of a TREC run (passage texts)")
                evaluator = evaluator or RktEvaluator(corpus, answers)
                by_k = evaluator.evaluate(run, ks, missing=rkt_missing)
        for metric, k in zip(rkt, ks):
            result = next(r for r in by_k.values() if r.k == k)
            scores.per_query[metric] = {qid: float(hit) for qid, hit in result.per_query.items()}
            scores.mean[metric] = result.macro
        results.append(scores)
    return results


def language_of(answers: dict[str, Answer] | None, separator: str = "-") -> Callable[[str], str]:
    """qid -> language: the answers file's ``lang`` when it has the qid, else the qid's prefix."""
    def lang(qid: str) -> str:
        if answers and qid in answers:
            return answers[qid].lang
        return qid.split(separator, 1)[0] if separator and separator in qid else "all"
    return lang
