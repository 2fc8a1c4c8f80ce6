"""`xqg index --passages` on what Pyserini users already have: pyserini.encode's FAISS dirs and JSONL vectors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import demo_subset
from xqg_pyserini.cli import main
from xqg_pyserini.errors import InputError
from xqg_pyserini.index.build import read_index_vectors
from xqg_pyserini.index.passages import passage_format, read_passages
from xqg_pyserini.io.embeddings import read_store, write_store

DIM = 32  # the tiny XLM-R's hidden size


def pyserini_encode(corpus, output, model, to_faiss: bool) -> None:
    """``python -m pyserini.encode`` as a user runs it (mean pooling, L2 norm, like our flags below)."""
    command = [sys.executable, "-m", "pyserini.encode", "input", "--corpus", str(corpus), "--fields", "text",
               "output", "--embeddings", str(output), *(["--to-faiss"] if to_faiss else []),
               "encoder", "--encoder", str(model), "--encoder-class", "auto", "--fields", "text",
               "--pooling", "mean", "--l2-norm", "--dimension", str(DIM), "--max-length", "128", "--batch-size", "8", "--device", "cpu"]
    from xqg_pyserini.java import find_java

    java = find_java().home  # pyserini starts a JVM at import: it needs JAVA_HOME on a Java >= 21
    env = {**os.environ, "JAVA_HOME": str(java), "PATH": f"{java / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, tiny_xlmr):
    tmp = tmp_path_factory.mktemp("pyserini-passages")
    data = demo_subset(tmp, passages=8)
    corpus = tmp / "corpus-text.jsonl"  # Pyserini's --fields text reads "contents"; titles are ours alone
    rows = [json.loads(line) for line in data["corpus"].read_text("utf-8").splitlines()]
    corpus.write_text("".join(json.dumps({"id": r["id"], "contents": r["contents"]}) + "\n" for r in rows), "utf-8")
    pyserini_encode(corpus, tmp / "faiss", tiny_xlmr, to_faiss=True)
    pyserini_encode(corpus, tmp / "jsonl", tiny_xlmr, to_faiss=False)
    flags = ["--encoder", str(tiny_xlmr), "--pooling", "mean", "--l2-norm"]
    for kind, source in (("passage", corpus), ("generated", data["generated"])):
        assert main(["encode", "--input", str(source), "--kind", kind, "--output", str(tmp / kind),
                     "--passage-template", "{contents}", *flags]) == 0
    return tmp


def test_formats_are_recognised_and_read_alike(encoded):
    tmp = encoded
    assert [passage_format(tmp / p) for p in ("passage", "faiss", "jsonl", "jsonl/embeddings.jsonl")] == [
        "xqg-store", "pyserini-faiss", "pyserini-jsonl", "pyserini-jsonl"]
    faiss_store, jsonl_store, ours = read_passages(tmp / "faiss"), read_passages(tmp / "jsonl"), read_store(
        tmp / "passage")
    assert faiss_store.ids == jsonl_store.ids and sorted(faiss_store.ids) == sorted(ours.ids)
    np.testing.assert_allclose(faiss_store.vectors, jsonl_store.vectors, atol=1e-6)
    assert faiss_store.meta["encoder_recorded"] is False and faiss_store.meta["format"] == "pyserini-faiss"
    # The same model and flags: Pyserini's vectors are ours (one encoder, two tools).
    order = [ours.ids.index(i) for i in faiss_store.ids]
    cosines = (faiss_store.vectors * np.asarray(ours.vectors)[order]).sum(axis=1)
    assert cosines.min() > 0.9999


def test_index_augments_a_pyserini_faiss_dir_without_re_encoding(encoded, capsys):
    tmp = encoded
    faiss_store = read_passages(tmp / "faiss")
    write_store(tmp / "as-store", faiss_store.ids, faiss_store.vectors,
                {"kind": "passage", "encoder": read_store(tmp / "passage").meta["encoder"]})
    common = ["--generated", str(tmp / "generated"), "--alpha", "0.1", "--fusion", "mean"]
    assert main(["index", "--passages", str(tmp / "faiss"), "--output", str(tmp / "idx-faiss"), *common]) == 0
    assert "does not record its encoder" in capsys.readouterr().err
    assert main(["index", "--passages", str(tmp / "jsonl"), "--output", str(tmp / "idx-jsonl"), *common]) == 0
    assert main(["index", "--passages", str(tmp / "as-store"), "--output", str(tmp / "idx-store"), *common]) == 0
    ids, from_faiss = read_index_vectors(tmp / "idx-faiss")
    assert (ids, from_faiss.tobytes()) == (lambda r: (r[0], r[1].tobytes()))(read_index_vectors(tmp / "idx-store"))
    np.testing.assert_allclose(read_index_vectors(tmp / "idx-jsonl")[1], from_faiss, atol=1e-6)
    record = json.loads((tmp / "idx-faiss" / "xqg.json").read_text("utf-8"))
    assert record["passages"]["format"] == "pyserini-faiss" and record["passages"]["encoder_recorded"] is False
    assert record["encoder"] == read_store(tmp / "generated").meta["encoder"]  # the generated side's, recorded
    assert record["passages_augmented"] > 0


def test_recorded_encoders_are_still_checked(encoded, tmp_path, capsys):
    tmp = encoded
    assert main(["index", "--passages", str(tmp / "passage"), "--output", str(tmp_path / "plain")]) == 0
    record_path = tmp_path / "plain" / "xqg.json"
    record = json.loads(record_path.read_text("utf-8"))
    assert read_passages(tmp_path / "plain").meta["encoder_recorded"] is True
    record["encoder"]["pooling"] = "cls"  # as if the plain index had been encoded otherwise
    record_path.write_text(json.dumps(record), "utf-8")
    assert main(["index", "--passages", str(tmp_path / "plain"), "--output", str(tmp_path / "x"),
                 "--generated", str(tmp / "generated")]) == 2
    assert "encoded differently (pooling)" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["index", "--passages", str(tmp / "passage"), "--output", str(tmp_path / "aug"), "--generated",
                 str(tmp / "generated"), "--alpha", "0.1"]) == 0
    with pytest.raises(InputError, match="already augmented"):
        read_passages(tmp_path / "aug")


def test_bad_pyserini_inputs_are_named(encoded, tmp_path, capsys):
    import faiss

    bad = tmp_path / "bad"
    bad.mkdir()
    good = (encoded / "jsonl" / "embeddings.jsonl").read_text("utf-8").splitlines()
    (bad / "embeddings.jsonl").write_text("\n".join([good[0], '{"id": "x", "vector": [1, 2]}']) + "\n", "utf-8")
    assert main(["index", "--passages", str(bad), "--output", str(tmp_path / "out")]) == 2
    assert "embeddings.jsonl:2" in capsys.readouterr().err and not (tmp_path / "out").exists()
    (bad / "embeddings.jsonl").write_text(good[0] + "\n" + good[0] + "\n", "utf-8")
    with pytest.raises(InputError, match="a docid appears twice"):
        read_passages(bad)
    ivf = tmp_path / "ivf"
    ivf.mkdir()
    vectors = read_passages(encoded / "faiss").vectors
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, 2, faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.add(vectors)
    faiss.write_index(index, str(ivf / "index"))
    (ivf / "docid").write_text("\n".join(read_passages(encoded / "faiss").ids) + "\n", "utf-8")
    with pytest.raises(InputError, match="IndexIVFFlat does not keep its vectors exactly"):
        read_passages(ivf)
