"""``xqg data``: convert XQuAD / MLQA into retrieval sets, or combine converted ones."""

from __future__ import annotations

import argparse
from typing import Any

from xqg_pyserini.errors import InputError
from xqg_pyserini.options import comma_list


def cmd_data(args: argparse.Namespace) -> int:
    if args.dataset == "combine":
        from xqg_pyserini.data.combine import combine

        stats = combine(args.inputs, args.output, command=args.command_line)
    else:
        if args.folds < 2:
            raise InputError("--folds must be at least 2 (k-fold cross-fitting of the QG oracle)")
        if args.dataset == "xquad":
            from xqg_pyserini.data.xquad import convert_xquad as convert
        else:
            from xqg_pyserini.data.mlqa import convert_mlqa as convert
        stats = convert(args.source, args.output, passage_words=args.passage_words, oracle_folds=args.folds,
                        seed=args.seed, languages=comma_list(args.langs))
    topics = (stats.get("totals") or {}).get("topics")
    print(f"{stats.get('passages')} passages, {topics} topics in {len(stats.get('languages', []))} languages "
          f"-> {args.output} (details in stats.json)")
    return 0


def cmd_xor_tydi(args: argparse.Namespace) -> int:
    from xqg_pyserini.data.xor_tydi import convert_xor_tydi

    stats = convert_xor_tydi(args.corpus, args.dev, args.output, shards=args.shards, generated=args.generated,
                             command=args.command_line)
    print(f"{stats['passages']} passages, {stats['totals']['topics']} topics in {len(stats['languages'])} languages "
          f"-> {args.output} (details in stats.json)")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("data", help="convert XQuAD / MLQA into a cross-lingual retrieval set with oracles")
    datasets = p.add_subparsers(dest="dataset", required=True)
    for name, what in (("xquad", "XQuAD: xquad.{lang}.json files"), ("mlqa", "MLQA dev: {lang}.json files")):
        q = datasets.add_parser(name, help=f"convert {what}")
        q.add_argument("--source", required=True, help="directory (or http(s) base URL) of the SQuAD-format files")
        q.add_argument("--output", required=True)
        q.add_argument("--passage-words", type=int, default=None, help="split contexts into ~N-word passages")
        q.add_argument("--folds", type=int, default=5, help="k for the QG oracle's cross-fitting (default 5)")
        q.add_argument("--seed", type=int, default=13)
        q.add_argument("--langs", default=None, help="comma-separated topic languages (default: all found)")
        q.set_defaults(func=cmd_data)
    q = datasets.add_parser("xor-tydi", help="XOR-TyDi XOR-Retrieve: DPR passage TSV + dev jsonl -> corpus, "
                                             "per-language topics, answers for R@kt")
    q.add_argument("--corpus", required=True, help="passages in DPR's TSV (id, text, title), e.g. psgs_w100.tsv")
    q.add_argument("--dev", required=True, help="xor_dev_retrieve_eng_span*.jsonl {id, lang, question, answers}")
    q.add_argument("--output", required=True)
    q.add_argument("--shards", type=int, default=None,
                   help="also write the corpus in N contiguous slices (the ranges of xqg generate --shard I/N)")
    q.add_argument("--generated", nargs="+", default=(), metavar="FILE_OR_DIR",
                   help="released generations (JSONL rows {docid, generated_queries}, e.g. the data/ dir of "
                        "ielab/xor-tydi-xqg-augmented), re-cut into the same slices under generated/")
    q.set_defaults(func=cmd_xor_tydi)
    q = datasets.add_parser("combine", help="one retrieval set from several converted ones (harder corpus)")
    q.add_argument("--inputs", nargs="+", required=True)
    q.add_argument("--output", required=True)
    q.set_defaults(func=cmd_data)
