"""Run fusion (e.g. dense xQG + BM25 xQG) with ranx's fusion and normalization functions.

Methods (ours -> ranx): ``rrf`` -> ``rrf`` (score ``Σ w_i / (k + rank_i)``, k = 60 by default);
``combsum`` -> ``sum`` / ``wsum`` (weighted sum of normalized scores); ``combmnz`` -> ``mnz`` /
``wmnz``; ``combmax`` -> ``max``. Normalizations are ranx's: ``min-max`` (default), ``max``,
``sum``, ``zmuv`` (zero mean, unit variance), ``rank``, ``borda``, ``none``. ``rrf`` uses ranks
only, so no normalization applies to it.

Details worth knowing:

* RRF ranks are the ranks of the runs as given (TREC rank order; hits with equal scores keep
  it): ranx would re-sort tied scores in an unspecified order, so it is handed strictly
  decreasing rank scores instead of raw scores, which does not change RRF otherwise.
* Weighted RRF: ranx's ``rrf`` takes no weights, so each run is turned into its RRF scores with
  ranx's ``rrf`` alone and the results are summed with ranx's ``wsum``.
* Runs with different query sets: the output has every query of any run; a query is fused from
  the runs that have it, a run without it contributing nothing, exactly as a run that retrieved
  nothing for it (ranx itself refuses runs whose query sets differ, so queries are fused in
  groups of equal membership).
* ranx's min-max gives 0 to every hit of a query whose hits all have the same score (one hit
  included); zmuv likewise.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import check_output_file
from xqg_pyserini.io.runs import Run, is_run_file, read_run, write_run
from xqg_pyserini.provenance import write_provenance

METHODS = ("rrf", "combsum", "combmnz", "combmax")
NORMS = ("min-max", "max", "sum", "zmuv", "rank", "borda", "none")
RRF_K = 60


def _check(runs: Sequence[Run], method: str, norm: str | None, weights: Sequence[float] | None,
           k: float) -> list[float]:
    if method not in METHODS:
        raise InputError(f"unknown fusion method {method!r}; choose one of: {', '.join(METHODS)}")
    if (norm or "none") not in NORMS:
        raise InputError(f"unknown normalization {norm!r}; choose one of: {', '.join(NORMS)}")
    if len(runs) < 2:
        raise InputError(f"fusion needs at least 2 runs, got {len(runs)}")
    if method == "combmax" and weights is not None:
        raise InputError("combmax takes no weights")
    if weights is None:
        weights = [1.0] * len(runs)
    weights = [float(w) for w in weights]
    if len(weights) != len(runs):
        raise InputError(f"{len(weights)} weights for {len(runs)} runs")
    if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
        raise InputError(f"weights must be >= 0 with at least one > 0, got {weights}")
    if method == "rrf" and k <= 0:
        raise InputError(f"RRF k must be > 0, got {k}")
    for i, run in enumerate(runs):
        if not any(run.values()):
            raise InputError(f"run {i + 1} has no hits")
    return weights


def _ranx_run(run: Run, qids: Sequence[str], by_rank: bool):
    from ranx import Run as RanxRun

    table: dict[str, dict[str, float]] = {}
    for qid in qids:
        hits = run[qid]
        if by_rank:  # strictly decreasing: ranx's sort then reproduces the given ranking exactly
            table[qid] = {docid: float(len(hits) - i) for i, (docid, _) in enumerate(hits)}
        else:
            table[qid] = {docid: float(score) for docid, score in hits}
    return RanxRun.from_dict(table)


def _single(run: Run, weight: float, qids: list[str], method: str, norm: str | None,
            k: float) -> dict[str, dict[str, float]]:
    """Queries only one run has: its RRF or normalized scores, times its weight (ranx.fuse wants 2+ runs)."""
    from ranx.fusion import rrf
    from ranx.normalization import norm_switch

    if method == "rrf":
        scored = rrf([_ranx_run(run, qids, by_rank=True)], k=k)
    else:
        scored = _ranx_run(run, qids, by_rank=False)
        if norm == "borda":
            scored = norm_switch(norm)([scored])[0]
        elif norm not in (None, "none"):
            scored = norm_switch(norm)(scored)
    table = scored.to_dict()
    return {qid: {d: weight * s for d, s in table.get(qid, {}).items()} for qid in qids}


def _fuse_group(runs: list[Run], weights: list[float], qids: list[str], method: str, norm: str | None,
                k: float) -> dict[str, dict[str, float]]:
    from ranx import fuse
    from ranx.fusion import rrf

    if len(runs) == 1:
        return _single(runs[0], weights[0], qids, method, norm, k)
    uniform = all(w == weights[0] for w in weights)
    scale = weights[0] if uniform else 1.0
    if method == "rrf":
        ranked = [_ranx_run(run, qids, by_rank=True) for run in runs]
        if uniform:
            fused = fuse(ranked, norm=None, method="rrf", params={"k": k})
        else:
            fused = fuse([rrf([r], k=k) for r in ranked], norm=None, method="wsum", params={"weights": weights})
    else:
        scored = [_ranx_run(run, qids, by_rank=False) for run in runs]
        norm_arg = None if norm in (None, "none") else norm
        if method == "combmax":
            fused, scale = fuse(scored, norm=norm_arg, method="max"), 1.0
        elif uniform:
            fused = fuse(scored, norm=norm_arg, method={"combsum": "sum", "combmnz": "mnz"}[method])
        else:
            fused = fuse(scored, norm=norm_arg, method={"combsum": "wsum", "combmnz": "wmnz"}[method],
                         params={"weights": weights})
    table = fused.to_dict()
    return {qid: {d: s * scale for d, s in table.get(qid, {}).items()} for qid in qids}


def fuse_runs(runs: Sequence[Run], method: str = "rrf", norm: str | None = "min-max",
              weights: Sequence[float] | None = None, k: float = RRF_K, hits: int | None = None) -> Run:
    """Fuse ``runs`` (qid -> [(docid, score)] best first) into one run, best first.

    ``hits``: keep the top N per query (None: all). Ties in the fused score are broken by docid.
    """
    weights = _check(runs, method, norm, weights, k)
    if hits is not None and hits < 1:
        raise InputError("--hits must be at least 1")
    order: dict[str, None] = {}
    for run in runs:
        order.update(dict.fromkeys(qid for qid, h in run.items() if h))
    groups: dict[tuple[int, ...], list[str]] = {}
    for qid in order:
        members = tuple(i for i, run in enumerate(runs) if run.get(qid))
        groups.setdefault(members, []).append(qid)
    fused: dict[str, dict[str, float]] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unsafe cast.*")  # numba, inside ranx's rrf
        for members, qids in groups.items():
            fused.update(_fuse_group([runs[i] for i in members], [weights[i] for i in members], qids,
                                     method, norm, k))
    out: Run = {}
    for qid in order:
        ranked = sorted(fused[qid].items(), key=lambda item: (-item[1], item[0]))
        out[qid] = ranked[:hits] if hits is not None else ranked
    return out


def fuse_files(paths: Sequence[str | Path], output: str | Path, method: str = "rrf", norm: str | None = "min-max",
               weights: Sequence[float] | None = None, k: float = RRF_K, hits: int | None = 1000,
               tag: str | None = None) -> Run:
    """Read TREC runs, fuse them, write ``output`` (TREC) plus ``output.json`` provenance."""
    check_output_file(output, same_kind=is_run_file, what="TREC run")
    runs = [read_run(p) for p in paths]
    run = fuse_runs(runs, method=method, norm=norm, weights=weights, k=k, hits=hits)
    tag = tag or Path(output).stem
    write_run(run, output, tag=tag)
    record: dict[str, Any] = {
        "kind": "xqg-fused-run", "runs": [str(Path(p).resolve()) for p in paths], "method": method,
        "norm": None if method == "rrf" else (norm or "none"), "weights": list(weights) if weights else None,
        "k": k if method == "rrf" else None, "hits": hits, "queries": len(run), "tag": tag, "library": "ranx",
    }
    write_provenance(f"{output}.json", record)
    return run
