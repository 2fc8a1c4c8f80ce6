"""SQuAD-format multilingual QA -> a cross-lingual retrieval set with oracle generations.

The English contexts are the passages; every language's questions are the topics, linked to
the English passage by the shared question id. Output layout (a contract the experiment
runner reads; see ``OUTPUT_LAYOUT``)::

    OUT/corpus.jsonl  topics.{lang}.tsv  qrels.{lang}.txt  topics.tsv  qrels.txt  answers.jsonl
        oracle/qg/folds.json  oracle/qg/fold-{f}.jsonl  oracle/pg.jsonl  stats.json  README.md

``build`` makes a ``Converted`` in memory, one step per part of the output (the functions
below, in order), ``write_converted`` (:mod:`~xqg_pyserini.data.layout`) writes it atomically,
and :func:`~xqg_pyserini.data.combine.combine` joins several outputs into one. Everything is
deterministic: the same source files and flags give the same bytes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from xqg_pyserini.data.layout import Converted
from xqg_pyserini.data.oracle import assign_folds, pg_rows, qg_fold_rows, qg_stats
from xqg_pyserini.data.readme import render_readme
from xqg_pyserini.data.sources import Problem, Sources, read_sources
from xqg_pyserini.data.squad import SquadQuestion
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.generated import PASSAGES_FIELD
from xqg_pyserini.io.topics import topic_id

log = logging.getLogger("xqg_pyserini.data")

WORD = re.compile(r"\S+")


def normalize(text: str) -> str:
    """Whitespace-collapsed text, exactly as ``write_topics`` writes a query."""
    return " ".join(text.split())


def split_spans(context: str, words: int) -> list[tuple[int, int]]:
    """Character spans of ~``words``-word pieces of ``context`` (DPR-style word windows).

    The context's whitespace-separated words are cut into ``max(1, round(W / words))``
    consecutive pieces whose sizes differ by at most one word, so no piece is a short tail:
    a context of at most 1.5 x ``words`` words stays whole. Each span runs from its first
    word's first character to its last word's last character of the original text.
    """
    if words < 1:
        raise InputError(f"passage_words must be at least 1, not {words}")
    found = [(m.start(), m.end()) for m in WORD.finditer(context)]
    if not found:
        return [(0, len(context))]
    pieces = max(1, round(len(found) / words))
    base, extra = divmod(len(found), pieces)
    spans, first = [], 0
    for j in range(pieces):
        size = base + (1 if j < extra else 0)
        spans.append((found[first][0], found[first + size - 1][1]))
        first += size
    return spans


def _unique(texts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def _locate(context: str, text: str, start: int) -> int | None:
    """Start of ``text`` in ``context``: at ``start`` when it is there, else the nearest occurrence."""
    if context[start:start + len(text)] == text:
        return start
    hits = [m.start() for m in re.finditer(re.escape(text), context)]
    return min(hits, key=lambda h: (abs(h - start), h)) if hits else None


@dataclass
class Passages:
    """The corpus, and per English context (in file order) its id, split spans and docids."""

    corpus: list[dict]
    context_ids: list[str]
    spans_of: list[list[tuple[int, int]]]
    docids_of: list[list[str]]


@dataclass
class EnglishQuestions:
    relevant: dict[str, list[str]]  # question id -> docids holding its answer, corpus order
    answers: dict[str, list[str]]  # question id -> distinct answer texts
    spanning: Problem  # answers touching several splits


@dataclass
class Topics:
    topics: dict[str, dict[str, str]]  # lang -> qid -> question
    qrels: dict[str, dict[str, dict[str, int]]]
    answers: list[dict]
    per_language: dict[str, dict]


# --- passages -------------------------------------------------------------------------

def make_passages(src: Sources, passage_words: int | None) -> Passages:
    corpus: list[dict] = []
    context_ids: list[str] = []
    spans_of: list[list[tuple[int, int]]] = []
    docids_of: list[list[str]] = []
    for para in src.en.paragraphs:
        cid = f"{src.name}-a{para.article}-p{para.index}"
        title = para.title.replace("_", " ").strip()
        if passage_words is None:
            spans, docids = [(0, len(para.context))], [cid]
        else:
            spans = split_spans(para.context, passage_words)
            docids = [f"{cid}-{j}" for j in range(len(spans))]
        context_ids.append(cid)
        spans_of.append(spans)
        docids_of.append(docids)
        for docid, (start, end) in zip(docids, spans):
            corpus.append({"id": docid, "title": title, "contents": para.context[start:end]})
    return Passages(corpus, context_ids, spans_of, docids_of)


# --- English questions: relevant passages and answers ---------------------------------

def english_questions(src: Sources, passages: Passages) -> EnglishQuestions:
    out = EnglishQuestions({}, {}, Problem())
    for qid, question in src.en.questions.items():
        texts = [a.text for a in question.answers if a.text.strip()]
        if not texts:
            src.problem("en", "no_answer").add(qid)
            continue
        out.answers[qid] = _unique(texts)
        out.relevant[qid] = _relevant_docids(src, passages, qid, question, out.spanning)
    return out


def _relevant_docids(src: Sources, passages: Passages, qid: str, question: SquadQuestion,
                     spanning: Problem) -> list[str]:
    """The splits of the question's context that its answers touch (counting located-elsewhere answers)."""
    para = src.en.paragraphs[question.paragraph]
    spans, docids = passages.spans_of[question.paragraph], passages.docids_of[question.paragraph]
    hit: set[int] = set()
    moved = lost = across = False
    for answer in question.answers:
        if not answer.text.strip():
            continue
        start = _locate(para.context, answer.text, answer.start)
        if start is None:  # not in the context at all: keep the given offset
            lost, start = True, min(answer.start, max(len(para.context) - 1, 0))
        elif start != answer.start:
            moved = True
        end = start + len(answer.text)
        overlapping = {j for j, (a, b) in enumerate(spans) if start < b and end > a}
        if not overlapping:  # only whitespace between two pieces: the piece before it
            overlapping = {max([j for j, (a, _) in enumerate(spans) if a <= start], default=0)}
        across |= len(overlapping) > 1
        hit |= overlapping
    if moved:
        src.problem("en", "answer_offset_mismatch").add(qid)
    if lost:
        src.problem("en", "answer_not_in_context").add(qid)
    if across:
        spanning.add(qid)
    return [docids[j] for j in sorted(hit)]


# --- topics, qrels, answers per language ----------------------------------------------

def language_topics(src: Sources, english: EnglishQuestions) -> Topics:
    out = Topics({}, {}, [], {})
    en = src.en
    for lang in src.topic_langs:
        lfile = src.read[lang]
        for qid in lfile.questions:
            if qid not in en.questions:
                src.problem(lang, "question_not_in_english").add(qid)
        topics, qrels = out.topics.setdefault(lang, {}), out.qrels.setdefault(lang, {})
        for qid, question in en.questions.items():
            if qid not in english.relevant:
                continue
            written = lfile.questions.get(qid)
            if written is None:
                src.problem(lang, "english_question_not_in_language").add(qid)
                continue
            if len(written.answers) != len(question.answers):
                src.problem(lang, "answer_count_mismatch").add(qid)
            tid = topic_id(lang, qid)
            topics[tid] = normalize(written.text)
            qrels[tid] = {docid: 1 for docid in english.relevant[qid]}
            out.answers.append({"id": tid, "lang": lang, "answers": english.answers[qid]})
        out.per_language[lang] = {
            "questions": len(lfile.questions),
            "paragraphs": len(lfile.paragraphs),
            "topics": len(topics),
            "qrels": sum(len(judged) for judged in qrels.values()),
            "answers": len(topics),
        }
        if not topics:
            raise InputError(f"{src.name}: no question of language {lang!r} matches an English question id",
                             path=lfile.path)
    return out


# --- PG oracle: contexts aligned by question ids --------------------------------------

def pg_oracle(src: Sources, passages: Passages) -> tuple[list[dict], dict[str, dict]]:
    """The PG rows, and per language how its contexts align with the English ones."""
    pg_of: dict[str, dict[str, list[str]]] = {}
    alignment = {lang: _align_language(src, passages, lang, pg_of) for lang in src.other_langs}
    return pg_rows([row["id"] for row in passages.corpus], pg_of), alignment


def _align_language(src: Sources, passages: Passages, lang: str, pg_of: dict[str, dict[str, list[str]]]) -> dict:
    en, lfile, parallel = src.en, src.read[lang], src.parallel
    counts = {"aligned": 0, "partial": 0, "multiple": 0, "missing": 0, "same_position": 0}
    english_of_l: dict[int, set[int]] = {}
    for qid, question in lfile.questions.items():
        if qid in en.questions:
            english_of_l.setdefault(question.paragraph, set()).add(en.questions[qid].paragraph)
    for i, para in enumerate(en.paragraphs):
        found = _unique([lfile.questions[qid].paragraph for qid in para.qids if qid in lfile.questions])
        if not found:
            counts["missing"] += 1
            kind = "context_translation_missing" if parallel else None
        elif len(found) > 1:
            counts["multiple"] += 1
            kind = "context_split_across_paragraphs" if parallel else None
        elif set(lfile.paragraphs[found[0]].qids) != set(para.qids):
            counts["partial"] += 1
            kind = "context_question_ids_differ" if parallel else None
        else:
            counts["aligned"] += 1
            kind = None
        if kind is not None:
            src.problem(lang, kind).add(passages.context_ids[i])
        if found:
            where = lfile.paragraphs[found[0]]
            if parallel and len(found) == 1 and (where.article, where.index) == (para.article, para.index):
                counts["same_position"] += 1
            texts = _unique([lfile.paragraphs[j].context for j in found])
            for docid in passages.docids_of[i]:
                pg_of.setdefault(docid, {})[lang] = texts
    covered = len(en.paragraphs) - counts["missing"]
    if not parallel:
        del counts["same_position"]  # MLQA's languages are separate files of different articles
    shared = sum(1 for targets in english_of_l.values() if len(targets) > 1)
    if parallel and shared:
        for j, targets in sorted(english_of_l.items()):
            if len(targets) > 1:
                src.problem(lang, "language_paragraph_spans_english_contexts").add(
                    f"{lang} paragraph {lfile.paragraphs[j].article}/{lfile.paragraphs[j].index}")
    return {**counts, "english_contexts": len(en.paragraphs), "covered": covered,
            "coverage": round(covered / len(en.paragraphs), 4),
            "language_paragraphs_linked_to_several_english": shared}


# --- QG oracle ------------------------------------------------------------------------

def qg_oracle(src: Sources, passages: Passages, relevant: dict[str, list[str]], oracle_folds: int,
              seed: int) -> tuple[dict, list[list[dict]]]:
    """``folds.json``'s content and the rows of each fold."""
    fold_of = assign_folds(relevant, oracle_folds, seed)
    questions_of: dict[str, list[str]] = {}
    for qid, docids in relevant.items():
        for docid in docids:
            questions_of.setdefault(docid, []).append(qid)
    written = {lang: {qid: normalize(q.text) for qid, q in src.read[lang].questions.items() if qid in relevant}
               for lang in src.other_langs}
    all_docids = [row["id"] for row in passages.corpus]
    qg = [qg_fold_rows(all_docids, questions_of, written, fold_of, f) for f in range(oracle_folds)]
    return {"k": oracle_folds, "seed": seed, "fold_of": fold_of}, qg


# --- warnings and stats ---------------------------------------------------------------

def collect_warnings(src: Sources, spanning: Problem) -> list[str]:
    """One logged line per counted problem (MLQA's expected partial coverage aside)."""
    warnings: list[str] = []
    for lang in sorted(src.problems):
        for kind, found in sorted(src.problems[lang].items()):
            if not src.parallel and kind == "english_question_not_in_language":
                continue  # expected for MLQA: reported as coverage
            warnings.append(f"{src.name} {lang}: {found.count} {kind.replace('_', ' ')} "
                            f"(e.g. {', '.join(found.examples)}); see stats.json")
    if spanning.count:
        warnings.append(f"{src.name}: {spanning.count} answer(s) span two passage splits; every split they touch "
                        f"is judged relevant (e.g. {', '.join(spanning.examples)})")
    for message in warnings:
        log.warning(message)
    return warnings


def _quality(src: Sources, relevant: dict[str, list[str]], alignment: dict[str, dict]) -> dict:
    """``inconsistencies`` and ``coverage`` of stats.json."""
    inconsistencies = {}
    for lang in sorted(src.problems):
        kinds = {kind: p.to_json() for kind, p in sorted(src.problems[lang].items())
                 if src.parallel or kind != "english_question_not_in_language"}
        if kinds:
            inconsistencies[lang] = kinds
    coverage = {}
    for lang in src.other_langs:
        translated = sum(1 for qid in relevant if qid in src.read[lang].questions)
        coverage[lang] = {
            "english_questions": len(relevant),
            "translated_questions": translated,
            "question_coverage": round(translated / len(relevant), 4) if relevant else 0.0,
            "pg": alignment[lang],
        }
    return {"coverage": coverage, "inconsistencies": inconsistencies}


def _oracle_stats(src: Sources, folds: dict, qg: list[list[dict]], pg: list[dict]) -> dict:
    k, other_langs = folds["k"], src.other_langs
    return {
        "qg": {
            "k": k,
            "seed": folds["seed"],
            "languages": other_langs,
            "questions_per_fold": [sum(1 for f in folds["fold_of"].values() if f == fold) for fold in range(k)],
            "folds": {f"fold-{f}": qg_stats(rows) for f, rows in enumerate(qg)},
        },
        "pg": {
            "languages": other_langs,
            "passages": len(pg),
            "texts": sum(len(t) for row in pg for t in row[PASSAGES_FIELD].values()),
            "by_language": {lang: sum(1 for row in pg if lang in row[PASSAGES_FIELD]) for lang in other_langs},
        },
    }


def make_stats(src: Sources, passages: Passages, english: EnglishQuestions, topics: Topics, *,
               alignment: dict[str, dict], oracle: dict, warnings: list[str], passage_words: int | None,
               source: str, license: str) -> dict:
    pieces = [len(d) for d in passages.docids_of]
    quality = _quality(src, english.relevant, alignment)
    return {
        "dataset": src.name,
        "source": source,
        "license": license,
        "files": {lang: {"name": src.read[lang].path.name, "sha256": src.read[lang].sha256}
                  for lang in sorted(src.read)},
        "languages": src.topic_langs,
        "passage_words": passage_words,
        "contexts": len(src.en.paragraphs),
        "english_questions": len(src.en.questions),
        "passages": len(passages.corpus),
        "splits": {
            "passage_words": passage_words,
            "contexts_split": sum(1 for n in pieces if n > 1),
            "max_per_context": max(pieces),
            "answers_spanning_splits": english.spanning.to_json(),
            "policy": "an answer touching several splits makes each of them relevant (counted per question)",
        },
        "per_language": topics.per_language,
        "totals": {
            "topics": sum(len(t) for t in topics.topics.values()),
            "qrels": sum(v["qrels"] for v in topics.per_language.values()),
            "answers": len(topics.answers),
        },
        "coverage": quality["coverage"],
        "inconsistencies": quality["inconsistencies"],
        "warnings": warnings,
        "oracle": oracle,
    }


def build(name: str, files: Mapping[str, Path], *, parallel: bool, passage_words: int | None = None,
          oracle_folds: int = 5, seed: int = 13, languages: Sequence[str] | None = None,
          source: str = "", license: str = "", command: str = "", description: str = "") -> Converted:
    """Convert one dataset's per-language SQuAD files (``files['en']`` is the pivot).

    ``parallel``: the languages' contexts are translations of the English ones (XQuAD), so a
    missing translation is an inconsistency; otherwise (MLQA) partial coverage is expected and
    reported as coverage. ``languages``: the topic languages (default: every file); English
    is always one of them (the control). Oracles cover the non-English topic languages.
    """
    src = read_sources(name, files, parallel, passage_words, languages)
    passages = make_passages(src, passage_words)
    english = english_questions(src, passages)
    topics = language_topics(src, english)
    pg, alignment = pg_oracle(src, passages)
    folds, qg = qg_oracle(src, passages, english.relevant, oracle_folds, seed)
    warnings = collect_warnings(src, english.spanning)
    stats = make_stats(src, passages, english, topics, alignment=alignment, oracle=_oracle_stats(src, folds, qg, pg),
                       warnings=warnings, passage_words=passage_words, source=source, license=license)
    conv = Converted(name=name, corpus=passages.corpus, topics=topics.topics, qrels=topics.qrels,
                     answers=topics.answers, folds=folds, qg=qg, pg=pg, stats=stats, readme="")
    conv.readme = render_readme(conv, command=command, description=description, parallel=parallel)
    return conv
