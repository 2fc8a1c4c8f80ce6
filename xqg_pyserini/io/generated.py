"""Generated queries: one JSONL row per passage, the schema of ielab/xor-tydi-xqg-augmented.

``{"docid": "...", "generated_queries": {"ar": ["...", ...], "ja": [...]}}``
(translated passages: the same under ``generated_passages``).

A generated input is a JSONL file or a *shard set*: the dir ``xqg generate`` writes, with
``shard-I-of-N.jsonl`` files listed by ``manifest-I-of-N.json``; its shards in order are the
merged file, so both read (and hash) the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.jsonl import read_json_object, read_jsonl, require_str
from xqg_pyserini.io.hashing import file_sha256
from xqg_pyserini.io.text import first_line

QUERIES_FIELD = "generated_queries"  # generated queries (hf-qg, openai, the QG oracle)
PASSAGES_FIELD = "generated_passages"  # translated passages (hf-mt, the PG oracle)
FIELDS = (QUERIES_FIELD, PASSAGES_FIELD)
MANIFEST_PATTERN = re.compile(r"manifest-(\d+)-of-(\d+)\.json")
# What makes a directory a shard set (``xqg generate`` writes these, and nothing else, in it).
SHARD_SET_FILES = ("manifest-*-of-*.json", "shard-*-of-*.jsonl*")
_ROW_START = re.compile(r'\s*\{\s*"docid"\s*:')


@dataclass(frozen=True)
class GeneratedText:
    """One generated text: the ``rank``-th output for ``docid`` in language ``lang``."""

    docid: str
    lang: str
    rank: int
    text: str


def iter_generated_texts(path: str | Path, field: str = QUERIES_FIELD) -> Iterator[GeneratedText]:
    """Generated texts in file order, one at a time (what :func:`read_generated` checks, as a stream)."""
    source = Path(path)
    first_line: dict[str, tuple[Path, int]] = {}
    found = False
    for path, line, row in iter_generated(source, located=True):
        docid = require_str(row, "docid", path, line)
        if docid in first_line:
            first_path, first = first_line[docid]
            raise InputError(f"duplicate docid {docid!r} (first in {first_path.name} line {first})", path=path, line=line)
        first_line[docid] = (path, line)
        by_lang = row.get(field)
        if not isinstance(by_lang, dict):
            raise InputError(f"field {field!r} must be an object of language -> list of texts", path=path, line=line)
        for lang, outputs in by_lang.items():
            if not isinstance(outputs, list) or not all(isinstance(t, str) for t in outputs):
                raise InputError(f"{field}[{lang!r}] must be a list of strings", path=path, line=line)
            for rank, text in enumerate(outputs):
                if not text.strip():
                    raise InputError(f"{field}[{lang!r}][{rank}] is empty", path=path, line=line)
                found = True
                yield GeneratedText(docid, lang, rank, text)
    if not found:
        raise InputError(f"no {field} in file", path=source)


def read_generated(path: str | Path, field: str = QUERIES_FIELD) -> list[GeneratedText]:
    """Every generated text in file order; bad rows and duplicate docids raise InputError."""
    return list(iter_generated_texts(path, field))


def select(texts: Iterable[GeneratedText], langs: Iterable[str] | None = None,
           per_lang: int | None = None) -> list[GeneratedText]:
    """Keep the first ``per_lang`` texts of each passage in each of ``langs`` (None: all)."""
    wanted = set(langs) if langs else None
    return [t for t in texts
            if (wanted is None or t.lang in wanted) and (per_lang is None or t.rank < per_lang)]


def shard_set_manifests(output_dir: str | Path) -> list[dict[str, Any]]:
    """The manifests of a complete, consistent shard set, in shard order; otherwise InputError."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        raise InputError("not a directory", path=output_dir)
    found: dict[int, dict[str, Any]] = {}
    counts = set()
    for path in sorted(output_dir.glob("manifest-*-of-*.json")):
        match = MANIFEST_PATTERN.fullmatch(path.name)
        if match:
            counts.add(int(match.group(2)))
            found[int(match.group(1))] = read_json_object(path, required=("file", "run_fingerprint"))
    if not found:
        raise InputError("no generation manifests (manifest-I-of-N.json) here", path=output_dir)
    if len(counts) > 1:
        raise InputError(f"shards of different splits ({', '.join(map(str, sorted(counts)))}-way) are mixed here",
                         path=output_dir)
    count = counts.pop()
    missing = [i for i in range(count) if i not in found]
    unfinished = [i for i, m in sorted(found.items()) if m.get("status") != "complete"]
    if missing or unfinished:
        raise InputError(f"shard set is incomplete: missing shards {missing or '-'}, unfinished shards "
                         f"{unfinished or '-'} of {count}", path=output_dir)
    manifests = [found[i] for i in range(count)]
    if len({m["run_fingerprint"] for m in manifests}) > 1:
        raise InputError("the shards here were generated with different settings", path=output_dir)
    for manifest in manifests:
        if not (output_dir / manifest["file"]).is_file():
            raise InputError(f"shard file {manifest['file']} is missing", path=output_dir)
    return manifests


def is_generated_file(path: str | Path) -> bool:
    """Whether ``path`` starts like a generated-texts JSONL file (rows ``{"docid", ...}``)."""
    return bool(_ROW_START.match(first_line(path)))


def generated_files(path: str | Path) -> list[Path]:
    """The JSONL file itself, or a shard set's shard files in order."""
    path = Path(path)
    return [path / m["file"] for m in shard_set_manifests(path)] if path.is_dir() else [path]


def iter_generated(path: str | Path, located: bool = False) -> Iterator[Any]:
    """Rows of a generated JSONL file or a shard set, in corpus order.

    With ``located=True`` yields ``(file, line, row)`` so readers can point at bad rows.
    """
    for file in generated_files(path):
        for line, row in read_jsonl(file):
            yield (file, line, row) if located else row


def generated_sha256(path: str | Path) -> str:
    """sha256 of a generated JSONL file, or of a shard set's shards concatenated (= its merged file's)."""
    return file_sha256(*generated_files(path))
