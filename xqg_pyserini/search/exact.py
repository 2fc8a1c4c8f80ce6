"""The one in-memory exact searcher: inner product over vectors held in memory.

The experiment runner, ``xqg align`` and the benchmarks search fused vectors with it instead of
writing an index: :meth:`ExactIndex.search` ranks with FAISS's ``IndexFlatIP`` (what a flat
``xqg index`` holds and Pyserini's ``FaissSearcher`` searches), :meth:`ExactIndex.score_blocks`
gives the full query x passage score matrix block by block, for analyses that need every score.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.runs import Run

SCORE_BLOCK = 256  # queries scored against every passage per step


class ExactIndex:
    """Passage ids and vectors (float32, one row per id) searched exactly by inner product."""

    def __init__(self, ids: Sequence[str], vectors: np.ndarray):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(ids):
            raise ValueError(f"{len(ids)} ids for vectors of shape {vectors.shape}")
        self.ids = list(ids)
        self.vectors = vectors
        self._faiss = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def _check(self, query_vectors: np.ndarray, qids: Sequence[str] | None = None) -> np.ndarray:
        query_vectors = np.ascontiguousarray(query_vectors, dtype=np.float32)
        if query_vectors.ndim != 2 or query_vectors.shape[1] != self.dim:
            raise InputError(f"queries have shape {query_vectors.shape}, passages dim {self.dim}")
        if qids is not None and len(qids) != query_vectors.shape[0]:
            raise ValueError(f"{len(qids)} qids for {query_vectors.shape[0]} query vectors")
        return query_vectors

    def search(self, qids: Sequence[str], query_vectors: np.ndarray, k: int, threads: int = 1) -> Run:
        """The top ``k`` passages of each query, best first (FAISS order for equal scores)."""
        import faiss

        if k < 1:
            raise InputError(f"hits must be at least 1, got {k}")
        query_vectors = self._check(query_vectors, qids)
        if self._faiss is None:
            self._faiss = faiss.IndexFlatIP(self.dim)
            self._faiss.add(self.vectors)
        faiss.omp_set_num_threads(threads)
        scores, rows = self._faiss.search(query_vectors, k)
        return {qid: [(self.ids[i], float(s)) for s, i in zip(scores[r], rows[r]) if i != -1]
                for r, qid in enumerate(qids)}

    def score_blocks(self, query_vectors: np.ndarray, block: int = SCORE_BLOCK
                     ) -> Iterator[tuple[int, np.ndarray]]:
        """``(first query row, scores[queries in block, passages])`` for consecutive blocks of queries."""
        query_vectors = self._check(query_vectors)
        for start in range(0, len(query_vectors), block):
            yield start, query_vectors[start:start + block] @ self.vectors.T


def exact_search(ids: Sequence[str], vectors: np.ndarray, qids: Sequence[str], query_vectors: np.ndarray,
                 k: int, threads: int = 1) -> Run:
    """``ExactIndex(ids, vectors).search(qids, query_vectors, k)``: one call, one ranking."""
    return ExactIndex(ids, vectors).search(qids, query_vectors, k, threads=threads)
