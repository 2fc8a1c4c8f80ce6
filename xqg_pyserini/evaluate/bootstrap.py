"""Bootstrap confidence intervals of the difference between a run and the baseline.

The resampled unit is a cluster of queries (the translations of one question form one cluster;
without clusters every query is its own). A comparison's statistic is the mean over its *groups*
(one group: a plain mean over queries; one group per language: a macro average, as R@kt's
headline) of the group's mean paired difference. A resample draws the clusters with replacement;
a group that a resample leaves empty is left out of that resample's average. The interval is the
percentile interval of the resampled statistics.
"""

from __future__ import annotations

import numpy as np

_CHUNK_ELEMENTS = 1 << 22  # (resample, cluster) cells per block


def cluster_bootstrap_intervals(sums: np.ndarray, counts: np.ndarray, groups: list[np.ndarray],
                                resamples: int = 10_000, seed: int = 42,
                                confidence: float = 0.95) -> np.ndarray:
    """``[low, high]`` per comparison.

    ``sums[c, j]`` / ``counts[c, j]``: summed paired difference and number of queries of cluster c
    in column j (a comparison's group); ``groups[i]``: the columns comparison i averages.
    """
    sums = np.asarray(sums, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    clusters = sums.shape[0]
    if resamples < 1:
        raise ValueError("resamples must be >= 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be within (0, 1)")
    rng = np.random.default_rng(seed)
    statistics = np.empty((resamples, len(groups)), dtype=np.float64)
    block = max(1, _CHUNK_ELEMENTS // max(clusters, 1))
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        draws = rng.integers(0, clusters, size=(size, clusters))
        flat = (draws + clusters * np.arange(size)[:, None]).ravel()
        weights = np.bincount(flat, minlength=size * clusters).reshape(size, clusters).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (weights @ sums) / (weights @ counts)  # (resamples, columns); nan where a group is empty
        for i, columns in enumerate(groups):
            statistics[start:start + size, i] = _nanmean_rows(means[:, columns])
    tail = (1 - confidence) / 2
    return np.nanquantile(statistics, [tail, 1 - tail], axis=0).T


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    total = np.where(present, values, 0.0).sum(axis=1)
    count = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
