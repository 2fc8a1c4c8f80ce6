"""xQG fusion: ``p' = (1 - alpha) * p + alpha * sum(q)`` over a passage's generated queries.

Pure numpy. Generated vectors meet passage vectors by docid, never by row position.

A passage with nothing to fuse (no selected generated text: filtered or failed generations, a
language subset it has no text in, partial coverage) keeps its plain vector ``E(p)`` by default
(``unaugmented="keep"``). ``"scale"`` gives it ``(1 - alpha) * E(p)``, the formula applied
blindly, which shrinks it under inner-product search: the paper never meets the case (every
passage has 5 queries in each of 7 languages). ``renorm=True`` L2-normalizes every fused
vector, for encoders whose vectors are compared by cosine. ``alpha = 0`` (or nothing selected
at all) returns the plain vectors bit for bit, whatever the options.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from xqg_pyserini.errors import InputError

FUSIONS = ("sum", "mean")
UNAUGMENTED = ("keep", "scale")  # what a passage with nothing to fuse becomes: E(p), or (1 - alpha) E(p)
BLOCK = 65536  # generated rows added per step, to bound temporary memory


@dataclass
class FusionStats:
    queries_used: int = 0
    passages_augmented: int = 0
    passages_unaugmented: int = 0
    queries_per_lang: dict[str, int] = field(default_factory=dict)
    texts_per_passage: dict[str, int] = field(default_factory=dict)  # min / max over augmented passages

    @property
    def uneven(self) -> bool:
        """Augmented passages fuse different numbers of texts (under sum fusion their norms differ)."""
        return bool(self.texts_per_passage) and self.texts_per_passage["min"] != self.texts_per_passage["max"]


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
         per_lang: int | None = None, source: str = "generated", unaugmented: str = "keep",
         renorm: bool = False) -> tuple[np.ndarray, FusionStats]:
    """Fused float32 passage vectors (same row order as ``passage_ids``) and counts."""
    if fusion not in FUSIONS:
        raise InputError(f"--fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
    if unaugmented not in UNAUGMENTED:
        raise InputError(f"--unaugmented must be one of {', '.join(UNAUGMENTED)}, not {unaugmented!r}")
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

    counts = np.bincount(targets, minlength=len(passage_ids))
    stats = FusionStats(queries_used=len(chosen), passages_augmented=int((counts > 0).sum()),
                        passages_unaugmented=int((counts == 0).sum()),
                        queries_per_lang=dict(sorted(Counter(generated_keys[i][1] for i in chosen).items())))
    if stats.passages_augmented:
        used = counts[counts > 0]
        stats.texts_per_passage = {"min": int(used.min()), "max": int(used.max())}
    if alpha == 0 or len(chosen) == 0:
        # Exactly the plain vectors: (1 - 0) * p + 0 * s can turn -0.0 into 0.0.
        return np.array(passages, dtype=np.float32), stats

    sums = np.zeros(passages.shape, dtype=np.float64)
    for start in range(0, len(chosen), BLOCK):
        block = chosen[start:start + BLOCK]
        np.add.at(sums, targets[start:start + BLOCK], np.asarray(generated[block], dtype=np.float64))
    if fusion == "mean":
        sums /= np.maximum(counts, 1)[:, None]
    fused = (1.0 - alpha) * np.asarray(passages, dtype=np.float64) + alpha * sums
    fused = fused.astype(np.float32)
    if unaugmented == "keep":
        plain = counts == 0
        fused[plain] = np.asarray(passages, dtype=np.float32)[plain]
    if renorm:
        norms = np.linalg.norm(fused.astype(np.float64), axis=1, keepdims=True)
        fused = np.where(norms > 0, fused / np.maximum(norms, np.finfo(np.float64).tiny), fused).astype(np.float32)
    return fused, stats
