"""Fixtures for the generation tests."""

import pytest

from helpers import demo_texts
from tiny_models import build_random_mt5


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core box they spin and crawl."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_mt5(tmp_path_factory):
    """A random tiny mT5 with a sentencepiece tokenizer trained on the demo passages and questions."""
    return build_random_mt5(tmp_path_factory.mktemp("tiny-mt5"), demo_texts())
