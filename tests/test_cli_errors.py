"""Every bad input: a message naming the file and line or docid, exit status 2, nothing partial."""

import json

import numpy as np
import pytest

from helpers import demo_subset, run_cli as run, write_jsonl, xqg_generate
from xqg_pyserini.cli import main
from xqg_pyserini.io.embeddings import write_store


@pytest.fixture
def data(tmp_path):
    return demo_subset(tmp_path, passages=3)


def encode(kind, source, out, model):
    return [str(a) for a in ("encode", "--kind", kind, "--input", source, "--output", out, "--encoder", model,
                             "--pooling", "mean")]


@pytest.mark.parametrize("rows, needle", [
    (['{"id": "a", "contents": "x"}', '{"id": "b", "contents": "y"'], "corpus.jsonl:2: malformed JSON"),
    ([{"id": "a", "contents": "x"}, {"id": "b", "text": "y"}], "corpus.jsonl:2: missing field 'contents'"),
    ([{"id": "a", "contents": "x"}, {"id": "a", "contents": "y"}], "corpus.jsonl:2: duplicate docid 'a'"),
    ([{"id": "a", "contents": ""}], "corpus.jsonl:1: field 'contents' is empty"),
])
def test_bad_corpus(tmp_path, capsys, tiny_bert, rows, needle):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", rows)
    status, err = run(encode("passage", corpus, tmp_path / "out", tiny_bert), capsys)
    assert status == 2 and needle in err
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.partial").exists()


def test_generated_docids_not_in_corpus(tmp_path, capsys, data, tiny_bert):
    rows = [json.loads(l) for l in data["generated"].read_text("utf-8").splitlines()]
    rows.append({"docid": "ghost-7", "generated_queries": {"de": ["wo ist das?"]}})
    write_jsonl(data["generated"], rows)
    assert main(encode("passage", data["corpus"], tmp_path / "p", tiny_bert)) == 0
    assert main(encode("generated", data["generated"], tmp_path / "g", tiny_bert)) == 0
    status, err = run(["index", "--passages", tmp_path / "p", "--generated", tmp_path / "g",
                       "--output", tmp_path / "idx"], capsys)
    assert status == 2 and "(docid ghost-7): generated queries name a docid that is not among the passages" in err
    assert "ids.tsv" in err and not (tmp_path / "idx").exists()


def test_dim_mismatch_and_nan_vectors(tmp_path, capsys):
    write_store(tmp_path / "p", ["d1", "d2"], np.ones((2, 4)), {"kind": "passage", "encoder": {"encoder": "m"}})
    write_store(tmp_path / "g", ["d1\tde\t0"], np.ones((1, 3)), {"kind": "generated", "encoder": {"encoder": "m"}})
    status, err = run(["index", "--passages", tmp_path / "p", "--generated", tmp_path / "g",
                       "--output", tmp_path / "idx"], capsys)
    assert status == 2 and "generated vectors have dim 3, passages 4" in err
    broken = np.load(tmp_path / "p" / "embeddings.npy")
    broken[1, 0] = np.nan
    np.save(tmp_path / "p" / "embeddings.npy", broken)
    status, err = run(["index", "--passages", tmp_path / "p", "--output", tmp_path / "idx"], capsys)
    assert status == 2 and "(docid d2): 1 vector(s) contain NaN or inf" in err
    assert not (tmp_path / "idx").exists()


def test_topics_absent_from_qrels(tmp_path, capsys, data):
    run_file = tmp_path / "r.trec"
    run_file.write_text("zz-999-1 Q0 demo-001 1 1.0 t\nde-001-1 Q0 demo-001 1 1.0 t\n")
    status, err = run(["eval", "--qrels", data["qrels"], "--runs", run_file], capsys)
    assert status == 2 and "1 of 2 queries are absent from the qrels (first: 'zz-999-1')" in err


def test_search_with_wrong_encoder_dim(tmp_path, capsys, data, tiny_bert, tiny_xlmr):
    write_store(tmp_path / "p", ["d1"], np.ones((1, 7)), {"kind": "passage", "encoder": {"encoder": "m"}})
    assert main(["index", "--passages", str(tmp_path / "p"), "--output", str(tmp_path / "idx")]) == 0
    status, err = run(["search", "--index", tmp_path / "idx", "--topics", data["topics"], "--encoder", tiny_bert,
                       "--output", tmp_path / "r.trec"], capsys)
    assert status == 2 and "index has dim 7 but the queries have 32" in err
    assert not (tmp_path / "r.trec").exists()


def test_damaged_index_record_is_named(tmp_path, capsys, data):
    write_store(tmp_path / "p", ["d1"], np.ones((1, 7)), {"kind": "passage", "encoder": {"encoder": "m"}})
    assert main(["index", "--passages", str(tmp_path / "p"), "--output", str(tmp_path / "idx")]) == 0
    (tmp_path / "idx" / "xqg.json").write_text('{"kind": "xqg-faiss-index",\n "encoder": ', "utf-8")
    status, err = run(["search", "--index", tmp_path / "idx", "--topics", data["topics"],
                       "--output", tmp_path / "r.trec"], capsys)
    assert status == 2 and "xqg.json:2: malformed JSON" in err and not (tmp_path / "r.trec").exists()


def test_unknown_metric_and_language(tmp_path, capsys, data):
    status, err = run(["eval", "--qrels", data["qrels"], "--runs", data["qrels"], "--metrics", "Bogus@3"], capsys)
    assert status == 2 and "unknown metric 'Bogus@3'" in err
    write_store(tmp_path / "p", ["d1"], np.ones((1, 2)), {"kind": "passage", "encoder": {"encoder": "m"}})
    write_store(tmp_path / "g", ["d1\tde\t0"], np.ones((1, 2)), {"kind": "generated", "encoder": {"encoder": "m"}})
    status, err = run(["index", "--passages", tmp_path / "p", "--generated", tmp_path / "g", "--langs", "ja",
                       "--output", tmp_path / "idx"], capsys)
    assert status == 2 and "no generated queries in language(s) ja; available: de" in err


@pytest.mark.parametrize("argv, needle", [
    (["--encoder-class", "nope"], "unknown encoder class 'nope'; known: auto, hf"),
    (["--fp16", "--device", "cpu"], "--fp16 needs a CUDA device (--device cuda)"),
])
def test_bad_encoder_flags(tmp_path, capsys, data, tiny_bert, argv, needle):
    status, err = run([*encode("passage", data["corpus"], tmp_path / "out", tiny_bert), *argv], capsys)
    assert status == 2 and needle in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--prompt-template", "missing.txt"], "--prompt-template: cannot read the file"),
    (["--generator", "openai"], "openai needs --model"),
    (["--generator", "openai", "--model", "m", "--base-url", "localhost:8000"], "--base-url: the base URL must look"),
    (["--generator", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--concurrency", "0"],
     "--concurrency must be >= 1"),
    (["--generator", "hf-mt", "--model", "x", "--source-lang", "xx"], "--source-lang: unknown source language 'xx'"),
    (["--generator", "hf-mt", "--model", "x", "--model-lang-codes", "ja"], "--model-lang-codes must look like"),
    (["--generator", "hf-mt", "--model", "x", "--num-beams", "0"], "--num-beams must be at least 1, not 0"),
])
def test_bad_generator_flags(tmp_path, capsys, data, argv, needle):
    status = xqg_generate(data["corpus"], tmp_path / "out", "--langs", "ar", *argv)
    assert status == 2 and needle in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_bad_folds_for_the_data(tmp_path, capsys, data_dir):
    status, err = run(["data", "mlqa", "--source", data_dir / "mlqa-r", "--output", tmp_path / "out",
                       "--folds", "100000"], capsys)
    assert status == 2 and "--folds: 1148 questions cannot fill 100000 folds" in err
    assert not (tmp_path / "out").exists()


def test_a_bug_is_not_reported_as_bad_input(monkeypatch):
    from xqg_pyserini.encode import models

    def broken(name):
        raise KeyError("a bug, not the user's fault")

    monkeypatch.setattr(models, "resolve", broken)
    with pytest.raises(KeyError, match="a bug"):
        main(["models", "path", "e5-small"])


@pytest.mark.parametrize("argv, needle", [
    (["eval", "--runs", "r.trec", "--permutations", "0"], "argument --permutations: must be at least 1, not 0"),
    (["fuse", "--runs", "a.trec", "b.trec", "--weights", "0.7 lots", "--output", "f.trec"],
     "argument --weights: not a number: 'lots'"),
])
def test_bad_numbers_are_refused_by_the_parser(capsys, argv, needle):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and needle in capsys.readouterr().err
