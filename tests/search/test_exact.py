"""The in-memory exact searcher: what a flat index and Pyserini's FaissSearcher return, in memory."""

from __future__ import annotations

import numpy as np
import pytest

from xqg_pyserini.errors import InputError
from xqg_pyserini.search.exact import ExactIndex, exact_search


def _vectors(rows: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)


def test_top_k_equals_a_full_sort_by_inner_product():
    passages, queries = _vectors(50), _vectors(7, seed=1)
    ids, qids = [f"d{i}" for i in range(50)], [f"q{i}" for i in range(7)]
    run = exact_search(ids, passages, qids, queries, k=10)
    assert list(run) == qids
    for row, qid in enumerate(qids):
        scores = queries[row] @ passages.T
        expected = [ids[i] for i in np.argsort(-scores, kind="stable")[:10]]
        assert [d for d, _ in run[qid]] == expected
        assert np.allclose([s for _, s in run[qid]], np.sort(scores)[::-1][:10], atol=1e-5)


def test_k_beyond_the_collection_returns_every_passage_once():
    run = exact_search(["a", "b", "c"], _vectors(3), ["q"], _vectors(1, seed=2), k=10)
    assert sorted(d for d, _ in run["q"]) == ["a", "b", "c"]


def test_score_blocks_cover_every_query_with_full_rows():
    passages, queries = _vectors(20), _vectors(9, seed=3)
    index = ExactIndex([str(i) for i in range(20)], passages)
    blocks = list(index.score_blocks(queries, block=4))
    assert [start for start, _ in blocks] == [0, 4, 8]
    for start, scores in blocks:
        assert np.array_equal(scores, queries[start:start + 4] @ passages.T)
    assert np.allclose(np.concatenate([scores for _, scores in blocks]), queries @ passages.T, atol=1e-5)


def test_bad_inputs():
    index = ExactIndex(["a", "b"], _vectors(2))
    with pytest.raises(InputError, match="hits must be at least 1"):
        index.search(["q"], _vectors(1, seed=4), k=0)
    with pytest.raises(InputError, match="dim 8"):
        index.search(["q"], _vectors(1, dim=4), k=1)
    with pytest.raises(ValueError):
        ExactIndex(["a"], _vectors(2))
