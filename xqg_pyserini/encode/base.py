"""The encoder interface, the encoder registry, and presets for known model names."""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np

from xqg_pyserini.registry import Registry


class Encoder(Protocol):
    """Turns texts into float32 vectors; queries and passages may be encoded differently."""

    dim: int

    def encode_queries(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...

    def config(self) -> dict[str, Any]:
        """Everything that determines the vectors (for provenance and cache keys)."""
        ...


ENCODERS = Registry("encoder class", "xqg_pyserini.encoders")
ENCODERS.register("hf", "xqg_pyserini.encode.hf:HFEncoder")
ENCODERS.register("auto", "xqg_pyserini.encode.hf:HFEncoder")  # Pyserini's name for the same family

# Flag defaults for well-known models, applied unless the user sets the flag.
PRESETS: dict[str, dict[str, Any]] = {
    "e5-small": dict(pooling="mean", l2_norm=True, query_prefix="query:", passage_prefix="passage:"),
}
PRESET_ALIASES = {"multilingual-e5-small": "e5-small", "intfloat/multilingual-e5-small": "e5-small"}

DEFAULT_ENCODER = "e5-small"


def preset_for(encoder: str) -> dict[str, Any]:
    return dict(PRESETS.get(PRESET_ALIASES.get(encoder, encoder), {}))


def create_encoder(encoder: str = DEFAULT_ENCODER, encoder_class: str = "hf", **flags: Any) -> Encoder:
    """Build an encoder; flags left as None take the model's preset, then the class default."""
    options = preset_for(encoder)
    options.update({key: value for key, value in flags.items() if value is not None})
    return ENCODERS.create(encoder_class, model=encoder, **options)
