"""Dense indexes: fuse embedding stores into passage vectors, and write them as a Pyserini FAISS dir.

Two steps, one path for every caller: :func:`open_fusion` reads a passage store and any
generated stores (keys only) and plans the fusion; its :meth:`Fusion.blocks` streams the fused
passage vectors block by block (:mod:`xqg_pyserini.index.fusion`). :func:`fuse_stores` collects
them in memory (vectors + provenance record), what the experiment runner searches
(:mod:`xqg_pyserini.search.exact`); :func:`build_index` (``xqg index``) streams them into the
index files (:mod:`xqg_pyserini.index.writers`), so its memory does not grow with the number of
generated rows. :func:`write_faiss_index` writes already fused vectors.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from xqg_pyserini.encode.base import encoder_differences
from xqg_pyserini.errors import InputError
from xqg_pyserini.index.fusion import FusionPlan, GeneratedRows, check_options, fused_blocks, plan_fusion
from xqg_pyserini.index.passages import read_passages
from xqg_pyserini.index.writers import (INDEX_TYPES, SHARD_DIR, IndexSpec, human_bytes, memory_estimate,
                                        write_index_files)
from xqg_pyserini.io.atomic import atomic_dir
from xqg_pyserini.io.embeddings import EmbeddingStore, StoreShard, check_finite, read_store
from xqg_pyserini.io.generated import QUERIES_FIELD
from xqg_pyserini.provenance import versions

PROVENANCE = "xqg.json"
INDEX_KIND = "xqg-faiss-index"
__all__ = ["INDEX_TYPES", "IndexSpec", "FusedPassages", "Fusion", "open_fusion", "fuse_stores", "build_index",
           "write_faiss_index", "index_provenance", "check_faiss_dir", "index_shard_dirs", "read_index_vectors"]


@dataclass
class FusedPassages:
    """Fused passage vectors (float32, in ``ids`` order) and what made them."""

    ids: list[str]
    vectors: np.ndarray
    record: dict[str, Any]  # the provenance of xqg.json, without the index type and versions


def _generated_sources(generated: str | Path | Sequence[str | Path] | None) -> list[str | Path]:
    if generated is None:
        return []
    return [generated] if isinstance(generated, (str, Path)) else list(generated)


def _read_generated(source: str | Path, pstore: EmbeddingStore) -> EmbeddingStore:
    gstore = read_store(source, kind="generated")
    # Generated queries are encoded on the query side: prefixes may differ, the vector space may not.
    # A Pyserini output that does not record its encoder can only be checked by dimension.
    recorded = pstore.meta.get("encoder_recorded", True)
    mismatch = recorded and encoder_differences(pstore.meta.get("encoder") or {}, gstore.meta.get("encoder") or {},
                                                sides_may_differ=True)
    if mismatch:
        raise InputError(f"passages and generated texts were encoded differently ({', '.join(mismatch)})",
                         path=gstore.path)
    if gstore.dim != pstore.dim:
        raise InputError(f"generated vectors have dim {gstore.dim}, passages {pstore.dim}", path=gstore.path)
    return gstore


def store_rows(store: EmbeddingStore) -> list[GeneratedRows]:
    """A generated store as fusion sources, one per shard (keys from keys.npy, else parsed from ids)."""
    sources = []
    for shard in store.shards:
        where = str(shard.files["ids"])
        if shard.keys_offset is not None:
            sources.append(GeneratedRows(shard.rows, shard.dim, shard.docids(), shard.langs, shard.read_keys,
                                         shard.map, where))
        else:  # a store written before keys.npy: its ids parsed once, in memory
            keys = EmbeddingStore(store.path, meta=store.meta, shards=[shard]).generated_keys()
            rows = GeneratedRows.from_arrays(keys, np.zeros((0, shard.dim), np.float32), where)
            sources.append(GeneratedRows(shard.rows, shard.dim, rows.docids, rows.langs, rows.read_keys,
                                         _shard_reader(shard), where))
    return sources


def _shard_reader(shard: StoreShard) -> Callable[[int, int], np.ndarray]:
    return shard.map


class Fusion:
    """A planned fusion: passage ids, record, and the fused vectors as a stream of blocks."""

    def __init__(self, pstore: EmbeddingStore, stores: list[EmbeddingStore], plan: FusionPlan, alpha: float,
                 fusion: str, unaugmented: str, renorm: bool, record: dict[str, Any]):
        self.pstore, self.stores, self.plan = pstore, stores, plan
        self.alpha, self.fusion, self.unaugmented, self.renorm = alpha, fusion, unaugmented, renorm
        self.record = record
        self.ids = pstore.ids

    @property
    def rows(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return self.pstore.dim

    def _passages(self, start: int, stop: int) -> np.ndarray:
        block = self.pstore.read_vectors(start, stop, mapped=True)
        if not np.isfinite(block).all():
            check_finite(block, self.ids, self.pstore.ids_path(), first_row=start)
        return block

    def blocks(self, block_passages: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, fused float32 rows)`` in passage order; errors on NaN/inf as they are met."""
        return fused_blocks(self.plan, self._passages, self.alpha if self.stores else 0.0, self.fusion,
                            self.unaugmented, self.renorm, block_passages)

    def sample_queries(self, count: int, seed: int) -> np.ndarray | None:
        """A seeded sample of generated vectors (query-side texts), for recall checks; None without any."""
        sources = [s for store in self.stores for s in store_rows(store)] if self.stores else []
        total = sum(s.rows for s in sources)
        if not total:
            return None
        picked = np.sort(np.random.default_rng(seed).choice(total, size=min(count, total), replace=False))
        out, first = [], 0
        for source in sources:
            for row in picked[(picked >= first) & (picked < first + source.rows)] - first:
                out.append(source.read_vectors(int(row), int(row) + 1))
            first += source.rows
        return np.concatenate(out).astype(np.float32)


def open_fusion(passages: str | Path, generated: str | Path | Sequence[str | Path] | None = None,
                alpha: float = 0.01, fusion: str = "sum", langs: Iterable[str] | None = None,
                per_lang: int | None = None, unaugmented: str = "keep", renorm: bool = False) -> Fusion:
    """Read the stores' metas and keys, check them, and plan the fusion (no vector is read yet)."""
    if not 0 <= alpha <= 1:
        raise InputError(f"--alpha must be within [0, 1], got {alpha}")
    check_options(fusion, unaugmented)
    langs = sorted(set(langs)) if langs else None
    pstore = read_passages(passages)
    record: dict[str, Any] = {
        "kind": INDEX_KIND,
        "passages": {"path": str(pstore.path.resolve()), "count": pstore.count, "input": pstore.meta.get("input"),
                     "format": pstore.meta.get("format", "xqg-store"),
                     "encoder_recorded": pstore.meta.get("encoder_recorded", True)},
        "encoder": pstore.meta.get("encoder"),
        "dim": pstore.dim,
        "alpha": alpha,
        "fusion": fusion,
        "unaugmented": unaugmented,
        "renorm": renorm,
    }
    stores = [_read_generated(source, pstore) for source in _generated_sources(generated)]
    if stores and not record["encoder"]:  # the generated side's encoder, which must be the passages' too
        record["encoder"] = stores[0].meta.get("encoder")
    ids = pstore.ids
    sources = [rows for store in stores for rows in store_rows(store)]
    plan = plan_fusion(ids, pstore.dim, sources, langs, per_lang)
    if not stores:
        record.update(alpha=0.0, generated=None, langs=[], per_lang=per_lang, queries_used=0, passages_augmented=0,
                      passages_unaugmented=pstore.count)
    else:
        described = [{"path": str(store.path.resolve()), "count": store.count, "input": store.meta.get("input"),
                      "field": store.meta.get("generated_field", QUERIES_FIELD)} for store in stores]
        record.update(generated=described if len(described) > 1 else described[0],
                      langs=sorted(plan.stats.queries_per_lang), per_lang=per_lang, **asdict(plan.stats),
                      uneven=plan.stats.uneven)
    return Fusion(pstore, stores, plan, alpha, fusion, unaugmented, renorm, record)


def fuse_stores(passages: str | Path, generated: str | Path | Sequence[str | Path] | None = None,
                alpha: float = 0.01, fusion: str = "sum", langs: Iterable[str] | None = None,
                per_lang: int | None = None, unaugmented: str = "keep", renorm: bool = False) -> FusedPassages:
    """Read the stores and fuse: ``p' = (1-α)p + α·Σq`` over the selected rows of every generated store.

    ``generated``: one embedding store or several (e.g. generated queries and generated passages).
    ``unaugmented``/``renorm``: see :mod:`xqg_pyserini.index.fusion`. Without generated stores the
    result is the plain index, recorded with α = 0. The fused vectors are held in memory; the
    stores are read block by block.
    """
    stream = open_fusion(passages, generated, alpha, fusion, langs, per_lang, unaugmented, renorm)
    vectors = np.empty((stream.rows, stream.dim), dtype=np.float32)
    for start, block in stream.blocks():
        vectors[start:start + len(block)] = block
    return FusedPassages(stream.ids, vectors, stream.record)


def _index_record(fused_record: dict[str, Any], spec: IndexSpec, rows: int, dim: int) -> dict[str, Any]:
    head = {key: fused_record[key] for key in ("kind", "passages", "encoder", "dim", "alpha", "fusion", "unaugmented",
                                               "renorm")}
    record: dict[str, Any] = {**head, "index_type": spec.index_type}
    params = spec.parameters(rows, dim)
    if spec.index_type == "hnsw":
        record["hnsw"] = {"M": spec.hnsw_m, "efConstruction": spec.ef_construction}
        if spec.ef_search:
            record["hnsw"]["efSearch"] = spec.ef_search
    elif params:
        record[spec.index_type] = params
    if spec.shards > 1:
        record["shards"] = {"count": spec.shards, "layout": "contiguous", "dir": SHARD_DIR}
    record["memory_estimate_bytes"] = memory_estimate(rows, dim, spec)
    record.update({key: value for key, value in fused_record.items() if key not in head})
    return record


def _write(blocks: Iterable[tuple[int, np.ndarray]], ids: Sequence[str], dim: int, record: dict[str, Any],
           output: str | Path, spec: IndexSpec,
           recall_queries: Callable[[Any], np.ndarray] | None) -> dict[str, Any]:
    record = dict(record)
    with atomic_dir(output, marker=PROVENANCE, kind=INDEX_KIND, what="FAISS index") as tmp:
        facts = write_index_files(blocks, len(ids), dim, spec, tmp, ids, recall_queries)
        record.update(facts)
        record["versions"] = versions()
        (tmp / PROVENANCE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return record


def write_faiss_index(fused: FusedPassages, output: str | Path, index_type: str = "flat", hnsw_m: int = 32,
                      ef_construction: int = 200, spec: IndexSpec | None = None) -> dict[str, Any]:
    """Write ``index`` + ``docid`` + ``xqg.json`` atomically; returns the provenance record written."""
    spec = spec or IndexSpec(index_type=index_type, hnsw_m=hnsw_m, ef_construction=ef_construction)
    rows, dim = fused.vectors.shape
    spec.check(rows, dim)
    record = _index_record(fused.record, spec, rows, dim)
    sample = lambda vectors: vectors.take(np.sort(np.random.default_rng(spec.seed).choice(
        rows, size=min(spec.recall_sample, rows), replace=False)))
    return _write([(0, fused.vectors)], fused.ids, dim, record, output, spec, sample)


def build_index(passages: str | Path, output: str | Path,
                generated: str | Path | Sequence[str | Path] | None = None,
                alpha: float = 0.01, fusion: str = "sum", langs: Iterable[str] | None = None,
                per_lang: int | None = None, index_type: str = "flat", hnsw_m: int = 32,
                ef_construction: int = 200, unaugmented: str = "keep", renorm: bool = False,
                spec: IndexSpec | None = None, report: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``xqg index``: the fused vectors streamed into the index files; returns the provenance record.

    ``spec`` (index type, parameters, ``shards``, recall check) overrides ``index_type``/``hnsw_m``/
    ``ef_construction``. ``report`` receives the memory estimate before the build starts.
    """
    spec = spec or IndexSpec(index_type=index_type, hnsw_m=hnsw_m, ef_construction=ef_construction)
    if spec.index_type not in INDEX_TYPES:
        raise InputError(f"--index-type must be one of {', '.join(INDEX_TYPES)}, not {spec.index_type!r}")
    stream = open_fusion(passages, generated, alpha=alpha, fusion=fusion, langs=langs, per_lang=per_lang,
                         unaugmented=unaugmented, renorm=renorm)
    spec.check(stream.rows, stream.dim)
    record = _index_record(stream.record, spec, stream.rows, stream.dim)
    if report:
        report(f"index memory estimate: {human_bytes(record['memory_estimate_bytes'])} "
               f"({spec.index_type}, {stream.rows} vectors of dim {stream.dim}"
               f"{f', {spec.shards} shards' if spec.shards > 1 else ''})")

    def recall_queries(vectors) -> np.ndarray:
        queries = stream.sample_queries(spec.recall_sample, spec.seed)
        if queries is None:
            picked = np.random.default_rng(spec.seed).choice(stream.rows, size=min(spec.recall_sample, stream.rows),
                                                             replace=False)
            queries = vectors.take(np.sort(picked))
        return queries

    return _write(stream.blocks(), stream.ids, stream.dim, record, output, spec, recall_queries)


def index_provenance(index_dir: str | Path) -> dict[str, Any]:
    """The ``xqg.json`` of an index dir, or {} for a plain Pyserini index; a damaged one is an InputError."""
    from xqg_pyserini.io.jsonl import read_json_object

    path = Path(index_dir) / PROVENANCE
    return read_json_object(path) if path.is_file() else {}


def index_shard_dirs(index_dir: str | Path) -> list[Path]:
    """The Pyserini FAISS dirs of an index: itself, or its ``shard-I-of-K`` dirs in order."""
    index_dir = Path(index_dir)
    shards = (index_provenance(index_dir).get("shards") or {}).get("count") if (index_dir / PROVENANCE).is_file() \
        else None
    if not shards:
        return [index_dir]
    return [index_dir / SHARD_DIR.format(index=i, count=shards) for i in range(shards)]


def check_faiss_dir(index_dir: str | Path) -> Path:
    """``index_dir`` if it (or each of its shards) holds Pyserini's ``index`` and ``docid`` files, else InputError."""
    index_dir = Path(index_dir)
    for directory in index_shard_dirs(index_dir):
        for name in ("index", "docid"):
            if not (directory / name).is_file():
                where = "" if directory == index_dir else f"{directory.name}/"
                raise InputError(f"not a FAISS index dir (missing {where}{name})", path=index_dir)
    return index_dir


def read_index_vectors(index_dir: str | Path) -> tuple[list[str], np.ndarray]:
    """Docids and stored vectors of a Pyserini FAISS index dir (flat or HNSW: vectors are kept; shards joined)."""
    import faiss

    index_dir = check_faiss_dir(index_dir)
    all_ids, all_vectors = [], []
    for directory in index_shard_dirs(index_dir):
        index = faiss.read_index(str(directory / "index"))
        docids = (directory / "docid").read_text(encoding="utf-8").split()
        if len(docids) != index.ntotal:
            raise InputError(f"{len(docids)} docids for {index.ntotal} vectors", path=directory)
        if isinstance(index, faiss.IndexIVF):
            index.make_direct_map()
        all_ids += docids
        all_vectors.append(index.reconstruct_n(0, index.ntotal))
    return all_ids, np.concatenate(all_vectors) if len(all_vectors) > 1 else all_vectors[0]
