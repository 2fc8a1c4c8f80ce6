"""The local engine: one shard (or the whole input) in this process, the model loaded here."""

from __future__ import annotations

from typing import Any


def run_local(job: Any, shard: tuple[int, int] | None) -> list[dict[str, Any]]:
    """``job``'s shard ``shard`` (None: the job's unsharded output) here; its one summary in a list."""
    return [job.run_shard(job.load(), shard)]
