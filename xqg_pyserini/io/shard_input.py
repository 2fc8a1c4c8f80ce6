"""A shard's input rows handed over by a caller that has read them already (the Ray engine).

``xqg generate`` and ``xqg encode`` read their shard's rows from the input file themselves. On
Ray the input is read as a Ray Dataset instead (:mod:`xqg_pyserini.engine.ray_engine`); the
worker holding a shard's rows gives them to the stage's own shard writer as a ``ShardInput``,
with the two facts of the whole input that writer records (its row count and content hash),
which the driver read once, so no worker reads the whole input again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class ShardInput:
    rows: Sequence[Any]  # the shard's rows in input order: Passages (generate) or (id, text) (encode)
    total: int  # rows of the whole input
    sha256: str  # the whole input's content hash, as the stage computes it from the file

    def check(self, expected: int, what: str) -> None:
        if len(self.rows) != expected:
            raise ValueError(f"{what}: {len(self.rows)} rows given for a shard of {expected}")
