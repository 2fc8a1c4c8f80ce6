"""Validation of YAML config values: each check names the offending key and the file.

Every failure is an :class:`~xqg_pyserini.errors.InputError` on the config file, with the key path
(``grid.alpha.alphas[2]``) in the message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from xqg_pyserini.errors import InputError

ALL = "all"
_RANGE = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+|all)\s*$")


class Checker:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, message: str) -> InputError:
        return InputError(f"{key}: {message}" if key else message, path=self.path)

    def mapping(self, value: Any, key: str, allowed: dict[str, str], required: tuple[str, ...] = ()) -> dict:
        """Check a mapping's keys: unknown keys name the allowed ones; required keys must be present."""
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {type_name(value)}")
        for name in value:
            if not isinstance(name, str) or name not in allowed:
                where = f"{key}.{name}" if key else str(name)
                raise self.fail(where, f"unknown key; allowed keys{' in ' + key if key else ''}: "
                                       f"{', '.join(allowed)}")
        for name in required:
            if value.get(name) is None:
                raise self.fail(f"{key}.{name}" if key else name, f"is required ({allowed[name]})")
        return value

    def string(self, value: Any, key: str, choices: tuple[str, ...] | None = None, optional: bool = False,
               allow_empty: bool = False) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.fail(key, f"must be a non-empty string, got {show(value)}")
        if choices is not None and value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def boolean(self, value: Any, key: str, optional: bool = False) -> bool | None:
        if value is None and optional:
            return None
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {show(value)}")
        return value

    def integer(self, value: Any, key: str, minimum: int | None = None, optional: bool = False) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, got {show(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def number(self, value: Any, key: str, low: float, high: float, optional: bool = False) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, got {show(value)}")
        if not low <= value <= high:
            raise self.fail(key, f"must be within [{low:g}, {high:g}], got {value}")
        return float(value)

    def string_list(self, value: Any, key: str, optional: bool = True, pattern: re.Pattern | None = None
                    ) -> list[str] | None:
        if value is None and optional:
            return None
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"must be a non-empty list of strings, got {show(value)}")
        out = []
        for i, item in enumerate(value):
            text = self.string(item, f"{key}[{i}]")
            if pattern is not None and not pattern.match(text):
                raise self.fail(f"{key}[{i}]", f"{text!r} is not a language code")
            if text in out:
                raise self.fail(f"{key}[{i}]", f"{text!r} is listed twice")
            out.append(text)
        return out

    def count_or_all(self, value: Any, key: str) -> int | None:
        """An int >= 1, or ``all`` (None)."""
        if value == ALL or value is None:
            return None
        return self.integer(value, key, minimum=1)

    def axis(self, value: Any, key: str) -> tuple[tuple[int | None, ...], int | None]:
        """A per_lang/num_langs axis: a value, a list of values, or a range ``"a..b"``/``"a..all"``.

        Returns the explicit values and, for ``"a..all"``, the start of the open range.
        """
        if isinstance(value, str) and value != ALL:
            match = _RANGE.match(value)
            if not match:
                raise self.fail(key, f"must be an integer >= 1, 'all', a list of those, or a range like "
                                     f"'1..5' or '1..all'; got {value!r}")
            start = int(match.group(1))
            if start < 1:
                raise self.fail(key, f"a range starts at 1 or more, got {value!r}")
            if match.group(2) == ALL:
                return (), start
            stop = int(match.group(2))
            if stop < start:
                raise self.fail(key, f"empty range {value!r}")
            return tuple(range(start, stop + 1)), None
        values = value if isinstance(value, list) else [value]
        if not values:
            raise self.fail(key, "must not be empty")
        out: list[int | None] = []
        for i, item in enumerate(values):
            parsed = self.count_or_all(item, f"{key}[{i}]" if isinstance(value, list) else key)
            if parsed not in out:
                out.append(parsed)
        return tuple(out), None

    def file_path(self, value: Any, key: str) -> Path:
        text = self.string(value, key)
        path = Path(text).expanduser()
        return path if path.is_absolute() else (self.path.parent / path).resolve()


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def show(value: Any) -> str:
    return f"{type_name(value)} {value!r}" if value is not None else "null"
