"""``xqg index`` (fuse and write a FAISS index) and ``xqg tune`` (cross-validate fusion settings on a user's
topics, optionally write the index)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from xqg_pyserini.encode.cli import add_encoder_flags, make_encoder
from xqg_pyserini.errors import InputError
from xqg_pyserini.index.fusion import FUSIONS, UNAUGMENTED
from xqg_pyserini.index.passages import PASSAGES_HELP, read_passages
from xqg_pyserini.index.writers import INDEX_TYPES
from xqg_pyserini.options import add_overwrite_flag, comma_list, non_negative_int, positive_int


def cmd_index(args: argparse.Namespace) -> int:
    from xqg_pyserini.index.build import INDEX_KIND, PROVENANCE, IndexSpec, build_index
    from xqg_pyserini.io.atomic import check_output_dir

    check_output_dir(args.output, marker=PROVENANCE, kind=INDEX_KIND, what="FAISS index")  # before reading stores
    spec = IndexSpec(index_type=args.index_type, hnsw_m=args.hnsw_m, ef_construction=args.ef_construction,
                     ef_search=args.ef_search, nlist=args.nlist, nprobe=args.nprobe, pq_m=args.pq_m,
                     pq_bits=args.pq_bits, train_size=args.train_size, seed=args.seed, shards=args.shards,
                     recall_sample=args.recall_sample)
    record = build_index(args.passages, args.output, generated=args.generated, alpha=args.alpha,
                         fusion=args.fusion, langs=comma_list(args.langs), per_lang=args.per_lang,
                         unaugmented=args.unaugmented, renorm=args.renorm, spec=spec,
                         report=lambda line: print(line, flush=True))
    print(index_summary(record, args.output))
    if "recall" in record:
        print(f"recall@100 against exact search: {record['recall']['recall@100_vs_flat']:.4f} "
              f"({record['recall']['queries']} sampled queries)")
    passages = record["passages"]
    if not passages["encoder_recorded"] and record.get("generated"):
        print(f"warning: {args.passages} ({passages['format']}) does not record its encoder, so only the dimension "
              "was checked; the generated texts must have been encoded with the same model", file=sys.stderr)
    if record.get("uneven") and record["fusion"] == "sum" and record["alpha"] > 0:
        counts = record["texts_per_passage"]
        print(f"warning: augmented passages fuse between {counts['min']} and {counts['max']} generated texts; under "
              "--fusion sum a passage's norm grows with its count, so passages with many texts can rank first for "
              "most queries. Use --fusion mean, or the same number of texts per passage and language "
              "(--per-lang N on uniform generations).", file=sys.stderr)
    return 0


def index_summary(record: dict, output: str) -> str:
    """One line: what ``xqg index`` built."""
    total = record["passages"]["count"]
    if not record.get("generated"):
        return f"indexed {total} passages, none augmented (the plain index) in {output}"
    unaugmented = record["passages_unaugmented"]
    what = "kept as E(p)" if record["unaugmented"] == "keep" else "scaled by 1-alpha"
    return (f"indexed {total} passages (alpha={record['alpha']}, fusion {record['fusion']}"
            f"{', renormalized' if record.get('renorm') else ''}): {record['passages_augmented']} of {total} "
            f"augmented with {record['queries_used']} generated texts in "
            f"{','.join(record['langs']) or '-'}; {unaugmented} unaugmented ({what}) in {output}")


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


def add_index_parser(sub: Any) -> None:
    p = sub.add_parser("index", help="fuse generated-query vectors into passages and write a FAISS index")
    p.add_argument("--passages", required=True, help=PASSAGES_HELP)
    p.add_argument("--generated", action="append", default=None,
                   help="generated embedding store (xqg encode --kind generated); repeat to fuse several (QG+PG) "
                        "(default: none, the plain index)")
    p.add_argument("--alpha", type=float, default=0.01,
                   help="weight of the generated queries, p' = (1-alpha) p + alpha sum(q) (default: %(default)s)")
    p.add_argument("--fusion", choices=FUSIONS, default="sum",
                   help="how a passage's generated vectors combine: their sum (the paper) or mean "
                        "(default: %(default)s)")
    p.add_argument("--unaugmented", choices=UNAUGMENTED, default="keep",
                   help="a passage with no selected generated text: keep its plain vector E(p), or scale it by "
                        "1-alpha like the others (default: %(default)s)")
    p.add_argument("--renorm", action="store_true",
                   help="L2-normalize the fused vectors, for encoders compared by cosine (default: off)")
    p.add_argument("--langs", default=None, help="comma-separated subset of generated languages (default: all)")
    p.add_argument("--per-lang", type=positive_int, default=None,
                   help="use the first N queries per language (default: all)")
    p.add_argument("--index-type", choices=INDEX_TYPES, default="flat",
                   help="FAISS index, inner product: flat (exact), ivfflat, ivfpq or hnsw (approximate) "
                        "(default: %(default)s)")
    p.add_argument("--hnsw-m", type=positive_int, default=32, help="hnsw: links per node (default: %(default)s)")
    p.add_argument("--ef-construction", type=positive_int, default=200,
                   help="hnsw: efConstruction (default: %(default)s)")
    p.add_argument("--ef-search", type=positive_int, default=None,
                   help="hnsw: efSearch stored in the index (default: 16)")
    p.add_argument("--nlist", type=positive_int, default=None,
                   help="ivfflat/ivfpq: inverted lists (default: ~4*sqrt(N))")
    p.add_argument("--nprobe", type=positive_int, default=None,
                   help="ivfflat/ivfpq: lists searched, stored in the index file (default: 1)")
    p.add_argument("--pq-m", type=positive_int, default=None,
                   help="ivfpq: sub-quantizers, dividing dim (default: ~dim/8)")
    p.add_argument("--pq-bits", type=positive_int, default=8,
                   help="ivfpq: bits per sub-quantizer code (default: %(default)s)")
    p.add_argument("--train-size", type=positive_int, default=None,
                   help="ivfflat/ivfpq: training vectors, a seeded sample (default: 64 per list)")
    p.add_argument("--seed", type=int, default=42,
                   help="seed of the training and recall samples (default: %(default)s)")
    p.add_argument("--shards", type=positive_int, default=1,
                   help="split the index into K shard dirs (contiguous passages), searched one by one and merged "
                        "(default: %(default)s)")
    p.add_argument("--recall-sample", type=non_negative_int, default=1000,
                   help="after an approximate or sharded build: queries for recall@100 against exact search "
                        "(0: skip; default: %(default)s)")
    p.add_argument("--output", required=True, help="index dir (Pyserini FAISS layout)")
    add_overwrite_flag(p, "FAISS index")
    p.set_defaults(func=cmd_index)
