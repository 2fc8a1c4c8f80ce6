"""Scores of generated texts against their passages, for ``xqg filter``.

* :class:`DualEncoderScorer` (``dual``, the default): the cosine between ``E_q(text)`` (the
  query side; a translated passage, ``generated_passages``, is encoded on the passage side) and
  ``E_p(passage)``, with any encoder ``xqg encode`` builds.
* :class:`CrossEncoderScorer` (``cross-encoder``): a transformers
  ``AutoModelForSequenceClassification`` reading the pair (text, passage), by HF name or path.
  One output label: its logit; two: the log-probability of label 1 (relevant), as monoBERT-style
  models are read; more is an error.

Both take the passages of a chunk and, for each text, the index of its passage
(``owner[i]``), so a passage is encoded once however many texts it has. As with any padded
batch, a score can move in its last float32 digits with the batch size; a cut on near-equal
scores (``--threshold`` at a score itself) is reproducible with the same ``--batch-size``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xqg_pyserini.errors import InputError

SCORERS = ("dual", "cross-encoder")


class DualEncoderScorer:
    """Cosine of the generated text's and the passage's embeddings from one encoder."""

    name = "dual"

    def __init__(self, encoder: Any, texts_as_passages: bool = False):
        self.encoder = encoder
        self.texts_as_passages = texts_as_passages

    def config(self) -> dict[str, Any]:
        side = "passage" if self.texts_as_passages else "query"
        return {"scorer": self.name, "score": f"cosine(E_{side[0]}(text), E_p(passage))", "text_side": side,
                "encoder": self.encoder.config()}

    def score(self, passages: Sequence[str], texts: Sequence[str], owner: np.ndarray) -> np.ndarray:
        encode_texts = self.encoder.encode_passages if self.texts_as_passages else self.encoder.encode_queries
        passage_vectors = _unit(self.encoder.encode_passages(list(passages)))
        text_vectors = _unit(encode_texts(list(texts)))
        return np.einsum("ij,ij->i", text_vectors, passage_vectors[owner]).astype(np.float64)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float64).tiny)


class CrossEncoderScorer:
    """A sequence-classification model scoring (text, passage) pairs."""

    name = "cross-encoder"

    def __init__(self, model: str, batch_size: int = 32, device: str = "cpu", max_length: int | None = None,
                 dtype: str = "float32"):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from xqg_pyserini.encode.base import DTYPES

        if dtype not in DTYPES:
            raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
        self.model_name = model
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForSequenceClassification.from_pretrained(model, dtype=getattr(torch, dtype))
        except OSError as err:
            raise RuntimeError(f"cannot load the cross-encoder {model!r}: {err}") from None
        self.model = self.model.to(device).eval()
        self.labels = int(self.model.config.num_labels)
        if self.labels not in (1, 2):
            raise InputError(f"the cross-encoder {model!r} has {self.labels} output labels; a relevance model "
                             "has 1 (a score) or 2 (not relevant, relevant)")
        model_max = getattr(self.tokenizer, "model_max_length", None) or 512
        if model_max > 100_000:  # tokenizers without a limit report a huge sentinel
            model_max = getattr(self.model.config, "max_position_embeddings", 512)
        self.max_length = int(max_length) if max_length else int(model_max)
        self.batch_size = int(batch_size)
        self.device, self.dtype = device, dtype

    def config(self) -> dict[str, Any]:
        score = "logit" if self.labels == 1 else "log P(label 1)"
        return {"scorer": self.name, "model": self.model_name, "score": score, "labels": self.labels,
                "max_length": self.max_length, "dtype": self.dtype, "pair": "(text, passage)"}

    def score(self, passages: Sequence[str], texts: Sequence[str], owner: np.ndarray) -> np.ndarray:
        import torch

        out = np.empty(len(texts), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                rows = range(start, min(start + self.batch_size, len(texts)))
                batch = self.tokenizer([texts[i] for i in rows], [passages[owner[i]] for i in rows],
                                       truncation=True, max_length=self.max_length, padding=True,
                                       return_tensors="pt")
                logits = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits.float()
                values = logits[:, 0] if self.labels == 1 else torch.log_softmax(logits, dim=-1)[:, 1]
                out[start:start + len(rows)] = values.cpu().numpy()
        return out
