"""``xqg eval --plot``: per-language differences to the baseline, with their confidence intervals.

One panel per metric; per topic language (and the macro average ``Avg``, last) one bar per run:
its mean minus the baseline's, the whisker its bootstrap interval (none when ``--bootstrap 0``),
a solid bar marked † when the test is significant after the correction, a pale one otherwise.
PNG (matplotlib Agg), written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from xqg_pyserini.evaluate.significance import AVERAGE, Comparison
from xqg_pyserini.io.atomic import atomic_file

COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def _order(values: Sequence[str]) -> list[str]:
    """Distinct values in first-seen order, the macro average last."""
    seen = list(dict.fromkeys(values))
    return [v for v in seen if v != AVERAGE] + ([AVERAGE] if AVERAGE in seen else [])


def plot_effects(path: str | Path, comparisons: Sequence[Comparison], title: str = "") -> Path:
    """Bars of ``run - baseline`` per language (one panel per metric) from per-language comparisons
    (``Report.tests(per_lang=True)``) as a PNG at ``path``; returns ``path``."""
    import matplotlib.pyplot as plt

    fig = effects_figure(comparisons, title)
    try:
        with atomic_file(path, "wb") as out:
            fig.savefig(out, format="png", dpi=120)
    finally:
        plt.close(fig)
    return Path(path)


def effects_figure(comparisons: Sequence[Comparison], title: str = ""):
    """The matplotlib figure of :func:`plot_effects` (Agg); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comparisons = [c for c in comparisons if c.language is not None]
    if not comparisons:
        raise ValueError("no per-language comparisons to plot")
    metrics = _order([c.metric for c in comparisons])
    runs = _order([c.run for c in comparisons])
    langs = _order(sorted({c.language for c in comparisons if c.language != AVERAGE}) + [AVERAGE])
    cell = {(c.metric, c.run, c.language): c for c in comparisons}
    width = 0.8 / len(runs)
    fig, axes = plt.subplots(len(metrics), 1, squeeze=False,
                             figsize=(max(6.0, 0.35 * len(langs) * len(runs) + 2.5), 3.2 * len(metrics) + 0.6))
    for ax, metric in zip(axes[:, 0], metrics):
        for k, run in enumerate(runs):
            colour = COLOURS[k % len(COLOURS)]
            label: str | None = run
            for i, lang in enumerate(langs):
                c = cell.get((metric, run, lang))
                if c is None:
                    continue
                x = i - 0.4 + width * (k + 0.5)
                bars = ax.bar(x, c.difference, width * 0.9, color=colour, alpha=1.0 if c.significant else 0.4,
                              label=label)
                bars[0].set_gid(f"{run}|{lang}")  # names the bar (in SVG output, and for tests)
                label = None
                if math.isfinite(c.ci_low) and math.isfinite(c.ci_high):
                    whisker = ax.errorbar(x, c.difference, yerr=[[max(0.0, c.difference - c.ci_low)],
                                                                 [max(0.0, c.ci_high - c.difference)]],
                                          color="black", linewidth=0.9, capsize=2.5)
                    whisker.lines[2][0].set_gid(f"{run}|{lang}")
                if c.significant:
                    top = max(c.difference, c.ci_high if math.isfinite(c.ci_high) else c.difference)
                    ax.annotate("†", (x, top), ha="center", va="bottom", fontsize=9)
        ax.axhline(0, color="black", linewidth=0.7)
        ax.margins(y=0.12)  # room for the † marks
        if len(langs) > 1 and langs[-1] == AVERAGE:
            ax.axvline(len(langs) - 1.5, color="#999999", linewidth=0.6, linestyle=":")
        ax.set_xticks(range(len(langs)), langs)
        ax.set_ylabel(f"Δ {metric}")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    first = comparisons[0]
    settings = first.settings
    interval = (f"{100 * settings.confidence:g}% bootstrap intervals" if settings.bootstrap
                else "no intervals (--bootstrap 0)")
    axes[0, 0].set_title(title or f"each run − {first.baseline}, per topic language\nwhiskers: {interval}; "
                                  f"† p ≤ {settings.level:g} (correction: {settings.correction})", fontsize=9)
    fig.tight_layout()
    return fig
