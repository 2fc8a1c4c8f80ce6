"""Shard sets read as one store; damaged, torn or mixed stores are named InputErrors (exit 2, nothing written)."""

import errno
import json

import numpy as np
import pytest

from xqg_pyserini.cli import main
from xqg_pyserini.errors import InputError, OutputError
from xqg_pyserini.io.embeddings import read_store, write_store, write_store_chunks

ENC = {"encoder": "m", "dim": 4}


def _sharded(path, ids, vectors, count=3, dtype="float32", kind="passage"):
    bounds = np.linspace(0, len(ids), count + 1).astype(int)
    for i in range(count):
        write_store_chunks(path, bounds[i + 1] - bounds[i], vectors.shape[1], {"kind": kind, "encoder": ENC},
                           [(ids[bounds[i]:bounds[i + 1]], vectors[bounds[i]:bounds[i + 1]])], dtype=dtype,
                           shard=(i, count))


def _index(tmp_path, capsys, passages):
    status = main(["index", "--passages", str(passages), "--output", str(tmp_path / "idx")])
    return status, capsys.readouterr().err


def test_a_shard_set_reads_as_the_one_store(tmp_path):
    ids = [f"d{i}" for i in range(10)]
    vectors = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    write_store(tmp_path / "one", ids, vectors, {"kind": "passage", "encoder": ENC})
    _sharded(tmp_path / "three", ids, vectors)
    one, three = read_store(tmp_path / "one"), read_store(tmp_path / "three", kind="passage")
    assert three.ids == one.ids and three.count == 10 and three.meta["shards"] == 3
    assert three.read_vectors(2, 9).tobytes() == vectors[2:9].tobytes()
    assert np.asarray(three.vectors).tobytes() == np.asarray(one.vectors).tobytes()


def test_float16_store_is_upcast_when_read(tmp_path):
    vectors = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    write_store(tmp_path / "h", list("abcde"), vectors, {"kind": "passage", "encoder": ENC}, dtype="float16")
    store = read_store(tmp_path / "h")
    assert store.dtype == np.float16 and store.meta["dtype"] == "float16"
    assert (tmp_path / "h" / "embeddings.npy").stat().st_size == 128 + 5 * 4 * 2  # header + half the bytes
    np.testing.assert_array_equal(store.read_vectors(0, 5), vectors.astype(np.float16))


@pytest.mark.parametrize("damage, needle", [
    (lambda d: (d / "meta-1-of-3.json").unlink(), "shard set is incomplete: shard(s) 1 of 3 missing"),
    (lambda d: (d / "embeddings-2-of-3.npy").unlink(), "embeddings-2-of-3.npy is missing"),
    (lambda d: (d / "embeddings-0-of-3.npy").write_bytes((d / "embeddings-0-of-3.npy").read_bytes()[:-9]),
     "truncated or damaged"),
    (lambda d: (d / "ids-1-of-3.tsv").write_text("d3\n"), "(truncated or changed after writing)"),
    (lambda d: (d / "meta-0-of-3.json").write_text("{not json"), "meta-0-of-3.json:1: malformed JSON"),
])
def test_damaged_shard_sets_are_named(tmp_path, capsys, damage, needle):
    ids = [f"d{i}" for i in range(9)]
    _sharded(tmp_path / "s", ids, np.ones((9, 4), np.float32))
    damage(tmp_path / "s")
    status, err = _index(tmp_path, capsys, tmp_path / "s")
    assert status == 2 and needle in err and not (tmp_path / "idx").exists()


def test_mixed_dims_dtypes_and_splits_are_named(tmp_path):
    ids = [f"d{i}" for i in range(6)]
    _sharded(tmp_path / "dims", ids, np.ones((6, 4), np.float32), count=2)
    write_store_chunks(tmp_path / "dims", 3, 5, {"kind": "passage", "encoder": ENC},
                       [(ids[3:], np.ones((3, 5), np.float32))], shard=(1, 2))
    with pytest.raises(InputError, match=r"shard 1 of 2 differs from shard 0 \(dim, dim 5 vs 4\)"):
        read_store(tmp_path / "dims")
    _sharded(tmp_path / "dtypes", ids, np.ones((6, 4), np.float32), count=2)
    write_store_chunks(tmp_path / "dtypes", 3, 4, {"kind": "passage", "encoder": ENC},
                       [(ids[3:], np.ones((3, 4)))], dtype="float16", shard=(1, 2))
    with pytest.raises(InputError, match="dtype float16 vs float32"):
        read_store(tmp_path / "dtypes")
    _sharded(tmp_path / "splits", ids, np.ones((6, 4), np.float32), count=2)
    write_store_chunks(tmp_path / "splits", 2, 4, {"kind": "passage", "encoder": ENC},
                       [(ids[:2], np.ones((2, 4)))], shard=(0, 3))
    with pytest.raises(InputError, match=r"shards of different splits \(2, 3-way\)"):
        read_store(tmp_path / "splits")


@pytest.mark.parametrize("damage, needle", [
    (lambda d: (d / "meta.json").write_text('{"kind": "passage", "count": "x"'), "meta.json:1: malformed JSON"),
    (lambda d: (d / "meta.json").write_text('{"kind": "passage", "count": "3"}'), "key 'count' must be of type int"),
    (lambda d: (d / "embeddings.npy").write_bytes((d / "embeddings.npy").read_bytes()[:-4]),
     "truncated or damaged: 172 bytes, the header of shape (3, 4) needs 176"),
    (lambda d: (d / "ids.tsv").write_text("a\nb\n"), "ids.tsv has 4 bytes, its meta says 6"),
    (lambda d: (d / "embeddings.npy").write_bytes(b"garbage"), "not a readable .npy file"),
])
def test_damaged_single_stores_are_named(tmp_path, capsys, damage, needle):
    write_store(tmp_path / "p", ["a", "b", "c"], np.ones((3, 4)), {"kind": "passage", "encoder": ENC})
    damage(tmp_path / "p")
    status, err = _index(tmp_path, capsys, tmp_path / "p")
    assert status == 2 and needle in err and "Traceback" not in err and not (tmp_path / "idx").exists()


def test_ids_and_arrays_of_different_lengths(tmp_path):
    write_store(tmp_path / "p", ["a", "b", "c"], np.ones((3, 4)), {"kind": "passage", "encoder": ENC})
    meta = json.loads((tmp_path / "p" / "meta.json").read_text())
    del meta["ids_bytes"]  # a store from before sizes were recorded: the lines are counted
    (tmp_path / "p" / "meta.json").write_text(json.dumps(meta))
    (tmp_path / "p" / "ids.tsv").write_text("a\nb\n")
    with pytest.raises(InputError, match="2 ids but 3 vectors"):
        _ = read_store(tmp_path / "p").ids


def test_disk_full_while_writing_is_named_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import xqg_pyserini.index.writers as writers

    write_store(tmp_path / "p", ["a", "b"], np.ones((2, 4)), {"kind": "passage", "encoder": ENC})

    def full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writers, "_stream_to_files", full)
    status, err = _index(tmp_path, capsys, tmp_path / "p")
    assert status == 2 and "idx: no space left on device while writing it; nothing was written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]
    with pytest.raises(OutputError, match="no space left on device"):
        import xqg_pyserini.io.store_writer as store_writer

        monkeypatch.setattr(store_writer, "npy_header", full)
        write_store(tmp_path / "s", ["a"], np.ones((1, 4)), {"kind": "passage"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]
    with pytest.raises(OutputError, match=r"-0-of-2\.(npy|tsv): no space left on device"):  # a shard: none left
        write_store_chunks(tmp_path / "shards", 1, 4, {"kind": "passage"}, [(["a"], np.ones((1, 4)))], shard=(0, 2))
    assert list((tmp_path / "shards").iterdir()) == []
