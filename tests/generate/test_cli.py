"""``xqg generate`` end to end: shards, merge, resume, the reader and encoder taking a shard set."""

import json

import pytest

from helpers import demo_subset, xqg_generate
from xqg_pyserini.cli import main
from xqg_pyserini.io.generated import generated_sha256, read_generated



@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_subset(tmp_path_factory.mktemp("demo"), passages=6)



def test_hf_qg_shards_merge_to_the_whole_run(tmp_path, demo, tiny_mt5):
    flags = ["--model", str(tiny_mt5), "--langs", "ar,ja", "--per-lang", "3", "--max-length", "10",
             "--batch-size", "4", "--device", "cpu"]
    assert xqg_generate(demo["corpus"], tmp_path / "whole", *flags) == 0
    for shard in ("0/2", "1/2"):
        assert xqg_generate(demo["corpus"], tmp_path / "parts", *flags, "--shard", shard) == 0
    assert main(["generate", "--merge", str(tmp_path / "parts"), "--output", str(tmp_path / "merged.jsonl")]) == 0

    whole = (tmp_path / "whole" / "shard-00000-of-00001.jsonl").read_bytes()
    assert (tmp_path / "merged.jsonl").read_bytes() == whole
    assert generated_sha256(tmp_path / "parts") == generated_sha256(tmp_path / "whole")
    texts = read_generated(tmp_path / "parts")  # a shard set reads like the merged file
    assert texts == read_generated(tmp_path / "merged.jsonl")
    assert {t.lang for t in texts} == {"ar", "ja"} and max(t.rank for t in texts) <= 2
    manifest = json.loads((tmp_path / "whole" / "manifest-0-of-1.json").read_text())
    assert manifest["status"] == "complete" and manifest["generator"]["model"] == str(tiny_mt5)
    assert manifest["counts"]["passages"] == 6 and manifest["langs"] == ["ar", "ja"]
    # A rerun of a finished shard does nothing and changes nothing.
    assert xqg_generate(demo["corpus"], tmp_path / "whole", *flags) == 0
    assert (tmp_path / "whole" / "shard-00000-of-00001.jsonl").read_bytes() == whole


def test_file_import_then_encode_the_shard_set(tmp_path, demo, tiny_bert):
    assert xqg_generate(demo["corpus"], tmp_path / "gen", "--generator", "file", "--model", str(demo["generated"]),
                    "--langs", "de,fr", "--per-lang", "1") == 0
    rows = [json.loads(line) for line in (tmp_path / "gen" / "shard-00000-of-00001.jsonl").read_text().splitlines()]
    source = {json.loads(line)["docid"]: json.loads(line)["generated_queries"]
              for line in demo["generated"].read_text("utf-8").splitlines()}
    for row in rows:
        for lang in ("de", "fr"):
            assert row["generated_queries"][lang] == source[row["docid"]].get(lang, [])[:1]
    assert main(["encode", "--input", str(tmp_path / "gen"), "--kind", "generated", "--encoder", str(tiny_bert),
                 "--pooling", "cls", "--output", str(tmp_path / "emb")]) == 0
    meta = json.loads((tmp_path / "emb" / "meta.json").read_text())
    assert meta["count"] == sum(len(v) for r in rows for v in r["generated_queries"].values())


@pytest.mark.parametrize("flags, needle", [
    (["--model", "x", "--langs", "ar,xx"], "unknown language code(s) xx; known: ar, bn"),
    (["--generator", "nope", "--langs", "ar"], "unknown generator 'nope'"),
    (["--generator", "file", "--langs", "ar"], "needs --model"),
    (["--generator", "file", "--model", "missing.jsonl", "--langs", "ar"], "missing.jsonl"),
    (["--generator", "file", "--model", "x", "--langs", "ar", "--shard", "2/2"], "need 0 <= I < N"),
])
def test_bad_input(tmp_path, demo, capsys, flags, needle):
    assert xqg_generate(demo["corpus"], tmp_path / "out", *flags) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("shard-*.jsonl"))


def test_model_without_generation_head(tmp_path, demo, tiny_bert, capsys):
    assert xqg_generate(demo["corpus"], tmp_path / "out", "--model", str(tiny_bert), "--langs", "ar") == 2
    assert "generation" in capsys.readouterr().err


def test_merge_refuses_an_incomplete_set(tmp_path, demo, capsys):
    assert xqg_generate(demo["corpus"], tmp_path / "parts", "--generator", "file", "--model", str(demo["generated"]),
                    "--langs", "de", "--shard", "0/2") == 0
    assert main(["generate", "--merge", str(tmp_path / "parts"), "--output", str(tmp_path / "m.jsonl")]) == 2
    assert "missing shards [1]" in capsys.readouterr().err
    assert not (tmp_path / "m.jsonl").exists()
