import numpy as np
import pytest

from xqg_pyserini.encode.base import ENCODERS, create_encoder, preset_for
from xqg_pyserini.encode.hf import HFEncoder
from xqg_pyserini.errors import InputError

TEXTS = ["Où se trouve la tour Eiffel ?", "短い", "A much longer English sentence about volcanoes and lava flows.",
         "¿Quién compuso la sinfonía?", "x"]


def test_length_sorted_batches_equal_one_by_one(tiny_xlmr):
    enc = HFEncoder(str(tiny_xlmr), pooling="mean", l2_norm=True, batch_size=2)
    batched = enc.encode_passages(TEXTS)
    single = np.vstack([enc.encode_passages([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, rtol=1e-5)


def test_matches_pyserini_auto_query_encoder(tiny_xlmr):
    """Same prefix convention, pooling and norm as `--encoder-class auto` in Pyserini's CLI."""
    from xqg_pyserini.java import ensure_jvm

    ensure_jvm()
    from pyserini.encode import AutoQueryEncoder

    ours = HFEncoder(str(tiny_xlmr), pooling="mean", l2_norm=True, query_prefix="query:")
    theirs = AutoQueryEncoder(str(tiny_xlmr), pooling="mean", l2_norm=True, prefix="query:")
    for text in TEXTS:
        np.testing.assert_allclose(ours.encode_queries([text])[0], theirs.encode(text), atol=1e-5)


def test_dpr_style_cls_without_norm_by_flags(tiny_bert):
    enc = create_encoder(str(tiny_bert), pooling="cls", l2_norm=False, max_length=32, batch_size=4)
    assert enc.config()["pooling"] == "cls" and enc.max_length == 32
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(tiny_bert), AutoModel.from_pretrained(tiny_bert)
    with torch.inference_mode():
        cls = model(**tok(["title text body"], return_tensors="pt")).last_hidden_state[0, 0].numpy()
    np.testing.assert_allclose(enc.encode_passages(["title text body"])[0], cls, atol=1e-5)
    assert abs(np.linalg.norm(cls) - 1) > 1e-3  # really unnormalized


def test_bfloat16_autocast_stays_close_to_float32_and_is_recorded(tiny_xlmr):
    exact = HFEncoder(str(tiny_xlmr), pooling="mean", l2_norm=True)
    mixed = HFEncoder(str(tiny_xlmr), pooling="mean", l2_norm=True, autocast="bfloat16")
    a, b = exact.encode_passages(TEXTS), mixed.encode_passages(TEXTS)
    assert b.dtype == np.float32 and not np.array_equal(a, b)  # really run in bfloat16
    assert (a * b).sum(axis=1).min() > 0.99
    assert mixed.config()["autocast"] == "bfloat16" and "autocast" not in exact.config()
    from xqg_pyserini.encode.base import encoder_differences

    assert encoder_differences(exact.config(), mixed.config(), sides_may_differ=False) == []  # same vector space


@pytest.mark.parametrize("flags, message", [
    (dict(autocast="float16"), "--autocast float16 needs a CUDA device"),
    (dict(autocast="bfloat16", backend="onnx"), "--autocast runs with --backend torch"),
    (dict(autocast="bfloat16", dtype="bfloat16"), "--autocast keeps float32 weights"),
    (dict(autocast="int8"), "--autocast must be one of bfloat16, float16"),
])
def test_bad_autocast(tiny_bert, flags, message):
    with pytest.raises(InputError, match=message):
        HFEncoder(str(tiny_bert), **flags)


def test_presets_and_flag_overrides():
    assert preset_for("e5-small")["query_prefix"] == "query:"
    assert preset_for("intfloat/multilingual-e5-small")["pooling"] == "mean"
    assert preset_for("some/other-model") == {}


def test_bad_options(tiny_bert):
    with pytest.raises(InputError, match="--fp16 needs a CUDA device"):
        HFEncoder(str(tiny_bert), fp16=True)
    with pytest.raises(InputError, match="--pooling"):
        HFEncoder(str(tiny_bert), pooling="max")
    with pytest.raises(InputError, match="unknown encoder class 'nope'; known: auto, hf"):
        create_encoder(str(tiny_bert), "nope")


def test_third_party_encoders_plug_in_through_entry_points(monkeypatch):
    class Fake:
        name = "fake"

        def __init__(self, **options):
            self.options = options

    class EntryPoint:
        name = "fake"

        @staticmethod
        def load():
            return Fake

    import xqg_pyserini.registry as registry

    monkeypatch.setattr(registry, "entry_points",
                        lambda group: [EntryPoint] if group == "xqg_pyserini.encoders" else [])
    assert "fake" in ENCODERS.names()
    made = create_encoder("some-model", "fake", pooling="mean")
    assert isinstance(made, Fake) and made.options == {"model": "some-model", "pooling": "mean"}


def test_encoder_differences_let_only_the_sides_differ():
    from xqg_pyserini.encode.base import ENCODER_KEYS, SIDE_KEYS, VECTOR_KEYS, encoder_differences

    passages = {"encoder": "e5-small", "path": "/m", "pooling": "mean", "l2_norm": True, "query_prefix": "query:",
                "passage_prefix": "passage:", "max_length": 512, "dtype": "float32", "dim": 384, "batch": 8}
    queries = {**passages, "query_prefix": "q:", "max_length": 64, "batch": 64}
    assert encoder_differences(passages, queries, sides_may_differ=True) == []
    assert encoder_differences(passages, queries, sides_may_differ=False) == ["query_prefix", "max_length"]
    other = {**queries, "dim": 768, "pooling": "cls"}
    assert encoder_differences(passages, other, sides_may_differ=True) == ["pooling", "dim"]
    assert encoder_differences(passages, {}, sides_may_differ=True) == list(VECTOR_KEYS)  # missing counts as None
    assert set(ENCODER_KEYS) == set(VECTOR_KEYS) | set(SIDE_KEYS) and not set(VECTOR_KEYS) & set(SIDE_KEYS)
