"""Per-passage float64 sums of generated rows, in row order: the arithmetic of streaming fusion.

:func:`accumulate` adds a block of rows to their passages' running sums with the same additions,
in the same order, as an in-order ``np.add.at`` over float64, but vectorized: a uniform run of
consecutive passages (k rows each, what ``xqg encode`` writes) is one strided reduction, split
by passage over threads; anything else is added rank by rank. :mod:`xqg_pyserini.index.fusion`
feeds it block by block.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

REDUCE_THREADS = min(4, os.cpu_count() or 1)  # threads summing a read block's rows (1 MiB or more each)


def accumulate(sums: np.ndarray, targets: np.ndarray, rows: np.ndarray, fresh: np.ndarray | None = None) -> None:
    """``sums[t] += rows[i]`` (float64) for every ``targets[i] = t >= 0``, in row order per target.

    The same additions as ``np.add.at(sums, targets, rows.astype(float64))``, done as one
    vectorized step per rank within a target (the first row of every target, then the second,
    ...), so every row of a target is added to its running sum in row order. ``fresh`` marks the
    rows of ``sums`` nothing was added to yet (updated here): for consecutive runs of k rows into
    fresh targets, numpy's reduction over the rank axis (sequential: ``((g0 + g1) + g2) ...``)
    gives the same bits as adding from 0.0, one pass instead of k.
    """
    _accumulate(sums, targets, rows, fresh)


def _reduce_into(block: np.ndarray, grid: np.ndarray) -> None:
    """``block += grid.sum(axis=1)`` in float64, the passages split over threads (numpy frees the GIL).

    Each element's additions are the same in any split, so the bits do not depend on the threads.
    """
    parts = min(REDUCE_THREADS, max(1, grid.nbytes // (1 << 20)))
    if parts == 1:
        block += np.add.reduce(grid, axis=1, dtype=np.float64)
        return
    bounds = np.linspace(0, len(grid), parts + 1).astype(int)

    def reduce_part(part: int) -> None:
        a, b = bounds[part], bounds[part + 1]
        block[a:b] += np.add.reduce(grid[a:b], axis=1, dtype=np.float64)

    list(_reduce_pool().map(reduce_part, range(parts)))


@functools.lru_cache(maxsize=1)
def _reduce_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=REDUCE_THREADS, thread_name_prefix="xqg-fusion-sum")


def _accumulate(sums: np.ndarray, targets: np.ndarray, rows: np.ndarray, fresh: np.ndarray | None) -> None:
    keep = targets >= 0
    if not keep.all():
        targets, rows = targets[keep], rows[keep]
    if not len(targets):
        return
    if (targets[1:] >= targets[:-1]).all():
        order = None
        sorted_targets = targets
    else:
        order = np.argsort(targets, kind="stable")
        sorted_targets = targets[order]
    change = np.empty(len(sorted_targets), dtype=bool)
    change[0] = True
    np.not_equal(sorted_targets[1:], sorted_targets[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    sizes = np.diff(starts, append=len(sorted_targets))
    first = sorted_targets[starts]
    if order is None and (sizes == sizes[0]).all() and first[-1] - first[0] == len(first) - 1:
        # Consecutive passages with k rows each: rank j of every passage is a strided view.
        grid = rows.reshape(len(first), int(sizes[0]), rows.shape[1])
        block = sums[first[0]:first[-1] + 1]
        if fresh is not None and fresh[first[0]:first[-1] + 1].all():
            _reduce_into(block, grid)
        else:
            for rank in range(int(sizes[0])):
                block += grid[:, rank]
        if fresh is not None:
            fresh[first[0]:first[-1] + 1] = False
        return
    if order is None and len(first) > 2 and (sizes[1:-1] == sizes[1]).all() and first[-2] - first[1] == len(first) - 3:
        # A read block cuts its first and last passage's rows: add those two apart, the uniform middle at once.
        for begin, end in ((0, starts[1]), (starts[1], starts[-1]), (starts[-1], len(sorted_targets))):
            _accumulate(sums, sorted_targets[begin:end], rows[begin:end], fresh)
        return
    if fresh is not None:
        fresh[first] = False
    rank_of = np.arange(len(sorted_targets)) - np.repeat(starts, sizes)
    by_rank = np.argsort(rank_of, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(rank_of))])
    for rank in range(len(bounds) - 1):
        positions = by_rank[bounds[rank]:bounds[rank + 1]]
        rows_at = positions if order is None else order[positions]
        sums[sorted_targets[positions]] += rows[rows_at]
