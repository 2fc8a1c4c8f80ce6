"""How coverage (which passages have generated text in a language) relates to relevance.

With partial coverage a passage's augmentation can tell the index something that has nothing to do
with what was generated: in MLQA a passage has an aligned context in language L only when one of
its questions was asked in L, so every L topic's relevant passage is covered in L while most other
passages are not. Per source and topic language: the share of passages covered, and the share of
topics whose relevant passage is covered (QG sources: each topic against its own fold's source).
"""

from __future__ import annotations

from dataclasses import dataclass

from xqg_pyserini.experiments.dataset import Dataset
from xqg_pyserini.io.generated import GeneratedText


@dataclass(frozen=True)
class Coverage:
    source: str  # "qg" (folds pooled), "pg", "mt-qg", "mt-pg"
    lang: str
    passages_covered: float  # share of corpus passages with a text in lang (QG: mean over folds)
    relevant_covered: float  # share of lang's topics whose relevant passage (any) is covered
    topics: int


def _covered(texts: list[GeneratedText]) -> dict[str, set[str]]:
    by_lang: dict[str, set[str]] = {}
    for t in texts:
        by_lang.setdefault(t.lang, set()).add(t.docid)
    return by_lang


def coverage(data: Dataset) -> list[Coverage]:
    rows = []
    total = len(data.passages)
    sources = [("pg", {None: data.pg}), ("mt-pg", {None: data.mt_pg}), ("qg", data.qg), ("mt-qg", data.mt_qg)]
    for name, by_fold in sources:
        by_fold = {fold: _covered(texts) for fold, texts in by_fold.items() if texts}
        if not by_fold:
            continue
        langs = sorted({lang for covered in by_fold.values() for lang in covered})
        for lang in langs:
            topics = [q for q, l in data.topic_lang.items() if l == lang]
            if not topics:
                continue
            hit = 0
            for qid in topics:
                covered = by_fold[data.fold_of_topic.get(qid) if None not in by_fold else None].get(lang, set())
                hit += any(rel > 0 and docid in covered for docid, rel in data.qrels[qid].items())
            share = sum(len(c.get(lang, set())) for c in by_fold.values()) / (len(by_fold) * total)
            rows.append(Coverage(name, lang, share, hit / len(topics), len(topics)))
    return rows


def coverage_rows(rows: list[Coverage]) -> tuple[list[str], list[list[str]]]:
    header = ["source", "lang", "topics", "passages covered", "relevant passage covered"]
    return header, [[r.source, r.lang, str(r.topics), f"{100 * r.passages_covered:.1f}%",
                     f"{100 * r.relevant_covered:.1f}%"] for r in rows]
