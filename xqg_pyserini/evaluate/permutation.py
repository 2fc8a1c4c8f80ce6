"""Permutation tests of paired differences: ranx's Fisher randomization test, and its clustered form.

Both flip which run a unit's value belongs to with probability 1/2 and count the permutations
whose ``|difference of means|`` is at least the observed one. The unit is a query
(:func:`fisher_counts`, bit for bit ranx's algorithm with the same seed) or a cluster of queries
that are not independent, e.g. the translations of one question (:func:`cluster_flip_counts`).
A reported p-value is ``(b + 1) / (n + 1)`` for b such permutations out of n: a permutation test
can never give p = 0, and the observed assignment is one of the permutations.

ranx draws the swaps with numba in parallel threads whose random states are seeded from
``os.urandom``, so its ``random_seed`` does not make its result reproducible. :func:`fisher_counts`
draws the same swaps from NumPy's legacy ``RandomState(seed)`` in the order ranx's own code does
when run as plain Python, and matches that bit for bit (tested), vectorized over permutations and
shared by every comparison on the same queries.
"""

from __future__ import annotations

import numpy as np

from xqg_pyserini.errors import InputError

# Permutations are drawn and scored in blocks of about this many (permutation, unit) cells.
_CHUNK_ELEMENTS = 1 << 22


def p_value(count: int | np.ndarray, n_permutations: int) -> float | np.ndarray:
    """``(b + 1) / (n + 1)``: the permutation p-value with the observed assignment counted."""
    return (np.asarray(count, dtype=np.float64) + 1) / (n_permutations + 1)


def fisher_counts(baselines: np.ndarray, runs: np.ndarray, n_permutations: int = 10_000,
                  seed: int = 42) -> np.ndarray:
    """Counts b (permutations at least as extreme) for k paired comparisons over the same n queries.

    Row i of ``baselines`` against row i of ``runs``; every row sees the same swaps, as ranx reseeds
    with the same seed for every comparison.
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
    return at_least_observed



def fisher_p_values(baselines: np.ndarray, runs: np.ndarray, n_permutations: int = 10_000,
                    seed: int = 42) -> np.ndarray:
    """ranx's p-values ``b / n`` (which can be 0), for comparison with ranx itself."""
    return fisher_counts(baselines, runs, n_permutations, seed) / n_permutations


def cluster_flip_counts(differences: np.ndarray, n_permutations: int = 10_000, seed: int = 42) -> np.ndarray:
    """Counts b for k comparisons whose units are clusters: ``differences[c, i]`` is comparison i's summed
    (weighted) difference run - baseline over the queries of cluster c, divided by the query count.

    The statistic of comparison i is ``|sum_c s_c differences[c, i]|`` with s_c = +1 for the observed
    assignment; each permutation draws independent signs per cluster (all queries of a cluster swap
    together), the same draws for every comparison.
    """
    differences = np.asarray(differences, dtype=np.float64)
    if differences.ndim != 2 or differences.shape[0] == 0:
        raise ValueError(f"need a (clusters, comparisons) array, got shape {differences.shape}")
    if n_permutations < 1:
        raise ValueError("n_permutations must be >= 1")
    if not np.isfinite(differences).all():
        raise InputError("per-query values must be finite numbers")
    observed = np.abs(differences.sum(axis=0))
    tolerance = 32 * (differences.shape[0] + 1) * np.finfo(np.float64).eps * np.abs(differences).sum(axis=0)
    counts = np.zeros(differences.shape[1], dtype=np.int64)
    rng = np.random.default_rng(seed)
    block = max(1, _CHUNK_ELEMENTS // differences.shape[0])
    for start in range(0, n_permutations, block):
        signs = rng.integers(0, 2, size=(min(block, n_permutations - start), differences.shape[0])) * 2.0 - 1.0
        permuted = np.abs(signs @ differences)
        counts += np.count_nonzero(permuted >= observed - tolerance, axis=0)
    return counts
