"""A generation job whose worker process kills itself (SIGKILL) mid-shard, once: for the Ray engine's tests.

Importable by Ray workers (the tests put this dir on their PYTHONPATH); a marker file makes the
kill happen once, in whichever worker first asks for ``kill_at``.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xqg_pyserini.engine.jobs import GenerateJob


class KillingGenerator:
    """Delegates to ``inner``; the first batch asking for ``docid`` kills the process instead."""

    def __init__(self, inner: Any, docid: str, marker: Path):
        self.inner, self.docid, self.marker = inner, docid, marker

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, requests):
        if any(r.docid == self.docid for r in requests) and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return self.inner.generate(requests)


@dataclass(frozen=True)
class KillingGenerateJob(GenerateJob):
    kill_at: str = ""
    marker: str = ""

    def load(self) -> Any:
        return KillingGenerator(super().load(), self.kill_at, Path(self.marker))
