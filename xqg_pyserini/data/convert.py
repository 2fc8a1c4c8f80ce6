"""SQuAD-format multilingual QA -> a cross-lingual retrieval set with oracle generations.

The English contexts are the passages; every language's questions are the topics, linked to
the English passage by the shared question id. Output layout (a contract the experiment
runner reads; see ``OUTPUT_LAYOUT``)::

    OUT/corpus.jsonl  topics.{lang}.tsv  qrels.{lang}.txt  topics.tsv  qrels.txt  answers.jsonl
        oracle/qg/folds.json  oracle/qg/fold-{f}.jsonl  oracle/pg.jsonl  stats.json  README.md

``build`` makes a ``Converted`` in memory, ``write_converted`` writes it atomically, and
``combine`` joins several outputs into one (union of passages, topics, qrels, answers and
oracles). Everything is deterministic: the same source files and flags give the same bytes.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from xqg_pyserini.data.oracle import PASSAGES_FIELD, QUERIES_FIELD, assign_folds, pg_rows, qg_fold_rows, qg_stats
from xqg_pyserini.data.squad import SquadFile, read_squad
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.answers import read_answers
from xqg_pyserini.io.atomic import atomic_dir
from xqg_pyserini.io.corpus import read_corpus
from xqg_pyserini.io.jsonl import read_jsonl
from xqg_pyserini.io.qrels import read_qrels, write_qrels
from xqg_pyserini.io.topics import read_topics, write_topics

log = logging.getLogger("xqg_pyserini.data")

EXAMPLES = 5  # ids listed per counted problem in stats.json
WORD = re.compile(r"\S+")

OUTPUT_LAYOUT = """\
| file | contents |
|---|---|
| `corpus.jsonl` | `{"id", "title", "contents"}`: the English passages (contexts, or ~N-word splits) |
| `topics.{lang}.tsv` | `qid<TAB>question`, qid = `{lang}-{question id}`, one file per language (en is the control) |
| `qrels.{lang}.txt` | `{qid} 0 {docid} 1`: the passage(s) holding the English answer |
| `topics.tsv`, `qrels.txt` | all languages together |
| `answers.jsonl` | `{"id": qid, "lang", "answers": [English answer texts]}` for R@kt |
| `oracle/qg/folds.json` | `{"k", "seed", "fold_of": {question id: fold}}` |
| `oracle/qg/fold-{f}.jsonl` | `{"docid", "generated_queries": {lang: [...]}}`: a passage's questions in each \
non-English language whose question id is not in fold f |
| `oracle/pg.jsonl` | `{"docid", "generated_passages": {lang: [the passage's human translation(s)]}}` |
| `stats.json` | counts per language, passages, splits, missing/inconsistent ids with examples, oracle counts |
"""


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
class Converted:
    """A converted dataset in memory, ready for ``write_converted``."""

    name: str
    corpus: list[dict]
    topics: dict[str, dict[str, str]]  # lang -> qid -> question
    qrels: dict[str, dict[str, dict[str, int]]]  # lang -> qid -> docid -> 1
    answers: list[dict]
    folds: dict
    qg: list[list[dict]]  # per fold
    pg: list[dict]
    stats: dict
    readme: str


def _unique(texts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def _locate(context: str, text: str, start: int) -> int | None:
    """Start of ``text`` in ``context``: at ``start`` when it is there, else the nearest occurrence."""
    if context[start:start + len(text)] == text:
        return start
    hits = [m.start() for m in re.finditer(re.escape(text), context)]
    return min(hits, key=lambda h: (abs(h - start), h)) if hits else None


def build(name: str, files: Mapping[str, Path], *, parallel: bool, passage_words: int | None = None,
          oracle_folds: int = 5, seed: int = 13, languages: Sequence[str] | None = None,
          source: str = "", license: str = "", command: str = "", description: str = "") -> Converted:
    """Convert one dataset's per-language SQuAD files (``files['en']`` is the pivot).

    ``parallel``: the languages' contexts are translations of the English ones (XQuAD), so a
    missing translation is an inconsistency; otherwise (MLQA) partial coverage is expected and
    reported as coverage. ``languages``: the topic languages (default: every file); English
    is always one of them (the control). Oracles cover the non-English topic languages.
    """
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
    read: dict[str, SquadFile] = {lang: read_squad(files[lang], lang) for lang in sorted(set(topic_langs) | {"en"})}
    en = read["en"]
    other_langs = [lang for lang in topic_langs if lang != "en"]
    warnings: list[str] = []
    problems: dict[str, dict[str, Problem]] = {lang: {} for lang in read}

    def problem(lang: str, kind: str) -> Problem:
        return problems[lang].setdefault(kind, Problem())

    # --- passages -------------------------------------------------------------------------
    corpus: list[dict] = []
    context_ids: list[str] = []
    spans_of: list[list[tuple[int, int]]] = []
    docids_of: list[list[str]] = []
    for para in en.paragraphs:
        cid = f"{name}-a{para.article}-p{para.index}"
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

    # --- English questions: relevant passages and answers ---------------------------------
    relevant: dict[str, list[str]] = {}  # question id -> docids, corpus order
    english_answers: dict[str, list[str]] = {}
    spanning = Problem()
    for qid, question in en.questions.items():
        para = en.paragraphs[question.paragraph]
        texts = [a.text for a in question.answers if a.text.strip()]
        if not texts:
            problem("en", "no_answer").add(qid)
            continue
        english_answers[qid] = _unique(texts)
        spans, docids = spans_of[question.paragraph], docids_of[question.paragraph]
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
            problem("en", "answer_offset_mismatch").add(qid)
        if lost:
            problem("en", "answer_not_in_context").add(qid)
        if across:
            spanning.add(qid)
        relevant[qid] = [docids[j] for j in sorted(hit)]

    # --- topics, qrels, answers per language ----------------------------------------------
    topics: dict[str, dict[str, str]] = {}
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    answers: list[dict] = []
    per_language: dict[str, dict] = {}
    for lang in topic_langs:
        lfile = read[lang]
        for qid in lfile.questions:
            if qid not in en.questions:
                problem(lang, "question_not_in_english").add(qid)
        topics[lang], qrels[lang] = {}, {}
        for qid, question in en.questions.items():
            if qid not in relevant:
                continue
            written = lfile.questions.get(qid)
            if written is None:
                problem(lang, "english_question_not_in_language").add(qid)
                continue
            if len(written.answers) != len(question.answers):
                problem(lang, "answer_count_mismatch").add(qid)
            tid = f"{lang}-{qid}"
            topics[lang][tid] = normalize(written.text)
            qrels[lang][tid] = {docid: 1 for docid in relevant[qid]}
            answers.append({"id": tid, "lang": lang, "answers": english_answers[qid]})
        per_language[lang] = {
            "questions": len(lfile.questions),
            "paragraphs": len(lfile.paragraphs),
            "topics": len(topics[lang]),
            "qrels": sum(len(judged) for judged in qrels[lang].values()),
            "answers": len(topics[lang]),
        }
        if not topics[lang]:
            raise InputError(f"{name}: no question of language {lang!r} matches an English question id",
                             path=lfile.path)

    # --- PG oracle: contexts aligned by question ids --------------------------------------
    pg_of: dict[str, dict[str, list[str]]] = {}
    alignment: dict[str, dict] = {}
    for lang in other_langs:
        lfile = read[lang]
        counts = {"aligned": 0, "partial": 0, "multiple": 0, "missing": 0, "same_position": 0}
        english_of_l: dict[int, set[int]] = {}
        for qid, question in lfile.questions.items():
            if qid in en.questions:
                english_of_l.setdefault(question.paragraph, set()).add(en.questions[qid].paragraph)
        shared = sum(1 for targets in english_of_l.values() if len(targets) > 1)
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
                problem(lang, kind).add(context_ids[i])
            if found:
                where = lfile.paragraphs[found[0]]
                if parallel and len(found) == 1 and (where.article, where.index) == (para.article, para.index):
                    counts["same_position"] += 1
                texts = _unique([lfile.paragraphs[j].context for j in found])
                for docid in docids_of[i]:
                    pg_of.setdefault(docid, {})[lang] = texts
        covered = len(en.paragraphs) - counts["missing"]
        if not parallel:
            del counts["same_position"]  # MLQA's languages are separate files of different articles
        alignment[lang] = {
            **counts,
            "english_contexts": len(en.paragraphs),
            "covered": covered,
            "coverage": round(covered / len(en.paragraphs), 4),
            "language_paragraphs_linked_to_several_english": shared,
        }
        if parallel and shared:
            for j, targets in sorted(english_of_l.items()):
                if len(targets) > 1:
                    problem(lang, "language_paragraph_spans_english_contexts").add(
                        f"{lang} paragraph {lfile.paragraphs[j].article}/{lfile.paragraphs[j].index}")
    all_docids = [row["id"] for row in corpus]
    pg = pg_rows(all_docids, pg_of)

    # --- QG oracle ------------------------------------------------------------------------
    fold_of = assign_folds(relevant, oracle_folds, seed)
    questions_of: dict[str, list[str]] = {}
    for qid, docids in relevant.items():
        for docid in docids:
            questions_of.setdefault(docid, []).append(qid)
    written = {lang: {qid: normalize(q.text) for qid, q in read[lang].questions.items() if qid in relevant}
               for lang in other_langs}
    qg = [qg_fold_rows(all_docids, questions_of, written, fold_of, f) for f in range(oracle_folds)]
    folds = {"k": oracle_folds, "seed": seed, "fold_of": fold_of}

    # --- warnings and stats ---------------------------------------------------------------
    for lang in sorted(problems):
        for kind, found in sorted(problems[lang].items()):
            if not parallel and kind == "english_question_not_in_language":
                continue  # expected for MLQA: reported as coverage
            message = (f"{name} {lang}: {found.count} {kind.replace('_', ' ')} "
                       f"(e.g. {', '.join(found.examples)}); see stats.json")
            warnings.append(message)
            log.warning(message)
    if spanning.count:
        message = (f"{name}: {spanning.count} answer(s) span two passage splits; every split they touch "
                   f"is judged relevant (e.g. {', '.join(spanning.examples)})")
        warnings.append(message)
        log.warning(message)

    inconsistencies = {}
    for lang in sorted(problems):
        kinds = {kind: p.to_json() for kind, p in sorted(problems[lang].items())
                 if parallel or kind != "english_question_not_in_language"}
        if kinds:
            inconsistencies[lang] = kinds
    coverage = {}
    for lang in other_langs:
        translated = sum(1 for qid in relevant if qid in read[lang].questions)
        coverage[lang] = {
            "english_questions": len(relevant),
            "translated_questions": translated,
            "question_coverage": round(translated / len(relevant), 4) if relevant else 0.0,
            "pg": alignment[lang],
        }
    pieces = [len(d) for d in docids_of]
    stats = {
        "dataset": name,
        "source": source,
        "license": license,
        "files": {lang: {"name": read[lang].path.name, "sha256": read[lang].sha256} for lang in sorted(read)},
        "languages": topic_langs,
        "passage_words": passage_words,
        "contexts": len(en.paragraphs),
        "english_questions": len(en.questions),
        "passages": len(corpus),
        "splits": {
            "passage_words": passage_words,
            "contexts_split": sum(1 for n in pieces if n > 1),
            "max_per_context": max(pieces),
            "answers_spanning_splits": spanning.to_json(),
            "policy": "an answer touching several splits makes each of them relevant (counted per question)",
        },
        "per_language": per_language,
        "totals": {
            "topics": sum(len(t) for t in topics.values()),
            "qrels": sum(v["qrels"] for v in per_language.values()),
            "answers": len(answers),
        },
        "coverage": coverage,
        "inconsistencies": inconsistencies,
        "warnings": warnings,
        "oracle": {
            "qg": {
                "k": oracle_folds,
                "seed": seed,
                "languages": other_langs,
                "questions_per_fold": [sum(1 for f in fold_of.values() if f == k) for k in range(oracle_folds)],
                "folds": {f"fold-{f}": qg_stats(rows) for f, rows in enumerate(qg)},
            },
            "pg": {
                "languages": other_langs,
                "passages": len(pg),
                "texts": sum(len(t) for row in pg for t in row[PASSAGES_FIELD].values()),
                "by_language": {lang: sum(1 for row in pg if lang in row[PASSAGES_FIELD]) for lang in other_langs},
            },
        },
    }
    conv = Converted(name=name, corpus=corpus, topics=topics, qrels=qrels, answers=answers, folds=folds,
                     qg=qg, pg=pg, stats=stats, readme="")
    conv.readme = render_readme(conv, command=command, description=description, parallel=parallel)
    return conv


def render_readme(conv: Converted, *, command: str, description: str, parallel: bool) -> str:
    s = conv.stats
    langs = ", ".join(s["languages"])
    files = "\n".join(f"- `{f['name']}` (sha256 `{f['sha256']}`)" for f in s["files"].values())
    split = ("the English contexts as they are (one passage per context, docid "
             f"`{conv.name}-a{{article}}-p{{paragraph}}`)" if s["passage_words"] is None else
             f"~{s['passage_words']}-word pieces of the English contexts (docid `{{context id}}-{{j}}`): "
             f"each context's words cut into round(W/{s['passage_words']}) pieces differing by at most one word; "
             f"an answer touching two pieces makes both relevant "
             f"({s['splits']['answers_spanning_splits']['count']} such answers)")
    pg_note = ("the same-position paragraph in language L, verified by question ids (a context whose "
               "questions sit in several L paragraphs lists them all)" if parallel else
               "the L contexts of the passage's questions: MLQA's L contexts are comparable Wikipedia "
               "paragraphs, parallel around the answer sentence, not translations; only part of the "
               "English contexts have one (coverage per language in `stats.json`)")
    if s["passage_words"] is not None:
        pg_note += "; every split of a context gets the whole context's translation"
    return f"""# {conv.name}: cross-lingual retrieval set with oracle generations

{description}

Converted by `xqg-pyserini` from `{s['source']}`:

{files}

Source license: **{s['license']}** (see the source's LICENSE; this directory is a derived work
under the same terms).

Command:

```bash
{command}
```

## Contents

Passages: {split}; {s['passages']} passages from {s['contexts']} contexts.
Topic languages: {langs} (en is the control); {s['totals']['topics']} topics in all. Topics
are the questions of each language, qid `{{lang}}-{{question id}}`; qrels point at the
passage(s) holding the English answer; `answers.jsonl` has the English answer texts of every
qid (the corpus is English, as in XOR-Retrieve). Missing or inconsistent ids are counted in
`stats.json` (`inconsistencies`, `coverage`, `warnings`), never dropped silently.

{OUTPUT_LAYOUT}
## Oracles

- **QG oracle**, {s['oracle']['qg']['k']}-fold cross-fitting (seed {s['oracle']['qg']['seed']}): question ids
  are shuffled and dealt into folds (`oracle/qg/folds.json`). `oracle/qg/fold-f.jsonl` holds,
  for each passage and non-English language, the passage's questions in that language whose
  id is not in fold f. The runner builds one index per fold from `fold-f.jsonl`, searches it
  with the topics (any language) whose question id is in fold f, and merges the per-fold runs
  into one run: every qid is searched exactly once, and never against a passage augmented
  with its own question or any translation of it. The generated queries are the topic texts
  verbatim, so their embeddings can be reused from the encoded topics.
- **PG oracle** (`oracle/pg.jsonl`): {pg_note}.
"""


def _dump_jsonl(path: Path, rows: Sequence[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _dump_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _publish(directory: Path) -> None:
    """Ordinary permissions (0666/0777 less the umask) instead of the temp files' private ones."""
    mask = os.umask(0)
    os.umask(mask)
    for path in [directory, *directory.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def write_converted(conv: Converted, output: str | Path) -> Path:
    """Write ``conv`` in the output layout; ``output`` is replaced only when everything is written."""
    output = Path(output)
    with atomic_dir(output) as tmp:
        _dump_jsonl(tmp / "corpus.jsonl", conv.corpus)
        all_topics: dict[str, str] = {}
        all_qrels: dict[str, dict[str, int]] = {}
        for lang in sorted(conv.topics):
            write_topics(conv.topics[lang], tmp / f"topics.{lang}.tsv")
            write_qrels(conv.qrels[lang], tmp / f"qrels.{lang}.txt")
            all_topics.update(conv.topics[lang])
            all_qrels.update(conv.qrels[lang])
        write_topics(all_topics, tmp / "topics.tsv")
        write_qrels(all_qrels, tmp / "qrels.txt")
        _dump_jsonl(tmp / "answers.jsonl", conv.answers)
        (tmp / "oracle" / "qg").mkdir(parents=True)
        _dump_json(tmp / "oracle" / "qg" / "folds.json", conv.folds)
        for f, rows in enumerate(conv.qg):
            _dump_jsonl(tmp / "oracle" / "qg" / f"fold-{f}.jsonl", rows)
        _dump_jsonl(tmp / "oracle" / "pg.jsonl", conv.pg)
        _dump_json(tmp / "stats.json", conv.stats)
        (tmp / "README.md").write_text(conv.readme, encoding="utf-8")
        _publish(tmp)
    return output


# --- combine ---------------------------------------------------------------------------------

def _read_rows(path: Path, field_name: str) -> list[dict]:
    rows = []
    for line, row in read_jsonl(path):
        if not isinstance(row.get("docid"), str) or not isinstance(row.get(field_name), dict):
            raise InputError(f"expected {{\"docid\", \"{field_name}\": {{...}}}}", path=path, line=line)
        rows.append(row)
    return rows


def _read_output(directory: Path) -> dict:
    """One converter output, checked as it is read."""
    if not (directory / "stats.json").is_file():
        raise InputError("not a converted dataset (no stats.json); make one with `xqg data xquad|mlqa`",
                         path=directory)
    stats = json.loads((directory / "stats.json").read_text(encoding="utf-8"))
    folds = json.loads((directory / "oracle" / "qg" / "folds.json").read_text(encoding="utf-8"))
    langs = stats["languages"]
    return {
        "dir": directory,
        "stats": stats,
        "corpus": read_corpus(directory / "corpus.jsonl"),
        "topics": {lang: read_topics(directory / f"topics.{lang}.tsv") for lang in langs},
        "qrels": {lang: read_qrels(directory / f"qrels.{lang}.txt") for lang in langs},
        "answers": read_answers(directory / "answers.jsonl"),
        "folds": folds,
        "qg": [_read_rows(directory / "oracle" / "qg" / f"fold-{f}.jsonl", QUERIES_FIELD)
               if (directory / "oracle" / "qg" / f"fold-{f}.jsonl").stat().st_size else []
               for f in range(folds["k"])],
        "pg": _read_rows(directory / "oracle" / "pg.jsonl", PASSAGES_FIELD)
        if (directory / "oracle" / "pg.jsonl").stat().st_size else [],
    }


def combine(outputs: Sequence[str | Path], output: str | Path, command: str = "") -> dict:
    """Join converter outputs into one set: union of passages, topics, qrels, answers, oracles.

    Docids already carry their dataset's prefix (``xquad-...``, ``mlqa-...``); any docid,
    qid or question id seen twice is an error, as are differing fold counts. Returns the
    combined stats.
    """
    if not outputs:
        raise InputError("combine needs at least one converted dataset")
    parts = [_read_output(Path(d)) for d in outputs]
    names = [p["stats"]["dataset"] for p in parts]
    if len(set(names)) != len(names):
        raise InputError(f"the same dataset is given twice: {', '.join(names)}")
    ks = {p["folds"]["k"] for p in parts}
    if len(ks) != 1:
        raise InputError(f"the datasets use different fold counts ({', '.join(map(str, sorted(ks)))}); "
                         "convert them with the same --folds")
    k = ks.pop()
    corpus, docid_from = [], {}
    for part, name in zip(parts, names):
        for passage in part["corpus"]:
            if passage.docid in docid_from:
                raise InputError(f"docid {passage.docid!r} is in both {docid_from[passage.docid]} and {name}",
                                 path=part["dir"] / "corpus.jsonl")
            docid_from[passage.docid] = name
            corpus.append({"id": passage.docid, "title": passage.title, "contents": passage.contents})
    langs = sorted({lang for part in parts for lang in part["topics"]})
    topics: dict[str, dict[str, str]] = {lang: {} for lang in langs}
    qrels: dict[str, dict[str, dict[str, int]]] = {lang: {} for lang in langs}
    answers, qid_from = [], {}
    for part, name in zip(parts, names):
        for lang in part["topics"]:
            for qid, text in part["topics"][lang].items():
                if qid in qid_from:
                    raise InputError(f"qid {qid!r} is in both {qid_from[qid]} and {name}",
                                     path=part["dir"] / f"topics.{lang}.tsv")
                qid_from[qid] = name
                topics[lang][qid] = text
            qrels[lang].update(part["qrels"][lang])
        answers += [{"id": qid, "lang": a.lang, "answers": list(a.answers)} for qid, a in part["answers"].items()]
    fold_of: dict[str, int] = {}
    for part, name in zip(parts, names):
        for qid, fold in part["folds"]["fold_of"].items():
            if qid in fold_of:
                raise InputError(f"question id {qid!r} is in the folds of two datasets",
                                 path=part["dir"] / "oracle" / "qg" / "folds.json")
            fold_of[qid] = fold
    seeds = {name: part["folds"]["seed"] for part, name in zip(parts, names)}
    seed = next(iter(seeds.values())) if len(set(seeds.values())) == 1 else seeds
    qg = [[row for part in parts for row in part["qg"][f]] for f in range(k)]
    pg = [row for part in parts for row in part["pg"]]
    per_language = {lang: {key: sum(p["stats"]["per_language"].get(lang, {}).get(key, 0) for p in parts)
                           for key in ("questions", "topics", "qrels", "answers")} for lang in langs}
    stats = {
        "dataset": "+".join(names),
        "combined": names,
        "passages": len(corpus),
        "passages_by_dataset": {name: p["stats"]["passages"] for p, name in zip(parts, names)},
        "languages": langs,
        "per_language": per_language,
        "totals": {"topics": sum(len(t) for t in topics.values()),
                   "qrels": sum(len(j) for q in qrels.values() for j in q.values()),
                   "answers": len(answers)},
        "oracle": {"qg": {"k": k, "seed": seed,
                          "folds": {f"fold-{f}": qg_stats(rows) for f, rows in enumerate(qg)}},
                   "pg": {"passages": len(pg)}},
        "datasets": {name: p["stats"] for p, name in zip(parts, names)},
    }
    if not command:
        command = (f"xqg data combine --inputs {' '.join(str(d) for d in outputs)} "
                   f"--output {Path(output).name}")
    sources = "\n".join(f"- `{name}`: converted from `{p['stats']['source']}`, license **{p['stats']['license']}**, "
                        f"{p['stats']['passages']} passages (passage_words={p['stats']['passage_words']})"
                        for p, name in zip(parts, names))
    readme = f"""# {stats['dataset']}: combined cross-lingual retrieval set

The union of {len(names)} converted datasets, so that retrieval searches all their English
passages together (docids keep their dataset prefix and never collide):

{sources}

Each part keeps its source's license; the combination is bound by all of them.

Command:

```bash
{command}
```

{len(corpus)} passages; topic languages {', '.join(langs)}; {stats['totals']['topics']} topics.
Each part's `stats.json` is under `datasets` in `stats.json`.

{OUTPUT_LAYOUT}
QG folds: each dataset's own `fold_of` ({k} folds), joined; fold-f files are the
concatenations of the parts' fold-f files, so the per-fold protocol is unchanged.
"""
    folds = {"k": k, "seed": seed, "fold_of": dict(sorted(fold_of.items()))}
    write_converted(Converted(name=stats["dataset"], corpus=corpus, topics=topics, qrels=qrels, answers=answers,
                              folds=folds, qg=qg, pg=pg, stats=stats, readme=readme), output)
    return stats
