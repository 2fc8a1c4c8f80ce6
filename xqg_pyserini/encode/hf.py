"""Hugging Face transformer encoders with Pyserini's conventions (pooling, L2 norm, prefixes)."""

from __future__ import annotations

from typing import Any, Sequence

import argparse

import numpy as np

from xqg_pyserini.encode.base import DTYPES
from xqg_pyserini.errors import InputError
from xqg_pyserini.options import Option



class HFEncoder:
    """A transformers ``AutoModel`` used as a bi-encoder.

    ``prefix`` handling follows Pyserini's ``AutoQueryEncoder``: the text becomes
    ``f"{prefix} {text}"``. Batches are sorted by token length so padding stays small.
    """

    @classmethod
    def options(cls) -> list[Option]:
        """Pyserini's flag names. The four ``from_record`` ones shape the vector space, so a search
        without ``--encoder`` takes them from the index's recorded encoder."""
        return [
            Option("--tokenizer", help="tokenizer name or dir if not the encoder's"),
            Option("--pooling", choices=("cls", "mean"), from_record=True),
            Option("--l2-norm", action=argparse.BooleanOptionalAction, from_record=True),
            Option("--query-prefix", help='e.g. "query:" (joined to the text with a space)', from_record=True),
            Option("--passage-prefix", help='e.g. "passage:"', from_record=True),
            Option("--max-length", type=int, help="tokens per text (default: the model's)"),
            Option("--batch-size", type=int),
            Option("--device", help="cpu, cuda, cuda:1, ..."),
            Option("--fp16", action="store_true", help="half precision (CUDA)"),
            Option("--dtype", choices=DTYPES),
        ]

    def __init__(self, model: str, pooling: str = "cls", l2_norm: bool = False,
                 query_prefix: str | None = None, passage_prefix: str | None = None,
                 max_length: int | None = None, batch_size: int = 32, device: str = "cpu",
                 dtype: str = "float32", fp16: bool = False, tokenizer: str | None = None):
        import torch
        from transformers import AutoModel, AutoTokenizer

        from xqg_pyserini.encode.models import resolve

        if pooling not in ("cls", "mean"):
            raise InputError(f"--pooling must be cls or mean, not {pooling!r}")
        if fp16:
            dtype = "float16"
        if dtype not in DTYPES:
            raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
        if dtype == "float16" and not str(device).startswith("cuda"):
            raise InputError("--fp16 needs a CUDA device (--device cuda)")
        self.model_name = model
        self.path = resolve(model)
        self.pooling = pooling
        self.l2_norm = bool(l2_norm)
        self.query_prefix = query_prefix or None
        self.passage_prefix = passage_prefix or None
        self.batch_size = int(batch_size)
        self.device = device
        self.dtype = dtype
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer or self.path)
        self.model = AutoModel.from_pretrained(self.path, dtype=getattr(torch, dtype)).to(device).eval()
        model_max = getattr(self.tokenizer, "model_max_length", None) or 512
        if model_max > 100_000:  # tokenizers without a limit report a huge sentinel
            model_max = getattr(self.model.config, "max_position_embeddings", 512)
        self.max_length = int(max_length) if max_length else int(model_max)
        self.dim = int(self.model.config.hidden_size)

    def config(self) -> dict[str, Any]:
        return {
            "encoder_class": "hf", "encoder": self.model_name, "path": str(self.path),
            "pooling": self.pooling, "l2_norm": self.l2_norm, "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix, "max_length": self.max_length, "dtype": self.dtype,
            "dim": self.dim,
        }

    def encode_queries(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.query_prefix, progress, "queries")

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prefix, progress, "passages")

    def _encode(self, texts: Sequence[str], prefix: str | None, progress: bool, what: str) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        if prefix:
            texts = [f"{prefix} {text}" for text in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        token_ids = self.tokenizer(list(texts), add_special_tokens=True, truncation=True,
                                   max_length=self.max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(token_ids[i]))
        bar = tqdm(total=len(texts), desc=f"encode {what}", unit="text", disable=not progress)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                batch = self.tokenizer.pad({"input_ids": [token_ids[i] for i in rows]}, return_tensors="pt")
                batch = {key: value.to(self.device) for key, value in batch.items()}
                hidden = self.model(**batch).last_hidden_state.float()
                if self.pooling == "mean":
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
                else:
                    pooled = hidden[:, 0]
                if self.l2_norm:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
                out[rows] = pooled.cpu().numpy()
                bar.update(len(rows))
        bar.close()
        return out
