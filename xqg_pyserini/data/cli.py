"""``xqg data``: convert XQuAD / MLQA into retrieval sets, or combine converted ones."""

from __future__ import annotations

import argparse
from typing import Any

from xqg_pyserini.errors import InputError
from xqg_pyserini.options import add_overwrite_flag, comma_list


def cmd_data(args: argparse.Namespace) -> int:
    from xqg_pyserini.data.layout import STATS_FILE
    from xqg_pyserini.io.atomic import check_output_dir

    check_output_dir(args.output, marker=STATS_FILE, what="converted dataset")  # before reading the sources
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
                        seed=args.seed, languages=comma_list(args.langs), command=args.command_line)
    topics = (stats.get("totals") or {}).get("topics")
    print(f"{stats.get('passages')} passages, {topics} topics in {len(stats.get('languages', []))} languages "
          f"-> {args.output} (details in stats.json)")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("data", help="convert XQuAD / MLQA into a cross-lingual retrieval set with oracles")
    datasets = p.add_subparsers(dest="dataset", required=True)
    for name, what in (("xquad", "XQuAD: xquad.{lang}.json files"), ("mlqa", "MLQA dev: {lang}.json files")):
        q = datasets.add_parser(name, help=f"convert {what}")
        q.add_argument("--source", required=True, help="directory (or http(s) base URL) of the SQuAD-format files")
        q.add_argument("--output", required=True, help="dataset dir to write (layout in its README.md)")
        q.add_argument("--passage-words", type=int, default=None,
                       help="split contexts into ~N-word passages (default: one passage per context)")
        q.add_argument("--folds", type=int, default=5,
                       help="k for the QG oracle's cross-fitting (default: %(default)s)")
        q.add_argument("--seed", type=int, default=13,
                       help="seed dealing question ids into folds (default: %(default)s)")
        q.add_argument("--langs", default=None, help="comma-separated topic languages (default: all found)")
        add_overwrite_flag(q, "converted dataset")
        q.set_defaults(func=cmd_data)
    q = datasets.add_parser("combine", help="one retrieval set from several converted ones (harder corpus)")
    q.add_argument("--inputs", nargs="+", required=True, help="dataset dirs made by xqg data xquad / mlqa")
    q.add_argument("--output", required=True, help="dataset dir to write")
    add_overwrite_flag(q, "converted dataset")
    q.set_defaults(func=cmd_data)
