"""Hugging Face transformer encoders with Pyserini's conventions (pooling, L2 norm, prefixes)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

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
        preset = "default: the model's preset (e5-small: {}), else {}"
        return [
            Option("--tokenizer", help="tokenizer name or dir (default: the encoder's own)"),
            Option("--pooling", choices=("cls", "mean"), from_record=True,
                   help=f"how token vectors become one: the [CLS] token or the mean ({preset.format('mean', 'cls')})"),
            Option("--l2-norm", action=argparse.BooleanOptionalAction, from_record=True,
                   help=f"L2-normalize the vectors ({preset.format('on', 'off')})"),
            Option("--query-prefix", from_record=True,
                   help=f"text before each query, joined with a space ({preset.format('query:', 'none')})"),
            Option("--passage-prefix", from_record=True,
                   help=f"text before each passage, joined with a space ({preset.format('passage:', 'none')})"),
            Option("--max-length", type=int, help="tokens per text, longer ones are cut (default: the model's)"),
            Option("--batch-size", type=int, help="texts per forward pass (default: 32)"),
            Option("--device", help="cpu, cuda, cuda:1, ... (default: cpu)"),
            Option("--fp16", action="store_true", help="half precision (CUDA only)"),
            Option("--dtype", choices=DTYPES, help="dtype the model runs in (default: float32)"),
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
        if Path(self.path).is_dir() and not (Path(self.path) / "config.json").is_file():
            raise InputError("--encoder: not a transformers checkpoint (no config.json)", path=self.path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(resolve(tokenizer) if tokenizer else self.path)
            self.model = AutoModel.from_pretrained(self.path, dtype=getattr(torch, dtype)).to(device).eval()
        except OSError as err:  # no checkpoint there: transformers' own reason, without its traceback
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise InputError(f"--encoder {model}: cannot load a model from {self.path}: {reason}") from None
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
