"""``xqg``: one small function per subcommand; each parses flags and calls the library."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

from xqg_pyserini.data import cli as data_cli
from xqg_pyserini.encode import cli as encode_cli
from xqg_pyserini.encode.cli import add_encoder_flags as _encoder_args, make_encoder as _make_encoder
from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate import cli as evaluate_cli
from xqg_pyserini.experiments import html as report_html
from xqg_pyserini.generate import cli as generate_cli, filter_cli
from xqg_pyserini.index import cli as index_cli
from xqg_pyserini.io.corpus import DEFAULT_PASSAGE_TEMPLATE
from xqg_pyserini.io.generated import FIELDS, QUERIES_FIELD
from xqg_pyserini.options import add_overwrite_flag, comma_list as _langs, numbers as _numbers
from xqg_pyserini.options import non_negative_int as _non_negative_int, positive_int as _positive_int

DESCRIPTION = """\
Cross-lingual query generation (xQG) for dense retrieval, as a Pyserini extension: passages are
augmented with queries generated in other languages, p' = (1-alpha) E(p) + alpha * sum E(q), and
indexed with FAISS in Pyserini's layout; search is unchanged.

Pipeline: xqg generate -> xqg encode -> xqg index -> xqg search -> xqg eval
(xqg demo runs it all on a bundled collection). `xqg COMMAND --help` lists a command's flags."""


def cmd_search(args: argparse.Namespace) -> int:
    from xqg_pyserini.index.build import check_faiss_dir, index_provenance
    from xqg_pyserini.io.atomic import check_output_file
    from xqg_pyserini.io.embeddings import read_store
    from xqg_pyserini.io.runs import is_run_file
    from xqg_pyserini.io.topics import read_topics
    from xqg_pyserini.search.dense import query_vectors, search_to_file

    # Everything the user gave is checked before a model loads or Java starts.
    topics = read_topics(args.topics)
    check_output_file(args.output, same_kind=is_run_file, what="TREC run")
    if args.sparse:
        from xqg_pyserini.index.sparse import check_lucene_dir
        from xqg_pyserini.search.sparse import sparse_search_to_file

        check_lucene_dir(Path(args.index))
        sparse_search_to_file(args.index, args.topics, topics, args.output, hits=args.hits, k1=args.k1, b=args.b,
                              threads=args.threads, tag=args.run_tag, progress=True)
        print(f"{len(topics)} queries searched (BM25 k1={args.k1} b={args.b}); run written to {args.output}")
        return 0
    check_faiss_dir(args.index)
    if args.encoded_queries:
        encoded = read_store(args.encoded_queries, kind="query")
        query_vectors(encoded, topics)  # every topic has its vector
        encoder = None
    else:
        encoder, encoded = _make_encoder(args, index_provenance(args.index).get("encoder") or {}), None
    search_to_file(args.index, args.topics, topics, encoder, args.output, hits=args.hits,
                   threads=args.threads, tag=args.run_tag, encoded=encoded)
    print(f"{len(topics)} queries searched; run written to {args.output}")
    return 0


def cmd_index_sparse(args: argparse.Namespace) -> int:
    from xqg_pyserini.index.sparse import build_sparse_index

    record = build_sparse_index(args.corpus, args.output, generated=args.generated, langs=_langs(args.langs),
                                per_lang=args.per_lang, field=args.generated_field, analyzer=args.analyzer,
                                tokenizer=args.tokenizer, passage_template=args.passage_template,
                                threads=args.threads, progress=not args.no_progress)
    print(f"Lucene index of {record['documents']} documents ({record['queries_used']} generated texts, "
          f"analyzer {record['analyzer']}) in {args.output}")
    return 0


def cmd_pretokenize(args: argparse.Namespace) -> int:
    from xqg_pyserini.search.sparse import pretokenize_topics

    info = pretokenize_topics(args.topics, args.output, args.index)
    print(f"{info['written']} of {info['topics']} topics written to {args.output}; search them with "
          f"python -m pyserini.search.lucene --index {args.index} --topics {args.output} --bm25 "
          f"{' '.join(info['pyserini_flags'])}")
    return 0


def cmd_fuse(args: argparse.Namespace) -> int:
    from xqg_pyserini.search.hybrid import fuse_files

    weights = [float(w) for w in args.weights.replace(",", " ").split()] if args.weights else None
    run = fuse_files(args.runs, args.output, method=args.method, norm=args.norm, weights=weights, k=args.k,
                     hits=args.hits, tag=args.run_tag)
    print(f"{len(args.runs)} runs fused ({args.method}) over {len(run)} queries; written to {args.output}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from xqg_pyserini.evaluate.measures import Judgements, parse_measures
    from xqg_pyserini.evaluate.report import evaluate, language_of
    from xqg_pyserini.evaluate.significance import SignificanceSettings, cluster_function
    from xqg_pyserini.io.answers import read_answers
    from xqg_pyserini.io.corpus import open_corpus_texts
    from xqg_pyserini.io.qrels import read_qrels

    if args.plot and not args.baseline:
        raise InputError("--plot draws each run against the baseline: give --baseline")
    measures = parse_measures(args.metrics)
    qrels = read_qrels(args.qrels) if args.qrels else None
    answers = read_answers(args.answers) if args.answers else None
    corpus = open_corpus_texts(args.corpus) if args.corpus else None  # read on demand: retrieved passages only
    judgements = Judgements(qrels=qrels, answers=answers, corpus=corpus, rkt_missing=args.rkt_missing)
    settings = SignificanceSettings(permutations=args.permutations, seed=args.seed, correction=args.correction,
                                    level=args.significance_level, cluster_by=args.cluster_by,
                                    bootstrap=args.bootstrap, confidence=args.confidence)
    cluster_function(settings)  # a bad --cluster-by file fails before scoring
    report = evaluate(args.runs, measures, judgements, baseline=args.baseline, settings=settings,
                      lang_of=language_of(answers, args.lang_sep))
    sys.stdout.write(report.table(args.format, per_lang=args.per_lang))
    if report.comparisons(per_lang=args.per_lang) and args.format == "md":
        if args.effects:
            print("\n" + report.effects(per_lang=args.per_lang), end="")
        print(f"\n{report.footnote()}")
    if args.plot:
        from xqg_pyserini.evaluate.plots import plot_effects

        plot_effects(args.plot, report.tests(per_lang=True))
        print(f"per-language differences to {report.baseline} plotted in {args.plot}", file=sys.stderr)
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from xqg_pyserini.experiments.config import OUTPUT_ENTRIES, OUTPUT_MARKER, load_config
    from xqg_pyserini.experiments.runner import run_experiment
    from xqg_pyserini.io.atomic import check_work_dir

    output = args.output or load_config(args.config).output
    if output is not None:  # else run_experiment names the missing setting
        check_work_dir(output, markers=(OUTPUT_MARKER,), entries=OUTPUT_ENTRIES, what="experiment output")
    summary = run_experiment(args.config, args.output, progress=not args.no_progress, data_dir=args.data,
                             command=args.command_line)
    print(f"summary: {summary}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from xqg_pyserini.experiments.demo import run_demo

    flags = {key: getattr(args, key) for key in ("batch_size", "device")}
    run_demo(Path(args.output), encoder=args.encoder, alpha=args.alpha, **flags)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from xqg_pyserini.encode.models import resolve

    print(resolve(args.name))
    return 0


def cmd_java(args: argparse.Namespace) -> int:
    from xqg_pyserini.java import find_java

    runtime = find_java()
    if args.home:
        print(runtime.home)
    else:
        print(f"Java {runtime.major} at {runtime.home} (from {runtime.source}); "
              f"jdk.incubator.vector {'present' if runtime.has_vector_module else 'absent'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xqg", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    generate_cli.add_parser(sub)
    filter_cli.add_parser(sub)
    encode_cli.add_parser(sub)
    _add_dense_parsers(sub)
    index_cli.add_parser(sub)
    _add_sparse_parsers(sub)
    _add_eval_parsers(sub)
    evaluate_cli.add_parsers(sub)
    data_cli.add_parser(sub)
    _add_other_parsers(sub)
    report_html.add_parser(sub)
    return parser


def _add_dense_parsers(sub: Any) -> None:
    index_cli.add_index_parser(sub)
    p = sub.add_parser("search", help="search an index with Pyserini's FaissSearcher; TREC run out")
    p.add_argument("--index", required=True, help="index dir (xqg index; with --sparse, xqg index-sparse)")
    p.add_argument("--topics", required=True, help="TSV qid<TAB>query")
    p.add_argument("--hits", type=_positive_int, default=100, help="passages kept per query (default: %(default)s)")
    p.add_argument("--threads", type=_positive_int, default=1,
                   help="search threads (FAISS or Lucene) (default: %(default)s)")
    p.add_argument("--run-tag", default=None, help="run tag (default: the output file's stem)")
    p.add_argument("--encoded-queries", default=None,
                   help="query embedding store (xqg encode --kind query) instead of encoding the topics")
    p.add_argument("--output", required=True, help="TREC run file (+ OUTPUT.json provenance)")
    add_overwrite_flag(p, "TREC run")
    sparse = p.add_argument_group("sparse (a Lucene index from xqg index-sparse)")
    sparse.add_argument("--sparse", action="store_true", help="BM25 with Pyserini's LuceneSearcher")
    sparse.add_argument("--k1", type=float, default=0.9, help="BM25 k1 (default: %(default)s)")
    sparse.add_argument("--b", type=float, default=0.4, help="BM25 b (default: %(default)s)")
    _encoder_args(p, default_encoder=None, side="query")
    p.set_defaults(func=cmd_search)


def _add_sparse_parsers(sub: Any) -> None:
    p = sub.add_parser("index-sparse", help="Lucene index of passages expanded with generated texts (doc2query)")
    p.add_argument("--corpus", required=True, help="corpus JSONL")
    p.add_argument("--generated", default=None, help="generated JSONL or shard-set dir (default: no expansion)")
    p.add_argument("--generated-field", choices=FIELDS, default=QUERIES_FIELD,
                   help="which generated texts expand the passages (default: %(default)s)")
    p.add_argument("--langs", default=None, help="comma-separated subset of generated languages (default: all)")
    p.add_argument("--per-lang", type=_positive_int, default=None,
                   help="use the first N texts per language (default: all)")
    p.add_argument("--analyzer", default="subword",
                   help="subword (default: e5-small's multilingual sentencepiece, queries alike), whitespace, "
                        "en/default, or a Lucene language analyzer code (ar, ja, zh, ...)")
    p.add_argument("--tokenizer", default="e5-small",
                   help="subword tokenizer: model name or dir (default: %(default)s)")
    p.add_argument("--passage-template", default=DEFAULT_PASSAGE_TEMPLATE,
                   help="how a passage becomes the indexed text (default: %(default)r)")
    p.add_argument("--threads", type=_positive_int, default=1, help="indexing threads (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress messages")
    p.add_argument("--output", required=True, help="Lucene index dir")
    add_overwrite_flag(p, "Lucene index")
    p.set_defaults(func=cmd_index_sparse)

    p = sub.add_parser("pretokenize", help="topics analyzed as a subword index analyzes them (for Pyserini's CLI)")
    p.add_argument("--index", required=True, help="Lucene index from xqg index-sparse")
    p.add_argument("--topics", required=True, help="TSV qid<TAB>query")
    p.add_argument("--output", required=True, help="TSV topics for pyserini.search.lucene --pretokenized")
    add_overwrite_flag(p, "topics file")
    p.set_defaults(func=cmd_pretokenize)

    p = sub.add_parser("fuse", help="fuse TREC runs with ranx (RRF, CombSUM, ...), e.g. dense + BM25")
    p.add_argument("--runs", nargs="+", required=True, help="two or more TREC runs")
    p.add_argument("--method", choices=("rrf", "combsum", "combmnz", "combmax"), default="rrf",
                   help="reciprocal rank fusion, or the sum / sum x hits / max of normalized scores "
                        "(default: %(default)s)")
    p.add_argument("--norm", choices=("min-max", "max", "sum", "zmuv", "rank", "borda", "none"), default="min-max",
                   help="score normalization before comb* (ignored by rrf; default: %(default)s)")
    p.add_argument("--weights", default=None, type=_numbers,
                   help="one weight per run, e.g. '0.7 0.3' (default: equal)")
    p.add_argument("--k", type=float, default=60, help="RRF k (default: %(default)s)")
    p.add_argument("--hits", type=_positive_int, default=1000, help="passages kept per query (default: %(default)s)")
    p.add_argument("--run-tag", default=None, help="run tag (default: the output file's stem)")
    p.add_argument("--output", required=True, help="fused TREC run file (+ OUTPUT.json provenance)")
    add_overwrite_flag(p, "TREC run")
    p.set_defaults(func=cmd_fuse)


def _add_eval_parsers(sub: Any) -> None:
    p = sub.add_parser("eval", help="score runs (ir-measures names and R@kt), Fisher tests, leaderboards")
    p.add_argument("--runs", required=True, nargs="+", help="TREC runs, or official prediction JSON (R@kt only)")
    p.add_argument("--qrels", default=None, help="TREC qrels (for ir-measures metrics)")
    p.add_argument("--metrics", default="R@100 MRR@10 nDCG@10",
                   help="ir-measures names and R@Nkt, e.g. 'R@100 MRR@10 nDCG@10 R@2kt R@5kt' (default: %(default)r)")
    p.add_argument("--answers", default=None, help="answers.jsonl {id, lang, answers} or XOR-TyDi dev jsonl (R@kt)")
    p.add_argument("--corpus", default=None, help="corpus JSONL: passage texts for R@kt")
    p.add_argument("--rkt-missing", choices=("skip", "miss"), default="skip",
                   help="answered queries absent from a TREC run: left out of R@kt as the official script "
                        "does (skip, the default), or counted as misses (miss; e.g. BM25 queries that matched "
                        "nothing)")
    p.add_argument("--baseline", default=None, help="run (path or name) every other run is tested against")
    p.add_argument("--per-lang", action="store_true", help="one column per query language, plus Avg")
    p.add_argument("--lang-sep", default="-",
                   help="query language = qid prefix up to this, unless --answers has it (default: %(default)r)")
    p.add_argument("--permutations", type=_positive_int, default=10_000,
                   help="random permutations of the Fisher randomization test (default: %(default)s)")
    p.add_argument("--seed", type=int, default=42, help="seed of the permutations and the bootstrap (default: %(default)s)")
    p.add_argument("--correction", choices=("none", "holm", "bonferroni"), default="none",
                   help="multiple-comparison correction of the p-values, within the table (default: %(default)s)")
    p.add_argument("--significance-level", type=float, default=0.05,
                   help="p-value below which a difference is marked with a dagger (default: %(default)s)")
    p.add_argument("--cluster-by", default="none",
                   help="unit of the test and bootstrap: none (each query), question (topics sharing the qid after "
                        "'{lang}-', i.e. translations of one question), or a TSV file qid<TAB>cluster "
                        "(`xqg data` writes clusters.tsv) (default: %(default)s)")
    p.add_argument("--bootstrap", type=_non_negative_int, default=10_000,
                   help="bootstrap resamples for the confidence interval of each difference; 0: none "
                        "(default: %(default)s)")
    p.add_argument("--confidence", type=float, default=0.95, help="interval coverage (default: %(default)s)")
    p.add_argument("--effects", action="store_true",
                   help="with --baseline (md): also print each difference with its interval and corrected p "
                        "(default: off)")
    p.add_argument("--format", choices=("md", "tex", "csv", "json"), default="md",
                   help="leaderboard format on stdout (default: %(default)s)")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="with --baseline: per-language bars of each run's difference, with interval whiskers "
                        "(default: none)")
    p.set_defaults(func=cmd_eval)


def _add_other_parsers(sub: Any) -> None:
    p = sub.add_parser("experiment", help="run a grid of xQG runs from a YAML config: leaderboard, tests, plots")
    p.add_argument("config", help="experiment YAML (see configs/)")
    p.add_argument("--output", default=None, help="output dir (default: the config's output)")
    p.add_argument("--data", default=None, help="dataset dir from `xqg data` (default: the config's data)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_experiment)

    p = sub.add_parser("demo", help="the whole pipeline on the bundled demo collection")
    p.add_argument("--output", default="xqg-demo", help="where everything is left (default: %(default)s)")
    p.add_argument("--encoder", default="e5-small", help="model name, HF id or local dir (default: %(default)s)")
    p.add_argument("--alpha", type=float, default=0.01,
                   help="weight of the generated queries in the augmented index (default: %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="encoder batch size (default: 32)")
    p.add_argument("--device", default=None, help="encoder device: cpu, cuda, ... (default: cpu)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="offline model checkpoints")
    models = p.add_subparsers(dest="models_command", required=True)
    q = models.add_parser("path", help="print the local checkpoint dir of a model name (exporting it once)")
    q.add_argument("name", help="a model name, e.g. e5-small")
    q.set_defaults(func=cmd_models)

    p = sub.add_parser("java", help="show the Java runtime Pyserini will use")
    p.add_argument("--home", action="store_true", help="print only its JAVA_HOME")
    p.set_defaults(func=cmd_java)


def main(argv: Sequence[str] | None = None) -> int:
    from xqg_pyserini.io.atomic import WRITE_ERRNOS, overwriting

    argv = list(argv) if argv is not None else sys.argv[1:]
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["xqg", *argv])  # recorded in provenance
    try:
        with overwriting(getattr(args, "overwrite", False)):
            return args.func(args)
    except InputError as err:  # bad input, named; anything else is a bug and shows its traceback
        print(f"xqg {args.command}: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # Java discovery, model loading
        print(f"xqg {args.command}: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # no space left, read-only file system...: the place, not a traceback
        if err.errno not in WRITE_ERRNOS or not err.filename:
            raise
        print(f"xqg {args.command}: error: {err.filename}: {WRITE_ERRNOS[err.errno]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
