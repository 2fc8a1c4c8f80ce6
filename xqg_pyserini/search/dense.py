"""Dense search over an index dir with Pyserini's ``FaissSearcher``; TREC runs out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xqg_pyserini.encode.base import Encoder
from xqg_pyserini.errors import InputError
from xqg_pyserini.index.build import check_faiss_dir, index_provenance, index_shard_dirs
from xqg_pyserini.io.embeddings import EmbeddingStore
from xqg_pyserini.io.runs import Run, write_run
from xqg_pyserini.provenance import write_provenance


def _searcher(index_dir: Path, encoder: Encoder | None):
    from xqg_pyserini.java import ensure_jvm

    ensure_jvm()
    from pyserini.encode import QueryEncoder
    from pyserini.search.faiss import FaissSearcher

    class _Adapter(QueryEncoder):
        def __init__(self):
            super().__init__(None)
            self.has_model = True

        def encode(self, query: str, **_: Any) -> np.ndarray:
            if encoder is None:
                raise InputError("no query encoder given")
            return encoder.encode_queries([query])[0]

    return FaissSearcher(str(index_dir), _Adapter())


def query_vectors(store: EmbeddingStore, topics: dict[str, str]) -> np.ndarray:
    """Rows of a query embedding store for ``topics``, joined by qid."""
    row_of = {qid: row for row, qid in enumerate(store.ids)}
    missing = [qid for qid in topics if qid not in row_of]
    if missing:
        raise InputError(f"{len(missing)} topics have no encoded query (first: {missing[0]!r})", path=store.path)
    return np.asarray(np.asarray(store.vectors)[[row_of[qid] for qid in topics]], dtype=np.float32)


def search(index_dir: str | Path, topics: dict[str, str], encoder: Encoder | None = None, hits: int = 100,
           threads: int = 1, progress: bool = True, encoded: EmbeddingStore | None = None) -> Run:
    """Rank with ``encoder`` on the topic texts, or with the pre-encoded queries of ``encoded``."""
    if hits < 1 or threads < 1:
        raise InputError(f"--hits and --threads must be at least 1 (got {hits} and {threads})")
    if encoded is None and encoder is None:
        raise InputError("give a query encoder or encoded queries")
    index_dir = check_faiss_dir(index_dir)  # everything checked before Java starts
    qids = list(topics)
    vectors = query_vectors(encoded, topics) if encoded is not None else None
    searchers = [_searcher(directory, encoder) for directory in index_shard_dirs(index_dir)]
    dim = vectors.shape[1] if vectors is not None else encoder.dim
    if searchers[0].dimension != dim:
        raise InputError(f"index has dim {searchers[0].dimension} but the queries have {dim}", path=index_dir)
    if vectors is None:
        vectors = encoder.encode_queries([topics[q] for q in qids], progress=progress)
    per_shard = [searcher.batch_search(vectors, qids, k=hits, threads=threads) for searcher in searchers]
    if len(per_shard) == 1:
        return {qid: [(hit.docid, float(hit.score)) for hit in per_shard[0][qid]] for qid in qids}
    # Shard by shard, merged: the best ``hits`` by score (ties: earlier shard, then its rank).
    return {qid: sorted(((hit.docid, float(hit.score)) for results in per_shard for hit in results[qid]),
                        key=lambda pair: -pair[1])[:hits] for qid in qids}


def search_to_file(index_dir: str | Path, topics_path: str | Path, topics: dict[str, str], encoder: Encoder | None,
                   output: str | Path, hits: int = 100, threads: int = 1, tag: str | None = None,
                   progress: bool = True, encoded: EmbeddingStore | None = None) -> Run:
    """Search and write ``output`` (TREC) plus ``output.json`` provenance."""
    run = search(index_dir, topics, encoder, hits=hits, threads=threads, progress=progress, encoded=encoded)
    tag = tag or Path(output).stem
    write_run(run, output, tag=tag)
    write_provenance(f"{output}.json", {
        "kind": "xqg-run", "index": str(Path(index_dir).resolve()), "index_provenance": index_provenance(index_dir),
        "topics": str(Path(topics_path).resolve()), "queries": len(topics), "hits": hits, "tag": tag,
        "query_encoder": encoded.meta.get("encoder") if encoded is not None else encoder.config(),
        "encoded_queries": str(encoded.path.resolve()) if encoded is not None else None,
    })
    return run
