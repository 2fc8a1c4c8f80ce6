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
from xqg_pyserini.generate import cli as generate_cli
from xqg_pyserini.index.fusion import FUSIONS, UNAUGMENTED
from xqg_pyserini.index.writers import INDEX_TYPES
from xqg_pyserini.io.corpus import DEFAULT_PASSAGE_TEMPLATE
from xqg_pyserini.io.generated import FIELDS, QUERIES_FIELD
from xqg_pyserini.options import comma_list as _langs


def cmd_index(args: argparse.Namespace) -> int:
    from xqg_pyserini.index.build import IndexSpec, build_index

    spec = IndexSpec(index_type=args.index_type, hnsw_m=args.hnsw_m, ef_construction=args.ef_construction,
                     ef_search=args.ef_search, nlist=args.nlist, nprobe=args.nprobe, pq_m=args.pq_m,
                     pq_bits=args.pq_bits, train_size=args.train_size, seed=args.seed, shards=args.shards,
                     recall_sample=args.recall_sample)
    record = build_index(args.passages, args.output, generated=args.generated, alpha=args.alpha,
                         fusion=args.fusion, langs=_langs(args.langs), per_lang=args.per_lang,
                         unaugmented=args.unaugmented, renorm=args.renorm, spec=spec,
                         report=lambda line: print(line, flush=True))
    print(index_summary(record, args.output))
    if "recall" in record:
        print(f"recall@100 against exact search: {record['recall']['recall@100_vs_flat']:.4f} "
              f"({record['recall']['queries']} sampled queries)")
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


def cmd_search(args: argparse.Namespace) -> int:
    from xqg_pyserini.io.embeddings import read_store
    from xqg_pyserini.io.topics import read_topics
    from xqg_pyserini.index.build import index_provenance
    from xqg_pyserini.search.dense import search_to_file

    topics = read_topics(args.topics)
    if args.sparse:
        from xqg_pyserini.search.sparse import sparse_search_to_file

        sparse_search_to_file(args.index, args.topics, topics, args.output, hits=args.hits, k1=args.k1, b=args.b,
                              threads=args.threads, tag=args.run_tag, progress=True)
        print(f"{len(topics)} queries searched (BM25 k1={args.k1} b={args.b}); run written to {args.output}")
        return 0
    if args.encoded_queries:
        encoder, encoded = None, read_store(args.encoded_queries, kind="query")
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
    from xqg_pyserini.evaluate.significance import SignificanceSettings
    from xqg_pyserini.io.answers import read_answers
    from xqg_pyserini.io.corpus import open_corpus_texts
    from xqg_pyserini.io.qrels import read_qrels

    measures = parse_measures(args.metrics)
    qrels = read_qrels(args.qrels) if args.qrels else None
    answers = read_answers(args.answers) if args.answers else None
    corpus = open_corpus_texts(args.corpus) if args.corpus else None  # read on demand: retrieved passages only
    judgements = Judgements(qrels=qrels, answers=answers, corpus=corpus, rkt_missing=args.rkt_missing)
    settings = SignificanceSettings(permutations=args.permutations, seed=args.seed, correction=args.correction,
                                    level=args.significance_level)
    report = evaluate(args.runs, measures, judgements, baseline=args.baseline, settings=settings,
                      lang_of=language_of(answers, args.lang_sep))
    sys.stdout.write(report.table(args.format, per_lang=args.per_lang))
    if report.comparisons(per_lang=args.per_lang) and args.format == "md":
        print(f"\n{report.footnote()}")
    return 0


def cmd_predictions(args: argparse.Namespace) -> int:
    from xqg_pyserini.io.answers import read_answers, write_predictions
    from xqg_pyserini.io.corpus import open_corpus_texts
    from xqg_pyserini.io.runs import read_run

    write_predictions(read_run(args.run), open_corpus_texts(args.corpus), read_answers(args.answers), args.output,
                      hits=args.hits)
    print(f"official prediction JSON written to {args.output}")
    return 0


def cmd_align(args: argparse.Namespace) -> int:
    from xqg_pyserini.evaluate import align
    from xqg_pyserini.evaluate.tables import render_rows
    from xqg_pyserini.io.embeddings import read_store
    from xqg_pyserini.io.qrels import read_qrels
    from xqg_pyserini.io.topics import read_topics
    from xqg_pyserini.index.build import index_provenance, read_index_vectors
    from xqg_pyserini.search.dense import query_vectors

    if len(args.index) != 2:
        raise InputError("give --index twice: the plain index, then the augmented one")
    topics, qrels = read_topics(args.topics), read_qrels(args.qrels)
    if args.encoded_queries:
        vectors = query_vectors(read_store(args.encoded_queries, kind="query"), topics)
    else:
        encoder = _make_encoder(args, index_provenance(args.index[0]).get("encoder") or {})
        vectors = encoder.encode_queries(list(topics.values()), progress=True)
    (plain_ids, plain), (aug_ids, augmented) = (read_index_vectors(path) for path in args.index)
    if plain_ids != aug_ids:
        raise InputError("the two indexes hold different docids (or orders)", path=args.index[1])
    qids = list(topics)
    before = align.align(vectors, qids, plain_ids, plain, qrels)
    after = align.align(vectors, qids, aug_ids, augmented, qrels)
    if not before:
        raise InputError("no topic has a relevant passage in the index", path=args.qrels)
    lang_of = lambda qid: qid.split(args.lang_sep, 1)[0] if args.lang_sep else "all"
    out = Path(args.output)
    align.write_per_query(out / "per_query.csv", before, after, lang_of)
    summaries = align.summarize(before, after, lang_of)
    align.write_summary(out / "per_language.csv", summaries)
    align.plot_margins(out / "margins.png", before, after, lang_of)
    header = ["lang", "queries", "margin plain", "margin xQG", "median plain", "median xQG", "improved"]
    rows = [[s.lang, s.queries, *(f"{v:.4f}" for v in (*s.mean_margin, *s.median_margin)),
             f"{100 * s.share_margin_improved:.1f}%"] for s in summaries]
    sys.stdout.write(render_rows(header, rows))
    print(f"per-query and per-language CSV and margins.png in {out}")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from xqg_pyserini.experiments.runner import run_experiment

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


def _positive_int(text: str) -> int:
    """argparse type: an int >= 1 (the library would raise a ValueError, which is not an input error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _numbers(text: str) -> str:
    """argparse type: numbers separated by spaces or commas, checked here and kept as given."""
    for item in text.replace(",", " ").split():
        try:
            float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {item!r}") from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xqg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    generate_cli.add_parser(sub)
    encode_cli.add_parser(sub)
    _add_dense_parsers(sub)
    _add_sparse_parsers(sub)
    _add_eval_parsers(sub)
    data_cli.add_parser(sub)
    _add_other_parsers(sub)
    return parser


def _add_dense_parsers(sub: Any) -> None:
    p = sub.add_parser("index", help="fuse generated-query vectors into passages and write a FAISS index")
    p.add_argument("--passages", required=True, help="passage embedding store (xqg encode --kind passage)")
    p.add_argument("--generated", action="append", default=None,
                   help="generated embedding store (xqg encode --kind generated); repeat to fuse several (QG+PG)")
    p.add_argument("--alpha", type=float, default=0.01, help="weight of the generated queries (default: %(default)s)")
    p.add_argument("--fusion", choices=FUSIONS, default="sum",
                   help="sum (the paper: p' = (1-a)p + a*sum(q)) or mean (a*mean(q)) of a passage's generated "
                        "vectors (default: %(default)s)")
    p.add_argument("--unaugmented", choices=UNAUGMENTED, default="keep",
                   help="a passage with no selected generated text: keep its plain vector E(p), or scale it by "
                        "1-alpha like the others (default: %(default)s)")
    p.add_argument("--renorm", action="store_true",
                   help="L2-normalize the fused vectors (for encoders compared by cosine)")
    p.add_argument("--langs", default=None, help="comma-separated subset of generated languages (default: all)")
    p.add_argument("--per-lang", type=int, default=None, help="use the first N queries per language")
    p.add_argument("--index-type", choices=INDEX_TYPES, default="flat")
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef-search", type=int, default=None, help="hnsw: efSearch stored in the index (default: 16)")
    p.add_argument("--nlist", type=int, default=None, help="ivfflat/ivfpq: inverted lists (default: ~4*sqrt(N))")
    p.add_argument("--nprobe", type=int, default=None,
                   help="ivfflat/ivfpq: lists searched, stored in the index file (default: 1)")
    p.add_argument("--pq-m", type=int, default=None, help="ivfpq: sub-quantizers, dividing dim (default: ~dim/8)")
    p.add_argument("--pq-bits", type=int, default=8, help="ivfpq: bits per sub-quantizer code (default: %(default)s)")
    p.add_argument("--train-size", type=int, default=None,
                   help="ivfflat/ivfpq: training vectors, a seeded sample (default: 64 per list)")
    p.add_argument("--seed", type=int, default=42, help="seed of the training and recall samples")
    p.add_argument("--shards", type=int, default=1,
                   help="split the index into K shard dirs (contiguous passages), searched one by one and merged")
    p.add_argument("--recall-sample", type=int, default=1000,
                   help="after an approximate or sharded build: queries for recall@100 against exact search "
                        "(0: skip; default: %(default)s)")
    p.add_argument("--output", required=True, help="index dir (Pyserini FAISS layout)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="search an index with Pyserini's FaissSearcher; TREC run out")
    p.add_argument("--index", required=True)
    p.add_argument("--topics", required=True, help="TSV qid<TAB>query")
    p.add_argument("--hits", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--run-tag", default=None, help="run tag (default: the output file's stem)")
    p.add_argument("--encoded-queries", default=None,
                   help="query embedding store (xqg encode --kind query) instead of encoding the topics")
    p.add_argument("--output", required=True, help="TREC run file")
    sparse = p.add_argument_group("sparse (a Lucene index from xqg index-sparse)")
    sparse.add_argument("--sparse", action="store_true", help="BM25 with Pyserini's LuceneSearcher")
    sparse.add_argument("--k1", type=float, default=0.9, help="BM25 k1 (default: %(default)s)")
    sparse.add_argument("--b", type=float, default=0.4, help="BM25 b (default: %(default)s)")
    _encoder_args(p, default_encoder=None)
    p.set_defaults(func=cmd_search)


def _add_sparse_parsers(sub: Any) -> None:
    p = sub.add_parser("index-sparse", help="Lucene index of passages expanded with generated texts (doc2query)")
    p.add_argument("--corpus", required=True, help="corpus JSONL")
    p.add_argument("--generated", default=None, help="generated JSONL or shard-set dir (default: no expansion)")
    p.add_argument("--generated-field", choices=FIELDS, default=QUERIES_FIELD)
    p.add_argument("--langs", default=None, help="comma-separated subset of generated languages (default: all)")
    p.add_argument("--per-lang", type=int, default=None, help="use the first N texts per language")
    p.add_argument("--analyzer", default="subword",
                   help="subword (default: e5-small's multilingual sentencepiece, queries alike), whitespace, "
                        "en/default, or a Lucene language analyzer code (ar, ja, zh, ...)")
    p.add_argument("--tokenizer", default="e5-small", help="subword tokenizer: model name or dir")
    p.add_argument("--passage-template", default=DEFAULT_PASSAGE_TEMPLATE)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--output", required=True, help="Lucene index dir")
    p.set_defaults(func=cmd_index_sparse)

    p = sub.add_parser("pretokenize", help="topics analyzed as a subword index analyzes them (for Pyserini's CLI)")
    p.add_argument("--index", required=True, help="Lucene index from xqg index-sparse")
    p.add_argument("--topics", required=True)
    p.add_argument("--output", required=True, help="TSV topics for pyserini.search.lucene --pretokenized")
    p.set_defaults(func=cmd_pretokenize)

    p = sub.add_parser("fuse", help="fuse TREC runs with ranx (RRF, CombSUM, ...), e.g. dense + BM25")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--method", choices=("rrf", "combsum", "combmnz", "combmax"), default="rrf")
    p.add_argument("--norm", choices=("min-max", "max", "sum", "zmuv", "rank", "borda", "none"), default="min-max",
                   help="score normalization before comb* (ignored by rrf; default: %(default)s)")
    p.add_argument("--weights", default=None, type=_numbers,
                   help="one weight per run, e.g. '0.7 0.3' (default: equal)")
    p.add_argument("--k", type=float, default=60, help="RRF k (default: %(default)s)")
    p.add_argument("--hits", type=int, default=1000)
    p.add_argument("--run-tag", default=None)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_fuse)


def _add_eval_parsers(sub: Any) -> None:
    p = sub.add_parser("eval", help="score runs (ir-measures names and R@kt), Fisher tests, leaderboards")
    p.add_argument("--runs", required=True, nargs="+", help="TREC runs, or official prediction JSON (R@kt only)")
    p.add_argument("--qrels", default=None, help="TREC qrels (for ir-measures metrics)")
    p.add_argument("--metrics", default="R@100 MRR@10 nDCG@10",
                   help="ir-measures names and R@Nkt, e.g. 'R@100 MRR@10 nDCG@10 R@2kt R@5kt'")
    p.add_argument("--answers", default=None, help="answers.jsonl {id, lang, answers} or XOR-TyDi dev jsonl (R@kt)")
    p.add_argument("--corpus", default=None, help="corpus JSONL: passage texts for R@kt")
    p.add_argument("--rkt-missing", choices=("skip", "miss"), default="skip",
                   help="answered queries absent from a TREC run: left out of R@kt as the official script "
                        "does (skip), or counted as misses (miss; e.g. BM25 queries that matched nothing)")
    p.add_argument("--baseline", default=None, help="run (path or name) every other run is tested against")
    p.add_argument("--per-lang", action="store_true", help="one column per query language, plus Avg")
    p.add_argument("--lang-sep", default="-", help="query language = qid prefix up to this, unless --answers has it")
    p.add_argument("--permutations", type=_positive_int, default=10_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--correction", choices=("none", "holm", "bonferroni"), default="none")
    p.add_argument("--significance-level", type=float, default=0.05)
    p.add_argument("--format", choices=("md", "tex", "csv", "json"), default="md")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predictions", help="export a run as XOR-TyDi's official prediction JSON")
    p.add_argument("--run", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--answers", required=True)
    p.add_argument("--hits", type=int, default=100)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_predictions)

    p = sub.add_parser("align", help="query-passage cosine alignment, plain vs augmented index")
    p.add_argument("--index", action="append", required=True, help="give twice: plain, then augmented")
    p.add_argument("--topics", required=True)
    p.add_argument("--qrels", required=True)
    p.add_argument("--encoded-queries", default=None, help="query embedding store instead of encoding the topics")
    p.add_argument("--lang-sep", default="-", help="query language = qid up to this separator ('' = one group)")
    p.add_argument("--output", required=True, help="dir for per_query.csv, per_language.csv, margins.png")
    _encoder_args(p, default_encoder=None)
    p.set_defaults(func=cmd_align)


def _add_other_parsers(sub: Any) -> None:
    p = sub.add_parser("experiment", help="run a grid of xQG runs from a YAML config: leaderboard, tests, plots")
    p.add_argument("config", help="experiment YAML (see configs/)")
    p.add_argument("--output", default=None, help="output dir (default: the config's output)")
    p.add_argument("--data", default=None, help="dataset dir from `xqg data` (default: the config's data)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_experiment)

    p = sub.add_parser("demo", help="the whole pipeline on the bundled demo collection")
    p.add_argument("--output", default="xqg-demo", help="where everything is left (default: %(default)s)")
    p.add_argument("--encoder", default="e5-small")
    p.add_argument("--alpha", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default=None)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="offline model checkpoints")
    models = p.add_subparsers(dest="models_command", required=True)
    q = models.add_parser("path", help="print the local checkpoint dir of a model name (exporting it once)")
    q.add_argument("name")
    q.set_defaults(func=cmd_models)

    p = sub.add_parser("java", help="show the Java runtime Pyserini will use")
    p.add_argument("--home", action="store_true", help="print only its JAVA_HOME")
    p.set_defaults(func=cmd_java)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(argv) if argv is not None else sys.argv[1:]
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["xqg", *argv])  # recorded in provenance
    try:
        return args.func(args)
    except InputError as err:  # bad input, named; anything else is a bug and shows its traceback
        print(f"xqg {args.command}: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # Java discovery, model loading
        print(f"xqg {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
