"""Dense indexes: fuse embedding stores into passage vectors, and write them as a Pyserini FAISS dir.

Two steps, one path for every caller: :func:`fuse_stores` reads a passage store and any generated
stores and fuses them in memory (vectors + provenance record); :func:`write_faiss_index` writes
``index`` + ``docid`` + ``xqg.json`` atomically. ``xqg index`` is both (:func:`build_index`); the
experiment runner fuses with :func:`fuse_stores` and searches the vectors in memory
(:mod:`xqg_pyserini.search.exact`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from xqg_pyserini.encode.base import encoder_differences
from xqg_pyserini.errors import InputError
from xqg_pyserini.index.fusion import fuse
from xqg_pyserini.index.passages import read_passages
from xqg_pyserini.io.atomic import atomic_dir
from xqg_pyserini.io.embeddings import EmbeddingStore, check_finite, read_store
from xqg_pyserini.io.generated import QUERIES_FIELD
from xqg_pyserini.provenance import versions

PROVENANCE = "xqg.json"
INDEX_KIND = "xqg-faiss-index"
INDEX_TYPES = ("flat", "hnsw")


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
    check_finite(np.asarray(gstore.vectors), [k.split("\t")[0] for k in gstore.ids], gstore.path / "embeddings.npy")
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


def fuse_stores(passages: str | Path, generated: str | Path | Sequence[str | Path] | None = None,
                alpha: float = 0.01, fusion: str = "sum", langs: Iterable[str] | None = None,
                per_lang: int | None = None, unaugmented: str = "keep", renorm: bool = False) -> FusedPassages:
    """Read the stores and fuse: ``p' = (1-α)p + α·Σq`` over the selected rows of every generated store.

    ``generated``: one embedding store or several (e.g. generated queries and generated passages).
    ``unaugmented``/``renorm``: see :mod:`xqg_pyserini.index.fusion`. Without generated stores the
    result is the plain index, recorded with α = 0.
    """
    if not 0 <= alpha <= 1:
        raise InputError(f"--alpha must be within [0, 1], got {alpha}")
    langs = sorted(set(langs)) if langs else None
    pstore = read_passages(passages)
    check_finite(np.asarray(pstore.vectors), pstore.ids, pstore.path / "embeddings.npy")
    record: dict[str, Any] = {
        "kind": INDEX_KIND,
        "passages": {"path": str(pstore.path.resolve()), "count": len(pstore.ids), "input": pstore.meta.get("input"),
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
    if not stores:
        vectors = np.array(pstore.vectors, dtype=np.float32)
        record.update(alpha=0.0, generated=None, langs=[], per_lang=per_lang, queries_used=0, passages_augmented=0,
                      passages_unaugmented=len(pstore.ids))
        return FusedPassages(pstore.ids, vectors, record)
    keys = [key for store in stores for key in store.generated_keys()]
    described = [{"path": str(store.path.resolve()), "count": len(store.ids), "input": store.meta.get("input"),
                  "field": store.meta.get("generated_field", QUERIES_FIELD)} for store in stores]
    vectors, stats = fuse(pstore.ids, pstore.vectors, keys, np.concatenate([np.asarray(s.vectors) for s in stores]),
                          alpha, fusion, langs, per_lang,
                          source=", ".join(str(Path(d["path"]) / "ids.tsv") for d in described),
                          unaugmented=unaugmented, renorm=renorm)
    record.update(generated=described if len(described) > 1 else described[0],
                  langs=sorted(stats.queries_per_lang), per_lang=per_lang, **asdict(stats), uneven=stats.uneven)
    return FusedPassages(pstore.ids, vectors, record)


def _faiss_index(vectors: np.ndarray, index_type: str, hnsw_m: int, ef_construction: int):
    import faiss

    dim = vectors.shape[1]
    if index_type == "flat":
        index = faiss.IndexFlatIP(dim)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    else:
        raise InputError(f"--index-type must be one of {', '.join(INDEX_TYPES)}, not {index_type!r}")
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def write_faiss_index(fused: FusedPassages, output: str | Path, index_type: str = "flat", hnsw_m: int = 32,
                      ef_construction: int = 200) -> dict[str, Any]:
    """Write ``index`` + ``docid`` + ``xqg.json`` atomically; returns the provenance record written."""
    import faiss

    head = {key: fused.record[key] for key in ("kind", "passages", "encoder", "dim", "alpha", "fusion", "unaugmented",
                                               "renorm")}
    record: dict[str, Any] = {**head, "index_type": index_type}
    if index_type == "hnsw":
        record["hnsw"] = {"M": hnsw_m, "efConstruction": ef_construction}
    record.update({key: value for key, value in fused.record.items() if key not in head})
    index = _faiss_index(fused.vectors, index_type, hnsw_m, ef_construction)
    record["versions"] = versions()
    with atomic_dir(output, marker=PROVENANCE, kind=INDEX_KIND, what="FAISS index") as tmp:
        faiss.write_index(index, str(tmp / "index"))
        (tmp / "docid").write_text("".join(f"{d}\n" for d in fused.ids), encoding="utf-8")
        (tmp / PROVENANCE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return record


def build_index(passages: str | Path, output: str | Path,
                generated: str | Path | Sequence[str | Path] | None = None,
                alpha: float = 0.01, fusion: str = "sum", langs: Iterable[str] | None = None,
                per_lang: int | None = None, index_type: str = "flat", hnsw_m: int = 32,
                ef_construction: int = 200, unaugmented: str = "keep", renorm: bool = False) -> dict[str, Any]:
    """``xqg index``: :func:`fuse_stores`, then :func:`write_faiss_index`; returns the provenance record."""
    if index_type not in INDEX_TYPES:
        raise InputError(f"--index-type must be one of {', '.join(INDEX_TYPES)}, not {index_type!r}")
    fused = fuse_stores(passages, generated, alpha=alpha, fusion=fusion, langs=langs, per_lang=per_lang,
                        unaugmented=unaugmented, renorm=renorm)
    return write_faiss_index(fused, output, index_type=index_type, hnsw_m=hnsw_m, ef_construction=ef_construction)


def index_provenance(index_dir: str | Path) -> dict[str, Any]:
    """The ``xqg.json`` of an index dir, or {} for a plain Pyserini index."""
    path = Path(index_dir) / PROVENANCE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def check_faiss_dir(index_dir: str | Path) -> Path:
    """``index_dir`` if it holds Pyserini's ``index`` and ``docid`` files, else InputError."""
    index_dir = Path(index_dir)
    for name in ("index", "docid"):
        if not (index_dir / name).is_file():
            raise InputError(f"not a FAISS index dir (missing {name})", path=index_dir)
    return index_dir


def read_index_vectors(index_dir: str | Path) -> tuple[list[str], np.ndarray]:
    """Docids and stored vectors of a Pyserini FAISS index dir (flat or HNSW: vectors are kept)."""
    import faiss

    index_dir = check_faiss_dir(index_dir)
    index = faiss.read_index(str(index_dir / "index"))
    docids = (index_dir / "docid").read_text(encoding="utf-8").split()
    if len(docids) != index.ntotal:
        raise InputError(f"{len(docids)} docids for {index.ntotal} vectors", path=index_dir)
    return docids, index.reconstruct_n(0, index.ntotal)
