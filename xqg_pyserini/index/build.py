"""Build a Pyserini FAISS index dir (``index`` + ``docid``) plus ``xqg.json`` provenance."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.index.fusion import fuse
from xqg_pyserini.io.atomic import atomic_dir
from xqg_pyserini.io.embeddings import check_finite, read_store
from xqg_pyserini.provenance import versions

PROVENANCE = "xqg.json"
INDEX_TYPES = ("flat", "hnsw")


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


def _same_encoder(passages: dict[str, Any], generated: dict[str, Any]) -> list[str]:
    """Encoder settings that differ between the passage and generated stores (prefixes aside)."""
    keys = ("encoder", "path", "pooling", "l2_norm", "dtype", "dim")
    a, b = passages.get("encoder", {}), generated.get("encoder", {})
    return [k for k in keys if a.get(k) != b.get(k)]


def build_index(passages: str | Path, output: str | Path,
                generated: str | Path | Sequence[str | Path] | None = None,
                alpha: float = 0.01, fusion: str = "sum", langs: Iterable[str] | None = None,
                per_lang: int | None = None, index_type: str = "flat", hnsw_m: int = 32,
                ef_construction: int = 200) -> dict[str, Any]:
    """Write the index dir atomically and return its provenance record.

    ``generated``: one embedding store or several (e.g. generated queries and generated
    passages); the sum runs over the selected rows of all of them.
    """
    import faiss

    if not 0 <= alpha <= 1:
        raise InputError(f"--alpha must be within [0, 1], got {alpha}")
    langs = sorted(set(langs)) if langs else None
    pstore = read_store(passages, kind="passage")
    check_finite(np.asarray(pstore.vectors), pstore.ids, pstore.path / "embeddings.npy")
    record: dict[str, Any] = {
        "kind": "xqg-faiss-index",
        "passages": {"path": str(pstore.path.resolve()), "count": len(pstore.ids), "input": pstore.meta.get("input")},
        "encoder": pstore.meta.get("encoder"),
        "dim": pstore.dim,
        "alpha": alpha,
        "fusion": fusion,
        "index_type": index_type,
    }
    if index_type == "hnsw":
        record["hnsw"] = {"M": hnsw_m, "efConstruction": ef_construction}
    sources = [] if generated is None else [generated] if isinstance(generated, (str, Path)) else list(generated)
    if not sources:
        vectors = np.array(pstore.vectors, dtype=np.float32)
        record.update(generated=None, langs=[], per_lang=per_lang, queries_used=0, passages_augmented=0)
    else:
        keys, parts, described = [], [], []
        for source in sources:
            gstore = read_store(source, kind="generated")
            check_finite(np.asarray(gstore.vectors), [k.split("\t")[0] for k in gstore.ids],
                         gstore.path / "embeddings.npy")
            mismatch = _same_encoder(pstore.meta, gstore.meta)
            if mismatch:
                raise InputError(f"passages and generated texts were encoded differently ({', '.join(mismatch)})",
                                 path=gstore.path)
            if gstore.dim != pstore.dim:
                raise InputError(f"generated vectors have dim {gstore.dim}, passages {pstore.dim}", path=gstore.path)
            keys += gstore.generated_keys()
            parts.append(np.asarray(gstore.vectors))
            described.append({"path": str(gstore.path.resolve()), "count": len(gstore.ids),
                              "input": gstore.meta.get("input"),
                              "field": gstore.meta.get("generated_field", "generated_queries")})
        vectors, stats = fuse(pstore.ids, pstore.vectors, keys, np.concatenate(parts), alpha, fusion, langs,
                              per_lang, source=", ".join(str(Path(d["path"]) / "ids.tsv") for d in described))
        record.update(generated=described if len(described) > 1 else described[0],
                      langs=sorted(stats.queries_per_lang), per_lang=per_lang, **asdict(stats))
    index = _faiss_index(vectors, index_type, hnsw_m, ef_construction)
    record["versions"] = versions()
    with atomic_dir(output) as tmp:
        faiss.write_index(index, str(tmp / "index"))
        (tmp / "docid").write_text("".join(f"{d}\n" for d in pstore.ids), encoding="utf-8")
        (tmp / PROVENANCE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return record
