import json

import numpy as np
import pytest

from helpers import demo_subset
from xqg_pyserini.encode.hf import HFEncoder
from xqg_pyserini.encode.run import encode_file


@pytest.fixture
def encoder(tiny_bert):
    return HFEncoder(str(tiny_bert), pooling="mean", l2_norm=True, batch_size=8)


def test_kinds_and_ids(tmp_path, encoder):
    data = demo_subset(tmp_path, passages=3)
    passages = encode_file(data["corpus"], "passage", encoder, tmp_path / "p", progress=False)
    generated = encode_file(data["generated"], "generated", encoder, tmp_path / "g", progress=False)
    queries = encode_file(data["topics"], "query", encoder, tmp_path / "q", progress=False)
    assert passages.ids == ["demo-001", "demo-002", "demo-003"]
    assert generated.generated_keys()[0] == ("demo-001", generated.generated_keys()[0][1], 0)
    assert len(generated.ids) == 3 * 6 * 3 and len(queries.ids) == 3 * 6 * 2
    assert passages.meta["encoder"]["pooling"] == "mean" and passages.meta["passage_template"]
    row = json.loads(data["corpus"].read_text(encoding="utf-8").splitlines()[0])
    first = encoder.encode_passages([f"{row['title']} {row['contents']}"])
    np.testing.assert_allclose(passages.vectors[0], first[0], atol=1e-5)


def test_up_to_date_store_is_reused(tmp_path, encoder, monkeypatch):
    data = demo_subset(tmp_path, passages=2)
    first = encode_file(data["corpus"], "passage", encoder, tmp_path / "p", progress=False)
    calls = []
    monkeypatch.setattr(encoder, "encode_passages", lambda texts: calls.append(texts))
    again = encode_file(data["corpus"], "passage", encoder, tmp_path / "p", progress=False)
    assert calls == []  # nothing re-encoded
    assert again.ids == first.ids and np.asarray(again.vectors).tobytes() == np.asarray(first.vectors).tobytes()


def test_killed_run_resumes_to_identical_vectors(tmp_path, encoder, monkeypatch):
    data = demo_subset(tmp_path, passages=4)
    whole = encode_file(data["generated"], "generated", encoder, tmp_path / "whole", chunk_size=10,
                        progress=False)
    calls = {"n": 0}
    real = encoder.encode_queries

    def dies_on_fourth_chunk(texts):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")
        return real(texts)

    monkeypatch.setattr(encoder, "encode_queries", dies_on_fourth_chunk)
    with pytest.raises(KeyboardInterrupt):
        encode_file(data["generated"], "generated", encoder, tmp_path / "resumed", chunk_size=10, progress=False)
    assert not (tmp_path / "resumed").exists()
    assert len(list((tmp_path / ".resumed.partial").glob("chunk-*.npy"))) == 3

    def counts_chunks(texts):
        calls["n"] += 1
        return real(texts)

    monkeypatch.setattr(encoder, "encode_queries", counts_chunks)
    calls["n"] = 0
    resumed = encode_file(data["generated"], "generated", encoder, tmp_path / "resumed", chunk_size=10,
                          progress=False)
    assert calls["n"] == -(-len(whole.ids) // 10) - 3  # only the missing chunks were encoded
    assert resumed.ids == whole.ids
    assert np.asarray(resumed.vectors).tobytes() == np.asarray(whole.vectors).tobytes()
    assert not (tmp_path / ".resumed.partial").exists()


def test_generated_passages_use_the_passage_encoder(tmp_path, tiny_xlmr):
    from helpers import write_jsonl

    enc = HFEncoder(str(tiny_xlmr), pooling="mean", l2_norm=True, query_prefix="query:", passage_prefix="passage:")
    path = write_jsonl(tmp_path / "pg.jsonl", [{"docid": "d1", "generated_passages": {"de": ["Ein Text über Vulkane."]}}])
    store = encode_file(path, "generated", enc, tmp_path / "pg", progress=False, generated_field="generated_passages")
    assert store.ids == ["d1\tde\t0"] and store.meta["generated_field"] == "generated_passages"
    np.testing.assert_allclose(store.vectors[0], enc.encode_passages(["Ein Text über Vulkane."])[0], atol=1e-6)
    assert not np.allclose(store.vectors[0], enc.encode_queries(["Ein Text über Vulkane."])[0], atol=1e-3)
