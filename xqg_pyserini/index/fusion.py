"""xQG fusion: ``p' = (1 - alpha) * p + alpha * sum(q)`` over a passage's generated queries.

Pure numpy. Generated vectors meet passage vectors by docid, never by row position.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from xqg_pyserini.errors import InputError

FUSIONS = ("sum", "mean")
BLOCK = 65536  # generated rows added per step, to bound temporary memory


@dataclass
class FusionStats:
    queries_used: int = 0
    passages_augmented: int = 0
    queries_per_lang: dict[str, int] = field(default_factory=dict)


def select_rows(keys: Sequence[tuple[str, str, int]], langs: Iterable[str] | None,
                per_lang: int | None) -> np.ndarray:
    """Indices of generated rows in ``langs`` whose rank is below ``per_lang``."""
    available = sorted({lang for _, lang, _ in keys})
    wanted = set(langs) if langs else set(available)
    missing = sorted(wanted - set(available))
    if missing:
        raise InputError(f"no generated queries in language(s) {', '.join(missing)}; "
                         f"available: {', '.join(available)}")
    if per_lang is not None and per_lang < 1:
        raise InputError("--per-lang must be at least 1")
    return np.array([i for i, (_, lang, rank) in enumerate(keys)
                     if lang in wanted and (per_lang is None or rank < per_lang)], dtype=np.int64)


def fuse(passage_ids: Sequence[str], passages: np.ndarray, generated_keys: Sequence[tuple[str, str, int]],
         generated: np.ndarray, alpha: float, fusion: str = "sum", langs: Iterable[str] | None = None,
         per_lang: int | None = None, source: str = "generated") -> tuple[np.ndarray, FusionStats]:
    """Fused float32 passage vectors (same row order as ``passage_ids``) and counts."""
    if fusion not in FUSIONS:
        raise InputError(f"--fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
    if generated.shape[1] != passages.shape[1]:
        raise InputError(f"generated vectors have dim {generated.shape[1]}, passages {passages.shape[1]}",
                         path=source)
    row_of = {docid: row for row, docid in enumerate(passage_ids)}
    chosen = select_rows(generated_keys, langs, per_lang)
    targets = np.empty(len(chosen), dtype=np.int64)
    for j, i in enumerate(chosen):
        docid = generated_keys[i][0]
        row = row_of.get(docid)
        if row is None:
            raise InputError("generated queries name a docid that is not among the passages",
                             path=source, docid=docid)
        targets[j] = row

    stats = FusionStats(queries_used=len(chosen),
                        queries_per_lang=dict(sorted(Counter(generated_keys[i][1] for i in chosen).items())))
    if alpha == 0 or len(chosen) == 0:
        # Exactly the plain vectors: (1 - 0) * p + 0 * s can turn -0.0 into 0.0.
        return np.array(passages, dtype=np.float32), stats

    sums = np.zeros(passages.shape, dtype=np.float64)
    for start in range(0, len(chosen), BLOCK):
        block = chosen[start:start + BLOCK]
        np.add.at(sums, targets[start:start + BLOCK], np.asarray(generated[block], dtype=np.float64))
    counts = np.bincount(targets, minlength=len(passage_ids))
    stats.passages_augmented = int((counts > 0).sum())
    if fusion == "mean":
        sums /= np.maximum(counts, 1)[:, None]
    fused = (1.0 - alpha) * np.asarray(passages, dtype=np.float64) + alpha * sums
    return fused.astype(np.float32), stats
