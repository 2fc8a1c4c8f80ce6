"""Cosine alignment between queries and passages, before vs after xQG augmentation.

Per query and set of passage vectors (plain, or fused):

* ``cos_relevant``: cosine to its relevant passage (the most similar one if several);
* ``cos_nonrelevant_mean``: mean cosine to every non-relevant passage, and the ``gap`` between them;
* ``margin``: ``cos_relevant`` minus the cosine of the nearest non-relevant passage *by cosine*;
* ``rank_cos`` and ``rank_ip``: the relevant passage's rank by cosine and by inner product.

After sum fusion the top inner-product competitor is often a high-norm hub rather than the most
similar passage, so a margin against the best *inner-product* non-relevant passage (kept as
``ip_margin``, the first edition's measure) mixes a change of direction with a change of norm.
Cosine ignores norms; inner product, which the index searches by, does not: comparing
``rank_cos`` with ``rank_ip`` on the same fused vectors separates the two.
"""

from __future__ import annotations

import csv
import re
import statistics
import textwrap
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from xqg_pyserini.evaluate.bootstrap import cluster_bootstrap_intervals
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
    """One query against one set of passage vectors."""

    rank_ip: int
    rank_cos: int
    cos_relevant: float
    cos_nonrelevant_mean: float
    cos_nearest_nonrelevant: float  # by cosine
    cos_ip_competitor: float  # cosine of the best non-relevant passage by inner product

    @property
    def gap(self) -> float:
        return self.cos_relevant - self.cos_nonrelevant_mean

    @property
    def margin(self) -> float:
        return self.cos_relevant - self.cos_nearest_nonrelevant

    @property
    def ip_margin(self) -> float:
        return self.cos_relevant - self.cos_ip_competitor


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def align(queries: np.ndarray, qids: Sequence[str], docids: Sequence[str], passages: np.ndarray,
          qrels: Qrels) -> dict[str, Alignment]:
    """Alignment of every query that has a relevant passage among ``docids``."""
    row_of = {docid: row for row, docid in enumerate(docids)}
    inner, cosine = ExactIndex(docids, passages), ExactIndex(docids, _unit(passages))
    others = len(docids) - 1
    results: dict[str, Alignment] = {}
    for (start, scores), (_, cosines) in zip(inner.score_blocks(queries), cosine.score_blocks(_unit(queries))):
        for offset, qid in enumerate(qids[start:start + len(scores)]):
            relevant = [row_of[d] for d, rel in qrels.get(qid, {}).items() if rel > 0 and d in row_of]
            if not relevant or others < len(relevant):
                continue
            ip, cos = scores[offset], cosines[offset]
            best_ip, best_cos = max(relevant, key=lambda r: ip[r]), max(relevant, key=lambda r: cos[r])
            masked_ip, masked_cos = ip.copy(), cos.copy()
            masked_ip[relevant] = -np.inf
            masked_cos[relevant] = -np.inf
            nonrelevant = np.delete(cos, relevant)
            results[qid] = Alignment(
                rank_ip=int((ip > ip[best_ip]).sum()) + 1, rank_cos=int((cos > cos[best_cos]).sum()) + 1,
                cos_relevant=float(cos[best_cos]), cos_nonrelevant_mean=float(nonrelevant.mean()),
                cos_nearest_nonrelevant=float(masked_cos.max()),
                cos_ip_competitor=float(cos[int(np.argmax(masked_ip))]))
    return results


MEASURES = ("cos_relevant", "cos_nonrelevant_mean", "gap", "margin", "ip_margin", "rank_cos", "rank_ip")


@dataclass(frozen=True)
class LanguageSummary:
    """Per language: (plain, augmented) means of each measure, the median margin, shares, and the
    95% bootstrap interval (over queries) of the mean change of gap and margin."""

    lang: str
    queries: int
    means: dict[str, tuple[float, float]]
    median_margin: tuple[float, float]
    top1_cos: tuple[float, float]  # share of queries whose relevant passage is first by cosine
    top1_ip: tuple[float, float]  # ... by inner product
    share_margin_improved: float
    change_intervals: dict[str, tuple[float, float]]  # "gap"/"margin" -> (low, high) of mean(after - before)


def summarize(before: dict[str, Alignment], after: dict[str, Alignment], lang_of: Callable[[str], str],
              resamples: int = 2_000, seed: int = 42) -> list[LanguageSummary]:
    by_lang: dict[str, list[str]] = {}
    for qid in before:
        if qid in after:
            by_lang.setdefault(lang_of(qid), []).append(qid)
    summaries = []
    for lang, qids in sorted(by_lang.items()):
        value = lambda side, name: [float(getattr(side[q], name)) for q in qids]
        pair = lambda f, name: (f(value(before, name)), f(value(after, name)))
        changes = {}
        for name in ("gap", "margin"):
            diffs = np.subtract(value(after, name), value(before, name))[:, None]
            interval = cluster_bootstrap_intervals(diffs, np.ones_like(diffs), [np.array([0])], resamples, seed)
            changes[name] = (float(interval[0, 0]), float(interval[0, 1]))
        top1 = lambda name: tuple(sum(side[q].__getattribute__(name) == 1 for q in qids) / len(qids)
                                  for side in (before, after))
        summaries.append(LanguageSummary(
            lang=lang, queries=len(qids), means={m: pair(statistics.fmean, m) for m in MEASURES},
            median_margin=pair(statistics.median, "margin"), top1_cos=top1("rank_cos"), top1_ip=top1("rank_ip"),
            share_margin_improved=sum(after[q].margin > before[q].margin for q in qids) / len(qids),
            change_intervals=changes))
    return summaries


def write_per_query(path: str | Path, before: dict[str, Alignment], after: dict[str, Alignment],
                    lang_of: Callable[[str], str]) -> None:
    names = [f.name for f in fields(Alignment)] + ["gap", "margin", "ip_margin"]
    with atomic_file(path, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["qid", "lang", *(f"{n}_{side}" for n in names for side in ("plain", "augmented"))])
        for qid, b in before.items():
            if qid in after:
                a = after[qid]
                cells = []
                for name in names:
                    for side in (b, a):
                        v = getattr(side, name)
                        cells.append(v if isinstance(v, int) else f"{v:.6f}")
                writer.writerow([qid, lang_of(qid), *cells])


def summary_rows(summaries: Sequence[LanguageSummary]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (formatted) of the per-language table: before -> after for each measure."""
    header = ["lang", "queries", "cos(q,rel)", "mean cos(q,nonrel)", "gap", "Δgap [95% CI]", "margin (cos)",
              "Δmargin [95% CI]", "margin improved", "rank by cos", "rank by IP", "top-1 by cos", "top-1 by IP",
              "IP-competitor margin"]
    arrow = lambda pair, d=3: f"{pair[0]:.{d}f} → {pair[1]:.{d}f}"
    ci = lambda low_high, pair: f"{pair[1] - pair[0]:+.3f} [{low_high[0]:+.3f}, {low_high[1]:+.3f}]"
    rows = [[s.lang, str(s.queries), arrow(s.means["cos_relevant"]), arrow(s.means["cos_nonrelevant_mean"]),
             arrow(s.means["gap"]), ci(s.change_intervals["gap"], s.means["gap"]), arrow(s.means["margin"]),
             ci(s.change_intervals["margin"], s.means["margin"]), f"{100 * s.share_margin_improved:.1f}%",
             arrow(s.means["rank_cos"], 2), arrow(s.means["rank_ip"], 2),
             f"{100 * s.top1_cos[0]:.1f}% → {100 * s.top1_cos[1]:.1f}%",
             f"{100 * s.top1_ip[0]:.1f}% → {100 * s.top1_ip[1]:.1f}%", arrow(s.means["ip_margin"])]
            for s in summaries]
    return header, rows


def write_summary(path: str | Path, summaries: Sequence[LanguageSummary]) -> None:
    with atomic_file(path, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["lang", "queries", *(f"mean_{m}_{side}" for m in MEASURES for side in ("plain", "augmented")),
                         "median_margin_plain", "median_margin_augmented", "top1_cos_plain", "top1_cos_augmented",
                         "top1_ip_plain", "top1_ip_augmented", "share_margin_improved", "gap_change_low",
                         "gap_change_high", "margin_change_low", "margin_change_high"])
        for s in summaries:
            values = [v for m in MEASURES for v in s.means[m]] + [*s.median_margin, *s.top1_cos, *s.top1_ip,
                                                                     s.share_margin_improved,
                                                                     *s.change_intervals["gap"],
                                                                     *s.change_intervals["margin"]]
            writer.writerow([s.lang, s.queries, *(f"{v:.6f}" for v in values)])


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
    ax.set_ylabel("cos(q, relevant) - cos(q, nearest non-relevant)")
    # Wrapped to the figure's width (about 0.6 em per character), so no title is clipped.
    width = max(20, int(fig.get_figwidth() * 72 / (0.6 * TITLE_SIZE)))
    ax.set_title("\n".join(textwrap.fill(line, width) for line in (title or TITLE).split("\n")), fontsize=TITLE_SIZE)
    fig.tight_layout()
    return fig
