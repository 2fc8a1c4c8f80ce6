"""``xqg filter``: the selection rule, both scorers, the shard set it writes and who reads it."""

import json

import numpy as np
import pytest

from helpers import demo_subset, demo_texts, write_jsonl
from tiny_models import build_tiny_bert, build_tiny_cross_encoder
from xqg_pyserini.cli import main
from xqg_pyserini.generate.filter import group_keys, keep_mask
from xqg_pyserini.io.corpus import read_corpus
from xqg_pyserini.io.generated import generated_sha256, read_generated, shard_set_manifests


# --------------------------------------------------------------------------- keep_mask

def test_threshold_keeps_scores_at_or_above_it():
    scores = np.array([0.1, 0.5, 0.3, 0.5])
    assert keep_mask(scores, threshold=0.3).tolist() == [False, True, True, True]
    assert keep_mask(scores, groups=["a", "b", "a", "b"], threshold=0.6).tolist() == [False] * 4


def test_keep_top_is_per_group_with_ceil_and_earlier_ties_first():
    scores = np.array([0.9, 0.1, 0.5, 0.5, 0.2, 0.8, 0.3])
    langs = ["ar", "ar", "ar", "ar", "ja", "ja", "ja"]
    # ar: 4 texts, 50% -> 2: 0.9 and the earlier of the tied 0.5s; ja: 3 texts, ceil(1.5) = 2.
    assert keep_mask(scores, langs, keep_top=50).tolist() == [True, False, True, False, False, True, True]
    # One pool: ceil(7 * 0.5) = 4 best overall.
    assert keep_mask(scores, None, keep_top=50).tolist() == [True, False, True, True, False, True, False]
    assert keep_mask(scores, langs, keep_top=100).all()
    # 70% of 10 is 7, not 8 (0.7 * 10 = 7.000000000000001 in floating point).
    assert keep_mask(np.arange(10.0), keep_top=70).sum() == 7
    assert keep_mask(np.array([0.3]), keep_top=1).tolist() == [True]  # a group never loses its last text


def test_group_keys_and_contract():
    docids, langs = ["d1", "d1", "d2"], ["ar", "ja", "ar"]
    assert group_keys(docids, langs, "lang") == langs
    assert group_keys(docids, langs, "all") is None
    assert group_keys(docids, langs, "passage") == [("d1", "ar"), ("d1", "ja"), ("d2", "ar")]
    scores = np.array([0.2, 0.4, 0.1])
    assert keep_mask(scores, group_keys(docids, langs, "passage"), keep_top=10).all()
    with pytest.raises(ValueError):
        keep_mask(scores, keep_top=50, threshold=0.1)
    with pytest.raises(ValueError):
        keep_mask(scores, keep_top=0)
    with pytest.raises(ValueError):
        keep_mask(np.array([0.1, np.nan]), threshold=0.0)
    with pytest.raises(ValueError):
        keep_mask(scores, ["a"], keep_top=50)


# --------------------------------------------------------------------------- the command

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("filter-demo")
    paths = demo_subset(tmp, passages=6)
    rows = [json.loads(line) for line in paths["generated"].read_text("utf-8").splitlines()]
    for row in rows:  # three languages keep the test small
        row["generated_queries"] = {lang: row["generated_queries"][lang] for lang in ("ar", "de", "ja")}
    write_jsonl(paths["generated"], rows)
    return paths


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A tiny BERT whose CLS vectors differ between texts (BERT's 0.02 init makes every cosine ~0.99999,
    which float noise reorders)."""
    out = tmp_path_factory.mktemp("spread-bert")
    return build_tiny_bert(out, demo_texts(), initializer_range=1.0)


def _filter(demo, out, *flags):
    return main(["filter", "--corpus", str(demo["corpus"]), "--generated", str(demo["generated"]),
                 "--output", str(out), "--no-progress", *map(str, flags)])


def _rows(shard_set):
    manifests = shard_set_manifests(shard_set)
    return [json.loads(line) for m in manifests
            for line in (shard_set / m["file"]).read_text("utf-8").splitlines()]


def test_dual_scores_are_the_cosines_and_keep_top_per_language(tmp_path, demo, tiny_bert):
    out = tmp_path / "gen-filtered"
    assert _filter(demo, out, "--keep-top", "50%", "--encoder", str(tiny_bert), "--pooling", "cls") == 0
    rows = _rows(out)
    manifest = json.loads((out / "manifest-0-of-1.json").read_text())
    assert manifest["status"] == "complete" and manifest["kind"] == "xqg-filtered-shard"
    assert manifest["filter"]["rule"] == {"keep_top": 50.0, "threshold": None, "scope": "lang"}
    assert manifest["filter"]["input"]["sha256"] == generated_sha256(demo["generated"])
    assert manifest["filter"]["scorer"]["scorer"] == "dual"
    per_lang = manifest["counts"]["per_lang"]
    for lang in ("ar", "de", "ja"):  # 6 passages x 3 texts: ceil(18 / 2) = 9 kept per language
        assert per_lang[lang] == {"input": 18, "kept": 9, "dropped": 9}
    assert manifest["filter"]["totals"]["kept"] == 27 and manifest["counts"]["passages"] == 6

    # The kept scores are cos(E_q(text), E_p(passage)), and each language keeps its best half.
    from xqg_pyserini.encode.hf import HFEncoder

    encoder = HFEncoder(str(tiny_bert), pooling="cls")
    passages = {p.docid: p.render("{title} {contents}") for p in read_corpus(demo["corpus"])}
    original = {json.loads(l)["docid"]: json.loads(l)["generated_queries"]
                for l in demo["generated"].read_text("utf-8").splitlines()}
    for lang in ("ar", "de", "ja"):
        texts = [(docid, text) for docid, by_lang in original.items() for text in by_lang[lang]]
        q = encoder.encode_queries([t for _, t in texts])
        p = encoder.encode_passages([passages[d] for d, _ in texts])
        cosine = (q * p).sum(1) / np.linalg.norm(q, axis=1) / np.linalg.norm(p, axis=1)
        best = {texts[i] for i in np.argsort(-cosine, kind="stable")[:9]}
        kept = {(row["docid"], t) for row in rows for t in row["generated_queries"][lang]}
        assert kept == best
        got = {(row["docid"], t): s for row in rows for t, s in zip(row["generated_queries"][lang], row["scores"][lang])}
        for i, key in enumerate(texts):
            if key in got:
                assert got[key] == pytest.approx(cosine[i], abs=1e-5)
    for row in rows:  # texts keep their original order
        for lang, kept in row["generated_queries"].items():
            assert kept == [t for t in original[row["docid"]][lang] if t in kept]


def test_readers_take_a_filtered_set_unchanged(tmp_path, demo, tiny_bert):
    out = tmp_path / "kept"
    assert _filter(demo, out, "--threshold", "-1", "--encoder", str(tiny_bert)) == 0  # cosines >= -1: all
    assert read_generated(out) == read_generated(demo["generated"])
    assert _filter(demo, tmp_path / "half", "--keep-top", "50", "--scope", "passage", "--encoder",
                   str(tiny_bert)) == 0
    half = read_generated(tmp_path / "half")
    assert {(t.docid, t.lang) for t in half} == {(t.docid, t.lang) for t in read_generated(demo["generated"])}
    assert all(t.rank < 2 for t in half) and len(half) == 6 * 3 * 2  # ceil(3 / 2) = 2 per passage and language
    # The same texts without scores, as a plain JSONL file: every reader must see the same thing.
    plain = write_jsonl(tmp_path / "half.jsonl", [{"docid": r["docid"], "generated_queries": r["generated_queries"]}
                                                  for r in _rows(tmp_path / "half")])
    flags = ["--kind", "generated", "--encoder", str(tiny_bert)]
    assert main(["encode", "--input", str(tmp_path / "half"), *flags, "--output", str(tmp_path / "eg")]) == 0
    assert main(["encode", "--input", str(plain), *flags, "--output", str(tmp_path / "ep")]) == 0
    assert (tmp_path / "eg" / "ids.tsv").read_text() == (tmp_path / "ep" / "ids.tsv").read_text()
    assert np.array_equal(np.load(tmp_path / "eg" / "embeddings.npy"), np.load(tmp_path / "ep" / "embeddings.npy"))
    assert main(["encode", "--input", str(demo["corpus"]), "--kind", "passage", "--encoder", str(tiny_bert),
                 "--output", str(tmp_path / "pass")]) == 0
    assert main(["index", "--passages", str(tmp_path / "pass"), "--generated", str(tmp_path / "eg"),
                 "--output", str(tmp_path / "index")]) == 0
    assert json.loads((tmp_path / "index" / "xqg.json").read_text())["queries_used"] == 36
    # xqg generate --merge concatenates a filtered set and sums its counts.
    assert main(["generate", "--merge", str(tmp_path / "half"), "--output", str(tmp_path / "merged.jsonl")]) == 0
    merged = json.loads((tmp_path / "merged.jsonl.json").read_text())
    assert merged["counts"]["kept"] == 36 and merged["counts"]["dropped"] == 18
    assert merged["filter"]["rule"]["scope"] == "passage"
    assert read_generated(tmp_path / "merged.jsonl") == half


def test_index_sparse_reads_a_filtered_set(tmp_path, demo, tiny_bert):
    assert _filter(demo, tmp_path / "f", "--keep-top", "34", "--encoder", str(tiny_bert)) == 0
    plain = write_jsonl(tmp_path / "f.jsonl", [{"docid": r["docid"], "generated_queries": r["generated_queries"]}
                                               for r in _rows(tmp_path / "f")])
    flags = ["index-sparse", "--corpus", str(demo["corpus"]), "--analyzer", "whitespace", "--no-progress"]
    assert main([*flags, "--generated", str(tmp_path / "f"), "--output", str(tmp_path / "lf")]) == 0
    assert main([*flags, "--generated", str(plain), "--output", str(tmp_path / "lp")]) == 0
    records = [json.loads((tmp_path / name / "xqg.json").read_text()) for name in ("lf", "lp")]
    assert records[0]["queries_used"] == records[1]["queries_used"] == 3 * 7  # ceil(18 * 0.34) = 7 per language
    from xqg_pyserini.java import ensure_jvm

    ensure_jvm()
    from pyserini.search.lucene import LuceneSearcher

    filtered, direct = (LuceneSearcher(str(tmp_path / name)) for name in ("lf", "lp"))
    for docid in (p.docid for p in read_corpus(demo["corpus"])):
        assert filtered.doc(docid).contents() == direct.doc(docid).contents()


def test_cross_encoder_scores_pairs_text_first(tmp_path, demo):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = build_tiny_cross_encoder(tmp_path / "ce", demo_texts())
    out = tmp_path / "ce-filtered"
    assert _filter(demo, out, "--scorer", "cross-encoder", "--cross-encoder", str(model), "--threshold=-1e9",
                   "--batch-size", "5") == 0
    rows = _rows(out)
    manifest = json.loads((out / "manifest-0-of-1.json").read_text())
    assert manifest["filter"]["scorer"]["scorer"] == "cross-encoder" and manifest["filter"]["totals"]["dropped"] == 0
    tokenizer, classifier = AutoTokenizer.from_pretrained(model), AutoModelForSequenceClassification.from_pretrained(model)
    passage = {p.docid: p.render("{title} {contents}") for p in read_corpus(demo["corpus"])}
    row = rows[2]
    text = row["generated_queries"]["de"][1]
    with torch.no_grad():
        logit = classifier(**tokenizer(text, passage[row["docid"]], truncation=True, max_length=128,
                                        return_tensors="pt")).logits[0, 0].item()
    assert row["scores"]["de"][1] == pytest.approx(logit, abs=1e-5)
    # A cut at the median of the scores keeps the better half.
    scores = sorted(s for r in rows for by_lang in r["scores"].values() for s in by_lang)
    median = scores[len(scores) // 2]
    assert _filter(demo, tmp_path / "ce-half", "--scorer", "cross-encoder", "--cross-encoder", str(model),
                   f"--threshold={median!r}", "--batch-size", "5") == 0  # the same batches: the same scores
    kept = [s for r in _rows(tmp_path / "ce-half") for by_lang in r["scores"].values() for s in by_lang]
    assert sorted(kept) == [s for s in scores if s >= median] and len(scores) // 2 <= len(kept) < len(scores)


def test_bad_input_leaves_nothing(tmp_path, demo, tiny_bert, capsys):
    encoder = ["--encoder", str(tiny_bert)]
    with pytest.raises(SystemExit):  # the rule is one of two flags
        _filter(demo, tmp_path / "x", "--keep-top", "50", "--threshold", "0.2", *encoder)
    assert _filter(demo, tmp_path / "x", "--keep-top", "0", *encoder) == 2
    assert "--keep-top" in capsys.readouterr().err
    bad = dict(demo, generated=write_jsonl(tmp_path / "g.jsonl", [{"docid": "nope", "generated_queries": {"ar": ["?"]}}]))
    assert _filter(bad, tmp_path / "x", "--keep-top", "50", *encoder) == 2
    assert "nope" in capsys.readouterr().err and not (tmp_path / "x").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert _filter(demo, tmp_path / "busy", "--keep-top", "50", *encoder) == 2
    assert "other files" in capsys.readouterr().err and (tmp_path / "busy" / "notes.txt").is_file()
    assert _filter(demo, tmp_path / "y", "--keep-top", "50", "--scorer", "cross-encoder", *encoder) == 2
    assert "--cross-encoder" in capsys.readouterr().err


def test_translated_passages_are_scored_on_the_passage_side(tiny_bert):
    from xqg_pyserini.encode.hf import HFEncoder
    from xqg_pyserini.generate.scorers import DualEncoderScorer

    encoder = HFEncoder(str(tiny_bert), pooling="mean", query_prefix="query:", passage_prefix="passage:")
    passages, texts = ["Vesuvius is a volcano", "Bach wrote cantatas"], ["Der Vesuv", "Bach", "cantate di Bach"]
    owner = np.array([0, 1, 1])
    for as_passages, encode in ((False, encoder.encode_queries), (True, encoder.encode_passages)):
        scores = DualEncoderScorer(encoder, texts_as_passages=as_passages).score(passages, texts, owner)
        t, p = encode(texts), encoder.encode_passages(passages)[owner]
        expected = (t * p).sum(1) / np.linalg.norm(t, axis=1) / np.linalg.norm(p, axis=1)
        assert scores == pytest.approx(expected, abs=1e-6)
    as_queries = DualEncoderScorer(encoder).score(passages, texts, owner)
    assert not np.allclose(as_queries, scores)  # the prefixes differ, so the sides do
