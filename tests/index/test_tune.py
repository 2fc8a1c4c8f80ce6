"""`xqg tune`: settings chosen by cross-validation over topic clusters, held-out estimate vs plain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import demo_subset
from xqg_pyserini.cli import main
from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import Judgements, parse_measure
from xqg_pyserini.evaluate.significance import SignificanceSettings, cluster_function
from xqg_pyserini.index.tune import assign_folds, parse_grid, tune
from xqg_pyserini.io.embeddings import read_store
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.topics import read_topics


@pytest.fixture(scope="module")
def stores(tmp_path_factory, tiny_xlmr):
    tmp = tmp_path_factory.mktemp("tune")
    data = demo_subset(tmp, passages=10)
    flags = ["--encoder", str(tiny_xlmr), "--pooling", "mean", "--l2-norm"]
    for kind, source in (("passage", data["corpus"]), ("generated", data["generated"]), ("query", data["topics"])):
        assert main(["encode", "--input", str(source), "--kind", kind, "--output", str(tmp / kind), *flags]) == 0
    return tmp, data


def test_parse_grid():
    grid = parse_grid("alpha=0.1,0.3; fusion=sum,mean; renorm=true")
    assert len(grid) == 4 and grid[0] == {"alpha": 0.1, "fusion": "sum", "renorm": True}
    for bad, message in (("fusion=sum", "needs alpha"), ("alpha=2", "within"), ("beta=1", "KEY one of"),
                         ("alpha=x", "not a float"), ("alpha=0.1;alpha=0.2", "given twice"),
                         ("alpha=0.1;fusion=max", "not one of sum, mean")):
        with pytest.raises(InputError, match=message):
            parse_grid(bad)


def test_folds_keep_clusters_together():
    qids = [f"{lang}-q{i}" for i in range(20) for lang in ("ar", "de", "ja")]
    fold_of = assign_folds(qids, cluster_function(SignificanceSettings(cluster_by="question")), 4, seed=1)
    for i in range(20):
        assert len({fold_of[f"{lang}-q{i}"] for lang in ("ar", "de", "ja")}) == 1
    assert set(fold_of.values()) == {0, 1, 2, 3}


def test_choices_are_made_on_other_folds(stores):
    tmp, data = stores
    topics, qrels = read_topics(data["topics"]), read_qrels(data["qrels"])
    queries = np.asarray(read_store(tmp / "query").vectors)
    grid = parse_grid("alpha=0.02,0.2,0.6;fusion=sum,mean")
    measure = parse_measure("MRR@10")
    settings = SignificanceSettings(permutations=300, bootstrap=300, cluster_by="question")
    result, _ = tune(tmp / "passage", [tmp / "generated"], list(topics), queries, measure, Judgements(qrels=qrels),
                     grid, folds=3, settings=settings)
    merged = result.held_out.per_query["MRR@10"]
    assert set(merged) == set(topics)
    assert result.comparison.units == len({q.split("-", 1)[1] for q in topics})  # clusters, not queries
    assert result.comparison.ci_low <= result.comparison.difference <= result.comparison.ci_high


def test_cli_prints_the_estimate_and_writes_the_index(stores, capsys):
    tmp, data = stores
    base = ["tune", "--passages", str(tmp / "passage"), "--generated", str(tmp / "generated"), "--topics",
            str(data["topics"]), "--qrels", str(data["qrels"]), "--encoded-queries", str(tmp / "query"),
            "--folds", "3", "--permutations", "300", "--bootstrap", "300"]
    assert main([*base, "--grid", "alpha=0.05,0.3;fusion=mean", "--output", str(tmp / "tuned")]) == 0
    out = capsys.readouterr().out
    assert "2 settings, 3-fold cross-validation" in out and "held-out MRR@10:" in out and "fold 2: chose" in out
    record = json.loads((tmp / "tuned" / "xqg.json").read_text("utf-8"))
    assert record["tuning"]["metric"] == "MRR@10" and record["fusion"] == "mean"
    assert record["alpha"] in (0.05, 0.3)
    assert main([*base, "--grid", "fusion=mean"]) == 2
    assert "--grid needs alpha" in capsys.readouterr().err
