import json

import numpy as np
import pytest

from xqg_pyserini.errors import InputError
from xqg_pyserini.index.build import build_index
from xqg_pyserini.index.fusion import fuse
from xqg_pyserini.io.embeddings import write_store

RNG = np.random.default_rng(7)
P_IDS = ["d1", "d2", "d3"]
P = RNG.normal(size=(3, 4)).astype(np.float32)
KEYS = [("d2", "ar", 0), ("d1", "ja", 0), ("d2", "ar", 1), ("d2", "ja", 0), ("d1", "ar", 0)]
G = RNG.normal(size=(5, 4)).astype(np.float32)


def test_sum_fusion_matches_the_formula():
    fused, stats = fuse(P_IDS, P, KEYS, G, alpha=0.01)
    expected = np.stack([
        0.99 * P[0].astype(np.float64) + 0.01 * (G[1] + G[4]),
        0.99 * P[1].astype(np.float64) + 0.01 * (G[0] + G[2] + G[3]),
        P[2].astype(np.float64),  # d3 has nothing to fuse: it keeps E(p)
    ])
    np.testing.assert_allclose(fused, expected, rtol=1e-6)
    assert fused[2].tobytes() == P[2].tobytes()
    assert fused.dtype == np.float32
    assert stats.queries_used == 5 and stats.passages_augmented == 2 and stats.passages_unaugmented == 1
    assert stats.queries_per_lang == {"ar": 3, "ja": 2}
    assert stats.texts_per_passage == {"min": 2, "max": 3} and stats.uneven


def test_unaugmented_passages_keep_or_scale():
    """The paper's formula applied blindly shrinks a passage with nothing to fuse: only on request."""
    kept, _ = fuse(P_IDS, P, KEYS, G, alpha=0.2)
    scaled, stats = fuse(P_IDS, P, KEYS, G, alpha=0.2, unaugmented="scale")
    assert kept[2].tobytes() == P[2].tobytes()
    np.testing.assert_allclose(scaled[2], 0.8 * P[2], rtol=1e-6)
    assert kept[:2].tobytes() == scaled[:2].tobytes()  # augmented passages are the same either way
    # A language subset leaves d1 without texts too (it has one ja text, none selected in ar at per_lang=0..).
    kept, stats = fuse(P_IDS, P, KEYS, G, alpha=0.2, langs=["ja"])
    assert stats.passages_augmented == 2 and stats.passages_unaugmented == 1 and not stats.uneven
    with pytest.raises(InputError, match="--unaugmented must be one of keep, scale"):
        fuse(P_IDS, P, KEYS, G, alpha=0.2, unaugmented="drop")


def test_renorm_gives_unit_vectors_and_keeps_directions():
    fused, _ = fuse(P_IDS, P, KEYS, G, alpha=0.3)
    unit, _ = fuse(P_IDS, P, KEYS, G, alpha=0.3, renorm=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(unit, fused / np.linalg.norm(fused, axis=1, keepdims=True), rtol=1e-6)
    plain, _ = fuse(P_IDS, P, KEYS, G, alpha=0.0, renorm=True)
    assert plain.tobytes() == P.tobytes()  # alpha = 0 is the plain index, options or not


def test_uniform_counts_make_sum_a_scaled_mean():
    """With N texts per passage, sum at alpha = mean at alpha' = N alpha / (1 - alpha + N alpha), times a constant."""
    keys = [(d, lang, r) for d in P_IDS for lang in ("ar", "ja") for r in range(2)]  # N = 4 each
    generated = RNG.normal(size=(len(keys), 4)).astype(np.float32)
    alpha, n = 0.01, 4
    summed, stats = fuse(P_IDS, P, keys, generated, alpha=alpha, fusion="sum")
    equivalent = n * alpha / (1 - alpha + n * alpha)
    mean, _ = fuse(P_IDS, P, keys, generated, alpha=equivalent, fusion="mean")
    np.testing.assert_allclose(summed, mean * (1 - alpha) / (1 - equivalent), rtol=1e-5)
    assert not stats.uneven


def test_mean_fusion_and_subsets():
    fused, _ = fuse(P_IDS, P, KEYS, G, alpha=0.5, fusion="mean")
    np.testing.assert_allclose(fused[1], 0.5 * P[1] + 0.5 * (G[0] + G[2] + G[3]) / 3, rtol=1e-6)
    fused, stats = fuse(P_IDS, P, KEYS, G, alpha=0.5, langs=["ar"], per_lang=1)
    np.testing.assert_allclose(fused[1], 0.5 * P[1] + 0.5 * G[0], rtol=1e-6)
    np.testing.assert_allclose(fused[0], 0.5 * P[0] + 0.5 * G[4], rtol=1e-6)
    assert stats.queries_per_lang == {"ar": 2}


def test_join_is_by_docid_not_row_order():
    order = [3, 0, 4, 2, 1]
    shuffled, _ = fuse(P_IDS, P, [KEYS[i] for i in order], G[order], alpha=0.3)
    base, _ = fuse(P_IDS, P, KEYS, G, alpha=0.3)
    np.testing.assert_allclose(shuffled, base, rtol=1e-6)
    p_order = [2, 0, 1]
    moved, _ = fuse([P_IDS[i] for i in p_order], P[p_order], KEYS, G, alpha=0.3)
    np.testing.assert_allclose(moved, base[p_order], rtol=1e-6)


def test_alpha_zero_is_the_plain_vectors_bit_for_bit():
    with_zero = P.copy()
    with_zero[0, 0] = -0.0
    fused, _ = fuse(P_IDS, with_zero, KEYS, G, alpha=0.0)
    assert fused.tobytes() == with_zero.tobytes()


def test_fusion_errors():
    with pytest.raises(InputError, match=r"\(docid d9\): generated queries name a docid"):
        fuse(P_IDS, P, [*KEYS, ("d9", "ar", 0)], np.vstack([G, G[:1]]), alpha=0.1)
    with pytest.raises(InputError, match="no generated queries in language.*fi; available: ar, ja"):
        fuse(P_IDS, P, KEYS, G, alpha=0.1, langs=["fi"])
    with pytest.raises(InputError, match="dim 3, passages 4"):
        fuse(P_IDS, P, KEYS, G[:, :3], alpha=0.1)


def _stores(tmp_path, encoder=None):
    encoder = encoder or {"encoder": "m", "pooling": "mean", "l2_norm": True, "dim": 4}
    write_store(tmp_path / "p", P_IDS, P, {"kind": "passage", "encoder": encoder})
    write_store(tmp_path / "g", ["\t".join(map(str, k)) for k in KEYS], G,
                {"kind": "generated", "encoder": {**encoder, "query_prefix": "query:"}})
    return tmp_path / "p", tmp_path / "g"


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_index_dir_layout_provenance_and_alpha_zero(tmp_path, index_type):
    import faiss

    p, g = _stores(tmp_path)
    plain = build_index(p, tmp_path / "plain", index_type=index_type)
    zero = build_index(p, tmp_path / "zero", generated=g, alpha=0.0, index_type=index_type)
    aug = build_index(p, tmp_path / "aug", generated=g, alpha=0.01, langs=["ar"], per_lang=2,
                      index_type=index_type)
    assert (tmp_path / "plain" / "index").read_bytes() == (tmp_path / "zero" / "index").read_bytes()
    assert (tmp_path / "aug" / "docid").read_text().split() == P_IDS
    record = json.loads((tmp_path / "aug" / "xqg.json").read_text())
    assert record == aug
    assert (record["alpha"], record["fusion"], record["langs"], record["per_lang"]) == (0.01, "sum", ["ar"], 2)
    assert record["queries_used"] == 3 and record["queries_per_lang"] == {"ar": 3}
    assert record["encoder"]["encoder"] == "m" and record["dim"] == 4 and record["passages"]["count"] == 3
    assert {"pyserini", "faiss-cpu", "numpy"} <= set(record["versions"])
    assert plain["generated"] is None and zero["queries_used"] == 5
    index = faiss.read_index(str(tmp_path / "aug" / "index"))
    assert index.ntotal == 3 and index.metric_type == faiss.METRIC_INNER_PRODUCT
    expected, _ = fuse(P_IDS, P, KEYS, G, alpha=0.01, langs=["ar"], per_lang=2)
    np.testing.assert_allclose(index.reconstruct_n(0, 3), expected, rtol=1e-6)


def test_index_refuses_mismatched_encoders_and_bad_alpha(tmp_path):
    p, _ = _stores(tmp_path)
    write_store(tmp_path / "g2", ["d1\tar\t0"], G[:1], {"kind": "generated", "encoder": {"encoder": "other"}})
    with pytest.raises(InputError, match="encoded differently"):
        build_index(p, tmp_path / "x", generated=tmp_path / "g2")
    with pytest.raises(InputError, match="alpha"):
        build_index(p, tmp_path / "x", alpha=1.5)
    assert not (tmp_path / "x").exists()


def test_several_generated_stores_are_summed_together(tmp_path):
    p, g = _stores(tmp_path)
    extra = RNG.normal(size=(2, 4)).astype(np.float32)
    write_store(tmp_path / "pg", ["d3\tde\t0", "d1\tde\t0"], extra,
                {"kind": "generated", "generated_field": "generated_passages",
                 "encoder": {"encoder": "m", "pooling": "mean", "l2_norm": True, "dim": 4}})
    record = build_index(p, tmp_path / "both", generated=[g, tmp_path / "pg"], alpha=0.1)
    import faiss

    got = faiss.read_index(str(tmp_path / "both" / "index")).reconstruct_n(0, 3)
    expected, _ = fuse(P_IDS, P, [*KEYS, ("d3", "de", 0), ("d1", "de", 0)], np.vstack([G, extra]), alpha=0.1)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert record["queries_used"] == 7 and [d["field"] for d in record["generated"]] == ["generated_queries",
                                                                                         "generated_passages"]


def test_build_index_is_fuse_stores_then_write_faiss_index(tmp_path):
    """The two steps of xqg index give the same index as build_index, and the vectors are the fused ones."""
    from xqg_pyserini.index.build import build_index, fuse_stores, read_index_vectors, write_faiss_index
    from xqg_pyserini.io.embeddings import write_store

    rng = np.random.default_rng(0)
    passages = rng.standard_normal((4, 6)).astype(np.float32)
    generated = rng.standard_normal((5, 6)).astype(np.float32)
    encoder = {"encoder": "x", "dim": 6}
    write_store(tmp_path / "p", ["a", "b", "c", "d"], passages, {"kind": "passage", "encoder": encoder})
    keys = ["b\tar\t0", "b\tar\t1", "d\tja\t0", "a\tja\t0", "a\tar\t0"]
    write_store(tmp_path / "g", keys, generated, {"kind": "generated", "encoder": encoder})
    fused = fuse_stores(tmp_path / "p", tmp_path / "g", alpha=0.2, fusion="sum")
    assert fused.ids == ["a", "b", "c", "d"]
    expected = 0.8 * passages.astype(np.float64)
    for row, key in enumerate(keys):
        expected[["a", "b", "c", "d"].index(key.split("\t")[0])] += 0.2 * generated[row]
    expected[2] = passages[2]  # "c" has nothing to fuse: kept as E(p)
    assert np.allclose(fused.vectors, expected, atol=1e-6)
    assert fused.record["passages_augmented"] == 3 and fused.record["passages_unaugmented"] == 1
    one = write_faiss_index(fused, tmp_path / "two-step")
    other = build_index(tmp_path / "p", tmp_path / "one-call", generated=tmp_path / "g", alpha=0.2)
    assert {k: v for k, v in one.items() if k != "versions"} == {k: v for k, v in other.items() if k != "versions"}
    assert list(one)[:9] == ["kind", "passages", "encoder", "dim", "alpha", "fusion", "unaugmented", "renorm",
                             "index_type"]
    for path in ("two-step", "one-call"):
        ids, vectors = read_index_vectors(tmp_path / path)
        assert ids == fused.ids and np.array_equal(vectors, fused.vectors)


def test_cli_says_what_was_augmented_and_warns_on_uneven_sums(tmp_path, capsys):
    from xqg_pyserini.cli import main

    p, g = _stores(tmp_path)
    assert main(["index", "--passages", str(p), "--generated", str(g), "--output", str(tmp_path / "sum")]) == 0
    out, err = capsys.readouterr()
    assert "2 of 3 augmented with 5 generated texts in ar,ja; 1 unaugmented (kept as E(p))" in out
    assert "between 2 and 3 generated texts" in err and "--fusion mean" in err
    assert main(["index", "--passages", str(p), "--generated", str(g), "--fusion", "mean", "--unaugmented", "scale",
                 "--renorm", "--output", str(tmp_path / "mean")]) == 0
    out, err = capsys.readouterr()
    assert "fusion mean, renormalized" in out and "1 unaugmented (scaled by 1-alpha)" in out and err == ""
    record = json.loads((tmp_path / "mean" / "xqg.json").read_text())
    assert (record["unaugmented"], record["renorm"], record["uneven"]) == ("scale", True, True)
    assert main(["index", "--passages", str(p), "--output", str(tmp_path / "plain")]) == 0
    assert "none augmented (the plain index)" in capsys.readouterr().out
    record = json.loads((tmp_path / "plain" / "xqg.json").read_text())
    assert record["alpha"] == 0.0 and record["generated"] is None  # no --generated: the plain index, alpha 0
