"""TREC qrels: ``qid iteration docid relevance`` per line."""

from __future__ import annotations

from pathlib import Path

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.text import first_line, text_lines

Qrels = dict[str, dict[str, int]]


def read_qrels(path: str | Path) -> Qrels:
    path = Path(path)
    qrels: Qrels = {}
    for line, raw in text_lines(path):
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


def is_qrels_file(path: str | Path) -> bool:
    """Whether ``path`` starts like TREC qrels (``qid iter docid rel``)."""
    fields = first_line(path).split()
    return len(fields) == 4 and fields[3].lstrip("-").isdigit()


def write_qrels(qrels: Qrels, path: str | Path) -> None:
    with atomic_file(path, same_kind=is_qrels_file, what="qrels file") as out:
        for qid, judged in qrels.items():
            for docid, rel in judged.items():
                out.write(f"{qid} 0 {docid} {rel}\n")
