"""Streaming fusion (bounded memory, bit-identical to the in-memory formula) and the index layouts."""

import json

import numpy as np
import pytest

import xqg_pyserini.index.fusion as fusion_module
from xqg_pyserini.errors import InputError
from xqg_pyserini.index.build import IndexSpec, build_index, fuse_stores, read_index_vectors
from xqg_pyserini.io.embeddings import read_store, write_store, write_store_chunks

ENCODER = {"encoder": "m", "pooling": "mean", "l2_norm": True, "dim": 8}


def reference_fuse(passage_ids, passages, keys, generated, alpha, fusion="sum", langs=None, per_lang=None,
                   unaugmented="keep", renorm=False):
    """The in-memory fusion as it was before streaming (np.add.at over every selected row, float64)."""
    row_of = {d: i for i, d in enumerate(passage_ids)}
    wanted = set(langs) if langs else {lang for _, lang, _ in keys}
    chosen = np.array([i for i, (_, lang, r) in enumerate(keys)
                       if lang in wanted and (per_lang is None or r < per_lang)], dtype=np.int64)
    targets = np.array([row_of[keys[i][0]] for i in chosen], dtype=np.int64)
    counts = np.bincount(targets, minlength=len(passage_ids))
    if alpha == 0 or len(chosen) == 0:
        return np.array(passages, dtype=np.float32)
    sums = np.zeros(passages.shape, dtype=np.float64)
    np.add.at(sums, targets, np.asarray(generated[chosen], dtype=np.float64))
    if fusion == "mean":
        sums /= np.maximum(counts, 1)[:, None]
    fused = ((1.0 - alpha) * np.asarray(passages, dtype=np.float64) + alpha * sums).astype(np.float32)
    if unaugmented == "keep":
        fused[counts == 0] = np.asarray(passages, dtype=np.float32)[counts == 0]
    if renorm:
        norms = np.linalg.norm(fused.astype(np.float64), axis=1, keepdims=True)
        fused = np.where(norms > 0, fused / np.maximum(norms, np.finfo(np.float64).tiny), fused).astype(np.float32)
    return fused


def _synthetic(tmp_path, rng, passages=40, shuffle=False, shards=1, dtype="float32"):
    ids = [f"p{i:03d}" for i in range(passages)]
    p = rng.normal(size=(passages, 8)).astype(np.float32)
    keys = [(d, lang, r) for d in ids for lang in ("ar", "ja") for r in range(int(rng.integers(0, 4)))]
    if shuffle:
        keys = [keys[i] for i in rng.permutation(len(keys))]
    g = rng.normal(size=(len(keys), 8)).astype(dtype)
    write_store(tmp_path / "p", ids, p, {"kind": "passage", "encoder": ENCODER})
    rows = ["\t".join(map(str, k)) for k in keys]
    bounds = np.linspace(0, len(keys), shards + 1).astype(int)
    for index in range(shards):
        lo, hi = bounds[index], bounds[index + 1]
        write_store_chunks(tmp_path / "g", hi - lo, 8, {"kind": "generated", "encoder": ENCODER},
                           [(rows[lo:hi], g[lo:hi])], dtype=dtype, shard=(index, shards) if shards > 1 else None)
    return ids, p, keys, g


OPTION_GRID = [{"fusion": fusion, "unaugmented": unaugmented, "renorm": renorm}
               for fusion in ("sum", "mean") for unaugmented in ("keep", "scale") for renorm in (False, True)]


@pytest.mark.parametrize("shuffle, shards, dtype", [(False, 1, "float32"), (True, 1, "float32"),
                                                    (False, 3, "float16"), (True, 2, "float16")])
@pytest.mark.parametrize("options", OPTION_GRID + [{"langs": ["ja"], "per_lang": 2},
                                                   {"langs": ["ar"], "per_lang": 1, "unaugmented": "scale"}])
def test_streamed_fusion_is_bit_identical_to_the_in_memory_formula(tmp_path, monkeypatch, shuffle, shards, dtype,
                                                                  options):
    rng = np.random.default_rng(len(tmp_path.name))
    ids, p, keys, g = _synthetic(tmp_path, rng, shuffle=shuffle, shards=shards, dtype=dtype)
    monkeypatch.setattr(fusion_module, "READ_BYTES", 8 * 4 * 5)  # blocks of 5 rows, 8-passage accumulators
    monkeypatch.setattr(fusion_module, "ACCUMULATOR_BYTES", 8 * 8 * 8)
    fused = fuse_stores(tmp_path / "p", tmp_path / "g", alpha=0.3, **options)
    expected = reference_fuse(ids, p, keys, g.astype(np.float32), 0.3, **options)
    assert fused.vectors.tobytes() == expected.tobytes()
    langs, per_lang = set(options.get("langs") or ("ar", "ja")), options.get("per_lang")
    used = [k for k in keys if k[1] in langs and (per_lang is None or k[2] < per_lang)]
    counts = {d: sum(1 for k in used if k[0] == d) for d in ids}
    augmented = [c for c in counts.values() if c]
    assert {key: fused.record[key] for key in ("queries_used", "passages_augmented", "passages_unaugmented",
                                               "texts_per_passage", "uneven")} == {
        "queries_used": len(used), "passages_augmented": len(augmented),
        "passages_unaugmented": len(ids) - len(augmented),
        "texts_per_passage": {"min": min(augmented), "max": max(augmented)},
        "uneven": min(augmented) != max(augmented)}
    index = build_index(tmp_path / "p", tmp_path / "idx", generated=tmp_path / "g", alpha=0.3, **options)
    assert {k: index[k] for k in ("queries_used", "unaugmented", "renorm", "texts_per_passage")} == \
        {k: fused.record[k] for k in ("queries_used", "unaugmented", "renorm", "texts_per_passage")}
    assert read_index_vectors(tmp_path / "idx")[1].tobytes() == expected.tobytes()


def test_streamed_fusion_equals_the_in_memory_fuse_of_arrays(tmp_path):
    """fusion.fuse (arrays in memory, what the experiment runner's callers use) and the stores agree."""
    rng = np.random.default_rng(7)
    ids, p, keys, g = _synthetic(tmp_path, rng, shuffle=True)
    for options in OPTION_GRID:
        vectors, stats = fusion_module.fuse(ids, p, keys, g, 0.2, **options)
        fused = fuse_stores(tmp_path / "p", tmp_path / "g", alpha=0.2, **options)
        assert vectors.tobytes() == fused.vectors.tobytes()
        assert vectors.tobytes() == reference_fuse(ids, p, keys, g, 0.2, **options).tobytes()
        assert stats.queries_per_lang == fused.record["queries_per_lang"]


def test_memory_is_one_passage_block_when_rows_come_in_passage_order(tmp_path, monkeypatch):
    """Sums are allocated per passage block and generated rows are read a block at a time."""
    rng = np.random.default_rng(3)
    _synthetic(tmp_path, rng, passages=64)
    monkeypatch.setattr(fusion_module, "READ_BYTES", 8 * 4 * 16)
    monkeypatch.setattr(fusion_module, "ACCUMULATOR_BYTES", 8 * 8 * 8)
    sums_rows, read_rows = [], []
    real_accumulate = fusion_module.accumulate

    def spy(sums, targets, rows, fresh=None):
        sums_rows.append(len(sums))
        read_rows.append(len(rows))
        return real_accumulate(sums, targets, rows, fresh)

    monkeypatch.setattr(fusion_module, "accumulate", spy)
    fuse_stores(tmp_path / "p", tmp_path / "g", alpha=0.1)
    assert max(sums_rows) == 8 and max(read_rows) <= 16 and sum(read_rows) == read_store(tmp_path / "g").count


def test_unordered_rows_fall_back_to_one_block(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    _synthetic(tmp_path, rng, passages=30, shuffle=True)
    monkeypatch.setattr(fusion_module, "ACCUMULATOR_BYTES", 8 * 8 * 8)
    blocks = []
    real = fusion_module._finish
    monkeypatch.setattr(fusion_module, "_finish", lambda p, *a: blocks.append(len(p)) or real(p, *a))
    fuse_stores(tmp_path / "p", tmp_path / "g", alpha=0.1)
    assert blocks == [30]


def test_generated_nan_is_named_per_block_and_nothing_is_written(tmp_path):
    rng = np.random.default_rng(5)
    ids, p, keys, g = _synthetic(tmp_path, rng)
    raw = np.load(tmp_path / "g" / "embeddings.npy")
    raw[7, 3] = np.nan
    np.save(tmp_path / "g" / "embeddings.npy", raw)
    with pytest.raises(InputError, match=rf"\(docid {keys[7][0]}\): 1 vector\(s\) contain NaN or inf"):
        build_index(tmp_path / "p", tmp_path / "idx", generated=tmp_path / "g")
    assert not (tmp_path / "idx").exists() and not list(tmp_path.glob(".idx*"))


def test_streamed_flat_file_is_what_faiss_writes(tmp_path):
    import faiss

    rng = np.random.default_rng(6)
    ids, p, keys, g = _synthetic(tmp_path, rng)
    build_index(tmp_path / "p", tmp_path / "idx", generated=tmp_path / "g", alpha=0.2)
    index = faiss.IndexFlatIP(8)
    index.add(reference_fuse(ids, p, keys, g, 0.2))
    assert (tmp_path / "idx" / "index").read_bytes() == faiss.serialize_index(index).tobytes()


@pytest.mark.parametrize("spec, floor", [
    (IndexSpec(index_type="ivfflat", nlist=4, nprobe=4, recall_sample=20), 0.99),
    (IndexSpec(index_type="ivfpq", nlist=2, nprobe=2, pq_m=4, pq_bits=4, recall_sample=20), 0.3),
    (IndexSpec(index_type="hnsw", hnsw_m=8, ef_search=64, recall_sample=20), 0.9),
    (IndexSpec(index_type="flat", shards=3, recall_sample=20), 1.0),
])
def test_index_types_and_shards_record_recall_against_flat(tmp_path, spec, floor):
    rng = np.random.default_rng(8)
    _synthetic(tmp_path, rng, passages=300)
    record = build_index(tmp_path / "p", tmp_path / "idx", generated=tmp_path / "g", alpha=0.1, spec=spec)
    saved = json.loads((tmp_path / "idx" / "xqg.json").read_text())
    assert saved["recall"] == record["recall"] and record["recall"]["queries"] == 20
    assert record["recall"]["recall@100_vs_flat"] >= floor
    assert record["memory_estimate_bytes"] > 0 and record["index_type"] == spec.index_type
    assert not list((tmp_path / "idx").glob(".vectors*"))
    if spec.shards > 1:
        shard_dirs = sorted(d.name for d in (tmp_path / "idx").iterdir() if d.is_dir())
        assert shard_dirs == [f"shard-{i:05d}-of-00003" for i in range(3)]
        assert record["shards"]["count"] == 3


def test_ivfpq_memory_estimate_is_printed_before_building_and_is_small(tmp_path, capsys):
    from xqg_pyserini.cli import main

    rng = np.random.default_rng(9)
    _synthetic(tmp_path, rng, passages=300)
    argv = ["index", "--passages", tmp_path / "p", "--generated", tmp_path / "g", "--index-type", "ivfpq",
            "--nlist", "2", "--pq-m", "2", "--pq-bits", "4", "--recall-sample", "10", "--output", tmp_path / "pq"]
    assert main([str(a) for a in argv]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("index memory estimate:") and "ivfpq, 300 vectors of dim 8" in captured.out
    assert "recall@100 against exact search" in captured.out
    record = json.loads((tmp_path / "pq" / "xqg.json").read_text())
    assert record["ivfpq"]["pq_m"] == 2 and record["memory_estimate_bytes"] < 300 * 8 * 4
    status = main([str(a) for a in [*argv[:-1], tmp_path / "bad", "--pq-m", "3"]])
    assert status == 2 and "--pq-m 3 must divide the dimension 8" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_sharded_index_search_equals_the_one_dir_index(tmp_path):
    from xqg_pyserini.search.dense import search

    rng = np.random.default_rng(10)
    _synthetic(tmp_path, rng, passages=50)
    queries = rng.normal(size=(6, 8)).astype(np.float32)
    write_store(tmp_path / "q", [f"q{i}" for i in range(6)], queries, {"kind": "query", "encoder": ENCODER})
    topics = {f"q{i}": "unused" for i in range(6)}
    build_index(tmp_path / "p", tmp_path / "one", generated=tmp_path / "g")
    build_index(tmp_path / "p", tmp_path / "four", generated=tmp_path / "g", spec=IndexSpec(shards=4))
    encoded = read_store(tmp_path / "q", kind="query")
    one = search(tmp_path / "one", topics, encoded=encoded, hits=10, progress=False)
    four = search(tmp_path / "four", topics, encoded=encoded, hits=10, progress=False)
    assert [[d for d, _ in one[q]] for q in topics] == [[d for d, _ in four[q]] for q in topics]
    np.testing.assert_allclose([[s for _, s in one[q]] for q in topics], [[s for _, s in four[q]] for q in topics],
                               rtol=1e-6)
