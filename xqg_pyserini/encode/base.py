"""The encoder interface, the encoder registry, and presets for known model names."""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np

from xqg_pyserini.registry import Registry

DTYPES = ("float32", "float16", "bfloat16")  # torch dtypes a model may run in (encoders and generators)


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

# "Same encoder": the keys of ``Encoder.config()`` compared when two sets of vectors must be
# comparable. VECTOR_KEYS name the model and everything that maps a text to its vector space;
# SIDE_KEYS are settings a query side and a passage side may set differently (each side's text
# prefix, and its truncation length: queries are often cut shorter than passages).
ENCODER_KEYS = ("encoder", "path", "pooling", "l2_norm", "query_prefix", "passage_prefix", "max_length",
                "dtype", "dim")  # in the order differences are reported
SIDE_KEYS = ("query_prefix", "passage_prefix", "max_length")
VECTOR_KEYS = tuple(key for key in ENCODER_KEYS if key not in SIDE_KEYS)


def encoder_differences(a: dict[str, Any], b: dict[str, Any], *, sides_may_differ: bool) -> list[str]:
    """The keys of ``ENCODER_KEYS`` on which encoder configs ``a`` and ``b`` differ, in that order.

    ``sides_may_differ=True``: ``a`` and ``b`` encode different sides (passages vs generated
    queries fused into them), so only ``VECTOR_KEYS`` must agree; ``False``: the same side (a
    cache or store reused for the same texts), so every key must agree. A missing key counts
    as ``None``. An empty list means "same encoder".
    """
    keys = VECTOR_KEYS if sides_may_differ else ENCODER_KEYS
    return [key for key in keys if a.get(key) != b.get(key)]


def preset_for(encoder: str) -> dict[str, Any]:
    return dict(PRESETS.get(PRESET_ALIASES.get(encoder, encoder), {}))


def create_encoder(encoder: str = DEFAULT_ENCODER, encoder_class: str = "hf", **flags: Any) -> Encoder:
    """Build an encoder; flags left as None take the model's preset, then the class default."""
    options = preset_for(encoder)
    options.update({key: value for key, value in flags.items() if value is not None})
    return ENCODERS.create(encoder_class, model=encoder, **options)
