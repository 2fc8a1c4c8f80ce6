"""Versions and settings recorded next to every index and run."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from xqg_pyserini.io.atomic import atomic_file

PACKAGES = ("xqg-pyserini", "pyserini", "torch", "transformers", "faiss-cpu", "numpy")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def write_provenance(path: str | Path, record: dict[str, Any]) -> None:
    with atomic_file(path) as out:
        json.dump({**record, "versions": versions()}, out, indent=2, ensure_ascii=False, sort_keys=False)
        out.write("\n")


def read_provenance(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
