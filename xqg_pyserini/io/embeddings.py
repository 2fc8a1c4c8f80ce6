"""Embedding stores: a directory of vectors with their ids, reused across index builds.

One store (``xqg encode``)::

    embeddings.npy   float32 or float16, one row per text
    ids.tsv          one line per row: ``docid`` (passages), ``qid`` (queries), ``docid<TAB>lang<TAB>rank``
    keys.npy         generated stores only: int32 ``(docid code, lang code, rank)`` per row, the ids as
                     integers, so fusion joins rows to passages without reading or splitting ``ids.tsv``
    docids.tsv       generated stores only: the docid of each code (first-seen order); langs in meta
    meta.json        kind, encoder config, input fingerprint, count, dim, dtype, langs, versions

or a shard set (``xqg encode --shard I/N``, one process per shard, possibly at the same time):
the same files named ``embeddings-I-of-N.npy``, ``ids-I-of-N.tsv``, ``keys-I-of-N.npy``,
``docids-I-of-N.tsv`` and ``meta-I-of-N.json`` (written last: a shard exists once its meta does,
and the meta records the byte sizes of the others, so a torn or truncated shard is named). Shards
0..N-1 in order read as one store everywhere (:func:`read_store`). Vectors are read block by
block with positional reads (:meth:`EmbeddingStore.read_vectors`): mapped pages would count in
a process's resident memory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.jsonl import read_json_object

KINDS = ("passage", "query", "generated")
STORE_DTYPES = ("float32", "float16")  # what a store may hold; fusion and search upcast to float32/float64
SINGLE = {"embeddings": "embeddings.npy", "ids": "ids.tsv", "keys": "keys.npy", "docids": "docids.tsv",
          "meta": "meta.json"}
SHARD_META = re.compile(r"meta-(\d+)-of-(\d+)\.json")
READ_BYTES = 4 << 20  # bytes of vectors per positional read


def shard_files(index: int, count: int) -> dict[str, str]:
    """File names of shard ``index`` of ``count`` in a store dir."""
    return {role: f"{stem}-{index}-of-{count}.{ext}"
            for role, (stem, ext) in ((r, n.split(".")) for r, n in SINGLE.items())}


def check_finite(vectors: np.ndarray, ids: Sequence[str], where: str | Path, first_row: int = 0) -> None:
    """InputError naming the first id whose vector holds NaN or inf (``ids[row - first_row]``)."""
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"{int(bad.sum())} vector(s) contain NaN or inf", path=where, docid=ids[first + first_row])


# --------------------------------------------------------------------------- keys of generated rows

def parse_generated_id(row: str, where: Path, line: int) -> tuple[str, str, int]:
    parts = row.split("\t")
    if len(parts) != 3 or not parts[2].isdigit():
        raise InputError("expected 'docid<TAB>lang<TAB>rank'", path=where, line=line)
    return parts[0], parts[1], int(parts[2])


# --------------------------------------------------------------------------- npy files

def _npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, data offset)`` of an .npy file, checked against its size."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(handle)
            offset = handle.tell()
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"not a readable .npy file ({err})", path=path) from None
    if fortran:
        raise InputError("Fortran-ordered arrays are not supported", path=path)
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        raise InputError(f"truncated or damaged: {size} bytes, the header of shape {tuple(shape)} needs {expected}",
                         path=path)
    return tuple(shape), dtype, offset


def _read_rows(path: Path, offset: int, row_bytes: int, start: int, stop: int, dtype: np.dtype,
               width: int, fd: int | None = None) -> np.ndarray:
    """Rows ``[start, stop)`` by positional reads (``fd``: an open descriptor of ``path`` to reuse)."""
    out = np.empty((stop - start, width), dtype=dtype)
    view = memoryview(out).cast("B")
    own = fd is None
    if own:
        fd = os.open(path, os.O_RDONLY)
    try:
        done = 0
        while done < len(view):
            got = os.preadv(fd, [view[done:]], offset + start * row_bytes + done)
            if not got:
                raise InputError(f"truncated while reading rows {start}-{stop}", path=path)
            done += got
    finally:
        if own:
            os.close(fd)
    return out


# --------------------------------------------------------------------------- reading

@dataclass
class StoreShard:
    """One file set of a store: its vectors, ids and (generated) keys."""

    files: dict[str, Path]
    meta: dict[str, Any]
    rows: int
    dim: int
    dtype: np.dtype
    offset: int  # where the vectors start in the .npy file
    keys_offset: int | None = None

    def _fd(self, role: str) -> int:
        fds = self.__dict__.setdefault("_fds", {})
        if role not in fds:
            fds[role] = os.open(self.files[role], os.O_RDONLY)
        return fds[role]

    def __del__(self):
        for fd in self.__dict__.get("_fds", {}).values():
            os.close(fd)

    def read(self, start: int, stop: int) -> np.ndarray:
        return _read_rows(self.files["embeddings"], self.offset, self.dim * self.dtype.itemsize, start, stop,
                          self.dtype, self.dim, self._fd("embeddings"))

    def map(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` as a read-only view of a mapping of just that range, unmapped when the
        array is dropped (so the pages stay out of the process's resident memory afterwards)."""
        import mmap

        if stop <= start:
            return np.empty((0, self.dim), self.dtype)
        row_bytes = self.dim * self.dtype.itemsize
        first = self.offset + start * row_bytes
        aligned = first - first % mmap.ALLOCATIONGRANULARITY
        length = first - aligned + (stop - start) * row_bytes
        mapping = mmap.mmap(self._fd("embeddings"), length, offset=aligned, access=mmap.ACCESS_READ)
        return np.frombuffer(mapping, dtype=self.dtype, count=(stop - start) * self.dim,
                             offset=first - aligned).reshape(stop - start, self.dim)

    def read_keys(self, start: int, stop: int) -> np.ndarray:
        return _read_rows(self.files["keys"], self.keys_offset, 12, start, stop, np.dtype(np.int32), 3,
                          self._fd("keys"))

    def ids(self) -> list[str]:
        ids = self.files["ids"].read_text(encoding="utf-8").splitlines()
        if len(ids) != self.rows:
            raise InputError(f"{len(ids)} ids but {self.rows} vectors", path=self.files["ids"])
        return ids

    def docids(self) -> list[str]:
        return self.files["docids"].read_text(encoding="utf-8").splitlines()

    @property
    def langs(self) -> list[str]:
        return list(self.meta.get("langs") or [])


def _open_shard(root: Path, files: dict[str, str], meta: dict[str, Any]) -> StoreShard:
    paths = {role: root / name for role, name in files.items()}
    for role in ("embeddings", "ids"):
        if not paths[role].is_file():
            raise InputError(f"{files[role]} is missing", path=root)
    shape, dtype, offset = _npy_layout(paths["embeddings"])
    if len(shape) != 2:
        raise InputError(f"vectors must be a 2-D array, found shape {shape}", path=paths["embeddings"])
    if dtype.name not in STORE_DTYPES:
        raise InputError(f"vectors must be {' or '.join(STORE_DTYPES)}, found {dtype}", path=paths["embeddings"])
    count = meta.get("count")
    if count is not None and count != shape[0]:
        raise InputError(f"meta says {count} vectors, {files['embeddings']} holds {shape[0]}", path=root)
    ids_bytes = meta.get("ids_bytes")
    if ids_bytes is not None and paths["ids"].stat().st_size != ids_bytes:
        raise InputError(f"{files['ids']} has {paths['ids'].stat().st_size} bytes, its meta says {ids_bytes} "
                         "(truncated or changed after writing)", path=root)
    shard = StoreShard(paths, meta, rows=shape[0], dim=shape[1], dtype=dtype, offset=offset)
    if meta.get("kind") == "generated" and paths["keys"].is_file():
        key_shape, key_dtype, shard.keys_offset = _npy_layout(paths["keys"])
        if key_shape != (shape[0], 3) or key_dtype != np.int32:
            raise InputError(f"keys of shape {key_shape} ({key_dtype}) for {shape[0]} vectors", path=paths["keys"])
        if not paths["docids"].is_file():
            raise InputError(f"{files['docids']} is missing", path=root)
    return shard


def _read_meta(path: Path) -> dict[str, Any]:
    meta = read_json_object(path)
    for key, kind in (("count", int), ("dim", int), ("ids_bytes", int), ("langs", list)):
        if key in meta and not isinstance(meta[key], kind):
            raise InputError(f"key {key!r} must be of type {kind.__name__}", path=path)
    return meta


def _shard_metas(path: Path) -> list[tuple[int, int, Path]]:
    found = []
    for meta in sorted(path.glob("meta-*-of-*.json")):
        match = SHARD_META.fullmatch(meta.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), meta))
    return found


# Settings every shard of one store must share (the rest, counts and the shard number, may differ).
_SHARD_AGREE = ("kind", "encoder", "dim", "dtype", "settings_fingerprint", "passage_template", "generated_field")


def _open_shards(path: Path) -> tuple[list[StoreShard], dict[str, Any]]:
    found = _shard_metas(path)
    counts = {count for _, count, _ in found}
    if len(counts) > 1:
        raise InputError(f"shards of different splits ({', '.join(map(str, sorted(counts)))}-way) are mixed here",
                         path=path)
    count = counts.pop()
    present = {index: meta for index, _, meta in found}
    missing = [i for i in range(count) if i not in present]
    if missing:
        raise InputError(f"shard set is incomplete: shard(s) {', '.join(map(str, missing))} of {count} missing "
                         f"(run xqg encode --shard I/{count} for each)", path=path)
    shards = [_open_shard(path, shard_files(i, count), _read_meta(present[i])) for i in range(count)]
    first = shards[0].meta
    for index, shard in enumerate(shards[1:], start=1):
        differ = [key for key in _SHARD_AGREE if shard.meta.get(key) != first.get(key)]
        if shard.dim != shards[0].dim:
            differ.append(f"dim {shard.dim} vs {shards[0].dim}")
        if shard.dtype != shards[0].dtype:
            differ.append(f"dtype {shard.dtype} vs {shards[0].dtype}")
        if differ:
            raise InputError(f"shard {index} of {count} differs from shard 0 ({', '.join(differ)})",
                             path=present[index])
    meta = {key: value for key, value in first.items() if key not in ("shard", "count", "ids_bytes", "langs")}
    meta.update(count=sum(s.rows for s in shards), shards=count)
    return shards, meta


def check_shard(path: str | Path, shard: tuple[int, int]) -> None:
    """InputError unless shard ``(I, N)`` of the store dir ``path`` is whole (meta, sizes, header)."""
    path = Path(path)
    files = shard_files(*shard)
    _open_shard(path, files, _read_meta(path / files["meta"]))


class EmbeddingStore:
    """A store's meta, its shards (one for a plain store), and lazy ``ids``/``vectors``."""

    def __init__(self, path: str | Path, ids: Sequence[str] | None = None, vectors: np.ndarray | None = None,
                 meta: dict[str, Any] | None = None, shards: list[StoreShard] | None = None):
        self.path = Path(path)
        self.meta = dict(meta or {})
        self.shards = shards or []
        self._ids = list(ids) if ids is not None else None
        self._vectors = vectors

    @property
    def kind(self) -> str:
        return self.meta.get("kind", "")

    @property
    def count(self) -> int:
        return sum(s.rows for s in self.shards) if self.shards else len(self.ids)

    def __len__(self) -> int:
        return self.count

    @property
    def dim(self) -> int:
        return self.shards[0].dim if self.shards else int(self.vectors.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self.shards[0].dtype if self.shards else self.vectors.dtype

    @property
    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = [i for shard in self.shards for i in shard.ids()]
        return self._ids

    @property
    def vectors(self) -> np.ndarray:
        """All vectors: memory-mapped for a one-file store, loaded (concatenated) for a shard set."""
        if self._vectors is None:
            maps = [np.load(s.files["embeddings"], mmap_mode="r") for s in self.shards]
            self._vectors = maps[0] if len(maps) == 1 else np.concatenate(maps)
        return self._vectors

    def ids_path(self) -> Path:
        return self.shards[0].files["ids"] if len(self.shards) == 1 else self.path

    def read_vectors(self, start: int, stop: int, mapped: bool = False) -> np.ndarray:
        """Rows ``[start, stop)`` across shards, read from disk (``mapped``: a mapped view, see
        :meth:`StoreShard.map`; in memory for a store built in memory)."""
        if not self.shards:
            return np.asarray(self.vectors[start:stop])
        parts, first = [], 0
        for shard in self.shards:
            lo, hi = max(start, first), min(stop, first + shard.rows)
            if lo < hi:
                parts.append(shard.map(lo - first, hi - first) if mapped else shard.read(lo - first, hi - first))
            first += shard.rows
        return parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.empty((0, self.dim), self.dtype)

    def iter_blocks(self, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, vectors)`` for consecutive blocks of about ``READ_BYTES``."""
        rows = rows or max(1, READ_BYTES // max(1, self.dim * self.dtype.itemsize))
        for start in range(0, self.count, rows):
            yield start, self.read_vectors(start, min(self.count, start + rows))

    def check_finite(self) -> None:
        """NaN/inf anywhere, block by block, naming the first id."""
        for start, block in self.iter_blocks():
            if not np.isfinite(block).all():
                check_finite(block, self.ids, self.ids_path(), first_row=start)

    def generated_keys(self) -> list[tuple[str, str, int]]:
        """``(docid, lang, rank)`` per row of a generated store."""
        keys = []
        for shard in self.shards or [None]:
            if shard is not None and shard.keys_offset is not None:
                docids, langs, codes = shard.docids(), shard.langs, shard.read_keys(0, shard.rows)
                keys += [(docids[d], langs[lang], int(rank)) for d, lang, rank in codes.tolist()]
            else:
                ids = shard.ids() if shard is not None else self.ids
                where = shard.files["ids"] if shard is not None else self.path / "ids.tsv"
                keys += [parse_generated_id(row, where, line) for line, row in enumerate(ids, start=1)]
        return keys


def read_store(path: str | Path, kind: str | None = None) -> EmbeddingStore:
    """A store dir (one file set or a complete shard set); damaged, torn or mixed stores are InputErrors."""
    path = Path(path)
    if not path.is_dir():
        raise InputError("not an embedding store (no such directory); make one with `xqg encode`", path=path)
    if (path / SINGLE["meta"]).is_file():
        if _shard_metas(path):
            raise InputError("holds both a whole store (meta.json) and shards (meta-I-of-N.json)", path=path)
        meta = _read_meta(path / SINGLE["meta"])
        shards = [_open_shard(path, SINGLE, meta)]
    elif _shard_metas(path):
        shards, meta = _open_shards(path)
    else:
        missing = [n for n in ("embeddings.npy", "ids.tsv", "meta.json") if not (path / n).is_file()]
        raise InputError(f"not an embedding store (missing {', '.join(missing)}); make one with `xqg encode`",
                         path=path)
    if kind is not None and meta.get("kind") != kind:
        raise InputError(f"expected {kind} embeddings, found {meta.get('kind')!r}", path=path)
    return EmbeddingStore(path=path, meta=meta, shards=shards)


# Writers live in store_writer.py; re-exported here, the one module callers import stores from.
from xqg_pyserini.io.store_writer import (KeyEncoder, ShardWriter, check_store_output,  # noqa: E402,F401
                                          npy_header, write_store, write_store_chunks)
