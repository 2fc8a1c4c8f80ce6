"""The second-edition grid: uniform counts, language orders, coverage controls, explicit languages,
machine-translation arms, per-point fusion options, and settings tuned on dev folds."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from helpers import make_dataset, write_config, write_jsonl
from xqg_pyserini.errors import InputError
from xqg_pyserini.experiments.config import load_config
from xqg_pyserini.experiments.runner import Experiment, run_experiment
from xqg_pyserini.io.generated import read_generated
from xqg_pyserini.io.runs import read_run

ALPHA, N, LANGS = 0.01, 3, 6
EQUIVALENT = N * LANGS * ALPHA / (1 - ALPHA + N * LANGS * ALPHA)  # sum at ALPHA = mean at this, up to scale


def add_machine_arm(root: Path) -> None:
    """Stand-in machine translations (es): the human es texts, so that the arms' plumbing is what is tested."""
    (root / "mt" / "qg").mkdir(parents=True)
    for fold in (0, 1):
        rows = [json.loads(line) for line in (root / "oracle" / "qg" / f"fold-{fold}.jsonl").read_text("utf-8").splitlines()]
        write_jsonl(root / "mt" / "qg" / f"fold-{fold}.jsonl",
                    [{"docid": r["docid"], "generated_queries": {"es": r["generated_queries"]["es"]}} for r in rows])
    rows = [json.loads(line) for line in (root / "oracle" / "pg.jsonl").read_text("utf-8").splitlines()]
    write_jsonl(root / "mt" / "pg.jsonl",
                [{"docid": r["docid"], "generated_passages": {"es": r["generated_passages"]["es"]}} for r in rows])
    from xqg_pyserini.data.machine import KIND

    (root / "mt" / "manifest.json").write_text(json.dumps(
        {"kind": KIND, "status": "complete", "counts": {"folds": [{"fold": 0, "texts": 1}, {"fold": 1, "texts": 1}]}}),
        encoding="utf-8")


GRID = {
    "paper": {"arms": ["qg"], "counts": "uniform", "per_lang": [1, N], "alphas": [ALPHA], "fusion": "sum"},
    "equivalent": {"arms": ["qg"], "counts": "uniform", "per_lang": [N], "alphas": [EQUIVALENT], "fusion": "mean"},
    "orders": {"arms": ["qg", "pg"], "num_langs": [1, 3], "orders": "all", "alphas": [0.3], "fusion": "mean"},
    "controls": {"arms": ["qg"], "control": ["none", "shuffle", "random"], "alphas": [0.3], "fusion": "mean"},
    "spanish": {"arms": ["qg", "pg", "mt-qg", "mt-pg"], "langs": ["es"], "alphas": [0.3], "fusion": "mean"},
    "options": {"arms": ["qg"], "unaugmented": ["keep", "scale"], "renorm": [False, True], "alphas": [0.3],
                "num_langs": [1]},
    "tuned": {"arms": ["qg", "pg"], "alphas": [0.03, 0.1, 0.3, 0.6], "fusion": ["sum", "mean"]},
}


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, tiny_xlmr):
    tmp = tmp_path_factory.mktemp("grid-arms")
    add_machine_arm(make_dataset(tmp / "data"))
    config = write_config(tmp, tiny_xlmr, grid=GRID, extra_orders={"seeds": [1, 2]}, uniform={"seed": 5},
                          controls={"seed": 9}, tune=["tuned"], save_indexes=False, compress_runs=True,
                          alignment={"tags": [f"qg-a{ALPHA:g}-n{N}u-L6", "pg-a0.3-Les-mean"]},
                          significance={"permutations": 200, "bootstrap": 200, "cluster_by": "question",
                                        "correction": "holm"})
    summary = run_experiment(config, progress=False)
    exp = Experiment(load_config(config), tmp / "out", progress=False).prepare()
    return tmp, exp, summary


def test_uniform_counts_draw_n_per_passage_and_language(experiment):
    tmp, exp, _ = experiment
    source = "qg/fold-0:uniform"
    drawn = exp.job.generated(source)
    per_group = Counter((d, l) for d, l, _ in drawn.keys)
    assert set(per_group.values()) == {N}  # n = the largest per_lang of any uniform point
    base = exp.job.generated("qg/fold-0")
    pools = {}
    for (d, l, _), text in zip(base.keys, base.texts):
        pools.setdefault((d, l), set()).add(text)
    assert set(per_group) == set(pools)  # a passage gets texts in a language only where it has some
    assert all(text in pools[d, l] for (d, l, _), text in zip(drawn.keys, drawn.texts))
    recorded = read_generated(tmp / "out" / "sources" / "qg-fold-0@uniform.jsonl")
    assert len(recorded) == len(drawn.keys)
    # nested: n = 1 uses the first of the n drawn texts
    record = json.loads((tmp / "out" / "runs" / "qg-a0.01-n1u-L6.trec.gz.json").read_text("utf-8"))
    assert record["counts"] == "uniform" and record["uniform_seed"] == 5 and record["sources"][0] == [source]


def test_sum_is_mean_at_the_equivalent_alpha_with_uniform_counts(experiment):
    tmp, _, _ = experiment
    summed = read_run(tmp / "out" / "runs" / f"qg-a{ALPHA:g}-n{N}u-L6.trec.gz")
    mean = read_run(tmp / "out" / "runs" / f"qg-a{EQUIVALENT:g}-n{N}u-L6-mean.trec.gz")
    assert set(summed) == set(mean)
    same = sum([d for d, _ in summed[q]] == [d for d, _ in mean[q]] for q in summed)
    assert same >= 0.99 * len(summed)  # identical rankings up to float ties
    ratios = [s / m for q in summed for (_, s), (_, m) in zip(summed[q][:3], mean[q][:3])]
    assert np.allclose(ratios, (1 - ALPHA) / (1 - EQUIVALENT), rtol=1e-3)


def test_language_orders_and_explicit_languages(experiment):
    _, exp, _ = experiment
    points, n = exp.grid.points, exp.grid.max_per_lang
    assert {f"qg-a0.3-n{n}-L3-mean", f"qg-a0.3-n{n}-L3-o1-mean", f"qg-a0.3-n{n}-L3-o2-mean"} <= set(points)
    orders = {exp.grid.langs_of(points[t])[0] for t in ("pg-a0.3-L1-mean", "pg-a0.3-L1-o1-mean",
                                                         "pg-a0.3-L1-o2-mean")}
    assert len(orders) >= 2  # different first languages
    assert exp.grid.langs_of(points[f"mt-qg-a0.3-n{n}-Les-mean"]) == ["es"]
    assert exp.grid.fusion_inputs(points["mt-pg-a0.3-Les-mean"], None).sources == ("mt-pg",)


def test_controls_keep_or_break_coverage(experiment):
    tmp, exp, _ = experiment
    base = exp.job.generated("qg/fold-0")
    shuffled = exp.job.generated("qg/fold-0:shuffle")
    random = exp.job.generated("qg/fold-0:random")
    covered = {d for d, _, _ in base.keys}
    assert {d for d, _, _ in shuffled.keys} == covered  # coverage kept
    assert all(old != new for old, new in shuffled.moved.items())  # nobody keeps its own texts
    assert len({d for d, _, _ in random.keys}) == len(covered)
    assert np.array_equal(shuffled.vectors, base.vectors) and shuffled.texts == base.texts
    moved = json.loads((tmp / "out" / "sources" / "qg-fold-0@shuffle.moved.json").read_text("utf-8"))
    assert moved == shuffled.moved
    n = exp.grid.max_per_lang
    assert {f"qg-a0.3-n{n}-L6-mean-shuffle", f"qg-a0.3-n{n}-L6-mean-random"} <= set(exp.grid.points)


def test_per_point_options_are_recorded(experiment):
    tmp, exp, _ = experiment
    base = f"qg-a0.3-n{exp.grid.max_per_lang}-L1"
    for tag, expected in ((base, ("keep", False)), (f"{base}-scale", ("scale", False)),
                          (f"{base}-renorm", ("keep", True)), (f"{base}-scale-renorm", ("scale", True))):
        record = json.loads((tmp / "out" / "runs" / f"{tag}.trec.gz.json").read_text("utf-8"))
        assert (record["unaugmented"], record["renorm"]) == expected, tag


def test_tuned_runs_choose_on_dev_folds_and_report_held_out(experiment):
    tmp, exp, summary = experiment
    scores = json.loads((tmp / "out" / "scores.json").read_text("utf-8"))
    record = json.loads((tmp / "out" / "runs" / "tuned-tuned-qg.trec.gz.json").read_text("utf-8"))
    candidates = [t for t in exp.grid.sweeps["tuned"] if t.startswith("qg-")]
    runs = {t: read_run(tmp / "out" / "runs" / f"{t}.trec.gz") for t in candidates}
    qrels = exp.data.qrels
    def rr(run, qid):
        return next((1 / r for r, (d, _) in enumerate(run[qid][:10], 1) if qrels[qid].get(d, 0) > 0), 0.0)
    tuned = read_run(tmp / "out" / "runs" / "tuned-tuned-qg.trec.gz")
    for fold in exp.data.folds:
        dev = [q for q in exp.data.topics if exp.data.fold_of_topic[q] != fold]
        best = max(candidates, key=lambda t: sum(rr(runs[t], q) for q in dev))
        assert record["choices"][str(fold)] == best
        held_out = exp.data.fold_topics(fold)
        assert all(tuned[q] == runs[best][q] for q in held_out)  # its held-out rankings are the chosen run's
    assert "tuned-tuned-pg" in scores and scores["tuned-tuned-qg"]["tuned"]["sweep"] == "tuned"
    text = summary.read_text("utf-8")
    assert "## Effects against plain" in text and "`tuned-tuned-qg`" in text and "clustered" in text
    assert (tmp / "out" / "plots" / "orders-MRR@10.png").is_file()
    assert (tmp / "out" / "effects.json").is_file()
    for tag in (f"qg-a{ALPHA:g}-n{N}u-L6", "pg-a0.3-Les-mean"):
        assert (tmp / "out" / "alignment" / tag / "per_language.csv").is_file()
        assert f"### plain vs `{tag}`" in text
    assert "rank by cos" in text and "Δmargin [95% CI]" in text


def test_bad_grid_settings_are_named(tmp_path):
    make_dataset(tmp_path / "data")
    for grid, message in (
        ({"a": {"arms": ["pg"], "counts": "uniform"}}, "uniform counts apply to arms that fuse generated queries"),
        ({"a": {"arms": ["qg"], "counts": "uniform", "per_lang": "all"}}, "give numbers, not all"),
        ({"a": {"arms": ["qg"], "langs": ["xx"]}}, "'xx' is not a target language"),
        ({"a": {"arms": ["qg"], "langs": ["es"], "num_langs": [1]}}, "give langs or num_langs, not both"),
        ({"a": {"arms": ["qg"], "control": ["swap"]}}, "must be one of none, shuffle, random"),
    ):
        config = write_config(tmp_path, Path("unused"), grid=grid, alignment=None)
        with pytest.raises(InputError, match=message):
            Experiment(load_config(config), tmp_path / "out", progress=False).prepare()
    config = write_config(tmp_path, Path("unused"), tune=["nope"])
    with pytest.raises(InputError, match="tune\\[0\\]: 'nope' is not a sweep"):
        load_config(config)
