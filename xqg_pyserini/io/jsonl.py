"""Line-numbered JSONL reading, and JSON files holding one object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from xqg_pyserini.errors import InputError


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line; malformed lines raise InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"malformed JSON ({err.msg} at column {err.colno})", path=path, line=number) from None
            if not isinstance(row, dict):
                raise InputError("expected a JSON object", path=path, line=number)
            yield number, row


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
    if not path.is_file():
        raise InputError("file not found", path=path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        line = getattr(err, "lineno", None)
        raise InputError(f"malformed JSON ({getattr(err, 'msg', err)})", path=path, line=line) from None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object", path=path)
    missing = [key for key in required if key not in value]
    if missing:
        raise InputError(f"missing key(s) {', '.join(map(repr, missing))}", path=path)
    return value
