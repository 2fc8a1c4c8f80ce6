"""The Lucene rows of docs/REPORT.md: BM25, BM25 + xQG expansion, hybrids with the dense runs.

Uses the dataset and settings of an experiment config (``configs/*.yaml``) and the dense runs that
``xqg experiment`` wrote, so every row is evaluated on the same topics with the same oracle folds:

* ``bm25``: English passages only (the cross-lingual failure case);
* ``bm25-qg``: passages expanded with the QG oracle, one index per fold, each searched only with
  that fold's held-out questions, runs merged (as the dense QG arm);
* ``bm25-pg``: passages expanded with their human translations (the PG oracle);
* hybrids: ``xqg fuse`` (ranx) of a dense run with a BM25 run, CombSUM over min-max-normalized
  scores and RRF (k = 60), equal weights.

Everything is scored and tested against ``--baseline`` (default: the first ``--dense`` run) as
``xqg eval --rkt-missing miss`` does, once, and written as ``leaderboard.md`` and ``leaderboard.json``.

    python tools/lucene_rows.py --config configs/xquad-alignment.yaml \\
        --dense dense=experiments/xquad-alignment/runs/plain.trec \\
        --dense dense-xqg=experiments/xquad-alignment/runs/<tag>.trec --output experiments/xquad-lucene
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xqg_pyserini.evaluate.measures import Judgements
from xqg_pyserini.evaluate.report import evaluate, language_of
from xqg_pyserini.experiments.config import load_config
from xqg_pyserini.experiments.dataset import load_dataset
from xqg_pyserini.search.hybrid import fuse_files
from xqg_pyserini.index.sparse import build_sparse_index
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.qrels import write_qrels
from xqg_pyserini.io.runs import Run, read_run, write_run
from xqg_pyserini.io.topics import write_topics
from xqg_pyserini.search.sparse import sparse_search


def bm25_run(index: Path, topics: dict[str, str], hits: int) -> Run:
    return sparse_search(index, topics, hits=hits, k1=0.9, b=0.4)


def write_once(path: Path, tag: str, make) -> None:
    """BM25 runs are deterministic given their index: an existing one is kept (delete runs/ to redo)."""
    if not path.is_file():
        write_run(make(), path, tag=tag)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--dense", action="append", default=[], help="NAME=RUN: a dense run to report and fuse")
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--baseline", default=None, help="NAME of the run to test against (default: the first --dense)")
    args = parser.parse_args()

    names = [item.split("=", 1)[0] for item in args.dense]
    if not names or any("=" not in item for item in args.dense):
        parser.error("give at least one --dense NAME=RUN")
    baseline = args.baseline or names[0]
    config = load_config(args.config)
    data = load_dataset(config)
    out = args.output
    (out / "indexes").mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    root, langs, hits = config.data, list(config.target_langs), config.hits
    write_topics(data.topics, out / "topics.tsv")
    write_qrels(data.qrels, out / "qrels.txt")

    runs: dict[str, Path] = {}
    corpus = root / "corpus.jsonl"
    index = out / "indexes" / "bm25"
    if not index.exists():
        build_sparse_index(corpus, index, progress=False)
    runs["bm25"] = out / "runs" / "bm25.trec"
    write_once(runs["bm25"], "bm25", lambda: bm25_run(out / "indexes" / "bm25", data.topics, hits))

    for fold in data.folds:
        index = out / "indexes" / f"bm25-qg-fold{fold}"
        if not index.exists():
            build_sparse_index(corpus, index, generated=root / "oracle" / "qg" / f"fold-{fold}.jsonl", langs=langs,
                               progress=False)

    def merged_folds() -> Run:
        merged: Run = {}
        for fold in data.folds:
            merged.update(bm25_run(out / "indexes" / f"bm25-qg-fold{fold}",
                                   {q: data.topics[q] for q in data.fold_topics(fold)}, hits))
        return {q: merged[q] for q in data.topics if q in merged}

    runs["bm25-qg"] = out / "runs" / "bm25-qg.trec"
    write_once(runs["bm25-qg"], "bm25-qg", merged_folds)

    if (root / "oracle" / "pg.jsonl").is_file():
        index = out / "indexes" / "bm25-pg"
        if not index.exists():
            build_sparse_index(corpus, index, generated=root / "oracle" / "pg.jsonl", field="generated_passages",
                               langs=langs, progress=False)
        runs["bm25-pg"] = out / "runs" / "bm25-pg.trec"
        write_once(runs["bm25-pg"], "bm25-pg", lambda: bm25_run(index, data.topics, hits))

    dense = {}
    for item in args.dense:  # copied under the given name, so tables name it so
        name, path = item.split("=", 1)
        dense[name] = out / "runs" / f"{name}.trec"
        write_run(read_run(path), dense[name], tag=name)
        runs[name] = dense[name]
    for name in dense:
        for sparse in ("bm25", "bm25-qg"):
            for method, norm in (("combsum", "min-max"), ("rrf", None)):
                tag = f"{name}+{sparse}-{method}"
                runs[tag] = out / "runs" / f"{tag}.trec"
                fuse_files([dense[name], runs[sparse]], runs[tag], method=method, norm=norm, hits=hits, tag=tag)

    # Scored and tested once; every run's qids must be judged (ir-measures scoring refuses others).
    judgements = Judgements(qrels=data.qrels, answers=data.answers, corpus=data.passages, rkt_missing="miss")
    report = evaluate(list(runs.values()), config.metrics, judgements, baseline=baseline,
                      settings=config.significance, lang_of=language_of(data.answers))
    for fmt in ("md", "json"):
        with atomic_file(out / f"leaderboard.{fmt}") as handle:
            handle.write(report.table(fmt))
            if fmt == "md":
                handle.write(f"\n{report.footnote()}\n")
    print((out / "leaderboard.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
