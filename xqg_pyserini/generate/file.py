"""``file``: import existing generations, so they go through the same runner as a model.

Accepted inputs, by suffix:

* ``.jsonl`` / ``.json``: one row per passage, ``{"docid", "generated_queries": {lang: [...]}}``
  (``generated_passages`` for ``output="passages"``); other fields are ignored. This is the
  layout of the released ielab/xor-tydi-xqg-augmented ``data/shard_*.jsonl`` files.
* ``.parquet``: the same columns. ``generated_queries`` may be a struct of per-language lists
  (how the Hugging Face parquet conversion of that dataset stores the dict), a map, or a JSON
  string; a long table with ``docid``, ``lang`` and ``query`` (or ``text``) columns works too.
* ``.tsv`` / ``.txt``: ``docid<TAB>lang<TAB>query`` lines, no header.

A directory is read as every ``.jsonl``, ``.parquet`` and ``.tsv`` file under it (e.g. the
release's ``data/`` dir, or a shard set made by ``xqg generate``).

A request is answered with every text of (docid, language), in file order; the runner cleans them
and keeps the first ``--per-lang`` (counting what it drops as ``over_limit``), so by default, when
``--langs`` and ``--per-lang`` are not given, everything in the file is kept: every language it
holds and as many texts as its fullest (docid, language). A pair absent from the file gets no
outputs (the runner counts it). Docids in the file but not in the corpus
are counted in the manifest (``report``) with a warning. Everything is held in memory: meant for
files the size of an experiment's corpus, not the 630M-query release (which ``xqg encode
--kind generated`` reads directly).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import LANGUAGES, OUTPUT_FIELDS, Request
from xqg_pyserini.io.generated import FIELDS, QUERIES_FIELD
from xqg_pyserini.io.hashing import file_sha256
from xqg_pyserini.io.jsonl import read_jsonl, require_str
from xqg_pyserini.io.text import text_lines
from xqg_pyserini.options import Option

SUFFIXES = (".jsonl", ".json", ".parquet", ".tsv", ".txt")
DIR_SUFFIXES = (".jsonl", ".parquet", ".tsv")  # not .json/.txt: dataset dirs hold metadata files with those
TEXT_COLUMNS = ("query", "text")


OUTPUT_OF_FIELD = {field: output for output, field in OUTPUT_FIELDS.items()}


class FileGenerator:
    summary = "import generations: released JSONL/parquet, or docid<TAB>lang<TAB>query"
    # --langs and --per-lang default to what the file holds (input_langs, max_per_lang)
    outputs_from_input = True

    @classmethod
    def options(cls) -> list[Option]:
        return [
            Option("--model", keyword="path", help="input file or dir",
                   required="the file generator needs --model FILE_OR_DIR (the generations to import)"),
            Option("--generated-field", keyword="output", choices=FIELDS, default=QUERIES_FIELD,
                   convert=OUTPUT_OF_FIELD.get, help="which field the imported rows fill (default: %(default)s)"),
        ]

    def __init__(self, path: str | Path, output: str = "queries"):
        if output not in OUTPUT_FIELDS:
            raise InputError(f"output must be one of {', '.join(OUTPUT_FIELDS)}, not {output!r}")
        self.output = output
        self.field = OUTPUT_FIELDS[output]
        self.path = Path(path)
        self.files = _input_files(self.path)
        self.texts: dict[str, dict[str, list[str]]] = {}
        for file in self.files:
            self._load(file)
        seen = {lang for by_lang in self.texts.values() for lang in by_lang}
        self.languages = sorted(set(LANGUAGES) | seen)
        self.input_langs = sorted({lang for by_lang in self.texts.values() for lang, texts in by_lang.items() if texts})
        self.max_per_lang = max((len(t) for by_lang in self.texts.values() for t in by_lang.values()), default=0)

    def _load(self, file: Path) -> None:
        suffix = file.suffix.lower()
        if suffix in (".tsv", ".txt"):
            self._add_pairs(file, _read_tsv(file))
        elif suffix == ".parquet":
            self._load_parquet(file)
        else:
            for line, row in read_jsonl(file):
                docid = require_str(row, "docid", file, line)
                self._add_row(file, line, docid, row.get(self.field))

    def _add_row(self, file: Path, where: int, docid: str, by_lang: Any) -> None:
        if isinstance(by_lang, str):  # a column stored as JSON text
            try:
                by_lang = json.loads(by_lang)
            except json.JSONDecodeError:
                raise InputError(f"field {self.field!r} is text but not JSON", path=file, line=where) from None
        if isinstance(by_lang, list):  # an arrow map column reads as [(key, value), ...]
            by_lang = dict(by_lang)
        if not isinstance(by_lang, dict):
            raise InputError(f"field {self.field!r} must be an object of language -> list of texts",
                             path=file, line=where)
        if docid in self.texts:
            raise InputError(f"duplicate docid {docid!r}", path=file, line=where)
        texts: dict[str, list[str]] = {}
        for lang, outputs in by_lang.items():
            if outputs is None:  # a struct column has every language; absent ones are null
                continue
            if not isinstance(outputs, list) or not all(isinstance(t, str) for t in outputs):
                raise InputError(f"{self.field}[{lang!r}] must be a list of strings", path=file, line=where)
            texts[lang] = list(outputs)
        self.texts[docid] = texts

    def _add_pairs(self, file: Path, rows: Iterator[tuple[int, str, str, str]]) -> None:
        first: dict[str, int] = {}
        for where, docid, lang, text in rows:
            if docid in self.texts and docid not in first:
                raise InputError(f"docid {docid!r} is also in another input file", path=file, line=where)
            first.setdefault(docid, where)
            self.texts.setdefault(docid, {}).setdefault(lang, []).append(text)

    def _load_parquet(self, file: Path) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError("reading parquet needs pyarrow (pip install pyarrow)", path=file) from None
        table = pq.read_table(file)
        columns = set(table.column_names)
        if "docid" in columns and self.field in columns:
            for number, (docid, by_lang) in enumerate(zip(table.column("docid").to_pylist(),
                                                          table.column(self.field).to_pylist()), start=1):
                self._add_row(file, number, _docid(docid, file, number), by_lang)
        elif {"docid", "lang"} <= columns and columns & set(TEXT_COLUMNS):
            text_column = next(c for c in TEXT_COLUMNS if c in columns)
            docids, langs, texts = (table.column(c).to_pylist() for c in ("docid", "lang", text_column))
            self._add_pairs(file, ((n, _docid(d, file, n), str(l), t or "")
                                   for n, (d, l, t) in enumerate(zip(docids, langs, texts), start=1)))
        else:
            raise InputError(f"expected columns docid + {self.field}, or docid + lang + query; "
                             f"found {', '.join(table.column_names)}", path=file)

    def generate(self, requests: Sequence[Request]) -> list[list[str]]:
        """All texts of each request's (docid, language): the runner keeps ``n`` and counts the rest."""
        return [list(self.texts.get(r.docid, {}).get(r.lang, [])) for r in requests]

    def report(self, corpus_docids: set[str]) -> dict[str, Any]:
        """How the file matches the corpus (recorded in the manifest)."""
        outside = [docid for docid in self.texts if docid not in corpus_docids]
        if outside:
            warnings.warn(f"{len(outside)} of {len(self.texts)} docids in {self.path} are not in the corpus "
                          f"(e.g. {', '.join(outside[:3])}); they were ignored", stacklevel=2)
        return {"file_docids": len(self.texts), "docids_not_in_corpus": len(outside),
                "docids_not_in_corpus_examples": outside[:10]}

    def config(self) -> dict[str, Any]:
        return {"name": "file", "path": str(self.path.resolve()), "sha256": file_sha256(*self.files),
                "output": self.output}


def _input_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DIR_SUFFIXES
                       and not p.name.startswith("."))
        if not files:
            raise InputError(f"no {', '.join(DIR_SUFFIXES)} files in directory", path=path)
        return files
    if not path.is_file():
        raise InputError("file not found", path=path)
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(f"unknown generations format {path.suffix!r}; expected one of {', '.join(SUFFIXES)}",
                         path=path)
    return [path]


def _read_tsv(path: Path) -> Iterator[tuple[int, str, str, str]]:
    for number, line in text_lines(path):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0].strip() or not parts[1].strip():
            raise InputError("expected docid<TAB>lang<TAB>query", path=path, line=number)
        yield number, parts[0], parts[1], parts[2]


def _docid(value: Any, file: Path, row: int) -> str:
    if isinstance(value, (int, str)) and not isinstance(value, bool) and str(value).strip():
        return str(value)
    raise InputError(f"docid must be a non-empty string, not {value!r}", path=file, line=row)
