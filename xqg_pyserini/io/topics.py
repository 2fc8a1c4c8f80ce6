"""Topics: TSV ``qid<TAB>query``, no header (Pyserini's TSV topic format).

Converted multilingual QA sets name a topic ``{lang}-{question id}``: the same question in every
language shares its question id (:func:`topic_id`, :func:`question_id`).
"""

from __future__ import annotations

from pathlib import Path

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.text import first_line, text_lines


def read_topics(path: str | Path) -> dict[str, str]:
    """qid -> query text, in file order."""
    path = Path(path)
    topics: dict[str, str] = {}
    for line, raw in text_lines(path):
        raw = raw.rstrip("\n").rstrip("\r")
        if not raw.strip():
            continue
        qid, sep, query = raw.partition("\t")
        qid = qid.strip()
        if not sep or not qid:
            raise InputError("expected 'qid<TAB>query'", path=path, line=line)
        if not query.strip():
            raise InputError(f"query {qid!r} is empty", path=path, line=line)
        if qid in topics:
            raise InputError(f"duplicate qid {qid!r}", path=path, line=line)
        topics[qid] = query.strip()
    if not topics:
        raise InputError("no topics", path=path)
    return topics


def is_topics_file(path: str | Path) -> bool:
    """Whether ``path`` starts like a topics file (``qid<TAB>query``): one an output may replace."""
    qid, sep, query = first_line(path).partition("\t")
    return bool(sep and qid.strip() and query.strip() and " " not in qid.strip())


def write_topics(topics: dict[str, str], path: str | Path) -> None:
    with atomic_file(path, same_kind=is_topics_file, what="topics file") as out:
        for qid, query in topics.items():
            out.write(f"{qid}\t{' '.join(query.split())}\n")


def topic_id(lang: str, question: str) -> str:
    """The qid of ``question`` asked in ``lang``."""
    return f"{lang}-{question}"


def question_id(qid: str) -> str:
    """``"{lang}-{question id}"`` -> the question id shared across languages (a qid without ``-``: itself)."""
    return qid.split("-", 1)[1] if "-" in qid else qid
