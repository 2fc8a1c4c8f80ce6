"""XOR-TyDi evaluation files: answers JSONL and the official XOR-Retrieve prediction JSON.

* answers: one ``{"id", "lang", "answers": [str, ...]}`` object per line; other fields are
  ignored, so XOR-TyDi's own ``xor_dev_retrieve_eng_span.jsonl`` (which adds ``question``)
  loads as it is.
* predictions: the file ``eval_xor_retrieve.py`` reads, one JSON list
  ``[{"id", "lang", "ctxs": [passage text, ...]}, ...]`` with each query's passages best first.
  Passage texts are the corpus ``contents`` without titles, as in the official setting.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.corpus import Passage
from xqg_pyserini.io.jsonl import read_jsonl, require_str
from xqg_pyserini.io.runs import Run
from xqg_pyserini.io.text import first_line as start_of, read_text

_PREDICTIONS_START = re.compile(r'\s*\[\s*(\]|\{\s*"(id|lang|ctxs)"\s*:)')


@dataclass(frozen=True)
class Answer:
    lang: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Prediction:
    qid: str
    lang: str
    ctxs: tuple[str, ...]  # passage texts, best first


def read_answers(path: str | Path) -> dict[str, Answer]:
    """qid -> Answer, in file order; bad lines and duplicate ids raise InputError."""
    path = Path(path)
    answers: dict[str, Answer] = {}
    first_line: dict[str, int] = {}
    for line, row in read_jsonl(path):
        qid = require_str(row, "id", path, line)
        lang = require_str(row, "lang", path, line)
        if "answers" not in row:
            raise InputError("missing field 'answers'", path=path, line=line)
        texts = _answer_texts(row["answers"], path, line)
        if qid in first_line:
            raise InputError(f"duplicate id {qid!r} (first on line {first_line[qid]})", path=path, line=line)
        first_line[qid] = line
        answers[qid] = Answer(lang=lang, answers=texts)
    if not answers:
        raise InputError("answers file is empty", path=path)
    return answers


def _answer_texts(value, path: Path, line: int) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
        raise InputError("field 'answers' must be a list of strings", path=path, line=line)
    # An empty answer is a substring of every text: the query would always count as a hit.
    if any(not text.strip() for text in value):
        raise InputError("field 'answers' holds an empty answer, which would match any passage",
                         path=path, line=line)
    return tuple(value)


def corpus_texts(corpus: Mapping[str, str] | Iterable[Passage]) -> Mapping[str, str]:
    """docid -> the text R@kt reads: a passage's ``contents`` (no title), or the mapping as given."""
    if isinstance(corpus, Mapping):
        return corpus
    return {passage.docid: passage.contents for passage in corpus}


def check_run_passages(run: Run, texts: Mapping[str, str]) -> None:
    """InputError naming the first (query, docid) of ``run`` absent from the corpus, with counts."""
    if hasattr(texts, "prefetch"):  # texts read on demand (a Lucene index): one batch for the run
        texts.prefetch(docid for ranked in run.values() for docid, _ in ranked)
    missing = [(qid, docid) for qid, ranked in run.items() for docid, _ in ranked if docid not in texts]
    if missing:
        qid, docid = missing[0]
        queries = len({qid for qid, _ in missing})
        raise InputError(f"{len(missing)} ranked passages of {queries} queries are absent from the corpus "
                         f"(first: query {qid!r})", docid=docid)


def build_predictions(run: Run, corpus: Mapping[str, str] | Iterable[Passage], answers: Mapping[str, Answer],
                      hits: int | None = None) -> list[Prediction]:
    """Each run query with its language (from the answers) and its top ``hits`` passage texts."""
    texts = corpus_texts(corpus)
    check_run_passages(run, texts)
    unknown = [qid for qid in run if qid not in answers]
    if unknown:
        raise InputError(f"{len(unknown)} of {len(run)} run queries have no answers entry, so their language "
                         f"is unknown (first: {unknown[0]!r})")
    return [Prediction(qid=qid, lang=answers[qid].lang, ctxs=tuple(texts[docid] for docid, _ in ranked[:hits]))
            for qid, ranked in run.items()]


def is_predictions_file(path: str | Path) -> bool:
    """Whether ``path`` starts like the official prediction JSON (a list of ``{"id", "lang", "ctxs"}``)."""
    return bool(_PREDICTIONS_START.match(start_of(path)))


def write_predictions(run: Run, corpus: Mapping[str, str] | Iterable[Passage], answers: Mapping[str, Answer],
                      path: str | Path, hits: int | None = 100) -> None:
    """The official prediction JSON for ``run`` (top ``hits`` per query; None keeps all)."""
    if not run:
        raise InputError("run is empty")
    predictions = build_predictions(run, corpus, answers, hits)
    rows = [{"id": p.qid, "lang": p.lang, "ctxs": list(p.ctxs)} for p in predictions]
    with atomic_file(path, same_kind=is_predictions_file, what="prediction JSON") as out:
        json.dump(rows, out, ensure_ascii=False)
        out.write("\n")


def read_predictions(path: str | Path) -> list[Prediction]:
    """The official prediction JSON, in file order; errors name the item index and id."""
    path = Path(path)
    try:
        rows = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON ({err.msg} at line {err.lineno} column {err.colno})",
                         path=path, line=err.lineno) from None
    if not isinstance(rows, list):
        raise InputError("expected a JSON list of {\"id\", \"lang\", \"ctxs\"} objects", path=path)
    predictions: list[Prediction] = []
    first_item: dict[str, int] = {}
    for index, row in enumerate(rows):
        where = f"item {index}"
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object", path=path)
        for field in ("id", "lang", "ctxs"):
            if field not in row:
                raise InputError(f"{where}: missing field {field!r}", path=path)
        qid, lang, ctxs = row["id"], row["lang"], row["ctxs"]
        if isinstance(qid, int) and not isinstance(qid, bool):
            qid = str(qid)
        if not isinstance(qid, str) or not qid:
            raise InputError(f"{where}: field 'id' must be a non-empty string", path=path)
        if not isinstance(lang, str) or not lang:
            raise InputError(f"{where} (id {qid!r}): field 'lang' must be a non-empty string", path=path)
        if not isinstance(ctxs, list) or not all(isinstance(text, str) for text in ctxs):
            raise InputError(f"{where} (id {qid!r}): field 'ctxs' must be a list of passage texts", path=path)
        # The official script would count a repeated id twice; per-query results cannot.
        if qid in first_item:
            raise InputError(f"{where}: duplicate id {qid!r} (first at item {first_item[qid]})", path=path)
        first_item[qid] = index
        predictions.append(Prediction(qid=qid, lang=lang, ctxs=tuple(ctxs)))
    if not predictions:
        raise InputError("prediction file is empty", path=path)
    return predictions
