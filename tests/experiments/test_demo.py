import json

from xqg_pyserini.experiments.demo import run_demo
from xqg_pyserini.io.runs import read_run


def test_demo_runs_every_stage_and_leaves_its_files(tmp_path, tiny_xlmr, capsys):
    out = tmp_path / "demo"
    text = run_demo(out, encoder=str(tiny_xlmr), alpha=0.05, pooling="mean", l2_norm=True, batch_size=64)
    printed = capsys.readouterr().out
    assert "| plain" in printed and "| xqg-alpha0.05" in printed and "MRR@10 per query language" in printed
    assert (out / "results.md").read_text(encoding="utf-8") == text
    for name in ("data/corpus.jsonl", "emb/passages/embeddings.npy", "emb/generated/ids.tsv", "emb/queries/meta.json",
                 "indexes/plain/index", "indexes/xqg-alpha0.05/xqg.json", "runs/plain.trec", "runs/xqg-alpha0.05.trec.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "indexes" / "xqg-alpha0.05" / "xqg.json").read_text())
    assert record["alpha"] == 0.05 and record["langs"] == ["ar", "de", "es", "fr", "ja", "zh"]
    topics = (out / "data" / "topics.tsv").read_text(encoding="utf-8").splitlines()
    assert len(read_run(out / "runs" / "plain.trec")) == len(topics)
    # A second run reuses the embeddings: nothing is re-encoded.
    before = (out / "emb" / "passages" / "embeddings.npy").stat().st_mtime_ns
    run_demo(out, encoder=str(tiny_xlmr), alpha=0.05, pooling="mean", l2_norm=True, batch_size=64)
    assert (out / "emb" / "passages" / "embeddings.npy").stat().st_mtime_ns == before


def test_demo_with_the_real_default_encoder(tmp_path, e5_small, capsys):
    """The offline e5-small on the demo: real retrieval quality, and the table for both indexes."""
    from xqg_pyserini.evaluate.measures import score_run
    from xqg_pyserini.io.qrels import read_qrels

    out = tmp_path / "demo"
    run_demo(out, encoder=str(e5_small), alpha=0.01, pooling="mean", l2_norm=True, query_prefix="query:",
             passage_prefix="passage:")
    qrels = read_qrels(out / "data" / "qrels.txt")
    plain = score_run("plain", read_run(out / "runs" / "plain.trec"), qrels, ["MRR@10"]).mean["MRR@10"]
    augmented = score_run("xqg", read_run(out / "runs" / "xqg-alpha0.01.trec"), qrels, ["MRR@10"]).mean["MRR@10"]
    assert plain > 0.8  # a random encoder scores about 0.1 on 48 passages
    assert abs(augmented - plain) < 0.1  # alpha = 0.01 nudges, it does not replace, the passage vectors
    assert f"| plain         | {plain:.4f} |" in capsys.readouterr().out
