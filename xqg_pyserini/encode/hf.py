"""Hugging Face transformer encoders with Pyserini's conventions (pooling, L2 norm, prefixes)."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from xqg_pyserini.encode.base import DTYPES
from xqg_pyserini.errors import InputError
from xqg_pyserini.options import Option

BACKENDS = ("torch", "onnx")
AUTOCASTS = ("bfloat16", "float16")  # torch.autocast dtypes: float32 weights, matmuls in this dtype


def _checkpoint_sizes(path: str, tokenizer: str) -> tuple[int, int, int]:
    """``(tokenizer model_max_length, max_position_embeddings, hidden_size)`` without loading the model."""
    import json

    config_file, tokenizer_file = Path(path) / "config.json", Path(tokenizer) / "tokenizer_config.json"
    if config_file.is_file() and Path(tokenizer).is_dir():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        settings = json.loads(tokenizer_file.read_text(encoding="utf-8")) if tokenizer_file.is_file() else {}
        model_max = settings.get("model_max_length") or 10 ** 30
        return int(model_max), int(config.get("max_position_embeddings", 512)), int(config["hidden_size"])
    from transformers import AutoConfig, AutoTokenizer  # a hub id: its cached files

    config = AutoConfig.from_pretrained(path)
    model_max = getattr(AutoTokenizer.from_pretrained(tokenizer), "model_max_length", None) or 512
    return int(model_max), int(getattr(config, "max_position_embeddings", 512)), int(config.hidden_size)


def _check_autocast(autocast: str, backend: str, dtype: str, device: str) -> None:
    if autocast not in AUTOCASTS:
        raise InputError(f"--autocast must be one of {', '.join(AUTOCASTS)}, not {autocast!r}")
    if backend != "torch":
        raise InputError("--autocast runs with --backend torch")
    if dtype != "float32":
        raise InputError(f"--autocast keeps float32 weights; drop --dtype {dtype} (or --fp16)")
    if autocast == "float16" and not str(device).startswith("cuda"):
        raise InputError("--autocast float16 needs a CUDA device (--device cuda); on the CPU use bfloat16")


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
            Option("--autocast", choices=AUTOCASTS,
                   help="mixed precision (torch.autocast): float32 weights, matrix products in this dtype; "
                        "bfloat16 runs on the CPU's AMX/AVX-512-BF16 units where it has them (e5-small: "
                        "min cosine 0.99998 to float32, see docs/BENCHMARKS.md) (default: off, float32)"),
            Option("--backend", choices=BACKENDS,
                   help="torch, or onnx: ONNX Runtime on the CPU (exported once into $XQG_CACHE/onnx; "
                        "pip install '.[onnx]') (default: torch)"),
            Option("--encode-threads", type=int, help="intra-op threads of the model (default: the runtime's)"),
        ]

    def __init__(self, model: str, pooling: str = "cls", l2_norm: bool = False,
                 query_prefix: str | None = None, passage_prefix: str | None = None,
                 max_length: int | None = None, batch_size: int = 32, device: str = "cpu",
                 dtype: str = "float32", fp16: bool = False, tokenizer: str | None = None,
                 backend: str = "torch", encode_threads: int | None = None, autocast: str | None = None):
        from xqg_pyserini.encode.models import resolve

        if pooling not in ("cls", "mean"):
            raise InputError(f"--pooling must be cls or mean, not {pooling!r}")
        if fp16:
            dtype = "float16"
        if dtype not in DTYPES:
            raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
        if dtype == "float16" and not str(device).startswith("cuda"):
            raise InputError("--fp16 needs a CUDA device (--device cuda)")
        if backend not in BACKENDS:
            raise InputError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if backend == "onnx" and (dtype != "float32" or not str(device).startswith("cpu")):
            raise InputError("--backend onnx runs float32 on the CPU (--device cpu, --dtype float32)")
        if autocast is not None:
            _check_autocast(autocast, backend, dtype, device)
        if encode_threads is not None and encode_threads < 1:
            raise InputError(f"--encode-threads must be at least 1, not {encode_threads}")
        self.model_name = model
        self.path = resolve(model)
        self.pooling = pooling
        self.l2_norm = bool(l2_norm)
        self.query_prefix = query_prefix or None
        self.passage_prefix = passage_prefix or None
        self.batch_size = int(batch_size)
        self.device = device
        self.dtype = dtype
        self.backend = backend
        self.autocast = autocast
        self.threads = encode_threads
        if Path(self.path).is_dir() and not (Path(self.path) / "config.json").is_file():
            raise InputError("--encoder: not a transformers checkpoint (no config.json)", path=self.path)
        self.tokenizer_source = resolve(tokenizer) if tokenizer else self.path
        self._tokenizer = self._model = self._session = None
        # From the checkpoint's JSON files, so config() (a store's fingerprint) needs no model load.
        with self._loading():
            model_max, positions, self.dim = _checkpoint_sizes(self.path, self.tokenizer_source)
        if model_max > 100_000:  # tokenizers without a limit report a huge sentinel
            model_max = positions
        self.max_length = int(max_length) if max_length else int(model_max)

    @contextmanager
    def _loading(self) -> Iterator[None]:
        """No checkpoint there: an InputError with transformers' own reason, without its traceback."""
        try:
            yield
        except OSError as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise InputError(f"--encoder {self.model_name}: cannot load a model from {self.path}: {reason}") from None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            with self._loading():
                self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_source)
        return self._tokenizer

    @property
    def model(self):
        """The torch model, loaded on first use (the ONNX backend loads it only to export it once)."""
        if self._model is None:
            import torch
            from transformers import AutoModel

            if self.threads:
                torch.set_num_threads(self.threads)
            with self._loading():
                self._model = AutoModel.from_pretrained(self.path, dtype=getattr(torch, self.dtype))
            self._model = self._model.to(self.device).eval()
        return self._model

    def config(self) -> dict[str, Any]:
        return {
            "encoder_class": "hf", "encoder": self.model_name, "path": str(self.path),
            "pooling": self.pooling, "l2_norm": self.l2_norm, "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix, "max_length": self.max_length, "dtype": self.dtype,
            "dim": self.dim, **({"backend": self.backend} if self.backend != "torch" else {}),
            **({"autocast": self.autocast} if self.autocast else {}),
        }

    def encode_queries(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.query_prefix, progress, "queries")

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prefix, progress, "passages")

    def _encode(self, texts: Sequence[str], prefix: str | None, progress: bool, what: str) -> np.ndarray:
        """Length-sorted batches (longest first), padded per batch, pooled, normalized: one path for
        both backends, which differ only in how a batch's token ids become pooled vectors."""
        from tqdm.auto import tqdm

        if prefix:
            texts = [f"{prefix} {text}" for text in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        token_ids = self.tokenizer(list(texts), add_special_tokens=True, truncation=True,
                                   max_length=self.max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(token_ids[i]))
        run = self._run_onnx if self.backend == "onnx" else self._run_torch
        with tqdm(total=len(texts), desc=f"encode {what}", unit="text", disable=not progress) as bar:
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                out[rows] = run([token_ids[i] for i in rows])
                bar.update(len(rows))
        return out

    def _run_torch(self, batch_ids: list[list[int]]) -> np.ndarray:
        import torch

        device_type = torch.device(self.device).type
        with torch.inference_mode(), torch.autocast(device_type, dtype=getattr(torch, self.autocast or "bfloat16"),
                                                     enabled=self.autocast is not None):
            batch = self.tokenizer.pad({"input_ids": batch_ids}, return_tensors="pt")
            batch = {key: value.to(self.device) for key, value in batch.items()}
            hidden = self.model(**batch).last_hidden_state.float()
            if self.pooling == "mean":
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
            else:
                pooled = hidden[:, 0]
            if self.l2_norm:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
            return pooled.cpu().numpy()

    def _run_onnx(self, batch_ids: list[list[int]]) -> np.ndarray:
        """The same padding, pooling and norm as the torch path, the model run by ONNX Runtime."""
        if self._session is None:
            from xqg_pyserini.encode.onnx_backend import session_for

            self._session = session_for(self, self.threads)
        width = max(len(ids) for ids in batch_ids)
        ids = np.full((len(batch_ids), width), self.tokenizer.pad_token_id or 0, dtype=np.int64)
        mask = np.zeros((len(batch_ids), width), dtype=np.int64)
        for row, tokens in enumerate(batch_ids):
            ids[row, :len(tokens)] = tokens
            mask[row, :len(tokens)] = 1
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        if self.pooling == "mean":
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1)
        else:
            pooled = hidden[:, 0]
        if self.l2_norm:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled
