"""TREC run files: ``qid Q0 docid rank score tag``, scores as Pyserini writes them.

A run whose file name ends in ``.gz`` is written and read gzip-compressed (``zcat`` gives the TREC
file; ir-measures and ranx read it as it is)."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.text import first_line, text_lines

Run = dict[str, list[tuple[str, float]]]  # qid -> [(docid, score)] best first


def is_run_file(path: str | Path) -> bool:
    """Whether ``path`` starts like a TREC run (``qid Q0 docid rank score tag``): one a run may replace."""
    fields = first_line(path).split()
    if len(fields) != 6 or not fields[3].lstrip("-").isdigit():
        return False
    try:
        float(fields[4])
    except ValueError:
        return False
    return True


def write_run(run: Run, path: str | Path, tag: str) -> None:
    if not tag or any(c.isspace() for c in tag):
        raise InputError(f"run tag {tag!r} must be one non-empty word")
    lines = (f"{qid} Q0 {docid} {rank} {score:.6f} {tag}\n" for qid, hits in run.items()
             for rank, (docid, score) in enumerate(hits, start=1))
    if Path(path).suffix != ".gz":
        with atomic_file(path, same_kind=is_run_file, what="TREC run") as out:
            out.writelines(lines)
        return
    with atomic_file(path, "wb", same_kind=is_run_file, what="TREC run") as raw:
        # no name, mtime 0: the same run gives the same bytes
        with gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out:
            out.write("".join(lines).encode("utf-8"))


def read_run(path: str | Path) -> Run:
    """qid -> hits sorted by score, descending (ties keep file order)."""
    path = Path(path)
    run: Run = {}
    seen: dict[tuple[str, str], int] = {}
    for line, raw in text_lines(path):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise InputError(f"expected 6 columns 'qid Q0 docid rank score tag', got {len(fields)}",
                             path=path, line=line)
        qid, _, docid, rank, score, _ = fields
        try:
            int(rank)
        except ValueError:
            raise InputError(f"rank {rank!r} is not an integer", path=path, line=line) from None
        try:
            value = float(score)
        except ValueError:
            raise InputError(f"score {score!r} is not a number", path=path, line=line) from None
        if not math.isfinite(value):
            raise InputError(f"score {score!r} is not a finite number", path=path, line=line)
        if (qid, docid) in seen:
            raise InputError(f"docid {docid} appears twice for query {qid} (first on line {seen[qid, docid]})",
                             path=path, line=line)
        seen[qid, docid] = line
        run.setdefault(qid, []).append((docid, value))
    if not run:
        raise InputError("run is empty", path=path)
    for hits in run.values():
        hits.sort(key=lambda hit: -hit[1])
    return run
