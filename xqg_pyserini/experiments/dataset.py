"""A converted dataset dir (``xqg data``), read and cross-checked for an experiment.

Layout::

    corpus.jsonl                 {"id", "title", "contents"}: English passages
    topics.{lang}.tsv            qid<TAB>question, qid = "{lang}-{question id}"
    qrels.{lang}.txt             TREC qrels
    answers.jsonl                {"id": qid, "lang", "answers": [...]} (for R@kt)
    oracle/qg/folds.json         {"k": K, "seed": S, "fold_of": {question id: fold}}
    oracle/qg/fold-{f}.jsonl     {"docid", "generated_queries": {lang: [...]}}: usable for fold f's questions
    oracle/pg.jsonl              {"docid", "generated_passages": {lang: [translated passage]}}
    mt/qg/fold-{f}.jsonl         machine translations of the passage's English questions not in fold f
    mt/pg.jsonl                  machine translations of the passages (``xqg data mt``)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import parse_measures
from xqg_pyserini.experiments.config import ExperimentConfig
from xqg_pyserini.io.answers import Answer, read_answers
from xqg_pyserini.io.corpus import Passage, read_corpus
from xqg_pyserini.io.generated import (  # noqa: F401 (the runner imports the fields from here)
    PASSAGES_FIELD, QUERIES_FIELD, GeneratedText, read_generated)
from xqg_pyserini.io.qrels import Qrels, read_qrels
from xqg_pyserini.io.topics import question_id, read_topics



@dataclass
class Dataset:
    root: Path
    passages: list[Passage]
    topics: dict[str, str]  # every evaluated topic, languages in order
    topic_lang: dict[str, str]
    langs: list[str]  # topic languages
    qrels: Qrels
    answers: dict[str, Answer] | None
    fold_k: int | None = None
    fold_seed: Any = None
    fold_of_topic: dict[str, int] = field(default_factory=dict)  # qid -> fold
    qg: dict[int, list[GeneratedText]] = field(default_factory=dict)  # fold -> texts
    pg: list[GeneratedText] | None = None
    mt_qg: dict[int, list[GeneratedText]] = field(default_factory=dict)  # machine-translated English questions
    mt_pg: list[GeneratedText] | None = None  # machine-translated passages

    @property
    def folds(self) -> list[int]:
        return sorted(self.qg)

    def fold_topics(self, fold: int) -> list[str]:
        return [qid for qid in self.topics if self.fold_of_topic.get(qid) == fold]


def _need(path: Path, why: str) -> Path:
    if not path.is_file():
        raise InputError(f"file not found (needed for {why})", path=path)
    return path


def load_dataset(config: ExperimentConfig) -> Dataset:
    """Read and cross-check every file of the dataset dir the config needs."""
    root = config.data
    if not root.is_dir():
        raise InputError("data: dataset dir not found", path=root)
    passages = read_corpus(_need(root / "corpus.jsonl", "the passages"))
    docids = {p.docid for p in passages}
    if config.topic_langs:
        langs = list(config.topic_langs)
        for i, lang in enumerate(langs):
            _need(root / f"topics.{lang}.tsv", f"topic_langs[{i}] = {lang}")
    else:
        langs = sorted(p.name[len("topics."):-len(".tsv")] for p in root.glob("topics.*.tsv"))
        if not langs:
            raise InputError("no topics.{lang}.tsv files in the dataset dir", path=root)
    topics: dict[str, str] = {}
    topic_lang: dict[str, str] = {}
    qrels: Qrels = {}
    for lang in langs:
        path = root / f"topics.{lang}.tsv"
        these = read_topics(path)
        wrong = [qid for qid in these if not qid.startswith(f"{lang}-")]
        if wrong:
            raise InputError(f"qids must be '{lang}-<question id>'; {len(wrong)} are not (first: {wrong[0]!r})",
                             path=path)
        judged = read_qrels(_need(root / f"qrels.{lang}.txt", f"topics.{lang}.tsv"))
        unjudged = [qid for qid in these if not any(rel > 0 for rel in judged.get(qid, {}).values())]
        if unjudged:
            raise InputError(f"{len(unjudged)} topics of topics.{lang}.tsv have no relevant passage here "
                             f"(first: {unjudged[0]!r})", path=root / f"qrels.{lang}.txt")
        for qid, text in these.items():
            if qid in topics:
                raise InputError(f"qid {qid!r} is also in topics.{topic_lang[qid]}.tsv", path=path)
            topics[qid], topic_lang[qid] = text, lang
            qrels[qid] = judged[qid]
            unknown = [d for d in judged[qid] if d not in docids]
            if unknown:
                raise InputError(f"qrels of {qid!r} name a passage that is not in corpus.jsonl",
                                 path=root / f"qrels.{lang}.txt", docid=unknown[0])
    answers = None
    if any("answers" in m.needs for m in parse_measures(config.metrics)):
        every = read_answers(_need(root / "answers.jsonl", "the R@kt metrics"))
        answers = {qid: every[qid] for qid in topics if qid in every}
        if not answers:
            raise InputError("no evaluated topic has an answers entry", path=root / "answers.jsonl")
    data = Dataset(root=root, passages=passages, topics=topics, topic_lang=topic_lang, langs=langs, qrels=qrels,
                   answers=answers)
    if config.needs_qg:
        _load_qg(data, root / "oracle" / "qg", docids)
    if config.needs_pg:
        data.pg = read_generated(_need(root / "oracle" / "pg.jsonl", "the pg arms"), field=PASSAGES_FIELD)
        _check_docids(data.pg, docids, root / "oracle" / "pg.jsonl")
    if config.needs_machine:
        _load_machine(data, root / "mt", docids, config)
    return data


def _load_machine(data: Dataset, folder: Path, docids: set[str], config: ExperimentConfig) -> None:
    """The machine-translation arms' files (``xqg data mt``), read by their owner ``data/machine.py``."""
    from xqg_pyserini.data.machine import read_machine_oracle

    arms = set(config.arms) | (config.alignment.arms() if config.alignment is not None else set())
    pg, qg = read_machine_oracle(folder.parent)
    if "mt-pg" in arms:
        if pg is None:
            raise InputError("no machine-translated passages (needed for the mt-pg arm)", path=folder)
        data.mt_pg = pg
        _check_docids(pg, docids, folder / "pg.jsonl")
    if "mt-qg" in arms:
        missing = [f for f in data.folds if f not in qg]
        if missing:
            raise InputError(f"no machine-translated questions for fold(s) {missing} (needed for mt-qg)", path=folder)
        data.mt_qg = {f: qg[f] for f in data.folds}
        for fold, texts in data.mt_qg.items():
            _check_docids(texts, docids, folder / "qg" / f"fold-{fold}.jsonl")
def _load_qg(data: Dataset, folder: Path, docids: set[str]) -> None:
    path = _need(folder / "folds.json", "the qg arms")
    try:
        folds = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON ({err.msg})", path=path, line=err.lineno) from None
    if not isinstance(folds, dict) or not isinstance(folds.get("fold_of"), dict):
        raise InputError('expected {"k": K, "seed": S, "fold_of": {question id: fold}}', path=path)
    fold_of = folds["fold_of"]
    for question, fold in fold_of.items():
        if isinstance(fold, bool) or not isinstance(fold, int) or fold < 0:
            raise InputError(f"fold_of[{question!r}] must be a fold number >= 0, got {fold!r}", path=path)
    missing = [qid for qid in data.topics if question_id(qid) not in fold_of]
    if missing:
        raise InputError(f"{len(missing)} topics have no fold (first: {missing[0]!r}, question id "
                         f"{question_id(missing[0])!r})", path=path)
    data.fold_k, data.fold_seed = folds.get("k"), folds.get("seed")
    data.fold_of_topic = {qid: fold_of[question_id(qid)] for qid in data.topics}
    for fold in sorted(set(data.fold_of_topic.values())):
        fold_path = _need(folder / f"fold-{fold}.jsonl", f"the questions of fold {fold}")
        data.qg[fold] = read_generated(fold_path, field=QUERIES_FIELD)
        _check_docids(data.qg[fold], docids, fold_path)


def _check_docids(texts: list[GeneratedText], docids: set[str], path: Path) -> None:
    for text in texts:
        if text.docid not in docids:
            raise InputError("names a passage that is not in corpus.jsonl", path=path, docid=text.docid)
