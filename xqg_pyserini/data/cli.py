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


def cmd_mt(args: argparse.Namespace) -> int:
    import inspect

    from xqg_pyserini.data.machine import MT_DIR, build_machine_oracle
    from xqg_pyserini.generate.base import GENERATORS
    from xqg_pyserini.generate.cli import generator_options

    cls = GENERATORS.get(args.generator)
    if getattr(cls, "output", None) != "passages":
        raise InputError(f"--generator: xqg data mt needs a translator ({', '.join(_translators())}), "
                         f"not {args.generator}")
    langs = comma_list(args.langs) or []
    options = generator_options(args)
    if "langs" in inspect.signature(cls).parameters:  # it checks and records only these languages
        options["langs"] = langs
    manifest = build_machine_oracle(args.data, cls(**options), langs, batch_size=args.batch_size,
                                    progress=not args.no_progress, overwrite=args.overwrite,
                                    command=args.command_line)
    counts = manifest["counts"]
    where = f"{args.data.rstrip('/')}/{MT_DIR}"
    if manifest["up_to_date"]:
        print(f"{where} is up to date (nothing to do)")
    else:
        texts = sum(fold["texts"] for fold in counts["folds"])
        print(f"{counts['passages']} passages and {counts['distinct_questions']} distinct English questions "
              f"translated into {','.join(manifest['langs'])}; {len(counts['folds'])} QG folds "
              f"({texts} texts in all) -> {where} (details in manifest.json)")
    return 0


def _translators() -> list[str]:
    from xqg_pyserini.generate.base import GENERATORS

    return [name for name in GENERATORS.in_order() if getattr(GENERATORS.get(name), "output", None) == "passages"]


def _add_mt_parser(datasets: Any) -> None:
    from xqg_pyserini.generate.base import BATCH_SIZE, GENERATORS
    from xqg_pyserini.generate.cli import PLUGIN_OPTIONS, RUNNER
    from xqg_pyserini.options import collect_options, merge_options, taken_flags

    q = datasets.add_parser("mt", help="machine-translate a converted set's passages (PG) and English questions "
                                       "(QG folds) into mt/", description="Writes DATA/mt/: pg.jsonl, "
                            "qg/fold-{f}.jsonl, manifest.json, README.md; resumable, a rerun does nothing when "
                            "up to date.")
    q.add_argument("--data", required=True, help="a dataset dir written by xqg data xquad|mlqa")
    q.add_argument("--generator", default="apertium", help="a registered translator (default: %(default)s)")
    q.add_argument("--langs", required=True, help="comma-separated target languages, e.g. es")
    q.add_argument("--overwrite", action="store_true", help="replace translations made with other settings")
    q.add_argument("--no-progress", action="store_true", help="no progress bars (default: shown)")
    declared, unavailable = collect_options(GENERATORS, PLUGIN_OPTIONS, base={RUNNER: [BATCH_SIZE]},
                                            reserved=taken_flags(q))
    translators = {name: options for name, options in declared.items()
                   if getattr(GENERATORS.get(name), "output", None) == "passages"}
    groups = {name: q.add_argument_group(f"{name} ({getattr(GENERATORS.get(name), 'summary', '')})")
              for name in translators}
    shared = q.add_argument_group("options several translators take")
    for merged in merge_options({RUNNER: [BATCH_SIZE], **translators}):
        if RUNNER in merged.owners:
            merged.option.add_to(q)
        else:
            merged.option.add_to(shared if len(merged.owners) > 1 else groups[merged.owners[0]], help=merged.help)
    q.set_defaults(func=cmd_mt, unavailable_generators=unavailable)


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
    q = datasets.add_parser("xor-tydi", help="XOR-TyDi XOR-Retrieve: DPR passage TSV + dev jsonl -> corpus, "
                                             "per-language topics, answers for R@kt")
    q.add_argument("--corpus", required=True, help="passages in DPR's TSV (id, text, title), e.g. psgs_w100.tsv")
    q.add_argument("--dev", required=True, help="xor_dev_retrieve_eng_span*.jsonl {id, lang, question, answers}")
    q.add_argument("--output", required=True, help="dataset dir to write")
    q.add_argument("--shards", type=int, default=None,
                   help="also write the corpus in N contiguous slices (the ranges of xqg generate --shard I/N)")
    q.add_argument("--generated", nargs="+", default=(), metavar="FILE_OR_DIR",
                   help="released generations (JSONL rows {docid, generated_queries}, e.g. the data/ dir of "
                        "ielab/xor-tydi-xqg-augmented), re-cut into the same slices under generated/ (default: none)")
    q.set_defaults(func=cmd_xor_tydi)
    q = datasets.add_parser("combine", help="one retrieval set from several converted ones (harder corpus)")
    q.add_argument("--inputs", nargs="+", required=True, help="dataset dirs made by xqg data xquad / mlqa")
    q.add_argument("--output", required=True, help="dataset dir to write")
    add_overwrite_flag(q, "converted dataset")
    q.set_defaults(func=cmd_data)
    _add_mt_parser(datasets)
