"""xQG fusion: ``p' = (1 - alpha) * p + alpha * sum(q)`` over a passage's generated queries.

Pure numpy. Generated vectors meet passage vectors by docid, never by row position.

A passage with nothing to fuse (no selected generated text: filtered or failed generations, a
language subset it has no text in, partial coverage) keeps its plain vector ``E(p)`` by default
(``unaugmented="keep"``). ``"scale"`` gives it ``(1 - alpha) * E(p)``, the formula applied
blindly, which shrinks it under inner-product search: the paper never meets the case (every
passage has 5 queries in each of 7 languages). ``renorm=True`` L2-normalizes every fused
vector, for encoders whose vectors are compared by cosine. ``alpha = 0`` (or nothing selected
at all) returns the plain vectors bit for bit, whatever the options.

Streaming (bounded memory). Generated rows come from :class:`GeneratedRows` sources (a store
shard each, or arrays) as integer keys ``(docid code, lang code, rank)`` plus vectors, read
block by block. :func:`plan_fusion` reads only the keys: it joins docid codes to passage rows
through each source's docid list (one lookup per distinct docid, then an array index per row),
selects rows, counts, and checks. :func:`fused_blocks` then yields the fused vectors of
consecutive passage blocks: when every source lists its selected rows in passage order (what
``xqg encode`` writes from generations in corpus order) a passage block only needs the next
rows of each source, so memory is one passage block plus one read block, whatever the number of
generated rows; otherwise one block holds all passages. Each passage's sum is accumulated in
float64, row after row in source order, exactly as an in-order ``np.add.at``
(:func:`~xqg_pyserini.index.accumulate.accumulate`): the result is bit for bit the same however
the rows are cut into blocks.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.index.accumulate import accumulate

FUSIONS = ("sum", "mean")
UNAUGMENTED = ("keep", "scale")  # what a passage with nothing to fuse becomes: E(p), or (1 - alpha) E(p)
READ_BYTES = 8 << 20  # bytes of generated vectors read (mapped) per step, added while in cache
ACCUMULATOR_BYTES = 2 << 20  # float64 sums of one passage block (about a core's L2 cache)


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
    wanted = _wanted_langs(available, langs, per_lang)
    return np.array([i for i, (_, lang, rank) in enumerate(keys)
                     if lang in wanted and (per_lang is None or rank < per_lang)], dtype=np.int64)


def _wanted_langs(available: Sequence[str], langs: Iterable[str] | None, per_lang: int | None) -> set[str]:
    wanted = set(langs) if langs else set(available)
    missing = sorted(wanted - set(available))
    if missing:
        raise InputError(f"no generated queries in language(s) {', '.join(missing)}; "
                         f"available: {', '.join(available)}")
    if per_lang is not None and per_lang < 1:
        raise InputError("--per-lang must be at least 1")
    return wanted


@dataclass
class GeneratedRows:
    """Generated rows as fusion reads them: keys and vectors of rows ``[start, stop)`` on demand."""

    rows: int
    dim: int
    docids: Sequence[str]  # the docid of each docid code
    langs: Sequence[str]  # the language of each lang code
    read_keys: Callable[[int, int], np.ndarray]  # (m, 3) ints: docid code, lang code, rank
    read_vectors: Callable[[int, int], np.ndarray]  # (m, dim) float32/float16
    where: str  # named in errors

    @classmethod
    def from_arrays(cls, keys: Sequence[tuple[str, str, int]], vectors: np.ndarray,
                    where: str = "generated") -> GeneratedRows:
        docids: dict[str, int] = {}
        langs: dict[str, int] = {}
        codes = np.array([(docids.setdefault(d, len(docids)), langs.setdefault(lang, len(langs)), rank)
                          for d, lang, rank in keys], dtype=np.int64).reshape(-1, 3)
        return cls(len(codes), int(vectors.shape[1]), list(docids), list(langs), lambda a, b: codes[a:b],
                   lambda a, b: np.asarray(vectors[a:b]), where)


@dataclass
class _Joined:
    """One source joined to the passages: passage row per docid code, selected lang codes."""

    source: GeneratedRows
    row_of_code: np.ndarray
    lang_wanted: np.ndarray
    per_lang: int | None

    def targets(self, keys: np.ndarray) -> np.ndarray:
        """Passage row of each selected row, -1 for rows not selected."""
        chosen = self.lang_wanted[keys[:, 1]]
        if self.per_lang is not None:
            chosen &= keys[:, 2] < self.per_lang
        return np.where(chosen, self.row_of_code[keys[:, 0]], -1)


@dataclass
class FusionPlan:
    """What :func:`plan_fusion` learned from the keys: per-passage counts, stats, row order."""

    passages: int
    dim: int
    joined: list[_Joined]
    counts: np.ndarray
    stats: FusionStats
    in_passage_order: bool


def _block_rows(dim: int, itemsize: int = 4) -> int:
    return max(1, READ_BYTES // max(1, dim * itemsize))


def plan_fusion(passage_ids: Sequence[str], dim: int, sources: Sequence[GeneratedRows], langs: Iterable[str] | None,
                per_lang: int | None) -> FusionPlan:
    """Join, select and count from the keys alone; InputErrors before any vector is read."""
    available = sorted({lang for s in sources for lang in s.langs})
    wanted = _wanted_langs(available, langs, per_lang)
    row_of = {docid: row for row, docid in enumerate(passage_ids)}
    counts = np.zeros(len(passage_ids), dtype=np.int64)
    per_lang_counts: Counter[str] = Counter()
    in_order = True
    joined = []
    for source in sources:
        join = _Joined(source, np.array([row_of.get(d, -1) for d in source.docids], dtype=np.int64),
                       np.array([lang in wanted for lang in source.langs], dtype=bool), per_lang)
        joined.append(join)
        last = -1
        for start in range(0, source.rows, _block_rows(3, 8)):
            keys = np.asarray(source.read_keys(start, min(source.rows, start + _block_rows(3, 8))), dtype=np.int64)
            if keys.size and (keys[:, 0].min() < 0 or keys[:, 0].max() >= len(source.docids)
                              or keys[:, 1].min() < 0 or keys[:, 1].max() >= len(source.langs)):
                raise InputError("keys name docid or language codes the store does not list (damaged keys file)",
                                 path=source.where)
            chosen = join.lang_wanted[keys[:, 1]] & (True if per_lang is None else keys[:, 2] < per_lang)
            targets = join.row_of_code[keys[:, 0]]
            missing = chosen & (targets < 0)
            if missing.any():
                docid = source.docids[int(keys[int(np.flatnonzero(missing)[0]), 0])]
                raise InputError("generated queries name a docid that is not among the passages",
                                 path=source.where, docid=docid)
            used = targets[chosen]
            counts += np.bincount(used, minlength=len(passage_ids))
            for code, n in enumerate(np.bincount(keys[chosen, 1], minlength=len(source.langs)).tolist()):
                if n:
                    per_lang_counts[source.langs[code]] += n
            if used.size:
                in_order &= bool(used[0] >= last and (used[1:] >= used[:-1]).all())
                last = int(used[-1])
    stats = FusionStats(queries_used=int(counts.sum()), passages_augmented=int((counts > 0).sum()),
                        passages_unaugmented=int((counts == 0).sum()),
                        queries_per_lang=dict(sorted(per_lang_counts.items())))
    if stats.passages_augmented:
        used = counts[counts > 0]
        stats.texts_per_passage = {"min": int(used.min()), "max": int(used.max())}
    return FusionPlan(len(passage_ids), dim, joined, counts, stats, in_order)


class _Cursor:
    """Reads one source's rows in order, handing out those that belong to passages below a bound.

    Rows are read in fixed blocks, the next one in a background thread while the current one is
    added (reads and numpy release the GIL), so disk and arithmetic overlap.
    """

    def __init__(self, join: _Joined, pool):
        self.join, self.pool = join, pool
        self.position = 0
        self.rows = _block_rows(join.source.dim)
        self.buffer: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.pending = None

    def _load(self, start: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        source = self.join.source
        end = min(source.rows, start + self.rows)
        keys = np.asarray(source.read_keys(start, end), dtype=np.int64)
        return start, keys, self.join.targets(keys), source.read_vectors(start, end)

    def _advance(self) -> None:
        self.buffer = (self.pending or self.pool.submit(self._load, self.position)).result()
        following = self.buffer[0] + len(self.buffer[1])
        self.pending = self.pool.submit(self._load, following) if following < self.join.source.rows else None

    def feed(self, sums: np.ndarray, fresh: np.ndarray, first: int, stop: int,
             check: Callable[[np.ndarray, np.ndarray, int], None], everything: bool) -> range:
        """Add the rows whose passage is in ``[first, stop)`` (all rows with ``everything``); returns the rows read.

        Rows that are added are checked through ``sums`` by the caller (a NaN or inf among them
        leaves a non-finite sum: float32 values cannot overflow float64 sums); rows read but not
        added are checked here.
        """
        began = self.position
        while self.position < self.join.source.rows:
            if self.buffer is None or self.position >= self.buffer[0] + len(self.buffer[1]):
                self._advance()
            start, keys, targets, vectors = self.buffer
            offset = self.position - start
            targets = targets[offset:]
            cut = len(targets)
            if not everything:
                beyond = np.flatnonzero(targets >= stop)
                cut = int(beyond[0]) if beyond.size else cut
            if cut:
                rows, targets, keys = vectors[offset:offset + cut], targets[:cut], keys[offset:offset + cut]
                unused = targets < 0
                if unused.any():
                    check(rows[unused], keys[unused], self.position)
                accumulate(sums, np.where(unused, -1, targets - first), rows, fresh)
                self.position += cut
            if cut < len(targets):
                break
        return range(began, self.position)

    def recheck(self, rows: range, check: Callable[[np.ndarray, np.ndarray, int], None]) -> None:
        """Check rows already read, to name the one that made a sum NaN or inf."""
        source = self.join.source
        for start in range(rows.start, rows.stop, self.rows):
            end = min(rows.stop, start + self.rows)
            check(source.read_vectors(start, end), np.asarray(source.read_keys(start, end)), start)


def _nonfinite_check(source: GeneratedRows) -> Callable[[np.ndarray, np.ndarray, int], None]:
    def check(vectors: np.ndarray, keys: np.ndarray, start: int) -> None:
        if not np.isfinite(vectors).all():
            bad = ~np.isfinite(vectors).all(axis=1)
            docid = source.docids[int(keys[int(np.flatnonzero(bad)[0]), 0])]
            raise InputError(f"{int(bad.sum())} vector(s) contain NaN or inf", path=source.where, docid=docid)
    return check


def check_sources_finite(sources: Sequence[GeneratedRows]) -> None:
    """Every generated vector finite (block by block), naming the first bad row's docid."""
    for source in sources:
        check = _nonfinite_check(source)
        rows = _block_rows(source.dim)
        for start in range(0, source.rows, rows):
            end = min(source.rows, start + rows)
            check(source.read_vectors(start, end), np.asarray(source.read_keys(start, end)), start)


def _finish(passages: np.ndarray, sums: np.ndarray, counts: np.ndarray, alpha: float, fusion: str,
            unaugmented: str, renorm: bool) -> np.ndarray:
    """The fused float32 rows of one passage block (the operations of the whole-matrix formula)."""
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
    return fused


def check_options(fusion: str, unaugmented: str) -> None:
    if fusion not in FUSIONS:
        raise InputError(f"--fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
    if unaugmented not in UNAUGMENTED:
        raise InputError(f"--unaugmented must be one of {', '.join(UNAUGMENTED)}, not {unaugmented!r}")


def fused_blocks(plan: FusionPlan, read_passages: Callable[[int, int], np.ndarray], alpha: float,
                 fusion: str = "sum", unaugmented: str = "keep", renorm: bool = False,
                 block_passages: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(first passage row, fused float32 rows)`` for consecutive passage blocks, in passage order.

    ``read_passages(a, b)`` gives passage vectors ``[a, b)`` (already checked finite). Every
    generated row is read once and checked finite.
    """
    check_options(fusion, unaugmented)
    sources = [join.source for join in plan.joined]
    dim = plan.dim
    step = block_passages or max(1, ACCUMULATOR_BYTES // max(1, dim * 8))
    if alpha == 0 or plan.stats.queries_used == 0:
        check_sources_finite(sources)
        for start in range(0, plan.passages, step):
            # Exactly the plain vectors: (1 - 0) * p + 0 * s can turn -0.0 into 0.0.
            yield start, np.array(read_passages(start, min(plan.passages, start + step)), dtype=np.float32)
        return
    if not plan.in_passage_order:
        step = max(plan.passages, 1)  # rows may name any passage: one block holds all of them
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="xqg-fusion-read") as pool:
        yield from _fused_steps(plan, read_passages, alpha, fusion, unaugmented, renorm, step, pool)


def _fused_steps(plan: FusionPlan, read_passages: Callable[[int, int], np.ndarray], alpha: float, fusion: str,
                 unaugmented: str, renorm: bool, step: int, pool) -> Iterator[tuple[int, np.ndarray]]:
    dim = plan.dim
    cursors = [_Cursor(join, pool) for join in plan.joined]
    checks = [_nonfinite_check(join.source) for join in plan.joined]
    for start in range(0, plan.passages, step):
        stop = min(plan.passages, start + step)
        sums = np.zeros((stop - start, dim), dtype=np.float64)
        fresh = np.ones(stop - start, dtype=bool)
        read = [cursor.feed(sums, fresh, start, stop, check, everything=stop == plan.passages)
                for cursor, check in zip(cursors, checks)]
        if not np.isfinite(sums).all():
            for cursor, check, rows in zip(cursors, checks, read):
                cursor.recheck(rows, check)
        yield start, _finish(read_passages(start, stop), sums, plan.counts[start:stop], alpha, fusion,
                             unaugmented, renorm)


def fuse(passage_ids: Sequence[str], passages: np.ndarray, generated_keys: Sequence[tuple[str, str, int]],
         generated: np.ndarray, alpha: float, fusion: str = "sum", langs: Iterable[str] | None = None,
         per_lang: int | None = None, source: str = "generated", unaugmented: str = "keep",
         renorm: bool = False) -> tuple[np.ndarray, FusionStats]:
    """Fused float32 passage vectors (same row order as ``passage_ids``) and counts, from arrays."""
    check_options(fusion, unaugmented)
    if generated.shape[1] != passages.shape[1]:
        raise InputError(f"generated vectors have dim {generated.shape[1]}, passages {passages.shape[1]}",
                         path=source)
    rows = GeneratedRows.from_arrays(generated_keys, generated, source)
    plan = plan_fusion(passage_ids, passages.shape[1], [rows], langs, per_lang)
    fused = np.empty(passages.shape, dtype=np.float32)
    for start, block in fused_blocks(plan, lambda a, b: passages[a:b], alpha, fusion, unaugmented, renorm):
        fused[start:start + len(block)] = block
    return fused, plan.stats
