"""Writing fused vectors as FAISS indexes: streamed flat files, trained ANN indexes, shard layouts.

* ``flat`` is written as it streams: FAISS's ``IndexFlatIP`` file is a fixed header and the raw
  float32 rows, so the fused blocks go straight to disk and nothing of index size is held in
  memory (checked against ``faiss.serialize_index`` before use; FAISS writes it when that fails).
* ``hnsw``, ``ivfflat``, ``ivfpq`` need FAISS in memory: the fused rows are streamed to a temp
  file first, the IVF types are trained on a seeded sample of it, and rows are added block by
  block (an IVF-PQ index holds ``m * bits / 8`` bytes per vector instead of ``4 * dim``).
* ``shards=K``: ``shard-I-of-K/`` dirs, each a Pyserini FAISS dir (``index`` + ``docid``) over a
  contiguous range of passages; IVF shards share one trained quantizer. Searched shard by shard
  with merged top-k (:mod:`xqg_pyserini.search.dense`).

After an approximate or sharded build, recall@k against exact search is measured on a seeded
sample of queries and recorded.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from xqg_pyserini.errors import InputError

INDEX_TYPES = ("flat", "hnsw", "ivfflat", "ivfpq")
SHARD_DIR = "shard-{index:05d}-of-{count:05d}"
RECALL_K = 100
_FLAT_IP = struct.Struct("<4siqqqBiQ")  # fourcc, d, ntotal, 2 x dummy (1 << 20), is_trained, metric, floats


@dataclass
class IndexSpec:
    """How to build: the type, its parameters, the layout and the recall check."""

    index_type: str = "flat"
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int | None = None
    nlist: int | None = None  # IVF lists (default about 4 * sqrt(N))
    nprobe: int | None = None  # IVF lists searched, stored in the index file
    pq_m: int | None = None  # PQ sub-vectors (default: dim / 8 rounded to a divisor of dim)
    pq_bits: int = 8
    train_size: int | None = None  # IVF training rows (seeded sample)
    seed: int = 42
    shards: int = 1
    recall_sample: int = 1000  # queries for recall@100 against exact search (0: skip)

    def check(self, rows: int, dim: int) -> None:
        if self.index_type not in INDEX_TYPES:
            raise InputError(f"--index-type must be one of {', '.join(INDEX_TYPES)}, not {self.index_type!r}")
        for flag, value in (("--shards", self.shards), ("--hnsw-m", self.hnsw_m), ("--pq-bits", self.pq_bits),
                            ("--nlist", self.nlist or 1), ("--nprobe", self.nprobe or 1), ("--pq-m", self.pq_m or 1),
                            ("--train-size", self.train_size or 1), ("--ef-search", self.ef_search or 1)):
            if value < 1:
                raise InputError(f"{flag} must be at least 1, not {value}")
        if self.shards > max(rows, 1):
            raise InputError(f"--shards {self.shards} is more than the {rows} passages")
        if self.index_type == "ivfpq" and dim % self.resolved_pq_m(dim):
            raise InputError(f"--pq-m {self.pq_m} must divide the dimension {dim}")

    def resolved_nlist(self, rows: int) -> int:
        return self.nlist or max(1, min(int(4 * math.sqrt(rows)), rows // 39 or 1))

    def resolved_pq_m(self, dim: int) -> int:
        if self.pq_m:
            return self.pq_m
        return max(m for m in range(1, max(1, dim // 8) + 1) if dim % m == 0)

    def resolved_train_size(self, rows: int) -> int:
        need = self.resolved_nlist(rows) * 64
        if self.index_type == "ivfpq":
            need = max(need, 64 << self.pq_bits)
        return min(rows, self.train_size or need)

    def parameters(self, rows: int, dim: int) -> dict[str, Any]:
        """What is recorded in ``xqg.json`` for this type."""
        if self.index_type == "hnsw":
            return {"M": self.hnsw_m, "efConstruction": self.ef_construction, "efSearch": self.ef_search or 16}
        if self.index_type in ("ivfflat", "ivfpq"):
            params = {"nlist": self.resolved_nlist(rows), "nprobe": self.nprobe or 1,
                      "train_size": self.resolved_train_size(rows), "seed": self.seed}
            if self.index_type == "ivfpq":
                params.update(pq_m=self.resolved_pq_m(dim), pq_bits=self.pq_bits)
            return params
        return {}


def memory_estimate(rows: int, dim: int, spec: IndexSpec) -> int:
    """Bytes a search process holds for the index (all shards): vectors or codes, lists, graph."""
    if spec.index_type == "flat":
        return rows * dim * 4
    if spec.index_type == "hnsw":
        return rows * (dim * 4 + int(spec.hnsw_m * 2 * 4 * 1.05) + 8)
    nlist = spec.resolved_nlist(rows)
    centroids = nlist * dim * 4 * spec.shards
    if spec.index_type == "ivfflat":
        return rows * (dim * 4 + 8) + centroids
    pq_m = spec.resolved_pq_m(dim)
    return rows * (math.ceil(pq_m * spec.pq_bits / 8) + 8) + centroids + (1 << spec.pq_bits) * dim * 4 * spec.shards


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError


def shard_ranges(rows: int, count: int) -> list[range]:
    return [range(i * rows // count, (i + 1) * rows // count) for i in range(count)]


# --------------------------------------------------------------------------- flat files

def flat_header(rows: int, dim: int) -> bytes:
    return _FLAT_IP.pack(b"IxFI", dim, rows, 1 << 20, 1 << 20, 1, 0, rows * dim)


def _flat_format_matches() -> bool:
    import faiss

    probe = np.arange(6, dtype=np.float32).reshape(2, 3)
    index = faiss.IndexFlatIP(3)
    index.add(probe)
    return faiss.serialize_index(index).tobytes() == flat_header(2, 3) + probe.tobytes()


class _VectorFile:
    """A file of float32 rows at ``offset`` (a flat index file or a temp file), read back by row."""

    def __init__(self, path: Path, offset: int, rows: int, dim: int):
        self.path, self.offset, self.rows, self.dim = path, offset, rows, dim

    def read(self, start: int, stop: int) -> np.ndarray:
        from xqg_pyserini.io.embeddings import _read_rows

        return _read_rows(self.path, self.offset, self.dim * 4, start, stop, np.dtype(np.float32), self.dim)

    def take(self, rows: np.ndarray) -> np.ndarray:
        return np.concatenate([self.read(int(r), int(r) + 1) for r in rows]) if len(rows) else \
            np.zeros((0, self.dim), np.float32)

    def blocks(self, first: int, stop: int, step: int = 1 << 14) -> Iterable[np.ndarray]:
        for start in range(first, stop, step):
            yield self.read(start, min(stop, start + step))


def _stream_to_files(blocks: Iterable[tuple[int, np.ndarray]], targets: list[tuple[range, Path, bytes]]) -> None:
    """Write each streamed row into the file of the range that holds it (after that file's header)."""
    handles = [open(path, "wb") for _, path, _ in targets]
    try:
        for handle, (_, _, header) in zip(handles, targets):
            handle.write(header)
        for start, block in blocks:
            for handle, (rows, _, _) in zip(handles, targets):
                lo, hi = max(start, rows.start), min(start + len(block), rows.stop)
                if lo < hi:
                    handle.write(memoryview(np.ascontiguousarray(block[lo - start:hi - start], np.float32)).cast("B"))
    finally:
        for handle in handles:
            handle.close()


# --------------------------------------------------------------------------- FAISS in memory

def _new_index(spec: IndexSpec, rows: int, dim: int):
    import faiss

    if spec.index_type == "flat":
        return faiss.IndexFlatIP(dim)
    if spec.index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
        if spec.ef_search:
            index.hnsw.efSearch = spec.ef_search
        return index
    nlist = spec.resolved_nlist(rows)
    quantizer = faiss.IndexFlatIP(dim)
    if spec.index_type == "ivfflat":
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, spec.resolved_pq_m(dim), spec.pq_bits,
                                 faiss.METRIC_INNER_PRODUCT)
    index.own_fields = True
    quantizer.this.disown()
    index.cp.seed = spec.seed
    index.nprobe = spec.nprobe or 1
    return index


def _trained(spec: IndexSpec, vectors: _VectorFile):
    index = _new_index(spec, vectors.rows, vectors.dim)
    if spec.index_type not in ("ivfflat", "ivfpq"):
        return index
    size = spec.resolved_train_size(vectors.rows)
    nlist = spec.resolved_nlist(vectors.rows)
    if size < nlist or (spec.index_type == "ivfpq" and size < (1 << spec.pq_bits)):
        raise InputError(f"{size} training vectors are too few for {nlist} lists"
                         + (f" and {1 << spec.pq_bits} PQ centroids (--pq-bits {spec.pq_bits})"
                            if spec.index_type == "ivfpq" else "") + "; lower --nlist/--pq-bits or add passages")
    rows = np.sort(np.random.default_rng(spec.seed).choice(vectors.rows, size=size, replace=False))
    if spec.index_type == "ivfpq":
        index.pq.cp.seed = spec.seed
    index.train(vectors.take(rows))
    return index


def build_ann(spec: IndexSpec, vectors: _VectorFile, shard_dirs: list[tuple[range, Path]]) -> None:
    """Train (IVF) once, then per shard: a copy of the trained index, rows added block by block, written."""
    import faiss

    trained = _trained(spec, vectors)
    for rows, directory in shard_dirs:
        index = faiss.clone_index(trained) if len(shard_dirs) > 1 else trained
        for block in vectors.blocks(rows.start, rows.stop):
            index.add(block)
        faiss.write_index(index, str(directory / "index"))


# --------------------------------------------------------------------------- recall

def exact_top(queries: np.ndarray, vectors: _VectorFile, k: int) -> np.ndarray:
    """Row numbers of the exact top ``k`` by inner product (block by block over the vector file)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    start = 0
    for block in vectors.blocks(0, vectors.rows):
        scores = queries @ block.T
        rows = np.broadcast_to(np.arange(start, start + len(block)), scores.shape)
        scores, rows = np.hstack([best_scores, scores]), np.hstack([best_rows, rows])
        keep = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best_scores, best_rows = np.take_along_axis(scores, keep, 1), np.take_along_axis(rows, keep, 1)
        start += len(block)
    return best_rows


def measure_recall(index_dirs: Sequence[tuple[range, Path]], vectors: _VectorFile, queries: np.ndarray,
                   k: int = RECALL_K) -> float:
    """Mean |approximate top-k ∩ exact top-k| / k over ``queries``, shards searched and merged."""
    import faiss

    k = min(k, vectors.rows)
    exact = exact_top(queries, vectors, k)
    scores, rows = [], []
    for shard_rows, directory in index_dirs:
        index = faiss.read_index(str(directory / "index"))
        found_scores, found = index.search(queries, min(k, len(shard_rows)))
        scores.append(found_scores)
        rows.append(np.where(found >= 0, found + shard_rows.start, -1))
    scores, rows = np.hstack(scores), np.hstack(rows)
    top = np.take_along_axis(rows, np.argsort(-scores, axis=1, kind="stable")[:, :k], 1)
    hits = [len(set(a.tolist()) & set(b.tolist()) - {-1}) for a, b in zip(top, exact)]
    return float(np.mean(hits) / k) if hits else 1.0


def write_index_files(blocks: Iterable[tuple[int, np.ndarray]], rows: int, dim: int, spec: IndexSpec,
                      directory: Path, ids: Sequence[str],
                      recall_queries: Callable[[_VectorFile], np.ndarray] | None) -> dict[str, Any]:
    """Write the index (one dir or ``shard-I-of-K`` dirs) into ``directory``; returns layout facts."""
    ranges = shard_ranges(rows, spec.shards)
    dirs = [directory] if spec.shards == 1 else [directory / SHARD_DIR.format(index=i, count=spec.shards)
                                                 for i in range(spec.shards)]
    for shard_rows, shard_dir in zip(ranges, dirs):
        shard_dir.mkdir(parents=True, exist_ok=True)
        (shard_dir / "docid").write_text("".join(f"{d}\n" for d in ids[shard_rows.start:shard_rows.stop]),
                                         encoding="utf-8")
    streamed = spec.index_type == "flat" and _flat_format_matches()
    if streamed:
        _stream_to_files(blocks, [(r, d / "index", flat_header(len(r), dim)) for r, d in zip(ranges, dirs)])
        vectors = _VectorFile(dirs[0] / "index", _FLAT_IP.size, rows, dim) if spec.shards == 1 else None
    else:
        raw = directory / ".vectors.f32"
        _stream_to_files(blocks, [(range(rows), raw, b"")])
        vectors = _VectorFile(raw, 0, rows, dim)
        build_ann(spec, vectors, list(zip(ranges, dirs)))
    facts: dict[str, Any] = {}
    if spec.shards > 1 or spec.index_type != "flat":
        if vectors is None:  # sharded flat: read the rows back from the shard files, in order
            vectors = _ConcatenatedFlat([(_VectorFile(d / "index", _FLAT_IP.size, len(r), dim)) for r, d in
                                         zip(ranges, dirs)], rows, dim)
        if spec.recall_sample and recall_queries is not None:
            queries = np.ascontiguousarray(recall_queries(vectors), dtype=np.float32)
            facts["recall"] = {f"recall@{RECALL_K}_vs_flat": measure_recall(list(zip(ranges, dirs)), vectors, queries),
                               "queries": len(queries), "seed": spec.seed}
    if not streamed:
        (directory / ".vectors.f32").unlink()
    return facts


class _ConcatenatedFlat(_VectorFile):
    def __init__(self, parts: list[_VectorFile], rows: int, dim: int):
        self.parts, self.rows, self.dim = parts, rows, dim

    def read(self, start: int, stop: int) -> np.ndarray:
        out, first = [], 0
        for part in self.parts:
            lo, hi = max(start, first), min(stop, first + part.rows)
            if lo < hi:
                out.append(part.read(lo - first, hi - first))
            first += part.rows
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)
