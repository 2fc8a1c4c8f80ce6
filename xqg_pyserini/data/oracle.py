"""Oracle "generations" from human data: questions as generated queries, translations as passages.

* QG oracle with k-fold cross-fitting. Question ids are put into ``k`` folds by a seeded
  shuffle. For fold ``f``, passage ``p``'s generated queries in language ``L`` are ``p``'s
  questions written in ``L`` whose question id is *not* in fold ``f``. Searching fold ``f``'s
  index with fold ``f``'s questions (any language) therefore never meets a passage augmented
  with the question itself or any of its translations; the per-fold runs are merged into one
  run (every question id is in exactly one fold). SQuAD-style data also holds *different*
  questions with the same text (two annotators asking "Who won Super Bowl XLIX?" of one
  paragraph), so a query whose text equals, up to case and surrounding space, the text of any of
  the passage's held-out questions is left out too.
* PG oracle: a passage's human translation(s) in each language, in the
  ``generated_passages`` schema.
"""

from __future__ import annotations

import random
from typing import Iterable, Mapping, Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.generated import PASSAGES_FIELD, QUERIES_FIELD


def assign_folds(question_ids: Iterable[str], k: int, seed: int) -> dict[str, int]:
    """question id -> fold in ``range(k)``: ids sorted, shuffled with ``random.Random(seed)``, dealt round-robin.

    Fold sizes differ by at most one. The result is sorted by question id.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise InputError(f"--folds: the QG oracle needs at least 2 folds, not {k!r}")
    ids = sorted(set(question_ids))
    if len(ids) < k:
        raise InputError(f"--folds: {len(ids)} questions cannot fill {k} folds")
    random.Random(seed).shuffle(ids)
    fold_of = {qid: i % k for i, qid in enumerate(ids)}
    return dict(sorted(fold_of.items()))


def qg_fold_rows(docids: Sequence[str], questions_of: Mapping[str, Sequence[str]],
                 texts: Mapping[str, Mapping[str, str]], fold_of: Mapping[str, int], fold: int) -> list[dict]:
    """Generated-queries rows of fold ``fold``.

    ``questions_of``: docid -> its question ids (in order); ``texts``: lang -> question id -> the
    question written in that language (non-English languages only). Passages left with no query
    in any language get no row; languages with none are left out of a row.
    """
    rows = []
    for docid in docids:
        held_out = {_key(written[qid]) for written in texts.values() for qid in questions_of.get(docid, ())
                    if qid in written and fold_of[qid] == fold}
        by_lang: dict[str, list[str]] = {}
        for lang in sorted(texts):
            written = texts[lang]
            queries = [written[qid] for qid in questions_of.get(docid, ())
                       if qid in written and fold_of[qid] != fold and _key(written[qid]) not in held_out]
            if queries:
                by_lang[lang] = queries
        if by_lang:
            rows.append({"docid": docid, QUERIES_FIELD: by_lang})
    return rows


def _key(text: str) -> str:
    return text.strip().casefold()


def pg_rows(docids: Sequence[str], passages_of: Mapping[str, Mapping[str, Sequence[str]]]) -> list[dict]:
    """Generated-passages rows: ``passages_of`` docid -> lang -> translations; empty ones left out."""
    rows = []
    for docid in docids:
        by_lang = {lang: list(texts) for lang, texts in sorted(passages_of.get(docid, {}).items()) if texts}
        if by_lang:
            rows.append({"docid": docid, PASSAGES_FIELD: by_lang})
    return rows


def qg_stats(rows: Sequence[dict]) -> dict:
    """Counts of one fold's generated-queries rows: passages, queries, per language."""
    by_lang: dict[str, dict[str, int]] = {}
    for row in rows:
        for lang, queries in row[QUERIES_FIELD].items():
            entry = by_lang.setdefault(lang, {"passages": 0, "queries": 0})
            entry["passages"] += 1
            entry["queries"] += len(queries)
    return {"passages": len(rows), "queries": sum(e["queries"] for e in by_lang.values()),
            "by_language": dict(sorted(by_lang.items()))}

