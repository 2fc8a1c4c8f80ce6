"""Line-numbered JSONL reading, and JSON files holding one object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.text import read_text, text_lines


def json_error(err: json.JSONDecodeError) -> str:
    """``Expecting ',' delimiter at column 7``: json's own message, whose text may end in "at"."""
    return f"{err.msg.removesuffix(' at')} at column {err.colno}"


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line; malformed lines raise InputError."""
    path = Path(path)
    for number, line in text_lines(path):
        if line.strip():
            yield number, parse_object_line(line, path, number)


def parse_object_line(line: str, path: Path, number: int | None) -> dict:
    """One JSONL line holding an object; malformed JSON or another value raises InputError."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON ({json_error(err)})", path=path, line=number) from None
    if not isinstance(row, dict):
        raise InputError("expected a JSON object", path=path, line=number)
    return row


def require_str(row: dict, field: str, path: Path, line: int, *, allow_empty: bool = False) -> str:
    """``row[field]`` as a string, or an InputError naming the file, line and field."""
    if field not in row:
        raise InputError(f"missing field {field!r}", path=path, line=line)
    value = row[field]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and field in ("id", "docid"):
        value = str(value)
    if not isinstance(value, str):
        raise InputError(f"field {field!r} must be a string", path=path, line=line)
    if not allow_empty and not value.strip():
        raise InputError(f"field {field!r} is empty", path=path, line=line)
    return value


def read_json_object(path: str | Path, required: tuple[str, ...] = ()) -> dict:
    """A JSON file holding one object with at least the ``required`` keys; otherwise InputError."""
    path = Path(path)
    try:
        value = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON ({json_error(err)})", path=path, line=err.lineno) from None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object", path=path)
    missing = [key for key in required if key not in value]
    if missing:
        raise InputError(f"missing key(s) {', '.join(map(repr, missing))}", path=path)
    return value
