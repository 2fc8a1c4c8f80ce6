"""Writing embedding stores (the layout is described in :mod:`xqg_pyserini.io.embeddings`).

Vectors are streamed chunk by chunk into the ``.npy`` file after a header written up front (the
bytes ``np.save`` writes), ids line by line, generated keys as integer codes; a whole store goes
through one ``atomic_dir``, a shard through ``atomic_file`` per file with its meta last.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_dir, atomic_file, check_output_dir, check_work_dir, write_error
# Imported by io/embeddings.py once its own names exist (use the writers through that module).
from xqg_pyserini.io.embeddings import KINDS, SINGLE, STORE_DTYPES, check_finite, parse_generated_id, shard_files

WHAT = "embedding store"
SHARD_PATTERNS = {role: name.replace("-0-of-1.", "-*-of-*.") for role, name in shard_files(0, 1).items()}
# What a shard set's dir may hold before its first meta-I-of-N.json: other shards' files, temp files.
SHARD_ENTRIES = (*SHARD_PATTERNS.values(), ".*.tmp")


class KeyEncoder:
    """Turns ``(docid, lang, rank)`` into integer codes: docids and langs numbered in first-seen order."""

    def __init__(self):
        self.docids: dict[str, int] = {}
        self.langs: dict[str, int] = {}

    def encode(self, keys: Iterable[tuple[str, str, int]]) -> np.ndarray:
        rows = [(self.docids.setdefault(d, len(self.docids)), self.langs.setdefault(lang, len(self.langs)), rank)
                for d, lang, rank in keys]
        return np.array(rows, dtype=np.int32).reshape(-1, 3)


def npy_header(rows: int, dim: int, dtype: str) -> bytes:
    """The header ``np.save`` writes for a C-ordered ``(rows, dim)`` array of ``dtype``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                  "fortran_order": False, "shape": (rows, dim)})
    return buffer.getvalue()


class ShardWriter:
    """Writes one file set into an open directory or as atomic files: vectors streamed chunk by chunk."""

    def __init__(self, rows: int, dim: int, dtype: str, kind: str, where: Path):
        if dtype not in STORE_DTYPES:
            raise InputError(f"--dtype for stores must be one of {', '.join(STORE_DTYPES)}, not {dtype!r}")
        self.rows, self.dim, self.dtype, self.kind, self.where = int(rows), int(dim), np.dtype(dtype), kind, where
        self.keys = KeyEncoder() if kind == "generated" else None

    def write(self, directory: Path, files: dict[str, str], meta: dict[str, Any],
              chunks: Iterable[tuple[Sequence[str], np.ndarray]], atomic: bool) -> dict[str, Any]:
        """Write every file of ``files`` (meta last); returns the meta written."""
        key_parts: list[np.ndarray] = []
        written = 0
        opener = (lambda name, mode: atomic_file(directory / name, mode, encoding=None)) if atomic else \
            (lambda name, mode: open(directory / name, mode))
        with opener(files["embeddings"], "wb") as vectors_out, opener(files["ids"], "wb") as ids_out:
            vectors_out.write(npy_header(self.rows, self.dim, self.dtype.name))
            for ids, vectors in chunks:
                vectors = np.ascontiguousarray(vectors, dtype=self.dtype)
                if vectors.ndim != 2 or vectors.shape != (len(ids), self.dim):
                    raise ValueError(f"{len(ids)} ids for vectors of shape {vectors.shape}")
                check_finite(vectors, ids, self.where)
                vectors_out.write(memoryview(vectors).cast("B"))
                ids_out.write("".join(f"{i}\n" for i in ids).encode("utf-8"))
                if self.keys is not None:
                    key_parts.append(self.keys.encode(parse_generated_id(row, self.where / files["ids"], written + n)
                                                      for n, row in enumerate(ids, start=1)))
                written += len(ids)
            if written != self.rows:
                raise ValueError(f"{written} rows written, {self.rows} announced")
            ids_bytes = ids_out.tell()
        meta = {**meta, "count": self.rows, "dim": self.dim, "dtype": self.dtype.name, "ids_bytes": ids_bytes}
        if self.keys is not None:
            keys = np.concatenate(key_parts) if key_parts else np.zeros((0, 3), np.int32)
            with opener(files["keys"], "wb") as out:
                np.save(out, keys)
            with opener(files["docids"], "wb") as out:
                out.write("".join(f"{d}\n" for d in self.keys.docids).encode("utf-8"))
            meta["langs"] = list(self.keys.langs)
        with opener(files["meta"], "wb") as out:
            out.write((json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        return meta


def check_store_output(path: str | Path, shard: tuple[int, int] | None = None) -> Path:
    """``path`` as a Path if a store (or shard ``shard`` of a shard set) may be written there; else
    OutputError. A whole store replaces an earlier one (its ``meta.json`` names one of ``KINDS``);
    shards are written in place, into a new dir or one holding only shard files."""
    path = Path(path)
    if shard is None:
        return check_output_dir(path, marker=SINGLE["meta"], kind=KINDS, what=WHAT)
    check_work_dir(path, markers=(SHARD_PATTERNS["meta"],), what=f"sharded {WHAT}", entries=SHARD_ENTRIES)
    if (path / SINGLE["meta"]).is_file():
        raise InputError("holds a whole store (meta.json); shards go into another dir", path=path)
    return path


def write_store_chunks(path: str | Path, rows: int, dim: int, meta: dict[str, Any],
                       chunks: Iterable[tuple[Sequence[str], np.ndarray]], dtype: str = "float32",
                       shard: tuple[int, int] | None = None) -> None:
    """Stream ``chunks`` of ``(ids, vectors)`` into a store, or into shard ``shard`` of a shard set."""
    path = check_store_output(path, shard)
    writer = ShardWriter(rows, dim, dtype, meta.get("kind", ""), path)
    if shard is None:
        with atomic_dir(path, marker=SINGLE["meta"], kind=KINDS, what=WHAT) as tmp:
            writer.write(tmp, SINGLE, meta, chunks, atomic=False)
        return
    files = shard_files(*shard)
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / files["meta"]).unlink(missing_ok=True)  # the old shard is gone from here on
    except OSError as err:
        raise (write_error(err, path) or err) from None
    writer.write(path, files, {**meta, "shard": list(shard)}, chunks, atomic=True)


def write_store(path: str | Path, ids: Sequence[str], vectors: np.ndarray, meta: dict[str, Any],
                dtype: str = "float32") -> None:
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(ids) != vectors.shape[0]:
        raise ValueError(f"{len(ids)} ids for vectors of shape {vectors.shape}")
    check_finite(vectors, ids, path)
    write_store_chunks(path, len(ids), int(vectors.shape[1]), meta, [(ids, vectors)], dtype=dtype)
