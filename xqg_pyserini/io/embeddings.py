"""Embedding stores: a directory of vectors with their ids, reused across index builds.

``embeddings.npy`` (float32, one row per text), ``ids.tsv`` (one row per vector:
``docid`` for passages, ``qid`` for queries, ``docid<TAB>lang<TAB>rank`` for generated
texts), ``meta.json`` (kind, encoder config, input fingerprint, counts, versions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_dir
from xqg_pyserini.io.jsonl import read_json_object

KINDS = ("passage", "query", "generated")


def check_finite(vectors: np.ndarray, ids: Sequence[str], where: str | Path) -> None:
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"{int(bad.sum())} vector(s) contain NaN or inf", path=where, docid=ids[first])


def write_store(path: str | Path, ids: Sequence[str], vectors: np.ndarray, meta: dict[str, Any]) -> None:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(ids) != vectors.shape[0]:
        raise ValueError(f"{len(ids)} ids for vectors of shape {vectors.shape}")
    check_finite(vectors, ids, path)
    with atomic_dir(path) as tmp:
        np.save(tmp / "embeddings.npy", vectors)
        (tmp / "ids.tsv").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        meta = {**meta, "count": len(ids), "dim": int(vectors.shape[1])}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass
class EmbeddingStore:
    path: Path
    ids: list[str]
    vectors: np.ndarray
    meta: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.meta.get("kind", "")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def generated_keys(self) -> list[tuple[str, str, int]]:
        """``(docid, lang, rank)`` per row of a generated store."""
        keys = []
        for line, row in enumerate(self.ids, start=1):
            parts = row.split("\t")
            if len(parts) != 3 or not parts[2].isdigit():
                raise InputError("expected 'docid<TAB>lang<TAB>rank'", path=self.path / "ids.tsv", line=line)
            keys.append((parts[0], parts[1], int(parts[2])))
        return keys


def read_store(path: str | Path, kind: str | None = None) -> EmbeddingStore:
    path = Path(path)
    for name in ("embeddings.npy", "ids.tsv", "meta.json"):
        if not (path / name).is_file():
            raise InputError(f"not an embedding store (missing {name}); make one with `xqg encode`", path=path)
    meta = read_json_object(path / "meta.json")
    if kind is not None and meta.get("kind") != kind:
        raise InputError(f"expected {kind} embeddings, found {meta.get('kind')!r}", path=path)
    vectors = np.load(path / "embeddings.npy", mmap_mode="r")
    ids = (path / "ids.tsv").read_text(encoding="utf-8").splitlines()
    if vectors.ndim != 2 or vectors.shape[0] != len(ids):
        raise InputError(f"{len(ids)} ids but vectors of shape {vectors.shape}", path=path)
    if vectors.dtype != np.float32:
        raise InputError(f"vectors must be float32, found {vectors.dtype}", path=path / "embeddings.npy")
    return EmbeddingStore(path=path, ids=ids, vectors=vectors, meta=meta)
