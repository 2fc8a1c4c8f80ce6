"""BM25 search of a Lucene index (``xqg index-sparse``) with Pyserini's ``LuceneSearcher``.

Queries are analyzed the way the index's documents were, as its ``xqg.json`` records: for a
``subword`` index they are pre-tokenized with the same tokenizer and searched with a whitespace
analyzer, which is what ``python -m pyserini.search.lucene --pretokenized`` does with the topics
:func:`pretokenize_topics` writes; for a Lucene language analyzer the searcher gets that analyzer
(Pyserini's CLI: ``--language xx``). Both give the same rankings (``tests/index/test_sparse.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.index.sparse import (LANGUAGE_ANALYZERS, SUBWORD, check_analyzer, is_pretokenized,
                                       pyserini_search_flags, sparse_provenance)
from xqg_pyserini.index.subword import TokenizerSpec, subword_tokenizer
from xqg_pyserini.io.runs import Run, write_run
from xqg_pyserini.io.atomic import check_output_file
from xqg_pyserini.io.topics import is_topics_file, read_topics, write_topics
from xqg_pyserini.provenance import write_provenance

BATCH = 128  # queries per batch_search call: each hit carries its stored raw document, so keep batches small


def _analysis(index_dir: Path, analyzer: str | None) -> tuple[dict[str, Any], str]:
    record = sparse_provenance(index_dir)
    recorded = record.get("analyzer")
    if analyzer is None:
        analyzer = recorded or "en"  # a Lucene index built elsewhere: Pyserini's default
    analyzer = check_analyzer(analyzer)
    if recorded and analyzer != recorded:
        raise InputError(f"the index was built with analyzer {recorded!r}; queries must use it, not {analyzer!r}",
                         path=index_dir)
    if analyzer == SUBWORD and not record.get("tokenizer"):
        raise InputError("a subword index needs its tokenizer, recorded in xqg.json (missing)", path=index_dir)
    return record, analyzer


def prepare_queries(index_dir: str | Path, queries: Sequence[str], analyzer: str | None = None) -> list[str]:
    """Query texts as the searcher gets them: pre-tokenized for a ``subword`` index, else as given."""
    record, analyzer = _analysis(Path(index_dir), analyzer)
    if analyzer != SUBWORD:
        return list(queries)
    recorded = record["tokenizer"]
    tokenizer = subword_tokenizer(TokenizerSpec.from_dict(recorded))
    if recorded.get("sha256") and recorded["sha256"] != tokenizer.sha256:
        print(f"warning: tokenizer {recorded.get('name')!r} now resolves to {tokenizer.path}, which differs from "
              f"the one the index was built with ({recorded.get('path')}); rankings may differ", file=sys.stderr)
    return tokenizer.tokenize(list(queries))


def _searcher(index_dir: Path, analyzer: str, k1: float, b: float):
    from xqg_pyserini.java import ensure_jvm

    ensure_jvm()
    from jnius import autoclass
    from pyserini.search.lucene import LuceneSearcher

    searcher = LuceneSearcher(str(index_dir))
    if is_pretokenized(analyzer):
        searcher.set_analyzer(autoclass("org.apache.lucene.analysis.core.WhitespaceAnalyzer")())
    elif analyzer in LANGUAGE_ANALYZERS:
        # The class the index was built with (Anserini's AnalyzerMap); Pyserini's --language maps
        # the same codes to the same classes, except ko (CJKAnalyzer at search time).
        searcher.set_analyzer(autoclass(LANGUAGE_ANALYZERS[analyzer])())
    searcher.set_bm25(float(k1), float(b))
    return searcher


def sparse_search(index_dir: str | Path, topics: dict[str, str], hits: int = 100, k1: float = 0.9, b: float = 0.4,
                  threads: int = 1, analyzer: str | None = None, progress: bool = False) -> Run:
    """BM25 ranking of ``topics`` (qid -> text) on a Lucene index; queries analyzed like the index."""
    from tqdm.auto import tqdm

    if hits < 1:
        raise InputError("--hits must be at least 1")
    if k1 < 0 or not 0 <= b <= 1:
        raise InputError(f"BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1={k1}, b={b})")
    index_dir = Path(index_dir)
    _, analyzer = _analysis(index_dir, analyzer)
    qids = list(topics)
    queries = prepare_queries(index_dir, [topics[q] for q in qids], analyzer)
    searcher = _searcher(index_dir, analyzer, k1, b)
    run: Run = {}
    try:
        with tqdm(total=len(qids), desc="search (BM25)", unit="query", disable=not progress) as bar:
            for start in range(0, len(qids), BATCH):
                batch_ids, batch = qids[start:start + BATCH], queries[start:start + BATCH]
                results = searcher.batch_search(batch, batch_ids, k=hits, threads=threads)
                for qid in batch_ids:
                    run[qid] = [(hit.docid, float(hit.score)) for hit in results.get(qid, [])]
                bar.update(len(batch_ids))
    finally:
        searcher.close()
    return run


def sparse_search_to_file(index_dir: str | Path, topics_path: str | Path, topics: dict[str, str],
                          output: str | Path, hits: int = 100, k1: float = 0.9, b: float = 0.4, threads: int = 1,
                          tag: str | None = None, progress: bool = False) -> Run:
    """Search and write ``output`` (TREC) plus ``output.json`` provenance."""
    run = sparse_search(index_dir, topics, hits=hits, k1=k1, b=b, threads=threads, progress=progress)
    tag = tag or Path(output).stem
    write_run(run, output, tag=tag)
    write_provenance(f"{output}.json", {
        "kind": "xqg-run", "retrieval": "bm25", "bm25": {"k1": k1, "b": b},
        "index": str(Path(index_dir).resolve()), "index_provenance": sparse_provenance(index_dir),
        "topics": str(Path(topics_path).resolve()), "queries": len(topics),
        "queries_without_hits": sum(1 for hits_ in run.values() if not hits_), "hits": hits, "tag": tag,
    })
    return run


def pretokenize_topics(topics_path: str | Path, output: str | Path, index_dir: str | Path) -> dict[str, Any]:
    """Write ``topics_path`` as the index analyzes queries, for ``pyserini.search.lucene --pretokenized``.

    Returns ``{"topics", "written", "empty": [qids], "pyserini_flags": [...]}``. Topics that keep no
    token (punctuation only) are left out: they match nothing, and Pyserini's TSV reader rejects
    an empty query. Only for pre-tokenized (``subword``/``whitespace``) indexes.
    """
    index_dir = Path(index_dir)
    check_output_file(output, same_kind=is_topics_file, what="topics file")
    _, analyzer = _analysis(index_dir, None)
    if not is_pretokenized(analyzer):
        raise InputError(f"the index uses Lucene's {analyzer!r} analyzer: give Pyserini the topics as they are "
                         f"with {' '.join(pyserini_search_flags(analyzer)) or 'no extra flag'}", path=index_dir)
    topics = read_topics(topics_path)
    qids = list(topics)
    tokenized = prepare_queries(index_dir, [topics[q] for q in qids], analyzer)
    kept = {qid: text for qid, text in zip(qids, tokenized) if text.strip()}
    empty = [qid for qid in qids if qid not in kept]
    if not kept:
        raise InputError("no topic keeps a token after pre-tokenization", path=topics_path)
    write_topics(kept, output)
    if empty:
        print(f"warning: {len(empty)} topics have no token left and are not written (first: {empty[0]})",
              file=sys.stderr)
    return {"topics": len(qids), "written": len(kept), "empty": empty,
            "pyserini_flags": pyserini_search_flags(analyzer)}
