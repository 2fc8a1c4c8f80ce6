"""Content-keyed embedding caches: each distinct text is encoded once per encoder and side."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from xqg_pyserini.io.embeddings import EmbeddingStore, check_finite, read_store, write_store
from xqg_pyserini.provenance import versions

KEY_CHARS = 32  # hex digits of sha256(text) used as the cache key


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_CHARS]


class TextCache:
    """Vectors of distinct texts encoded on one side (``query`` or ``passage``), keyed by content.

    Stored as an embedding store whose ids are ``sha256(text)`` prefixes; ``encoded`` counts
    the texts this process added.
    """

    def __init__(self, path: Path, side: str):
        self.path, self.side = path, side
        self.index: dict[str, int] = {}
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self.encoder_config: dict[str, Any] | None = None
        self.encoded = 0
        if (path / "meta.json").is_file():
            store = read_store(path, kind=side)
            if store.meta.get("content_keyed"):
                self.vectors = np.array(store.vectors, dtype=np.float32)
                self.index = {key: row for row, key in enumerate(store.ids)}
                self.encoder_config = store.meta.get("encoder")

    def __len__(self) -> int:
        return len(self.index)

    def reset(self) -> None:
        self.index, self.vectors, self.encoder_config = {}, np.zeros((0, 0), dtype=np.float32), None

    def missing(self, texts: Iterable[str]) -> list[str]:
        """Distinct texts without a vector, in first-seen order."""
        seen: set[str] = set()
        out = []
        for text in texts:
            key = text_key(text)
            if key not in self.index and key not in seen:
                seen.add(key)
                out.append(text)
        return out

    def add(self, texts: Sequence[str], vectors: np.ndarray, encoder_config: dict[str, Any]) -> None:
        keys = [text_key(t) for t in texts]
        check_finite(vectors, keys, self.path)
        self.vectors = vectors.astype(np.float32) if not len(self.index) else np.concatenate(
            [self.vectors, vectors.astype(np.float32)])
        for key in keys:
            self.index[key] = len(self.index)
        self.encoder_config = encoder_config
        self.encoded += len(texts)
        write_store(self.path, list(self.index), self.vectors, {
            "kind": self.side, "content_keyed": f"sha256(text)[:{KEY_CHARS}]", "encoder": encoder_config,
            "versions": versions()})

    def get(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.vectors.shape[1] if self.vectors.size else 0), dtype=np.float32)
        return self.vectors[[self.index[text_key(t)] for t in texts]]


def write_derived_store(path: Path, ids: Sequence[str], vectors: np.ndarray, meta: dict[str, Any]) -> EmbeddingStore:
    """An ordinary embedding store (readable by ``build_index``/``xqg search``), rewritten only on change."""
    digest = hashlib.sha256("\n".join(ids).encode("utf-8"))
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    fingerprint = digest.hexdigest()
    if (path / "meta.json").is_file():
        existing = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        if existing.get("fingerprint") == fingerprint:
            return EmbeddingStore(path=path, ids=list(ids), vectors=vectors, meta=existing)
    write_store(path, ids, vectors, {**meta, "fingerprint": fingerprint, "versions": versions()})
    return read_store(path)
