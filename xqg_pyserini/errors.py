"""The one error type for bad user input: it names the file and the line or docid."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input. The CLI prints it and exits with status 2, leaving no partial output."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 docid: str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.docid = docid
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where += f":{self.line}"
        if self.docid is not None:
            where += f"{' ' if where else ''}(docid {self.docid})"
        return f"{where}: {self.message}" if where else self.message


class OutputError(InputError):
    """An output cannot be written where the user asked (no space left, a read-only file system, a
    file where a directory must be, something there that is not ours). Exit status 2, as bad input."""
