"""Reading user text files as UTF-8: bytes that are not UTF-8 are an InputError naming the file,
line and column, and a leading byte-order mark (which Windows editors add) is dropped, so it never
becomes part of the first id. A file whose name ends in ``.gz`` is read through gzip."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Iterator

from xqg_pyserini.errors import InputError

BOM = "\ufeff"
# surrogateescape decodes each undecodable byte to one of these, so a bad byte is found by a regex
_ESCAPED = re.compile("[\udc80-\udcff]")


def _not_utf8(line: str, path: Path, number: int) -> InputError:
    bad = _ESCAPED.search(line)
    byte = ord(bad.group()) - 0xDC00
    return InputError(f"not UTF-8 text (byte 0x{byte:02x} at column {bad.start() + 1}); "
                      "save the file as UTF-8", path=path, line=number)


def text_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 text file, newline included, as ``open()`` splits them."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if number == 1 and line.startswith(BOM):
                line = line[1:]
            if _ESCAPED.search(line):
                raise _not_utf8(line, path, number)
            yield number, line


def decode_line(raw: bytes, path: Path, number: int | None) -> str:
    """One line's bytes as :func:`text_lines` yields it (for readers that seek by byte offset)."""
    line = raw.decode("utf-8", errors="surrogateescape")
    if number == 1:
        line = line.removeprefix(BOM)
    if _ESCAPED.search(line):
        raise _not_utf8(line, path, number)
    return line


def open_text(path: Path):
    """A text handle on ``path`` (gzip-decompressed for ``.gz``), undecodable bytes kept as surrogates."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape")
    return open(path, encoding="utf-8", errors="surrogateescape")


def read_text(path: str | Path) -> str:
    """A whole UTF-8 text file (a leading BOM dropped); bad bytes name their line and column."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    if _ESCAPED.search(text):
        for number, line in enumerate(text.split("\n"), start=1):
            if _ESCAPED.search(line):
                raise _not_utf8(line, path, number)
    return text.removeprefix(BOM)


def first_line(path: str | Path, limit: int = 1 << 16) -> str:
    """The first non-blank line of a file (at most ``limit`` bytes read), for recognizing formats."""
    opener = gzip.open if Path(path).suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(limit).decode("utf-8", errors="replace")
    except (OSError, EOFError):  # not gzip after all, or truncated: not a file of the kind asked about
        return ""
    return next((line for line in head.removeprefix(BOM).split("\n") if line.strip()), "")
