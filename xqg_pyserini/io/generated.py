"""Generated queries: one JSONL row per passage, the schema of ielab/xor-tydi-xqg-augmented.

``{"docid": "...", "generated_queries": {"ar": ["...", ...], "ja": [...]}}``
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.jsonl import read_jsonl, require_str

FIELD = "generated_queries"


@dataclass(frozen=True)
class GeneratedText:
    """One generated text: the ``rank``-th output for ``docid`` in language ``lang``."""

    docid: str
    lang: str
    rank: int
    text: str


def read_generated(path: str | Path, field: str = FIELD) -> list[GeneratedText]:
    """Every generated text in file order; bad rows and duplicate docids raise InputError."""
    path = Path(path)
    texts: list[GeneratedText] = []
    first_line: dict[str, int] = {}
    for line, row in read_jsonl(path):
        docid = require_str(row, "docid", path, line)
        if docid in first_line:
            raise InputError(f"duplicate docid {docid!r} (first on line {first_line[docid]})", path=path, line=line)
        first_line[docid] = line
        by_lang = row.get(field)
        if not isinstance(by_lang, dict):
            raise InputError(f"field {field!r} must be an object of language -> list of texts", path=path, line=line)
        for lang, outputs in by_lang.items():
            if not isinstance(outputs, list) or not all(isinstance(t, str) for t in outputs):
                raise InputError(f"{field}[{lang!r}] must be a list of strings", path=path, line=line)
            for rank, text in enumerate(outputs):
                if not text.strip():
                    raise InputError(f"{field}[{lang!r}][{rank}] is empty", path=path, line=line)
                texts.append(GeneratedText(docid, lang, rank, text))
    if not texts:
        raise InputError(f"no {field} in file", path=path)
    return texts


def select(texts: Iterable[GeneratedText], langs: Iterable[str] | None = None,
           per_lang: int | None = None) -> list[GeneratedText]:
    """Keep the first ``per_lang`` texts of each passage in each of ``langs`` (None: all)."""
    wanted = set(langs) if langs else None
    return [t for t in texts
            if (wanted is None or t.lang in wanted) and (per_lang is None or t.rank < per_lang)]
