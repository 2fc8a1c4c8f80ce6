"""Pyserini JsonCollection corpora: one ``{"id", "contents", "title"?}`` object per line."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.jsonl import parse_object_line, read_jsonl, require_str
from xqg_pyserini.io.text import decode_line

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


class CorpusTexts(Mapping[str, str]):
    """docid -> ``contents`` of a corpus JSONL, read from disk on demand (R@kt, prediction files).

    Lookups go through an on-disk index of the corpus, built on first use in
    ``$XQG_CACHE/corpus-offsets/`` (a sorted array of 64-bit docid hashes and byte offsets, keyed
    by the file's path, size and mtime) and memory-mapped, so only the passages asked for are
    read; each line found is checked to hold the docid asked for. Memory grows with the passages
    looked up, not with the corpus. Iterating reads the whole file.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("file not found", path=self.path)
        self._table = np.load(_offsets_file(self.path), mmap_mode="r")
        self._offsets: dict[str, int | None] = {}

    def _offset(self, docid: str) -> int | None:
        if docid not in self._offsets:
            key = _docid_hash(docid)
            hashes = self._table["hash"]
            lo, hi = int(np.searchsorted(hashes, key, "left")), int(np.searchsorted(hashes, key, "right"))
            found = None
            for offset in self._table["offset"][lo:hi].tolist():
                if self._read(offset)[0] == docid:
                    found = int(offset)
                    break
            self._offsets[docid] = found
        return self._offsets[docid]

    def _read(self, offset: int) -> tuple[str, str]:
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            row = _parse_line(handle.readline(), self.path, 1 if offset == 0 else None)
        return str(row.get("id")), row.get("contents", "")

    def __contains__(self, docid: object) -> bool:
        return isinstance(docid, str) and self._offset(docid) is not None

    def __getitem__(self, docid: str) -> str:
        offset = self._offset(docid)
        if offset is None:
            raise KeyError(docid)
        return self._read(offset)[1]

    def __len__(self) -> int:
        return len(self._table)

    def __iter__(self) -> Iterator[str]:
        return (passage.docid for passage in iter_passages(self.path))


def _docid_hash(docid: str) -> int:
    return int.from_bytes(hashlib.blake2b(docid.encode("utf-8"), digest_size=8).digest(), "little")


def _offsets_file(path: Path) -> Path:
    """The offsets index of ``path`` in the cache, built (one streaming pass, checked as read_corpus) if absent."""
    from xqg_pyserini.encode.models import cache_root
    from xqg_pyserini.io.atomic import atomic_file

    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:32]
    target = cache_root() / "corpus-offsets" / f"{key}.npy"
    if target.is_file():
        return target
    hashes, offsets = [], []
    with open(path, "rb") as handle:
        offset, number = 0, 0
        for raw in handle:
            number += 1
            if raw.strip():
                docid = require_str(_parse_line(raw, path, number), "id", path, number)
                hashes.append(_docid_hash(docid))
                offsets.append(offset)
            offset += len(raw)
    table = np.zeros(len(hashes), dtype=[("hash", "<u8"), ("offset", "<u8")])
    table["hash"], table["offset"] = hashes, offsets
    table.sort(order=["hash", "offset"])
    with atomic_file(target, "wb", encoding=None) as out:
        np.save(out, table)
    return target


def _parse_line(raw: bytes, path: Path, number: int | None) -> dict:
    """One corpus line as read_jsonl reads it (UTF-8, a first line's BOM dropped), from its bytes."""
    return parse_object_line(decode_line(raw, path, number), path, number)


def open_corpus_texts(path: str | Path) -> Mapping[str, str]:
    """Passage texts for R@kt from a corpus JSONL (:class:`CorpusTexts`) or a Lucene index dir with raw docs.

    A gzip-compressed corpus (``.gz``) cannot be read at an offset: it is read into memory.
    """
    path = Path(path)
    if path.is_dir():
        return LuceneTexts(path)
    if path.suffix == ".gz":
        return {passage.docid: passage.contents for passage in iter_passages(path)}
    return CorpusTexts(path)


class LuceneTexts(Mapping[str, str]):
    """docid -> passage text from the stored raw documents of an ``xqg index-sparse`` index, on demand."""

    def __init__(self, index_dir: Path):
        self.index_dir = index_dir
        self._texts: dict[str, str | None] = {}

    def prefetch(self, docids: Iterable[str]) -> None:
        from xqg_pyserini.index.sparse import index_texts

        wanted = [d for d in dict.fromkeys(docids) if d not in self._texts]
        if not wanted:
            return
        try:
            found = index_texts(self.index_dir, wanted)
        except InputError as err:
            if "docid not in the index" not in str(err):
                raise
            found = index_texts(self.index_dir, [d for d in wanted if self._exists(d)])
        self._texts.update({d: found.get(d) for d in wanted})

    def _exists(self, docid: str) -> bool:
        from xqg_pyserini.index.sparse import index_texts

        try:
            index_texts(self.index_dir, [docid])
            return True
        except InputError as err:
            if "docid not in the index" in str(err):
                return False
            raise

    def __contains__(self, docid: object) -> bool:
        if isinstance(docid, str) and docid not in self._texts:
            self.prefetch([docid])
        return self._texts.get(docid) is not None  # type: ignore[arg-type]

    def __getitem__(self, docid: str) -> str:
        if docid not in self:
            raise KeyError(docid)
        return self._texts[docid]  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._texts)

    def __iter__(self) -> Iterator[str]:
        return (d for d, t in self._texts.items() if t is not None)
