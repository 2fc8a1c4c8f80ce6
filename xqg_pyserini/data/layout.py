"""The output layout of ``xqg data``: the ``Converted`` set in memory and its atomic writer.

Everything is deterministic: the same ``Converted`` gives the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from xqg_pyserini.io.atomic import atomic_dir
from xqg_pyserini.io.qrels import write_qrels
from xqg_pyserini.io.topics import question_id, write_topics

STATS_FILE = "stats.json"  # written last-but-one; marks a directory as a converted dataset
OUTPUT_LAYOUT = """\
| file | contents |
|---|---|
| `corpus.jsonl` | `{"id", "title", "contents"}`: the English passages (contexts, or ~N-word splits) |
| `topics.{lang}.tsv` | `qid<TAB>question`, qid = `{lang}-{question id}`, one file per language (en is the control) |
| `qrels.{lang}.txt` | `{qid} 0 {docid} 1`: the passage(s) holding the English answer |
| `topics.tsv`, `qrels.txt` | all languages together |
| `clusters.tsv` | `qid<TAB>question id`: the translations of one question are one cluster (`xqg eval --cluster-by`) |
| `answers.jsonl` | `{"id": qid, "lang", "answers": [English answer texts]}` for R@kt |
| `oracle/qg/folds.json` | `{"k", "seed", "fold_of": {question id: fold}}` |
| `oracle/qg/fold-{f}.jsonl` | `{"docid", "generated_queries": {lang: [...]}}`: a passage's questions in each \
non-English language whose question id is not in fold f |
| `oracle/pg.jsonl` | `{"docid", "generated_passages": {lang: [the passage's human translation(s)]}}` |
| `stats.json` | counts per language, passages, splits, missing/inconsistent ids with examples, oracle counts |
"""


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


def _dump_jsonl(path: Path, rows: Sequence[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _dump_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_converted(conv: Converted, output: str | Path) -> Path:
    """Write ``conv`` in the output layout; ``output`` is replaced only when everything is written."""
    output = Path(output)
    with atomic_dir(output, marker=STATS_FILE, what="converted dataset") as tmp:
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
        # The unit of significance tests: a question's topics in every language are one cluster.
        (tmp / "clusters.tsv").write_text("".join(f"{qid}\t{question_id(qid)}\n" for qid in all_topics),
                                          encoding="utf-8")
        _dump_jsonl(tmp / "answers.jsonl", conv.answers)
        (tmp / "oracle" / "qg").mkdir(parents=True)
        _dump_json(tmp / "oracle" / "qg" / "folds.json", conv.folds)
        for f, rows in enumerate(conv.qg):
            _dump_jsonl(tmp / "oracle" / "qg" / f"fold-{f}.jsonl", rows)
        _dump_jsonl(tmp / "oracle" / "pg.jsonl", conv.pg)
        _dump_json(tmp / STATS_FILE, conv.stats)
        (tmp / "README.md").write_text(conv.readme, encoding="utf-8")
    return output
