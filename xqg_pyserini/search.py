"""Dense search over an index dir with Pyserini's ``FaissSearcher``; TREC runs out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from xqg_pyserini.encode.base import Encoder
from xqg_pyserini.errors import InputError
from xqg_pyserini.index.build import PROVENANCE
from xqg_pyserini.io.runs import Run, write_run
from xqg_pyserini.provenance import write_provenance


def index_provenance(index_dir: str | Path) -> dict[str, Any]:
    """The ``xqg.json`` of an index dir, or {} for a plain Pyserini index."""
    path = Path(index_dir) / PROVENANCE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _searcher(index_dir: Path, encoder: Encoder):
    from xqg_pyserini.java import ensure_jvm

    ensure_jvm()
    from pyserini.encode import QueryEncoder
    from pyserini.search.faiss import FaissSearcher

    class _Adapter(QueryEncoder):
        def __init__(self):
            super().__init__(None)
            self.has_model = True

        def encode(self, query: str, **_: Any) -> np.ndarray:
            return encoder.encode_queries([query])[0]

    for name in ("index", "docid"):
        if not (index_dir / name).is_file():
            raise InputError(f"not a FAISS index dir (missing {name})", path=index_dir)
    return FaissSearcher(str(index_dir), _Adapter())


def search(index_dir: str | Path, topics: dict[str, str], encoder: Encoder, hits: int = 100,
           threads: int = 1, progress: bool = True) -> Run:
    index_dir = Path(index_dir)
    searcher = _searcher(index_dir, encoder)
    if searcher.dimension != encoder.dim:
        raise InputError(f"index has dim {searcher.dimension} but the encoder gives {encoder.dim}", path=index_dir)
    qids = list(topics)
    vectors = encoder.encode_queries([topics[q] for q in qids], progress=progress)
    results = searcher.batch_search(vectors, qids, k=hits, threads=threads)
    return {qid: [(hit.docid, float(hit.score)) for hit in results[qid]] for qid in qids}


def search_to_file(index_dir: str | Path, topics_path: str | Path, topics: dict[str, str], encoder: Encoder,
                   output: str | Path, hits: int = 100, threads: int = 1, tag: str | None = None,
                   progress: bool = True) -> Run:
    """Search and write ``output`` (TREC) plus ``output.json`` provenance."""
    run = search(index_dir, topics, encoder, hits=hits, threads=threads, progress=progress)
    tag = tag or Path(output).stem
    write_run(run, output, tag=tag)
    write_provenance(f"{output}.json", {
        "kind": "xqg-run", "index": str(Path(index_dir).resolve()), "index_provenance": index_provenance(index_dir),
        "topics": str(Path(topics_path).resolve()), "queries": len(topics), "hits": hits, "tag": tag,
        "query_encoder": encoder.config(),
    })
    return run
