"""XQuAD -> cross-lingual retrieval set (English passages, questions in 11 languages) + oracles.

XQuAD (google-deepmind/xquad, CC BY-SA 4.0): 240 English SQuAD v1.1 dev paragraphs and their
1190 questions, professionally translated; ``xquad.{lang}.json`` per language, question ids
shared across languages, contexts parallel. The PG oracle is the paragraph in language L that
holds the same question ids (alignment is checked by ids, not by position).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from xqg_pyserini.data.convert import build
from xqg_pyserini.data.layout import write_converted
from xqg_pyserini.data.squad import find_language_files, license_name, source_dir

NAME = "xquad"
XQUAD_URL = "https://github.com/google-deepmind/xquad/raw/master"
# The files the URL serves (a URL cannot be listed; a directory source is globbed instead).
XQUAD_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
DESCRIPTION = ("XQuAD: 240 English SQuAD v1.1 dev paragraphs with 1190 questions, professionally "
               "translated (Artetxe et al., 2020; google-deepmind/xquad). The English paragraphs are the "
               "corpus; each language's questions are topics.")


def xquad_file(lang: str) -> str:
    return f"xquad.{lang}.json"


def _lang_of(path: Path) -> str | None:
    match = re.fullmatch(r"xquad\.([^.]+)\.json", path.name)
    return match.group(1) if match else None


def command_line(dataset: str, source, output, passage_words, oracle_folds, seed, languages) -> str:
    """The ``xqg data`` command that makes this output (the output named by its directory name)."""
    parts = [f"xqg data {dataset}", f"--source {source}", f"--output {Path(output).name}"]
    if passage_words is not None:
        parts.append(f"--passage-words {passage_words}")
    parts += [f"--folds {oracle_folds}", f"--seed {seed}"]
    if languages is not None:
        parts.append(f"--langs {','.join(sorted(set(languages)))}")
    return " ".join(parts)


def convert_xquad(source: str | Path, output: str | Path, passage_words: int | None = None,
                  oracle_folds: int = 5, seed: int = 13, languages: Sequence[str] | None = None,
                  command: str | None = None) -> dict:
    """Convert XQuAD at ``source`` (a directory of ``xquad.{lang}.json``, or a base URL such as
    ``XQUAD_URL``) into ``output``; returns the stats written to ``output/stats.json``.

    Every language found in the directory is converted unless ``languages`` narrows them
    (English is always read and always a topic language). ``command``: the command recorded in
    the output's README (default: the ``xqg data`` command that makes it).
    """
    url_langs = sorted(set(languages or XQUAD_LANGUAGES) | {"en"})
    with source_dir(source, xquad_file, url_langs) as directory:
        files = find_language_files(directory, "xquad.*.json", _lang_of, languages)
        conv = build(NAME, files, parallel=True, passage_words=passage_words, oracle_folds=oracle_folds,
                     seed=seed, languages=languages, source=str(source), license=license_name(directory),
                     command=command or command_line(NAME, source, output, passage_words, oracle_folds, seed,
                                                         languages),
                     description=DESCRIPTION)
    write_converted(conv, output)
    return conv.stats
