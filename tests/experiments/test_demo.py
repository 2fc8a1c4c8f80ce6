import json

from xqg_pyserini.experiments.demo import run_demo
from xqg_pyserini.io.runs import read_run


def test_demo_runs_every_stage_and_leaves_its_files(tmp_path, tiny_xlmr, capsys):
    out = tmp_path / "demo"
    text = run_demo(out, encoder=str(tiny_xlmr), alpha=0.05, pooling="mean", l2_norm=True, batch_size=64)
    printed = capsys.readouterr().out
    assert "| plain" in printed and "| xqg-alpha0.05" in printed and "MRR@10 per query language" in printed
    assert (out / "results.md").read_text(encoding="utf-8") == text
    for name in ("data/corpus.jsonl", "emb/passages/embeddings.npy", "emb/generated/ids.tsv",
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
