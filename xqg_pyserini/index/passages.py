"""The passage side of ``xqg index`` and ``xqg tune``: our stores, or what a Pyserini user already has.

``--passages`` may name

* an embedding store (``xqg encode``);
* a Pyserini FAISS dir (``index`` + ``docid``), as ``python -m pyserini.encode ... --to-faiss``
  writes it or as a flat index is distributed: the vectors are reconstructed exactly, so only
  indexes that keep them (flat, HNSW-flat) are accepted;
* Pyserini's JSONL vectors (``python -m pyserini.encode ... output --embeddings DIR`` without
  ``--to-faiss``): one ``{"id", "contents", "vector"}`` object per line, in a file or in the
  ``*.jsonl`` files of a dir (sharded encodes), read in name order.

A Pyserini output does not say which encoder made it, so the check that the generated side was
encoded by the same one (:func:`~xqg_pyserini.encode.base.encoder_differences`) can only hold as
far as the input records it: an ``xqg.json`` beside a FAISS dir (an ``xqg index`` of plain
passages) does; otherwise only the dimension is checked, and ``xqg.json`` of the new index says
``"encoder_recorded": false``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.embeddings import EmbeddingStore, read_store
from xqg_pyserini.io.jsonl import read_jsonl

FORMATS = ("xqg-store", "pyserini-faiss", "pyserini-jsonl")
PASSAGES_HELP = ("passage vectors: an embedding store (xqg encode), a Pyserini FAISS dir (index + docid; flat), "
                 "or Pyserini's JSONL vectors (pyserini.encode without --to-faiss: a file or a dir of *.jsonl)")
JSONL_NAME = "embeddings.jsonl"  # what pyserini.encode's JsonlRepresentationWriter writes


def passage_format(path: str | Path) -> str:
    """Which of :data:`FORMATS` ``path`` holds (an xqg store unless it looks like a Pyserini output)."""
    path = Path(path)
    if path.is_file() and path.name.endswith((".jsonl", ".jsonl.gz")):
        return "pyserini-jsonl"
    if path.is_dir() and not (path / "meta.json").is_file():
        if (path / "index").is_file() and (path / "docid").is_file():
            return "pyserini-faiss"
        if _jsonl_files(path):
            return "pyserini-jsonl"
    return "xqg-store"


def read_passages(path: str | Path) -> EmbeddingStore:
    """The passage vectors at ``path`` as a passage store (meta: kind, encoder if recorded, source)."""
    path = Path(path)
    kind = passage_format(path)
    if kind == "xqg-store":
        return read_store(path, kind="passage")
    ids, vectors, encoder = _read_faiss(path) if kind == "pyserini-faiss" else _read_jsonl(path)
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicate = next(i for i in ids if i in seen or seen.add(i))
        raise InputError("a docid appears twice", path=path, docid=duplicate)
    meta: dict[str, Any] = {"kind": "passage", "encoder": encoder, "input": str(path.resolve()),
                            "format": kind, "encoder_recorded": encoder is not None}
    return EmbeddingStore(path=path, ids=ids, vectors=vectors, meta=meta)


def _read_faiss(path: Path) -> tuple[list[str], np.ndarray, dict[str, Any] | None]:
    import faiss

    from xqg_pyserini.index.build import index_provenance, read_index_vectors

    index = faiss.read_index(str(path / "index"), faiss.IO_FLAG_MMAP)
    if not isinstance(index, (faiss.IndexFlat, faiss.IndexHNSWFlat)):
        raise InputError(f"a {type(index).__name__} does not keep its vectors exactly; give a flat (or HNSW-flat) "
                         "index, or the vectors themselves", path=path / "index")
    record = index_provenance(path)
    if record.get("alpha"):
        raise InputError(f"this index is already augmented (alpha = {record['alpha']}); give the plain passages",
                         path=path / "xqg.json")
    ids, vectors = read_index_vectors(path)
    return ids, np.ascontiguousarray(vectors, dtype=np.float32), record.get("encoder")


def _jsonl_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz")))


def _read_jsonl(path: Path) -> tuple[list[str], np.ndarray, None]:
    files = [path] if path.is_file() else _jsonl_files(path)
    ids: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    for file in files:
        for number, row in read_jsonl(file):
            try:
                docid, vector = str(row["id"]), np.asarray(row["vector"], dtype=np.float32)
            except (KeyError, TypeError, ValueError) as err:
                raise InputError(f"not a Pyserini vector line ({{\"id\", \"vector\"}}): {err}", path=file,
                                 line=number) from None
            if vector.ndim != 1 or (dim is not None and vector.shape[0] != dim):
                raise InputError(f"vector of shape {vector.shape}, expected ({dim or 'd'},)", path=file, line=number)
            if not np.isfinite(vector).all():
                raise InputError("vector contains NaN or inf", path=file, line=number, docid=docid)
            dim = vector.shape[0]
            ids.append(docid)
            rows.append(vector)
    if not rows:
        raise InputError("no vectors", path=path)
    return ids, np.stack(rows), None
