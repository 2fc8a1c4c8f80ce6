"""Cleaning a generator's outputs for one passage and language, and the counts the manifest keeps."""

from __future__ import annotations

from typing import Any, Sequence

STATS = ("generated", "duplicates_removed", "empty_dropped", "over_limit")  # per record, in this order
COUNTERS = ("requested", "generated", "kept", "duplicates_removed", "empty_dropped", "over_limit",
            "requests_without_output")


def clean_outputs(outputs: Sequence[str], limit: int) -> tuple[list[str], dict[str, int]]:
    """Strip, drop empties, drop exact duplicates (keep first), keep at most ``limit``."""
    kept: list[str] = []
    seen: set[str] = set()
    stats = {"generated": len(outputs), "duplicates_removed": 0, "empty_dropped": 0, "over_limit": 0}
    for text in outputs:
        if not isinstance(text, str):
            raise TypeError(f"generator returned {type(text).__name__} instead of str: {text!r}")
        text = text.strip()
        if not text:
            stats["empty_dropped"] += 1
        elif text in seen:
            stats["duplicates_removed"] += 1
        elif len(kept) >= limit:
            stats["over_limit"] += 1
        else:
            seen.add(text)
            kept.append(text)
    return kept, stats


class Counts:
    """Per-language counters, summed into a total."""

    def __init__(self, langs: Sequence[str]):
        self.passages = 0
        self.per_lang = {lang: dict.fromkeys(COUNTERS, 0) for lang in langs}

    def add_passage(self, requested: int, results: dict[str, tuple[list[str], dict[str, int]]]) -> None:
        self.passages += 1
        for lang, (kept, stats) in results.items():
            counts = self.per_lang[lang]
            counts["requested"] += requested
            counts["kept"] += len(kept)
            counts["requests_without_output"] += stats["generated"] == 0
            for key in STATS:
                counts[key] += stats[key]

    def as_dict(self) -> dict[str, Any]:
        total = {key: sum(c[key] for c in self.per_lang.values()) for key in COUNTERS}
        return {"passages": self.passages, **total, "per_lang": self.per_lang}
