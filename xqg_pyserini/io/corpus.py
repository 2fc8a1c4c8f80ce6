"""Pyserini JsonCollection corpora: one ``{"id", "contents", "title"?}`` object per line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.jsonl import read_jsonl, require_str

DEFAULT_PASSAGE_TEMPLATE = "{title} {contents}"  # how a passage becomes the text to encode or index


@dataclass(frozen=True)
class Passage:
    docid: str
    contents: str
    title: str = ""

    def render(self, template: str) -> str:
        """The text to encode, e.g. ``"{title} {contents}"``; stray spaces from an empty title are dropped."""
        return " ".join(template.format(title=self.title, contents=self.contents, text=self.contents).split())


def iter_passages(path: str | Path) -> Iterator[Passage]:
    """Passages in file order, one at a time (what :func:`read_corpus` checks, as a stream)."""
    path = Path(path)
    first_line: dict[str, int] = {}
    for line, row in read_jsonl(path):
        docid = require_str(row, "id", path, line)
        contents = require_str(row, "contents", path, line)
        title = row.get("title") or ""
        if not isinstance(title, str):
            raise InputError("field 'title' must be a string", path=path, line=line)
        if docid in first_line:
            raise InputError(f"duplicate docid {docid!r} (first on line {first_line[docid]})", path=path, line=line)
        first_line[docid] = line
        yield Passage(docid=docid, contents=contents, title=title)
    if not first_line:
        raise InputError("corpus is empty", path=path)


def read_corpus(path: str | Path) -> list[Passage]:
    """All passages in file order; bad lines, empty texts and duplicate ids raise InputError."""
    return list(iter_passages(path))
