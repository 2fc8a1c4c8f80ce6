import csv

import numpy as np
import pytest

from helpers import demo_subset
from xqg_pyserini.cli import main
from xqg_pyserini.evaluate.align import align, summarize


def test_alignment_by_hand():
    docids = ["d1", "d2", "d3", "d4"]
    # d2 is a high-norm hub: first by inner product for q2, but not the most similar passage
    passages = np.array([[1.0, 0.0], [0.0, 2.0], [0.6, 0.8], [0.8, 0.6]], dtype=np.float32)
    queries = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    result = align(queries, ["q1", "q2"], docids, passages, {"q1": {"d3": 1}, "q2": {"d1": 1, "d3": 1}})
    q1 = result["q1"]
    # q1: relevant d3 (cos 0.6); non-relevant d1 (1.0), d2 (0.0), d4 (0.8)
    assert q1.rank_cos == 3 and q1.rank_ip == 3
    assert q1.cos_relevant == pytest.approx(0.6) and q1.cos_nearest_nonrelevant == pytest.approx(1.0)
    assert q1.cos_nonrelevant_mean == pytest.approx(0.6) and q1.gap == pytest.approx(0.0, abs=1e-6)
    assert q1.margin == pytest.approx(-0.4) and q1.ip_margin == pytest.approx(-0.4)
    q2 = result["q2"]
    # q2: relevant d1 (cos 0) and d3 (cos 0.8): the most similar, d3, counts; d2 (cos 1.0, IP 2.0) is the hub
    assert q2.cos_relevant == pytest.approx(0.8) and q2.rank_cos == 2 and q2.rank_ip == 2
    assert q2.cos_nearest_nonrelevant == pytest.approx(1.0) and q2.cos_ip_competitor == pytest.approx(1.0)
    assert q2.cos_nonrelevant_mean == pytest.approx((1.0 + 0.6) / 2)
    # scale the hub up: its inner-product rank changes, every cosine measure stays
    bigger = passages.copy()
    bigger[3] *= 10
    again = align(queries, ["q1"], docids, bigger, {"q1": {"d3": 1}})["q1"]
    assert again.rank_cos == q1.rank_cos and again.cos_relevant == pytest.approx(q1.cos_relevant)
    assert again.rank_ip == 3 and again.cos_ip_competitor == pytest.approx(0.8)  # d4 now wins by IP
    summary = summarize(result, {q: a for q, a in result.items()}, lambda q: "xx", resamples=200)
    assert summary[0].queries == 2 and summary[0].share_margin_improved == 0.0
    assert summary[0].change_intervals["margin"] == (0.0, 0.0)
    assert summary[0].top1_cos == (0.0, 0.0)


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
