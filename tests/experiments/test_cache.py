"""Content-keyed embedding caches and the ordinary stores derived from them (experiments/cache.py)."""

from __future__ import annotations

import numpy as np
import pytest

from xqg_pyserini.errors import InputError
from xqg_pyserini.experiments.cache import TextCache, text_key, write_derived_store
from xqg_pyserini.io.embeddings import read_store

ENCODER = {"encoder": "tiny", "dim": 3}


def _vectors(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, 3)).astype(np.float32)


def test_each_distinct_text_is_stored_once_and_survives_a_reload(tmp_path):
    cache = TextCache(tmp_path / "q", "query")
    assert cache.missing(["a", "b", "a"]) == ["a", "b"]
    vectors = _vectors(2)
    cache.add(["a", "b"], vectors, ENCODER)
    assert cache.missing(["a", "c", "b", "c"]) == ["c"] and cache.encoded == 2
    cache.add(["c"], _vectors(1, seed=1), ENCODER)
    assert np.array_equal(cache.get(["b", "a", "b"]), vectors[[1, 0, 1]])
    again = TextCache(tmp_path / "q", "query")
    assert len(again) == 3 and again.encoded == 0 and again.encoder_config == ENCODER
    assert np.array_equal(again.get(["c", "a"]), np.concatenate([_vectors(1, seed=1), vectors[:1]]))
    assert read_store(tmp_path / "q").ids == [text_key(t) for t in ("a", "b", "c")]
    again.reset()
    assert len(again) == 0 and again.encoder_config is None and again.missing(["a"]) == ["a"]


def test_keys_are_content_hashes_and_bad_vectors_are_refused(tmp_path):
    assert text_key("a") == text_key("a") != text_key("a ")
    cache = TextCache(tmp_path / "p", "passage")
    bad = _vectors(1)
    bad[0, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        cache.add(["x"], bad, ENCODER)
    assert not (tmp_path / "p").exists()


def test_a_derived_store_is_rewritten_only_when_it_changes(tmp_path):
    meta = {"kind": "passage", "encoder": ENCODER}
    write_derived_store(tmp_path / "s", ["d1", "d2"], _vectors(2), meta)
    stamp = (tmp_path / "s" / "embeddings.npy").stat().st_mtime_ns
    write_derived_store(tmp_path / "s", ["d1", "d2"], _vectors(2), meta)
    assert (tmp_path / "s" / "embeddings.npy").stat().st_mtime_ns == stamp
    store = write_derived_store(tmp_path / "s", ["d1", "d2"], _vectors(2, seed=5), meta)
    assert np.array_equal(np.asarray(store.vectors), _vectors(2, seed=5))
