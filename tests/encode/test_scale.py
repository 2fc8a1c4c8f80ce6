"""xqg encode at scale: shards, streaming, float16 stores, one process per output, checks before the model,
up-to-date without the model, Tevatron pickles, the ONNX Runtime backend."""

import fcntl
import pickle

import numpy as np
import pytest

from helpers import demo_subset
from xqg_pyserini.cli import main
from xqg_pyserini.encode.hf import HFEncoder
from xqg_pyserini.encode.run import encode_to_store, shard_rows
from xqg_pyserini.io.embeddings import read_store


def _encode(kind, source, out, model, *extra):
    return main([str(a) for a in ("encode", "--kind", kind, "--input", source, "--output", out, "--encoder", model,
                                  "--pooling", "mean", *extra)])


@pytest.fixture
def encoder(tiny_bert):
    return HFEncoder(str(tiny_bert), pooling="mean", l2_norm=True, batch_size=8)


def test_shards_split_at_chunks_and_read_as_the_one_store(tmp_path, encoder):
    data = demo_subset(tmp_path, passages=4)
    whole = encode_to_store(data["generated"], "generated", encoder, tmp_path / "one", chunk_size=10,
                            progress=False).store()
    for index in range(3):
        result = encode_to_store(data["generated"], "generated", encoder, tmp_path / "three", chunk_size=10,
                                 progress=False, shard=(index, 3))
        assert result.rows == len(shard_rows(whole.count, 10, (index, 3)))
    three = read_store(tmp_path / "three", kind="generated")
    assert three.ids == whole.ids and three.generated_keys() == whole.generated_keys()
    assert three.read_vectors(0, three.count).tobytes() == whole.read_vectors(0, whole.count).tobytes()
    assert sorted(p.name for p in (tmp_path / "three").iterdir() if p.name.startswith("meta")) == \
        ["meta-0-of-3.json", "meta-1-of-3.json", "meta-2-of-3.json"]
    assert not list(tmp_path.glob(".three*"))  # no partial dirs or locks left


def test_float16_store_by_flag_fuses_upcast(tmp_path, capsys, tiny_bert):
    data = demo_subset(tmp_path, passages=3)
    assert _encode("passage", data["corpus"], tmp_path / "p", tiny_bert, "--store-dtype", "float16") == 0
    assert _encode("generated", data["generated"], tmp_path / "g", tiny_bert, "--store-dtype", "float16") == 0
    assert read_store(tmp_path / "p").dtype == np.float16
    assert main(["index", "--passages", str(tmp_path / "p"), "--generated", str(tmp_path / "g"),
                 "--output", str(tmp_path / "idx")]) == 0
    from xqg_pyserini.index.build import read_index_vectors

    assert read_index_vectors(tmp_path / "idx")[1].dtype == np.float32


def test_a_second_process_on_the_same_output_stops_at_once(tmp_path, capsys, tiny_bert):
    data = demo_subset(tmp_path, passages=2)
    with open(tmp_path / ".p.lock", "w") as held:  # another process holding the output
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        status = _encode("passage", data["corpus"], tmp_path / "p", tiny_bert)
    err = capsys.readouterr().err
    assert status == 2 and "another process is encoding into this output" in err and ".p.lock" in err
    assert not (tmp_path / "p").exists() and not (tmp_path / ".p.partial").exists()


@pytest.mark.parametrize("broken, needle", [
    ("missing", "file not found"),
    ("duplicate", "duplicate docid 'demo-001' (first on line 1)"),
])
def test_inputs_are_checked_before_the_model_loads(tmp_path, capsys, monkeypatch, tiny_bert, broken, needle):
    import transformers

    data = demo_subset(tmp_path, passages=2)
    if broken == "duplicate":
        rows = data["corpus"].read_text(encoding="utf-8").splitlines()
        data["corpus"].write_text("\n".join([rows[0], rows[0]]) + "\n", encoding="utf-8")
    source = tmp_path / "nope.jsonl" if broken == "missing" else data["corpus"]
    monkeypatch.setattr(transformers.AutoModel, "from_pretrained",
                        lambda *a, **k: pytest.fail("the model was loaded before the input was checked"))
    status = _encode("passage", source, tmp_path / "p", tiny_bert)
    assert status == 2 and needle in capsys.readouterr().err
    assert not (tmp_path / "p").exists() and not list(tmp_path.glob(".p.*"))


def test_an_up_to_date_store_says_so_without_loading_the_model(tmp_path, capsys, monkeypatch, tiny_bert):
    import transformers

    data = demo_subset(tmp_path, passages=2)
    assert _encode("passage", data["corpus"], tmp_path / "p", tiny_bert) == 0
    assert "up to date" not in capsys.readouterr().out
    before = (tmp_path / "p" / "embeddings.npy").stat().st_mtime_ns
    monkeypatch.setattr(transformers.AutoModel, "from_pretrained",
                        lambda *a, **k: pytest.fail("the model was loaded for an up-to-date store"))
    assert _encode("passage", data["corpus"], tmp_path / "p", tiny_bert) == 0
    assert capsys.readouterr().out.startswith("up to date: 2 passage vectors")
    assert (tmp_path / "p" / "embeddings.npy").stat().st_mtime_ns == before


def test_lazy_config_equals_the_loaded_models(tiny_bert, tiny_xlmr):
    from transformers import AutoModel, AutoTokenizer

    for path in (tiny_bert, tiny_xlmr):
        encoder = HFEncoder(str(path))
        config = encoder.config()
        model_max = AutoTokenizer.from_pretrained(path).model_max_length
        model = AutoModel.from_pretrained(path)
        expected = model_max if model_max <= 100_000 else model.config.max_position_embeddings
        assert (config["dim"], config["max_length"]) == (model.config.hidden_size, expected)
        assert encoder._model is None  # config() did not load it


def test_tevatron_round_trip_and_the_official_fusion_on_exported_files(tmp_path, capsys, tiny_bert):
    data = demo_subset(tmp_path, passages=3)
    assert _encode("passage", data["corpus"], tmp_path / "p", tiny_bert) == 0
    assert _encode("generated", data["generated"], tmp_path / "g", tiny_bert) == 0
    for store, out in (("p", "p.pkl"), ("g", "gq")):
        kind = "passage" if store == "p" else "generated"
        assert main(["encode", "--kind", kind, "--input", str(tmp_path / store), "--output-format", "tevatron",
                     "--output", str(tmp_path / out)]) == 0
    embeds, dids = pickle.load(open(tmp_path / "p.pkl", "rb"))
    slots = sorted((tmp_path / "gq").glob("gq.*.*.pkl"))
    assert len(slots) == 6 * 3 and dids == read_store(tmp_path / "p").ids
    # fuse_embeds.py of ielab/xQG4xDR on our exported files: the same vectors up to float32 summation order.
    total = np.zeros_like(embeds)
    for slot in slots:
        vectors, ids = pickle.load(open(slot, "rb"))
        assert ids == dids
        total += vectors
    official = (1 - 0.01) * embeds + 0.01 * total
    assert main(["index", "--passages", str(tmp_path / "p"), "--generated", str(tmp_path / "g"),
                 "--output", str(tmp_path / "idx")]) == 0
    from xqg_pyserini.index.build import read_index_vectors

    np.testing.assert_allclose(read_index_vectors(tmp_path / "idx")[1], official, atol=1e-6)
    # ... and back: the pickles imported give the stores' vectors and keys.
    assert main(["encode", "--kind", "generated", "--input-format", "tevatron", "--input",
                 str(tmp_path / "gq" / "*.pkl"), "--output", str(tmp_path / "g2")]) == 0
    original, imported = read_store(tmp_path / "g"), read_store(tmp_path / "g2")
    assert sorted(original.generated_keys()) == sorted(imported.generated_keys())
    assert imported.generated_keys()[0][0] == "demo-001" and imported.meta["imported_from"]["format"] == "tevatron"
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    status = main(["encode", "--kind", "passage", "--input-format", "tevatron", "--input", str(tmp_path / "bad.pkl"),
                   "--output", str(tmp_path / "bad")])
    assert status == 2 and "not a Tevatron pickle" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_onnx_backend_equals_the_torch_path(tmp_path, monkeypatch, tiny_bert):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    monkeypatch.setenv("XQG_CACHE", str(tmp_path / "cache"))
    texts = ["Where is the Eiffel tower?", "short", "a much longer passage about volcanoes, lava and ash " * 3]
    torch_side = HFEncoder(str(tiny_bert), pooling="mean", l2_norm=True, batch_size=2)
    onnx_side = HFEncoder(str(tiny_bert), pooling="mean", l2_norm=True, batch_size=2, backend="onnx",
                          encode_threads=1)
    a, b = torch_side.encode_passages(texts), onnx_side.encode_passages(texts)
    assert (a * b).sum(axis=1).min() >= 0.9999
    assert onnx_side.config()["backend"] == "onnx" and "backend" not in torch_side.config()
    assert len(list((tmp_path / "cache" / "onnx").iterdir())) == 1  # exported once, reused
    again = HFEncoder(str(tiny_bert), pooling="mean", l2_norm=True, backend="onnx").encode_passages(texts[:1])
    np.testing.assert_allclose(again[0], b[0], atol=1e-6)
