"""Named generated sources of an experiment, and the sources derived from them.

A base source is a set of generated texts with their vectors: ``qg/fold-{f}`` (the QG oracle
usable for fold f's topics), ``pg`` (the PG oracle), ``mt-qg/fold-{f}`` and ``mt-pg`` (machine
translations). Modifiers derive new sources from a base one without encoding anything:

* ``:uniform`` — exactly n texts per passage and language, drawn with replacement from the
  passage's texts in that language, with a seed per (seed, source, docid, lang): the paper's
  uniform 5 queries per language. A passage with no text in a language gets none there. The n
  drawn texts are nested: the first m of them are the draw for m < n.
* ``:shuffle`` — every covered passage (one with at least one text) gets the texts of another
  covered passage (a random cyclic shift, so none keeps its own): coverage kept, content unrelated.
* ``:random`` — the covered passages' texts are attached to as many passages drawn at random from
  the whole corpus: neither coverage nor content tied to the passage.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

MODIFIERS = ("uniform", "shuffle", "random")


@dataclass
class Generated:
    """Generated texts (before the langs/per_lang selection) and their vectors, row by row."""

    keys: list[tuple[str, str, int]]  # (docid, lang, rank)
    texts: list[str]
    vectors: np.ndarray
    moved: dict[str, str] = field(default_factory=dict)  # control sources: original docid -> new docid

    def concat(self, other: "Generated") -> "Generated":
        return Generated(self.keys + other.keys, self.texts + other.texts, np.concatenate([self.vectors, other.vectors]))


def split_source(source: str) -> tuple[str, list[str]]:
    """``"qg/fold-0:uniform:shuffle"`` -> ``("qg/fold-0", ["uniform", "shuffle"])``."""
    base, *modifiers = source.split(":")
    unknown = [m for m in modifiers if m not in MODIFIERS]
    if unknown:
        raise ValueError(f"unknown source modifier(s) {unknown} in {source!r}")
    return base, modifiers


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def uniform_draws(generated: Generated, n: int, seed: int, source: str) -> Generated:
    """n texts per (passage, language), drawn with replacement; ranks 0..n-1 in draw order."""
    groups: dict[tuple[str, str], list[int]] = {}
    for row, (docid, lang, _) in enumerate(generated.keys):
        groups.setdefault((docid, lang), []).append(row)
    rows, keys = [], []
    for (docid, lang), pool in groups.items():
        rng = np.random.default_rng(_seed(seed, source, docid, lang))
        drawn = rng.integers(0, len(pool), size=n)
        rows += [pool[i] for i in drawn]
        keys += [(docid, lang, rank) for rank in range(n)]
    return Generated(keys, [generated.texts[r] for r in rows], generated.vectors[rows])


def move_texts(generated: Generated, control: str, docids: Sequence[str], seed: int, source: str) -> Generated:
    """The control sources: texts moved to other covered passages (shuffle) or to random passages (random)."""
    covered = list(dict.fromkeys(docid for docid, _, _ in generated.keys))
    rng = random.Random(_seed(seed, source, control))
    order = covered[:]
    rng.shuffle(order)
    if control == "shuffle":
        targets = order[1:] + order[:1] if len(order) > 1 else order
    elif control == "random":
        targets = rng.sample(list(docids), len(order))
    else:
        raise ValueError(f"control must be shuffle or random, not {control!r}")
    moved = dict(zip(order, targets))
    keys = [(moved[docid], lang, rank) for docid, lang, rank in generated.keys]
    return Generated(keys, list(generated.texts), generated.vectors, moved=moved)


def draws_rows(generated: Generated, field_name: str) -> list[dict]:
    """The texts of a derived source as rows of the generated-texts schema (to record what was drawn)."""
    rows: dict[str, dict[str, list[str]]] = {}
    for (docid, lang, _), text in zip(generated.keys, generated.texts):
        rows.setdefault(docid, {}).setdefault(lang, []).append(text)
    return [{"docid": docid, field_name: by_lang} for docid, by_lang in rows.items()]
