"""The SQuAD files of one dataset as a converter reads them, and the problems it counts in them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from xqg_pyserini.data.squad import SquadFile, read_squad
from xqg_pyserini.errors import InputError

EXAMPLES = 5  # ids listed per counted problem in stats.json


@dataclass
class Problem:
    """One counted kind of missing or inconsistent id, with the first few examples."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)

    def to_json(self) -> dict:
        return {"count": self.count, "examples": list(self.examples)}


@dataclass
class Sources:
    """The read SQuAD files of one dataset and the problems counted while converting them."""

    name: str
    parallel: bool
    read: dict[str, SquadFile]  # every topic language, and en
    topic_langs: list[str]
    problems: dict[str, dict[str, Problem]]

    @property
    def en(self) -> SquadFile:
        return self.read["en"]

    @property
    def other_langs(self) -> list[str]:
        return [lang for lang in self.topic_langs if lang != "en"]

    def problem(self, lang: str, kind: str) -> Problem:
        return self.problems[lang].setdefault(kind, Problem())


def read_sources(name: str, files: Mapping[str, Path], parallel: bool, passage_words: int | None,
                 languages: Sequence[str] | None) -> Sources:
    """Check the flags against the files found, then read every file needed."""
    if passage_words is not None and (isinstance(passage_words, bool) or not isinstance(passage_words, int)
                                      or passage_words < 1):
        raise InputError(f"passage_words must be a positive integer, not {passage_words!r}")
    if "en" not in files:
        raise InputError(f"{name}: no English file")
    topic_langs = sorted(set(languages) | {"en"}) if languages is not None else sorted(files)
    unknown = [lang for lang in topic_langs if lang not in files]
    if unknown:
        raise InputError(f"{name}: no file for language(s) {', '.join(unknown)}")
    if not topic_langs:
        raise InputError(f"{name}: no topic languages")
    read = {lang: read_squad(files[lang], lang) for lang in sorted(set(topic_langs) | {"en"})}
    return Sources(name, parallel, read, topic_langs, {lang: {} for lang in read})
