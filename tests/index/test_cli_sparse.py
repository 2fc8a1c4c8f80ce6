"""``xqg index-sparse``, ``xqg search --sparse``, ``xqg pretokenize`` and ``xqg fuse`` from the command line."""

import json

from helpers import demo_subset, write_jsonl
from xqg_pyserini.cli import main
from xqg_pyserini.evaluate.measures import score_run
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.runs import read_run
from xqg_pyserini.io.topics import read_topics


def test_bm25_expansion_and_hybrid(tmp_path, e5_small, capsys):
    demo = demo_subset(tmp_path, passages=12)
    flags = ["--corpus", str(demo["corpus"]), "--tokenizer", str(e5_small), "--no-progress"]
    assert main(["index-sparse", *flags, "--output", str(tmp_path / "bm25")]) == 0
    assert main(["index-sparse", *flags, "--generated", str(demo["generated"]), "--langs", "ar,de,es,fr,ja,zh",
                 "--per-lang", "2", "--output", str(tmp_path / "bm25-xqg")]) == 0
    record = json.loads((tmp_path / "bm25-xqg" / "xqg.json").read_text())
    assert record["per_lang"] == 2 and record["documents"] == 12 and record["analyzer"] == "subword"

    for name in ("bm25", "bm25-xqg"):
        assert main(["search", "--sparse", "--index", str(tmp_path / name), "--topics", str(demo["topics"]),
                     "--k1", "0.9", "--b", "0.4", "--hits", "10", "--output", str(tmp_path / f"{name}.trec")]) == 0
    qrels = read_qrels(demo["qrels"])
    mrr = {name: score_run(name, read_run(tmp_path / f"{name}.trec"), qrels, ["MRR@10"]).mean["MRR@10"]
           for name in ("bm25", "bm25-xqg")}
    assert mrr["bm25-xqg"] > mrr["bm25"] + 0.2  # cross-lingual queries need the expansion

    assert main(["pretokenize", "--index", str(tmp_path / "bm25-xqg"), "--topics", str(demo["topics"]),
                 "--output", str(tmp_path / "pretok.tsv")]) == 0
    assert "--pretokenized" in capsys.readouterr().out
    assert read_topics(tmp_path / "pretok.tsv").keys() == read_topics(demo["topics"]).keys()

    # Fuse the expanded and the plain BM25 runs (a dense run fuses the same way).
    assert main(["fuse", "--runs", str(tmp_path / "bm25-xqg.trec"), str(tmp_path / "bm25.trec"),
                 "--method", "combsum", "--norm", "min-max", "--weights", "0.8 0.2", "--hits", "10",
                 "--output", str(tmp_path / "fused.trec")]) == 0
    fused = read_run(tmp_path / "fused.trec")
    assert fused.keys() == read_run(tmp_path / "bm25-xqg.trec").keys()
    provenance = json.loads((tmp_path / "fused.trec.json").read_text())
    assert provenance["method"] == "combsum" and provenance["weights"] == [0.8, 0.2]


def test_bad_input(tmp_path, e5_small, capsys):
    demo = demo_subset(tmp_path, passages=4)
    assert main(["index-sparse", "--corpus", str(demo["corpus"]), "--analyzer", "klingon",
                 "--output", str(tmp_path / "x")]) == 2
    assert "klingon" in capsys.readouterr().err and not (tmp_path / "x").exists()
    write_jsonl(tmp_path / "gen.jsonl", [{"docid": "nope", "generated_queries": {"de": ["was?"]}}])
    assert main(["index-sparse", "--corpus", str(demo["corpus"]), "--generated", str(tmp_path / "gen.jsonl"),
                 "--tokenizer", str(e5_small), "--no-progress", "--output", str(tmp_path / "y")]) == 2
    assert "nope" in capsys.readouterr().err and not (tmp_path / "y").exists()
    assert main(["fuse", "--runs", str(tmp_path / "missing.trec"), "--output", str(tmp_path / "f.trec")]) == 2
    assert not (tmp_path / "f.trec").exists()
