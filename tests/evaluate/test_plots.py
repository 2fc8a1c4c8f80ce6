"""``xqg eval --plot``: per-language differences to the baseline, with interval whiskers."""

import math
import random

import numpy as np
import pytest

from helpers import write_jsonl
from xqg_pyserini.cli import main
from xqg_pyserini.evaluate.measures import Judgements
from xqg_pyserini.evaluate.plots import effects_figure
from xqg_pyserini.evaluate.report import evaluate
from xqg_pyserini.evaluate.significance import SignificanceSettings
from xqg_pyserini.io.qrels import read_qrels

LANGS = ("ar", "fi", "ja")


@pytest.fixture
def runs(tmp_path):
    """A baseline and two runs: ``good`` ranks the relevant passage first except in Finnish, ``same`` is the
    baseline with other scores."""
    rng = random.Random(3)
    qrels, base, good, same = [], [], [], []
    for n in range(60):
        qid, target = f"{LANGS[n % 3]}-{n}", f"d{n}"
        qrels.append(f"{qid} 0 {target} 1")
        others = [f"x{k}" for k in rng.sample(range(500), 9)]
        base_rank = rng.choice([3, 6, 9])
        good_rank = base_rank if qid.startswith("fi") else 0
        for name, rank, out in (("base", base_rank, base), ("good", good_rank, good), ("same", base_rank, same)):
            ranking = others[:rank] + [target] + others[rank:]
            out += [f"{qid} Q0 {d} {r + 1} {(50 if name == 'same' else 20) - r} {name}" for r, d in enumerate(ranking)]
    (tmp_path / "qrels.txt").write_text("\n".join(qrels) + "\n")
    for name, lines in (("base", base), ("good", good), ("same", same)):
        (tmp_path / f"{name}.trec").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_bars_are_the_differences_and_whiskers_their_intervals(runs):
    settings = SignificanceSettings(permutations=500, bootstrap=500, seed=1)
    report = evaluate([runs / "base.trec", runs / "good.trec", runs / "same.trec"], "MRR@10 R@5",
                      Judgements(qrels=read_qrels(runs / "qrels.txt")), baseline="base", settings=settings)
    tests = report.tests(per_lang=True)
    fig = effects_figure(tests)
    try:
        assert len(fig.axes) == 2  # one panel per metric
        for ax, metric in zip(fig.axes, ("MRR@10", "R@5")):
            bars = {p.get_gid(): p for p in ax.patches if p.get_gid()}
            whiskers = {c.get_gid(): c for c in ax.collections if c.get_gid()}
            cells = [t for t in tests if t.metric == metric]
            assert set(bars) == {f"{t.run}|{t.language}" for t in cells} and len(bars) == 2 * 4  # 3 languages + Avg
            labels = [t.get_text() for t in ax.get_xticklabels()]
            assert labels == ["ar", "fi", "ja", "Avg"]
            for t in cells:
                bar = bars[f"{t.run}|{t.language}"]
                assert bar.get_height() == pytest.approx(t.difference)
                assert bar.get_alpha() == (1.0 if t.significant else 0.4)
                (segment,) = whiskers[f"{t.run}|{t.language}"].get_segments()
                assert sorted(segment[:, 1]) == pytest.approx([t.ci_low, t.ci_high])
                centre = labels.index(t.language)
                assert centre - 0.4 < bar.get_x() + bar.get_width() / 2 < centre + 0.4
        good = {t.language: t for t in tests if t.run == "good" and t.metric == "MRR@10"}
        assert good["ar"].significant and good["ja"].significant and not good["fi"].significant
        assert good["fi"].difference == 0 and good["ar"].difference > 0.5
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_no_bootstrap_no_whiskers():
    from xqg_pyserini.evaluate.measures import Scores
    from xqg_pyserini.evaluate.report import Report

    per_query = {f"{lang}-{i}": float(i % 2) for lang in LANGS for i in range(10)}
    better = {q: 1.0 for q in per_query}
    report = Report([Scores("a", {"P@1": per_query}, {"P@1": 0.5}), Scores("b", {"P@1": better}, {"P@1": 1.0})],
                    ["P@1"],
                    baseline="a", settings=SignificanceSettings(permutations=200, bootstrap=0))
    tests = report.tests(per_lang=True)
    assert all(math.isnan(t.ci_low) for t in tests)
    fig = effects_figure(tests)
    try:
        assert not [c for c in fig.axes[0].collections if c.get_gid()]
        assert len([p for p in fig.axes[0].patches if p.get_gid()]) == 4
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_cli_writes_the_png_and_needs_a_baseline(runs, capsys):
    flags = ["eval", "--qrels", str(runs / "qrels.txt"), "--runs", str(runs / "base.trec"), str(runs / "good.trec"),
             "--metrics", "MRR@10", "--permutations", "300", "--bootstrap", "300"]
    out = runs / "plots" / "effects.png"
    assert main([*flags, "--plot", str(out)]) == 2
    assert "--baseline" in capsys.readouterr().err and not out.exists()
    assert main([*flags, "--baseline", "base", "--plot", str(out), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("run,") and "plotted in" in captured.err  # stdout stays the table
    import matplotlib.image

    image = matplotlib.image.imread(out)
    assert image.shape[0] > 200 and image.shape[1] > 400
    assert np.unique(image.reshape(-1, image.shape[2]), axis=0).shape[0] > 10  # not a blank canvas
    assert not list(out.parent.glob(".*.tmp"))
