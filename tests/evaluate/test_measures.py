import json

import pytest

from xqg_pyserini.cli import main
from xqg_pyserini.evaluate.measures import parse_measures, score_run
from xqg_pyserini.evaluate.tables import render

QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1}}
RUN = {"q1": [("d1", 3.0), ("d2", 2.0)], "q2": [("d1", 3.0), ("d2", 2.0)]}


def test_scores_by_hand():
    scores = score_run("r", RUN, QRELS, ["MRR@10", "R@1", "nDCG@10"])
    assert scores.per_query["MRR@10"] == {"q1": 1.0, "q2": 0.5, "q3": 0.0}  # q3 has no results: 0
    assert scores.mean["MRR@10"] == pytest.approx(0.5)
    assert scores.mean["R@1"] == pytest.approx(1 / 3)


def test_parse_and_render():
    assert [m.name for m in parse_measures("R@100, MRR@10 nDCG@10")] == ["R@100", "MRR@10", "nDCG@10"]
    scores = [score_run("a", RUN, QRELS, ["MRR@10"]), score_run("b", {"q1": [("d1", 1.0)]}, QRELS, ["MRR@10"])]
    md = render(scores, ["MRR@10"], "md")
    assert md.splitlines()[0] == "| run | MRR@10 |" and "| a   | 0.5000 |" in md
    assert render(scores, ["MRR@10"], "csv").splitlines() == ["run,MRR@10", "a,0.5000", "b,0.3333"]
    assert json.loads(render(scores, ["MRR@10"], "json"))[1] == {"run": "b", "MRR@10": pytest.approx(1 / 3)}


def test_eval_cli_one_row_per_run(tmp_path, capsys):
    (tmp_path / "qrels").write_text("q1 0 d1 1\nq2 0 d2 1\n")
    (tmp_path / "a.trec").write_text("q1 Q0 d1 1 2.0 a\nq2 Q0 d1 1 2.0 a\nq2 Q0 d2 2 1.0 a\n")
    (tmp_path / "b.trec").write_text("q1 Q0 d2 1 2.0 b\nq1 Q0 d1 2 1.0 b\n")
    assert main(["eval", "--qrels", str(tmp_path / "qrels"), "--runs", str(tmp_path / "a.trec"),
                 str(tmp_path / "b.trec"), "--metrics", "MRR@10 R@100", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["run,baseline,MRR@10,R@100", "a,false,0.7500,1.0000",
                                                    "b,false,0.2500,0.5000"]
