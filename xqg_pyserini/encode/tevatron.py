"""Tevatron's pickle format ``(embeddings, ids)``, in and out, so the official xQG scripts' files and ours interoperate.

The official pipeline (ielab/xQG4xDR ``encode.py``, ``fuse_embeds.py``) writes one pickle per
encoding job: ``pickle.dump((embeddings, ids), f)`` with a float32 ``(n, dim)`` array and a
list of ids. Passages and queries are one id per row. Generated queries are one pickle per
``(language, rank)`` slot, each holding one vector per passage, ids being docids; the slot is in
the file name, ``<anything>.<lang>.<rank>.pkl`` here (e.g. ``queries.ar.0.pkl``).

* import (``xqg encode --input-format tevatron --input 'GLOB'``): pickles in sorted name order
  into one store; generated rows are put in passage order (passages in first-seen order, then the
  files in name order), what fusion reads fastest.
* export (``xqg encode --output-format tevatron``): a passage or query store as one pickle; a
  generated store as one pickle per slot in a dir, rows in the store's first-seen docid order.
"""

from __future__ import annotations

import glob
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_dir, atomic_file
from xqg_pyserini.io.embeddings import read_store, write_store
from xqg_pyserini.provenance import versions

SLOT = re.compile(r"\.(?P<lang>[^.]+)\.(?P<rank>\d+)\.pkl$")


def _load(path: Path) -> tuple[np.ndarray, list[str]]:
    try:
        with open(path, "rb") as handle:
            value = pickle.load(handle)
    except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError) as err:
        raise InputError(f"not a Tevatron pickle ({type(err).__name__}: {err})", path=path) from None
    if not (isinstance(value, tuple) and len(value) == 2):
        raise InputError("expected a pickled (embeddings, ids) pair", path=path)
    vectors, ids = np.asarray(value[0]), [str(i) for i in value[1]]
    if vectors.ndim != 2 or len(ids) != len(vectors):
        raise InputError(f"{len(ids)} ids for embeddings of shape {vectors.shape}", path=path)
    return vectors, ids


def import_tevatron(pattern: str, kind: str, output: str | Path, dtype: str = "float32") -> dict[str, Any]:
    """Pickles matching ``pattern`` (a path or glob) -> one embedding store; returns its meta."""
    files = sorted(Path(p) for p in glob.glob(pattern)) or ([Path(pattern)] if Path(pattern).is_file() else [])
    if not files:
        raise InputError("no Tevatron pickle matches", path=pattern)
    parts = [(path, *_load(path)) for path in files]
    dims = {vectors.shape[1] for _, vectors, _ in parts}
    if len(dims) > 1:
        raise InputError(f"pickles of different dims ({', '.join(map(str, sorted(dims)))})", path=pattern)
    if kind == "generated":
        ids, vectors = _generated_rows(parts)
    else:
        ids = [i for _, _, part in parts for i in part]
        vectors = np.concatenate([v for _, v, _ in parts])
    meta = {"kind": kind, "encoder": None, "imported_from": {"format": "tevatron", "files": [str(p) for p in files]},
            "input": str(Path(files[0]).resolve()), "versions": versions()}
    write_store(output, ids, vectors, meta, dtype=dtype)
    return read_store(output).meta


def _generated_rows(parts: list[tuple[Path, np.ndarray, list[str]]]) -> tuple[list[str], np.ndarray]:
    rows: list[tuple[int, int, int]] = []  # (passage order, file order, row in file)
    order: dict[str, int] = {}
    keys = []
    for number, (path, _, ids) in enumerate(parts):
        match = SLOT.search(path.name)
        if not match:
            raise InputError("generated pickles must be named <anything>.<lang>.<rank>.pkl", path=path)
        for row, docid in enumerate(ids):
            rows.append((order.setdefault(docid, len(order)), number, row))
            keys.append(f"{docid}\t{match.group('lang')}\t{int(match.group('rank'))}")
    index = sorted(range(len(rows)), key=rows.__getitem__)
    stacked = np.concatenate([v for _, v, _ in parts])
    return [keys[i] for i in index], stacked[index]


def export_tevatron(store_dir: str | Path, kind: str, output: str | Path) -> list[Path]:
    """A store as Tevatron pickles (float32); returns the files written."""
    store = read_store(store_dir, kind=kind)
    vectors = np.asarray(store.read_vectors(0, store.count), dtype=np.float32)
    output = Path(output)
    if kind != "generated":
        with atomic_file(output, "wb", encoding=None, same_kind=_is_pickle, what="Tevatron pickle") as handle:
            pickle.dump((vectors, list(store.ids)), handle, protocol=4)
        return [output]
    slots: dict[tuple[str, int], list[int]] = {}
    keys = store.generated_keys()
    for row, (_, lang, rank) in enumerate(keys):
        slots.setdefault((lang, rank), []).append(row)
    with atomic_dir(output, what="Tevatron export") as tmp:
        for (lang, rank), rows in sorted(slots.items()):
            with open(tmp / f"{output.name}.{lang}.{rank}.pkl", "wb") as handle:
                pickle.dump((vectors[rows], [keys[r][0] for r in rows]), handle, protocol=4)
    return [output / f"{output.name}.{lang}.{rank}.pkl" for lang, rank in sorted(slots)]


def _is_pickle(path: Path) -> bool:
    """Whether ``path`` starts like a pickle of protocol 2 or later (an earlier export)."""
    with open(path, "rb") as handle:
        return handle.read(1) == b"\x80"
