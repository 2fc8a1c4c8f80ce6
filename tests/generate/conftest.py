"""Fixtures for the generation tests."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Every generation test module runs its tiny models on one thread (tests/conftest.py)."""
    yield
