"""The ``subword`` analyzer's tokenizer: texts -> space-joined multilingual subword tokens.

Documents and queries of a ``subword`` Lucene index (see :mod:`xqg_pyserini.index.sparse`)
are pre-tokenized here, the same way: lowercased first, sentencepiece's ``▁`` word-start marks
kept (or dropped, ``word_start="drop"``), tokens without a letter, digit or mark left out.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from xqg_pyserini.errors import InputError

DEFAULT_TOKENIZER = "e5-small"
WORD_START = "\u2581"  # sentencepiece's ▁


def _keep(token: str) -> bool:
    return any(unicodedata.category(c)[0] in "LNM" for c in token)


@dataclass(frozen=True)
class TokenizerSpec:
    """How texts are pre-tokenized for a ``subword`` index; recorded in ``xqg.json``."""

    name: str = DEFAULT_TOKENIZER
    lowercase: bool = True
    word_start: str = "keep"  # or "drop": strip sentencepiece's ▁ from word-initial pieces

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "lowercase": self.lowercase, "word_start": self.word_start,
                "drop": "tokens without a letter, digit or mark"}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "TokenizerSpec":
        return cls(name=record.get("name", DEFAULT_TOKENIZER), lowercase=bool(record.get("lowercase", True)),
                   word_start=record.get("word_start", "keep"))


class SubwordTokenizer:
    """Texts -> space-joined subword tokens, the same way for documents and queries."""

    def __init__(self, spec: TokenizerSpec = TokenizerSpec()):
        if spec.word_start not in ("drop", "keep"):
            raise InputError(f"word_start must be 'drop' or 'keep', not {spec.word_start!r}")
        from tokenizers import Tokenizer
        from transformers import AutoTokenizer

        from xqg_pyserini.encode.models import resolve

        self.spec = spec
        self.path = resolve(spec.name)
        try:
            loaded = AutoTokenizer.from_pretrained(self.path)
        except (OSError, ValueError) as err:
            raise InputError(f"cannot load tokenizer {spec.name!r} ({self.path}): {err}") from None
        backend = getattr(loaded, "backend_tokenizer", None)
        if backend is None:
            raise InputError(f"tokenizer {spec.name!r} has no fast (Rust) tokenizer; a tokenizer.json is needed")
        serialized = backend.to_str()
        self.sha256 = hashlib.sha256(serialized.encode("utf-8")).hexdigest()
        # A private copy with truncation and padding off: pre-tokenization must see the whole text.
        self._tokenizer = Tokenizer.from_str(serialized)
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def record(self) -> dict[str, Any]:
        return {**self.spec.to_dict(), "path": str(self.path), "sha256": self.sha256}

    def _clean(self, token: str) -> str:
        token = "".join(c for c in token if not c.isspace())  # Lucene splits on whitespace only
        if self.spec.word_start == "drop":
            token = token.replace(WORD_START, "")
        return token if _keep(token) else ""

    def tokenize(self, texts: Sequence[str], batch_size: int = 4096) -> list[str]:
        """Each text as its kept tokens joined by single spaces (possibly empty)."""
        out: list[str] = []
        for start in range(0, len(texts), batch_size):
            batch = [t.lower() if self.spec.lowercase else t for t in texts[start:start + batch_size]]
            for encoding in self._tokenizer.encode_batch(batch, add_special_tokens=False):
                out.append(" ".join(t for t in map(self._clean, encoding.tokens) if t))
        return out


@lru_cache(maxsize=4)
def subword_tokenizer(spec: TokenizerSpec = TokenizerSpec()) -> SubwordTokenizer:
    return SubwordTokenizer(spec)
