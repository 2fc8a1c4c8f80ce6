"""MLQA (MLQA-R, LAReQA's SQuAD-format release) -> cross-lingual retrieval set + oracles.

``{lang}.json`` per language (ar de en es hi vi zh), SQuAD format plus sentence breaks
(unused here). ``en.json`` holds 978 paragraphs / 1148 questions: the English counterparts
of every other language's questions (~500 each), under the same question ids. Non-English
contexts come from that language's Wikipedia: comparable to the English context, parallel
around the answer sentence, not translations. They serve as the PG oracle of the English
passage holding the same question ids, for the part of the passages they cover.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from xqg_pyserini.data.convert import build
from xqg_pyserini.data.layout import write_converted
from xqg_pyserini.data.squad import LANG_CODE, find_language_files, license_name, source_dir
from xqg_pyserini.data.xquad import command_line

NAME = "mlqa"
MLQA_LANGUAGES = ("ar", "de", "en", "es", "hi", "vi", "zh")
DESCRIPTION = ("MLQA dev (Lewis et al., 2020) in LAReQA's SQuAD-format MLQA-R release "
               "(google-research-datasets/lareqa): English contexts are the corpus; the questions of each "
               "language, linked to English by question id, are topics.")


def mlqa_file(lang: str) -> str:
    return f"{lang}.json"


def _lang_of(path: Path) -> str | None:
    return path.stem if LANG_CODE.match(path.stem) else None


def convert_mlqa(source: str | Path, output: str | Path, passage_words: int | None = None,
                 oracle_folds: int = 5, seed: int = 13, languages: Sequence[str] | None = None,
                 command: str | None = None) -> dict:
    """Convert MLQA-R at ``source`` (a directory of ``{lang}.json``, or a base URL serving them)
    into ``output``; returns the stats written to ``output/stats.json``."""
    url_langs = sorted(set(languages or MLQA_LANGUAGES) | {"en"})
    with source_dir(source, mlqa_file, url_langs) as directory:
        files = find_language_files(directory, "*.json", _lang_of, languages)
        conv = build(NAME, files, parallel=False, passage_words=passage_words, oracle_folds=oracle_folds,
                     seed=seed, languages=languages, source=str(source), license=license_name(directory),
                     command=command or command_line(NAME, source, output, passage_words, oracle_folds, seed,
                                                         languages),
                     description=DESCRIPTION)
    write_converted(conv, output)
    return conv.stats
