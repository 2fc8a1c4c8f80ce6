"""``xqg tune``: cross-validate fusion settings on a user's topics, optionally write the index."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from xqg_pyserini.encode.cli import add_encoder_flags, make_encoder
from xqg_pyserini.errors import InputError
from xqg_pyserini.index.passages import PASSAGES_HELP, read_passages


def cmd_tune(args: argparse.Namespace) -> int:
    from xqg_pyserini.evaluate.measures import Judgements, parse_measure
    from xqg_pyserini.evaluate.significance import SignificanceSettings, cluster_function
    from xqg_pyserini.index.build import write_faiss_index
    from xqg_pyserini.index.tune import describe, parse_grid, tune
    from xqg_pyserini.io.answers import read_answers
    from xqg_pyserini.io.corpus import open_corpus_texts
    from xqg_pyserini.io.embeddings import read_store
    from xqg_pyserini.io.qrels import read_qrels
    from xqg_pyserini.io.topics import read_topics
    from xqg_pyserini.options import comma_list
    from xqg_pyserini.search.dense import query_vectors

    grid = parse_grid(args.grid)
    measure = parse_measure(args.metric)
    if args.folds < 2:
        raise InputError("--folds must be at least 2")
    topics = read_topics(args.topics)
    judgements = Judgements(qrels=read_qrels(args.qrels) if args.qrels else None,
                            answers=read_answers(args.answers) if args.answers else None,
                            corpus=open_corpus_texts(args.corpus) if args.corpus else None)
    judgements.require([measure], "qrels", "answers")
    settings = SignificanceSettings(permutations=args.permutations, seed=args.seed, cluster_by=args.cluster_by,
                                    bootstrap=args.bootstrap)
    cluster_function(settings)
    passages = read_passages(args.passages)  # bad passages fail before any encoding
    if args.encoded_queries:
        vectors = query_vectors(read_store(args.encoded_queries, kind="query"), topics)
    else:
        vectors = make_encoder(args, passages.meta.get("encoder") or {}).encode_queries(list(topics.values()),
                                                                                       progress=True)
    result, fused = tune(args.passages, args.generated, list(topics), vectors, measure, judgements, grid,
                         hits=args.hits, folds=args.folds, seed=args.seed, settings=settings,
                         langs=comma_list(args.langs), progress=True)
    sys.stdout.write(tune_summary(result, measure.name, args.folds))
    if args.output:
        chosen = fused(result.best)
        chosen.record["tuning"] = {"grid": args.grid, "metric": measure.name, "folds": args.folds,
                                   "cluster_by": args.cluster_by, "seed": args.seed,
                                   "chosen_on_all_topics": describe(grid[result.best]),
                                   "cross_validated": result.held_out.mean[measure.name],
                                   "plain": result.plain.mean[measure.name],
                                   "interval": [result.comparison.ci_low, result.comparison.ci_high]}
        write_faiss_index(chosen, args.output)
        print(f"index with {describe(grid[result.best])} written to {args.output}")
    return 0


def tune_summary(result, metric: str, folds: int) -> str:
    from xqg_pyserini.index.tune import describe

    c = result.comparison
    lines = [f"{len(result.settings)} settings, {folds}-fold cross-validation over topic clusters ({c.units} "
             f"units in the test)."]
    for fold, i in result.choices.items():
        lines.append(f"  fold {fold}: chose {describe(result.settings[i])} on the other folds")
    lines += [
        f"held-out {metric}: {c.run_mean:.4f} vs plain {c.baseline_mean:.4f}: {c.difference:+.4f} "
        f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}] (95% bootstrap), p = {c.p_value:.2g}",
        f"best on all topics (for the index): {describe(result.settings[result.best])} "
        f"({metric} {result.means[result.best]:.4f}; optimistic, chosen and measured on the same topics)",
    ]
    return "\n".join(lines) + "\n"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("tune", help="choose alpha/fusion/... by cross-validation over topics; optionally write "
                                    "the index",
                       description="Cross-validates fusion settings on your topics: folds keep the translations of "
                                   "a question together; each fold's setting is chosen on the other folds. Prints "
                                   "the held-out estimate against plain with a 95% interval.")
    p.add_argument("--passages", required=True, help=PASSAGES_HELP)
    p.add_argument("--generated", action="append", required=True, help="generated embedding store (repeatable)")
    p.add_argument("--topics", required=True, help="TSV qid<TAB>query (qids '{lang}-{question id}' for clusters)")
    p.add_argument("--qrels", default=None, help="TREC qrels (ir-measures metrics)")
    p.add_argument("--answers", default=None, help="answers JSONL (R@kt)")
    p.add_argument("--corpus", default=None, help="corpus JSONL (R@kt)")
    p.add_argument("--grid", required=True,
                   help="settings to try, e.g. 'alpha=0.01,0.1,0.3;fusion=sum,mean;per-lang=3,5'; keys: alpha, "
                        "fusion, per-lang, unaugmented, renorm")
    p.add_argument("--langs", default=None, help="comma-separated generated languages (default: all)")
    p.add_argument("--metric", default="MRR@10", help="what is maximized (default: %(default)s)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: %(default)s)")
    p.add_argument("--cluster-by", default="question",
                   help="folds and tests keep clusters together: none, question, or a qid<TAB>cluster file "
                        "(default: %(default)s)")
    p.add_argument("--hits", type=int, default=100, help="passages ranked per query (default: %(default)s)")
    p.add_argument("--permutations", type=int, default=10_000, help="permutation test (default: %(default)s)")
    p.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap resamples (default: %(default)s)")
    p.add_argument("--seed", type=int, default=42, help="folds, test and bootstrap seed (default: %(default)s)")
    p.add_argument("--encoded-queries", default=None, help="query embedding store instead of encoding the topics")
    p.add_argument("--output", default=None, help="write the index built with the setting best on all topics")
    add_encoder_flags(p, default_encoder=None)
    p.set_defaults(func=cmd_tune)
