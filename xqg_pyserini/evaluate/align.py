"""Cosine alignment between queries and passages, before vs after xQG augmentation.

Per query and index: the cosine between the query and its relevant passage (the best-scoring
one if several), the cosine to the best-scoring non-relevant passage, their margin, and the
rank of the relevant passage by the index's own score (inner product). Aggregated per query
language.
"""

from __future__ import annotations

import csv
import re
import statistics
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.qrels import Qrels
from xqg_pyserini.search.exact import ExactIndex


LANGUAGE_PREFIX = re.compile(r"[A-Za-z]{2,3}(_[A-Za-z]{2,4})?")  # an ISO 639 code, maybe with a region
ONE_GROUP = "all"
TITLE = "Query-passage cosine margin\nplain (grey) vs xQG-augmented (blue)"
TITLE_SIZE = 11


def language_groups(qids: Sequence[str], separator: str = "-") -> tuple[Callable[[str], str], str | None]:
    """qid -> its language, by the converters' convention ``{lang}{separator}{question id}``.

    When some qid does not start with a language code and ``separator`` (or ``separator`` is
    empty), every qid is in one group, ``all``; the second value then says why (None otherwise).
    """
    if not separator:
        return (lambda qid: ONE_GROUP), None
    odd = next((q for q in qids if separator not in q or not LANGUAGE_PREFIX.fullmatch(q.split(separator, 1)[0])),
               None)
    if odd is None:
        return (lambda qid: qid.split(separator, 1)[0]), None
    return (lambda qid: ONE_GROUP), (f"qid {odd!r} does not start with a language code and {separator!r} "
                                     f"(e.g. 'de{separator}17'), so all queries are one group, '{ONE_GROUP}'")


@dataclass(frozen=True)
class Alignment:
    """One query against one index."""

    rank: int
    cos_relevant: float
    cos_nonrelevant: float

    @property
    def margin(self) -> float:
        return self.cos_relevant - self.cos_nonrelevant


def align(queries: np.ndarray, qids: Sequence[str], docids: Sequence[str], passages: np.ndarray,
          qrels: Qrels) -> dict[str, Alignment]:
    """Alignment of every query that has a relevant passage in the index."""
    row_of = {docid: row for row, docid in enumerate(docids)}
    index = ExactIndex(docids, passages)
    unit = index.vectors / np.maximum(np.linalg.norm(index.vectors, axis=1, keepdims=True), 1e-12)
    results: dict[str, Alignment] = {}
    for start, scores in index.score_blocks(queries):
        block = np.asarray(queries[start:start + len(scores)], dtype=np.float32)
        cosines = (block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)) @ unit.T
        for offset, qid in enumerate(qids[start:start + len(scores)]):
            relevant = [row_of[d] for d, rel in qrels.get(qid, {}).items() if rel > 0 and d in row_of]
            if not relevant:
                continue
            row_scores = scores[offset]
            best_rel = max(relevant, key=lambda r: row_scores[r])
            masked = row_scores.copy()
            masked[relevant] = -np.inf
            best_non = int(np.argmax(masked))
            results[qid] = Alignment(rank=int((row_scores > row_scores[best_rel]).sum()) + 1,
                                     cos_relevant=float(cosines[offset, best_rel]),
                                     cos_nonrelevant=float(cosines[offset, best_non]))
    return results


@dataclass(frozen=True)
class LanguageSummary:
    lang: str
    queries: int
    mean_margin: tuple[float, float]
    median_margin: tuple[float, float]
    mean_cos_relevant: tuple[float, float]
    mean_rank: tuple[float, float]
    share_margin_improved: float


def summarize(before: dict[str, Alignment], after: dict[str, Alignment],
              lang_of: Callable[[str], str]) -> list[LanguageSummary]:
    by_lang: dict[str, list[str]] = {}
    for qid in before:
        if qid in after:
            by_lang.setdefault(lang_of(qid), []).append(qid)
    summaries = []
    for lang, qids in sorted(by_lang.items()):
        pair = lambda f: tuple(f([getattr(side[q], "margin") for q in qids]) for side in (before, after))
        summaries.append(LanguageSummary(
            lang=lang, queries=len(qids),
            mean_margin=pair(statistics.fmean), median_margin=pair(statistics.median),
            mean_cos_relevant=tuple(statistics.fmean(side[q].cos_relevant for q in qids) for side in (before, after)),
            mean_rank=tuple(statistics.fmean(side[q].rank for q in qids) for side in (before, after)),
            share_margin_improved=sum(after[q].margin > before[q].margin for q in qids) / len(qids),
        ))
    return summaries


def write_per_query(path: str | Path, before: dict[str, Alignment], after: dict[str, Alignment],
                    lang_of: Callable[[str], str]) -> None:
    with atomic_file(path, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["qid", "lang", "rank_plain", "rank_augmented", "cos_relevant_plain",
                         "cos_relevant_augmented", "cos_nonrelevant_plain", "cos_nonrelevant_augmented",
                         "margin_plain", "margin_augmented"])
        for qid, b in before.items():
            if qid in after:
                a = after[qid]
                writer.writerow([qid, lang_of(qid), b.rank, a.rank, f"{b.cos_relevant:.6f}", f"{a.cos_relevant:.6f}",
                                 f"{b.cos_nonrelevant:.6f}", f"{a.cos_nonrelevant:.6f}", f"{b.margin:.6f}",
                                 f"{a.margin:.6f}"])


def write_summary(path: str | Path, summaries: Sequence[LanguageSummary]) -> None:
    with atomic_file(path, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["lang", "queries", "mean_margin_plain", "mean_margin_augmented", "median_margin_plain",
                         "median_margin_augmented", "mean_cos_relevant_plain", "mean_cos_relevant_augmented",
                         "mean_rank_plain", "mean_rank_augmented", "share_margin_improved"])
        for s in summaries:
            writer.writerow([s.lang, s.queries, *(f"{v:.6f}" for v in (*s.mean_margin, *s.median_margin,
                                                                        *s.mean_cos_relevant, *s.mean_rank,
                                                                        s.share_margin_improved))])


def plot_margins(path: str | Path, before: dict[str, Alignment], after: dict[str, Alignment],
                 lang_of: Callable[[str], str], title: str = "") -> None:
    """Per-language box plot of margins, plain vs augmented, as PNG."""
    import matplotlib.pyplot as plt

    fig = margins_figure(before, after, lang_of, title)
    with atomic_file(path, "wb") as out:
        fig.savefig(out, format="png", dpi=120)
    plt.close(fig)


def margins_figure(before: dict[str, Alignment], after: dict[str, Alignment], lang_of: Callable[[str], str],
                   title: str = ""):
    """The box plot of :func:`plot_margins` as a matplotlib figure, title and labels inside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = sorted({lang_of(q) for q in before if q in after})
    data, positions = [], []
    for i, lang in enumerate(langs):
        qids = [q for q in before if q in after and lang_of(q) == lang]
        data += [[before[q].margin for q in qids], [after[q].margin for q in qids]]
        positions += [3 * i + 1, 3 * i + 2]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(langs)), 4))
    boxes = ax.boxplot(data, positions=positions, widths=0.8, patch_artist=True, showfliers=False)
    for k, box in enumerate(boxes["boxes"]):
        box.set_facecolor("#bbbbbb" if k % 2 == 0 else "#4c72b0")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks([3 * i + 1.5 for i in range(len(langs))], langs)
    ax.set_ylabel("cos(q, relevant) - cos(q, best non-relevant)")
    # Wrapped to the figure's width (about 0.6 em per character), so no title is clipped.
    width = max(20, int(fig.get_figwidth() * 72 / (0.6 * TITLE_SIZE)))
    ax.set_title("\n".join(textwrap.fill(line, width) for line in (title or TITLE).split("\n")), fontsize=TITLE_SIZE)
    fig.tight_layout()
    return fig
