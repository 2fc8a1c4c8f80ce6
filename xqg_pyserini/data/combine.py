"""``xqg data combine``: several converted datasets joined into one (a harder joint corpus).

Docids already carry their dataset's prefix (``xquad-...``, ``mlqa-...``); any docid, qid or
question id seen twice is an error, as are differing fold counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from xqg_pyserini.data.layout import Converted, write_converted
from xqg_pyserini.data.oracle import qg_stats
from xqg_pyserini.data.readme import render_combined_readme
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.answers import read_answers
from xqg_pyserini.io.corpus import read_corpus
from xqg_pyserini.io.generated import PASSAGES_FIELD, QUERIES_FIELD
from xqg_pyserini.io.jsonl import read_json_object, read_jsonl
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.topics import read_topics


def _read_rows(path: Path, field_name: str) -> list[dict]:
    rows = []
    for line, row in read_jsonl(path):
        if not isinstance(row.get("docid"), str) or not isinstance(row.get(field_name), dict):
            raise InputError(f"expected {{\"docid\", \"{field_name}\": {{...}}}}", path=path, line=line)
        rows.append(row)
    return rows


def _read_oracle(path: Path, field_name: str) -> list[dict]:
    """An oracle file's rows; an empty file (no passage has one) is no rows."""
    return _read_rows(path, field_name) if path.stat().st_size else []


def _read_output(directory: Path) -> dict:
    """One converter output, checked as it is read."""
    if not (directory / "stats.json").is_file():
        raise InputError("not a converted dataset (no stats.json); make one with `xqg data xquad|mlqa`",
                         path=directory)
    stats = read_json_object(directory / "stats.json",
                             required=("dataset", "languages", "passages", "per_language", "source", "license",
                                       "passage_words"))
    folds = read_json_object(directory / "oracle" / "qg" / "folds.json", required=("k", "seed", "fold_of"))
    langs = stats["languages"]
    return {
        "dir": directory,
        "stats": stats,
        "corpus": read_corpus(directory / "corpus.jsonl"),
        "topics": {lang: read_topics(directory / f"topics.{lang}.tsv") for lang in langs},
        "qrels": {lang: read_qrels(directory / f"qrels.{lang}.txt") for lang in langs},
        "answers": read_answers(directory / "answers.jsonl"),
        "folds": folds,
        "qg": [_read_oracle(directory / "oracle" / "qg" / f"fold-{f}.jsonl", QUERIES_FIELD) for f in range(folds["k"])],
        "pg": _read_oracle(directory / "oracle" / "pg.jsonl", PASSAGES_FIELD),
    }


def _joined_corpus(parts: list[dict], names: list[str]) -> list[dict]:
    corpus, docid_from = [], {}
    for part, name in zip(parts, names):
        for passage in part["corpus"]:
            if passage.docid in docid_from:
                raise InputError(f"docid {passage.docid!r} is in both {docid_from[passage.docid]} and {name}",
                                 path=part["dir"] / "corpus.jsonl")
            docid_from[passage.docid] = name
            corpus.append({"id": passage.docid, "title": passage.title, "contents": passage.contents})
    return corpus


def _joined_topics(parts: list[dict], names: list[str], langs: list[str]) -> tuple[dict, dict, list[dict]]:
    """Topics and qrels per language, and answers, of all parts."""
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
    return topics, qrels, answers


def _joined_folds(parts: list[dict], names: list[str], k: int) -> dict:
    fold_of: dict[str, int] = {}
    for part in parts:
        for qid, fold in part["folds"]["fold_of"].items():
            if qid in fold_of:
                raise InputError(f"question id {qid!r} is in the folds of two datasets",
                                 path=part["dir"] / "oracle" / "qg" / "folds.json")
            fold_of[qid] = fold
    seeds = {name: part["folds"]["seed"] for part, name in zip(parts, names)}
    seed = next(iter(seeds.values())) if len(set(seeds.values())) == 1 else seeds
    return {"k": k, "seed": seed, "fold_of": dict(sorted(fold_of.items()))}


def combine(outputs: Sequence[str | Path], output: str | Path, command: str = "") -> dict:
    """Join converter outputs into one set: union of passages, topics, qrels, answers, oracles.

    Returns the combined stats (written to ``output/stats.json`` with the rest).
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
    corpus = _joined_corpus(parts, names)
    langs = sorted({lang for part in parts for lang in part["topics"]})
    topics, qrels, answers = _joined_topics(parts, names, langs)
    folds = _joined_folds(parts, names, k)
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
        "oracle": {"qg": {"k": k, "seed": folds["seed"],
                          "folds": {f"fold-{f}": qg_stats(rows) for f, rows in enumerate(qg)}},
                   "pg": {"passages": len(pg)}},
        "datasets": {name: p["stats"] for p, name in zip(parts, names)},
    }
    if not command:
        command = (f"xqg data combine --inputs {' '.join(str(d) for d in outputs)} "
                   f"--output {Path(output).name}")
    write_converted(Converted(name=stats["dataset"], corpus=corpus, topics=topics, qrels=qrels, answers=answers,
                              folds=folds, qg=qg, pg=pg, stats=stats, readme=render_combined_readme(stats, command)),
                    output)
    return stats
