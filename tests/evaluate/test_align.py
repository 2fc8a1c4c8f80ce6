import csv

import numpy as np
import pytest

from helpers import demo_subset
from xqg_pyserini.cli import main
from xqg_pyserini.evaluate.align import align, summarize


def test_alignment_by_hand():
    docids = ["d1", "d2", "d3"]
    passages = np.array([[1.0, 0.0], [0.0, 2.0], [0.6, 0.8]], dtype=np.float32)
    queries = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    result = align(queries, ["q1", "q2"], docids, passages, {"q1": {"d3": 1}, "q2": {"d1": 1, "d3": 1}})
    # q1: relevant d3 (cos 0.6, score 0.6); best-scoring non-relevant d1 (score 1.0, cos 1.0).
    assert result["q1"].rank == 2
    assert result["q1"].cos_relevant == pytest.approx(0.6) and result["q1"].cos_nonrelevant == pytest.approx(1.0)
    # q2: best relevant by score is d3 (0.8 > 0.0); d2 scores 2.0 by inner product but has cosine 1.0.
    assert result["q2"].rank == 2 and result["q2"].cos_relevant == pytest.approx(0.8)
    assert result["q2"].margin == pytest.approx(-0.2)
    summary = summarize(result, {q: a for q, a in result.items()}, lambda q: "xx")
    assert summary[0].queries == 2 and summary[0].share_margin_improved == 0.0


def test_align_cli_writes_csvs_and_plot(tmp_path, tiny_xlmr, capsys):
    data = demo_subset(tmp_path, passages=6)
    flags = ["--encoder", str(tiny_xlmr), "--pooling", "mean", "--l2-norm"]
    for kind, source in (("passage", data["corpus"]), ("generated", data["generated"])):
        assert main(["encode", "--input", str(source), "--kind", kind, "--output", str(tmp_path / kind), *flags]) == 0
    for name, alpha in (("plain", "0"), ("aug", "0.1")):
        assert main(["index", "--passages", str(tmp_path / "passage"), "--generated", str(tmp_path / "generated"),
                     "--alpha", alpha, "--output", str(tmp_path / name)]) == 0
    assert main(["align", "--index", str(tmp_path / "plain"), "--index", str(tmp_path / "aug"),
                 "--topics", str(data["topics"]), "--qrels", str(data["qrels"]), "--output", str(tmp_path / "al")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "al" / "per_query.csv", encoding="utf-8")))
    assert len(rows) == 6 * 12 and {r["lang"] for r in rows} == {"ar", "de", "es", "fr", "ja", "zh"}
    langs = list(csv.DictReader(open(tmp_path / "al" / "per_language.csv", encoding="utf-8")))
    assert [r["lang"] for r in langs] == ["ar", "de", "es", "fr", "ja", "zh"]
    assert (tmp_path / "al" / "margins.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| ar" in capsys.readouterr().out
