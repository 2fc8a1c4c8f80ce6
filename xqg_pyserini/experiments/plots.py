"""Experiment plots (matplotlib Agg, PNG, written atomically).

* :func:`plot_sweep`: a metric against one grid axis (alpha, queries per language, number of
  target languages), one line per arm, the plain baseline as a horizontal line;
* :func:`plot_language_bars`: per-language bars, plain vs the best configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from xqg_pyserini.io.atomic import atomic_file

ARM_LABELS = {"qg": "QG", "pg": "PG", "qg+pg": "QG+PG", "plain": "plain", "mt-qg": "MT-QG", "mt-pg": "MT-PG"}
ARM_STYLES = {"qg": dict(color="#4c72b0", marker="o"), "pg": dict(color="#dd8452", marker="s"),
              "qg+pg": dict(color="#55a868", marker="^"), "mt-qg": dict(color="#8172b3", marker="v"),
              "mt-pg": dict(color="#937860", marker="D")}


def _label_and_style(series: str) -> tuple[str, dict]:
    """``"qg"`` -> ("QG", its style); ``"qg (mean) n=3"`` -> ("QG (mean) n=3", its marker, dashed, own colour)."""
    arm, _, rest = series.partition(" ")
    style = dict(ARM_STYLES.get(arm, {}))
    label = ARM_LABELS.get(arm, arm) + (f" {rest}" if rest else "")
    if rest:
        style.pop("color", None)  # several lines of one arm: matplotlib's colour cycle tells them apart
        style["linestyle"] = "--" if "(" in rest else "-"
    return label, style


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> None:
    plt = _pyplot()
    fig.tight_layout()
    with atomic_file(path, "wb") as out:
        fig.savefig(out, format="png", dpi=120)
    plt.close(fig)


def plot_sweep(path: str | Path, metric: str, axis_label: str, series: Mapping[str, Sequence[tuple[float, float]]],
               baseline: float, title: str = "", log_x: bool = False,
               flat: Mapping[str, float] | None = None,
               bands: Mapping[str, Sequence[tuple[float, float, float]]] | None = None) -> None:
    """``series``: arm (or ``"arm (variant)"``, dashed) -> [(x, value)], drawn as lines; ``flat``:
    arm -> value drawn as a dotted horizontal line (an arm the axis does not apply to); ``bands``:
    arm -> [(x, low, high)], a shaded range around its line (e.g. over language orders);
    ``baseline``: plain, a grey line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs_all: list[float] = []
    for arm, points in series.items():
        points = sorted(points)
        if not points:
            continue
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        xs_all += xs
        label, style = _label_and_style(arm)
        (line,) = ax.plot(xs, ys, label=label, linewidth=1.6, markersize=5, **style)
        if bands and arm in bands:
            band = sorted(bands[arm])
            ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band],
                            color=line.get_color(), alpha=0.15, linewidth=0)
    for arm, value in (flat or {}).items():
        label, style = _label_and_style(arm)
        ax.axhline(value, linestyle=":", linewidth=1.4, color=style.get("color", "#555555"),
                   label=f"{label} (axis n/a)")
    ax.axhline(baseline, color="#777777", linestyle="--", linewidth=1.2, label="plain")
    if log_x and xs_all:
        if min(xs_all) > 0:
            ax.set_xscale("log")
        else:
            positive = [x for x in xs_all if x > 0]
            ax.set_xscale("symlog", linthresh=min(positive) if positive else 1e-3)
    distinct = sorted(set(xs_all))
    if distinct and all(float(x).is_integer() for x in distinct) and not log_x:
        ax.set_xticks(distinct)
    elif distinct and log_x:
        ax.set_xticks(distinct, [f"{x:g}" for x in distinct])
    ax.set_xlabel(axis_label)
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.set_title(title or f"{metric} vs {axis_label}")
    ax.legend(fontsize=8)
    _save(fig, path)


def plot_language_bars(path: str | Path, metric: str, langs: Sequence[str], plain: Sequence[float],
                       best: Sequence[float], best_label: str, title: str = "") -> None:
    """Two bars per language (and the average, if it is among ``langs``): plain vs best."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(langs) + 2), 4.2))
    positions = range(len(langs))
    width = 0.4
    ax.bar([p - width / 2 for p in positions], plain, width, label="plain", color="#bbbbbb")
    ax.bar([p + width / 2 for p in positions], best, width, label=best_label, color="#4c72b0")
    ax.set_xticks(list(positions), list(langs))
    ax.set_ylabel(metric)
    low = min([*plain, *best]) if langs else 0
    high = max([*plain, *best]) if langs else 1
    margin = 0.1 * (high - low) if high > low else 0.05 * (abs(high) or 1)
    ax.set_ylim(max(0.0, low - margin) if low >= 0 else low - margin, high + margin)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(title or f"{metric} per topic language: plain vs {best_label}")
    ax.legend(fontsize=8)
    _save(fig, path)
