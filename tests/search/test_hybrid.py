"""Run fusion through ranx: hand-computed RRF and min-max CombSUM, weights, differing query sets."""

from __future__ import annotations

import json

import pytest

from xqg_pyserini.errors import InputError
from xqg_pyserini.search.hybrid import METHODS, NORMS, fuse_files, fuse_runs
from xqg_pyserini.io.runs import read_run, write_run

A = {"q1": [("d1", 3.0), ("d2", 2.0), ("d3", 1.0)],
     "q2": [("d1", 1.0), ("d6", 0.5)],
     "q3": [("x", 5.0), ("y", 1.0)]}  # q3 only in A
B = {"q1": [("d2", 0.9), ("d4", 0.5)],
     "q2": [("d5", 2.0), ("d1", 1.0)],
     "q4": [("z", 7.0), ("w", 3.0), ("v", 1.0)]}  # q4 only in B


def as_dict(run):
    return {qid: dict(hits) for qid, hits in run.items()}


def assert_run(got, expected):
    assert list(got) == list(expected)
    for qid in expected:
        assert [d for d, _ in got[qid]] == [d for d, _ in expected[qid]], qid
        assert [s for _, s in got[qid]] == pytest.approx([s for _, s in expected[qid]], abs=1e-12), qid


def test_rrf_by_hand():
    r = lambda rank: 1 / (60 + rank)  # noqa: E731
    expected = {
        "q1": [("d2", r(2) + r(1)), ("d1", r(1)), ("d4", r(2)), ("d3", r(3))],
        "q2": [("d1", r(1) + r(2)), ("d5", r(1)), ("d6", r(2))],
        "q3": [("x", r(1)), ("y", r(2))],
        "q4": [("z", r(1)), ("w", r(2)), ("v", r(3))],
    }
    assert_run(fuse_runs([A, B]), expected)


def test_weighted_rrf_and_k():
    r = lambda rank: 1 / (10 + rank)  # noqa: E731
    got = as_dict(fuse_runs([A, B], method="rrf", weights=[1.0, 2.0], k=10))
    assert got["q1"] == pytest.approx({"d1": r(1), "d2": r(2) + 2 * r(1), "d3": r(3), "d4": 2 * r(2)})
    assert got["q4"] == pytest.approx({"z": 2 * r(1), "w": 2 * r(2), "v": 2 * r(3)})
    assert got["q3"] == pytest.approx({"x": r(1), "y": r(2)})
    # equal weights scale every score and leave the ranking alone
    doubled = fuse_runs([A, B], weights=[2.0, 2.0])
    plain = fuse_runs([A, B])
    assert_run(doubled, {q: [(d, 2 * s) for d, s in hits] for q, hits in plain.items()})


def test_rrf_agrees_with_pyserini_fusion(tmp_path):
    from pyserini.fusion import reciprocal_rank_fusion
    from pyserini.trectools import TrecRun

    a = {"q1": A["q1"], "q2": A["q2"]}
    b = {"q1": B["q1"], "q2": B["q2"]}
    write_run(a, tmp_path / "a.trec", tag="a")
    write_run(b, tmp_path / "b.trec", tag="b")
    theirs = reciprocal_rank_fusion([TrecRun(str(tmp_path / "a.trec")), TrecRun(str(tmp_path / "b.trec"))])
    theirs.save_to_txt(str(tmp_path / "p.trec"))
    ours = as_dict(fuse_runs([a, b]))
    assert as_dict(read_run(tmp_path / "p.trec")) == {q: pytest.approx(h, abs=1e-6) for q, h in ours.items()}


def test_rrf_ranks_follow_the_given_order_on_ties():
    tied = {"q": [("b", 1.0), ("a", 1.0), ("c", 1.0)]}
    other = {"q": [("c", 9.0)]}
    got = as_dict(fuse_runs([tied, other]))
    assert got["q"] == pytest.approx({"b": 1 / 61, "a": 1 / 62, "c": 1 / 63 + 1 / 61})


def test_minmax_combsum_by_hand():
    # min-max per query and run: A.q1 d1 1, d2 .5, d3 0; B.q1 d2 1, d4 0; A.q2 d1 1, d6 0; B.q2 d5 1, d1 0
    expected = {
        "q1": [("d2", 1.5), ("d1", 1.0), ("d3", 0.0), ("d4", 0.0)],
        "q2": [("d1", 1.0), ("d5", 1.0), ("d6", 0.0)],
        "q3": [("x", 1.0), ("y", 0.0)],
        "q4": [("z", 1.0), ("w", (3 - 1) / (7 - 1)), ("v", 0.0)],
    }
    assert_run(fuse_runs([A, B], method="combsum", norm="min-max"), expected)
    weighted = as_dict(fuse_runs([A, B], method="combsum", norm="min-max", weights=[0.25, 1.0]))
    assert weighted["q1"] == pytest.approx({"d1": 0.25, "d2": 0.125 + 1.0, "d3": 0.0, "d4": 0.0})
    assert weighted["q3"] == pytest.approx({"x": 0.25, "y": 0.0})
    assert weighted["q4"] == pytest.approx({"z": 1.0, "w": 1 / 3, "v": 0.0})


def test_zmuv_and_no_norm():
    # zmuv (population std): A.q1 3,2,1 -> 1.2247, 0, -1.2247; B.q1 .9,.5 -> 1, -1
    got = as_dict(fuse_runs([A, B], method="combsum", norm="zmuv"))
    z = 1.5 ** 0.5
    assert got["q1"] == pytest.approx({"d1": z, "d2": 0.0 + 1.0, "d3": -z, "d4": -1.0})
    raw = as_dict(fuse_runs([A, B], method="combsum", norm="none"))
    assert raw["q1"] == pytest.approx({"d1": 3.0, "d2": 2.9, "d3": 1.0, "d4": 0.5})


def test_hits_and_query_order():
    got = fuse_runs([A, B], hits=2)
    assert list(got) == ["q1", "q2", "q3", "q4"] and all(len(h) <= 2 for h in got.values())


def test_bad_arguments():
    with pytest.raises(InputError, match="unknown fusion method 'borda!'.*rrf, combsum"):
        fuse_runs([A, B], method="borda!")
    with pytest.raises(InputError, match="unknown normalization 'minmax'.*min-max, max, sum, zmuv"):
        fuse_runs([A, B], method="combsum", norm="minmax")
    with pytest.raises(InputError, match="3 weights for 2 runs"):
        fuse_runs([A, B], weights=[1, 1, 1])
    with pytest.raises(InputError, match="at least 2 runs"):
        fuse_runs([A])
    with pytest.raises(InputError, match="weights must be >= 0"):
        fuse_runs([A, B], weights=[-1, 1])
    assert set(METHODS) >= {"rrf", "combsum"} and {"min-max", "zmuv", "none"} <= set(NORMS)


def test_fuse_files_writes_trec_and_provenance(tmp_path):
    write_run(A, tmp_path / "a.trec", tag="dense")
    write_run(B, tmp_path / "b.trec", tag="bm25")
    run = fuse_files([tmp_path / "a.trec", tmp_path / "b.trec"], tmp_path / "fused.trec", method="combsum",
                     norm="min-max", weights=[1.0, 0.5], tag="hybrid")
    lines = (tmp_path / "fused.trec").read_text().splitlines()
    assert lines[0].split() == ["q1", "Q0", "d1", "1", "1.000000", "hybrid"]
    assert as_dict(read_run(tmp_path / "fused.trec")) == {q: pytest.approx(dict(h), abs=1e-6) for q, h in run.items()}
    record = json.loads((tmp_path / "fused.trec.json").read_text())
    assert record["method"] == "combsum" and record["norm"] == "min-max" and record["weights"] == [1.0, 0.5]
    assert record["queries"] == 4 and record["library"] == "ranx" and record["tag"] == "hybrid"
