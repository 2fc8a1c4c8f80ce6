"""TREC qrels: ``qid iteration docid relevance`` per line."""

from __future__ import annotations

from pathlib import Path

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_file

Qrels = dict[str, dict[str, int]]


def read_qrels(path: str | Path) -> Qrels:
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    qrels: Qrels = {}
    with open(path, encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            fields = raw.split()
            if not fields:
                continue
            if len(fields) != 4:
                raise InputError(f"expected 4 columns 'qid iter docid rel', got {len(fields)}", path=path, line=line)
            qid, _, docid, rel = fields
            try:
                relevance = int(rel)
            except ValueError:
                raise InputError(f"relevance {rel!r} is not an integer", path=path, line=line) from None
            judged = qrels.setdefault(qid, {})
            if docid in judged and judged[docid] != relevance:
                raise InputError(f"conflicting judgements for {qid} {docid}", path=path, line=line)
            judged[docid] = relevance
    if not qrels:
        raise InputError("no judgements", path=path)
    return qrels


def write_qrels(qrels: Qrels, path: str | Path) -> None:
    with atomic_file(path) as out:
        for qid, judged in qrels.items():
            for docid, rel in judged.items():
                out.write(f"{qid} 0 {docid} {rel}\n")
