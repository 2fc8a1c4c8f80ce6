"""``xqg``: one small function per subcommand; each parses flags and calls the library."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.generate import cli as generate_cli


def _encoder_args(parser: argparse.ArgumentParser, default_encoder: str | None = "e5-small") -> None:
    group = parser.add_argument_group("encoder (Pyserini flag names)")
    group.add_argument("--encoder", default=default_encoder,
                       help="model name, HF id or local dir (default: %(default)s)")
    group.add_argument("--encoder-class", default=None, help="registered encoder family (default: hf)")
    group.add_argument("--tokenizer", default=None, help="tokenizer name or dir if not the encoder's")
    group.add_argument("--pooling", choices=("cls", "mean"), default=None)
    group.add_argument("--l2-norm", action=argparse.BooleanOptionalAction, default=None)
    group.add_argument("--query-prefix", default=None, help='e.g. "query:" (joined to the text with a space)')
    group.add_argument("--passage-prefix", default=None, help='e.g. "passage:"')
    group.add_argument("--max-length", type=int, default=None, help="tokens per text (default: the model's)")
    group.add_argument("--batch-size", type=int, default=None)
    group.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ...")
    group.add_argument("--fp16", action="store_true", default=None, help="half precision (CUDA)")
    group.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default=None)


def _make_encoder(args: argparse.Namespace, recorded: dict[str, Any] | None = None):
    """Encoder from flags; with ``recorded`` (an index's encoder), unset flags take its values."""
    from xqg_pyserini.encode.base import create_encoder

    flags = {key: getattr(args, key) for key in (
        "tokenizer", "pooling", "l2_norm", "query_prefix", "passage_prefix", "max_length",
        "batch_size", "device", "fp16", "dtype")}
    encoder, encoder_class = args.encoder, args.encoder_class
    if recorded and encoder is None:
        # The exact checkpoint the index was built with, while it exists; else its name.
        path = recorded.get("path")
        encoder = path if path and Path(path).exists() else recorded.get("encoder")
        encoder_class = encoder_class or recorded.get("encoder_class")
        for key in ("pooling", "l2_norm", "query_prefix", "passage_prefix"):
            if flags[key] is None:
                flags[key] = recorded.get(key)
    if encoder is None:
        raise InputError("no --encoder given and the index records none")
    return create_encoder(encoder, encoder_class or "hf", **flags)


def cmd_encode(args: argparse.Namespace) -> int:
    from xqg_pyserini.encode.run import encode_file

    store = encode_file(args.input, args.kind, _make_encoder(args), args.output,
                        passage_template=args.passage_template, generated_field=args.generated_field)
    print(f"{len(store.ids)} {args.kind} vectors of dim {store.dim} in {store.path}")
    return 0


def _langs(value: str | None) -> list[str] | None:
    return [lang.strip() for lang in value.split(",") if lang.strip()] if value else None


def cmd_index(args: argparse.Namespace) -> int:
    from xqg_pyserini.index.build import build_index

    record = build_index(args.passages, args.output, generated=args.generated, alpha=args.alpha,
                         fusion=args.fusion, langs=_langs(args.langs), per_lang=args.per_lang,
                         index_type=args.index_type, hnsw_m=args.hnsw_m, ef_construction=args.ef_construction)
    print(f"indexed {record['passages']['count']} passages (alpha={record['alpha']}, "
          f"{record['queries_used']} generated queries, langs={','.join(record['langs']) or '-'}) in {args.output}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from xqg_pyserini.io.embeddings import read_store
    from xqg_pyserini.io.topics import read_topics
    from xqg_pyserini.search import index_provenance, search_to_file

    topics = read_topics(args.topics)
    if args.sparse:
        from xqg_pyserini.search_sparse import sparse_search_to_file

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
    from xqg_pyserini.search_sparse import pretokenize_topics

    info = pretokenize_topics(args.topics, args.output, args.index)
    print(f"{info['written']} of {info['topics']} topics written to {args.output}; search them with "
          f"python -m pyserini.search.lucene --index {args.index} --topics {args.output} --bm25 "
          f"{' '.join(info['pyserini_flags'])}")
    return 0


def cmd_fuse(args: argparse.Namespace) -> int:
    from xqg_pyserini.fuse import fuse_files

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
    from xqg_pyserini.io.corpus import read_corpus
    from xqg_pyserini.io.qrels import read_qrels

    measures = parse_measures(args.metrics)
    qrels = read_qrels(args.qrels) if args.qrels else None
    answers = read_answers(args.answers) if args.answers else None
    corpus = read_corpus(args.corpus) if args.corpus else None
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
    from xqg_pyserini.io.corpus import read_corpus
    from xqg_pyserini.io.runs import read_run

    write_predictions(read_run(args.run), read_corpus(args.corpus), read_answers(args.answers), args.output,
                      hits=args.hits)
    print(f"official prediction JSON written to {args.output}")
    return 0


def cmd_align(args: argparse.Namespace) -> int:
    from xqg_pyserini.evaluate import align
    from xqg_pyserini.evaluate.tables import render_rows
    from xqg_pyserini.io.embeddings import read_store
    from xqg_pyserini.io.qrels import read_qrels
    from xqg_pyserini.io.topics import read_topics
    from xqg_pyserini.search import index_provenance, query_vectors

    if len(args.index) != 2:
        raise InputError("give --index twice: the plain index, then the augmented one")
    topics, qrels = read_topics(args.topics), read_qrels(args.qrels)
    if args.encoded_queries:
        vectors = query_vectors(read_store(args.encoded_queries, kind="query"), topics)
    else:
        encoder = _make_encoder(args, index_provenance(args.index[0]).get("encoder") or {})
        vectors = encoder.encode_queries(list(topics.values()), progress=True)
    (plain_ids, plain), (aug_ids, augmented) = (align.index_vectors(path) for path in args.index)
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


def cmd_data(args: argparse.Namespace) -> int:
    if args.dataset == "combine":
        from xqg_pyserini.data.convert import combine

        stats = combine(args.inputs, args.output, command=args.command_line)
    else:
        if args.folds < 2:
            raise InputError("--folds must be at least 2 (k-fold cross-fitting of the QG oracle)")
        if args.dataset == "xquad":
            from xqg_pyserini.data.xquad import convert_xquad as convert
        else:
            from xqg_pyserini.data.mlqa import convert_mlqa as convert
        stats = convert(args.source, args.output, passage_words=args.passage_words, oracle_folds=args.folds,
                        seed=args.seed, languages=_langs(args.langs))
    topics = (stats.get("totals") or {}).get("topics")
    print(f"{stats.get('passages')} passages, {topics} topics in {len(stats.get('languages', []))} languages "
          f"-> {args.output} (details in stats.json)")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xqg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    generate_cli.add_parser(sub)

    p = sub.add_parser("encode", help="encode passages, queries or generated queries into an embedding store")
    p.add_argument("--input", required=True, help="corpus JSONL, topics TSV or generated-queries JSONL")
    p.add_argument("--kind", required=True, choices=("passage", "query", "generated"))
    p.add_argument("--output", required=True, help="embedding store dir")
    p.add_argument("--passage-template", default="{title} {contents}",
                   help="how a passage becomes text (default: %(default)r)")
    p.add_argument("--generated-field", choices=("generated_queries", "generated_passages"),
                   default="generated_queries",
                   help="with --kind generated: queries (query encoder) or translated passages (passage encoder)")
    _encoder_args(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("index", help="fuse generated-query vectors into passages and write a FAISS index")
    p.add_argument("--passages", required=True, help="passage embedding store (xqg encode --kind passage)")
    p.add_argument("--generated", action="append", default=None,
                   help="generated embedding store (xqg encode --kind generated); repeat to fuse several (QG+PG)")
    p.add_argument("--alpha", type=float, default=0.01, help="weight of the generated queries (default: %(default)s)")
    p.add_argument("--fusion", choices=("sum", "mean"), default="sum")
    p.add_argument("--langs", default=None, help="comma-separated subset of generated languages (default: all)")
    p.add_argument("--per-lang", type=int, default=None, help="use the first N queries per language")
    p.add_argument("--index-type", choices=("flat", "hnsw"), default="flat")
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=200)
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

    p = sub.add_parser("index-sparse", help="Lucene index of passages expanded with generated texts (doc2query)")
    p.add_argument("--corpus", required=True, help="corpus JSONL")
    p.add_argument("--generated", default=None, help="generated JSONL or shard-set dir (default: no expansion)")
    p.add_argument("--generated-field", choices=("generated_queries", "generated_passages"),
                   default="generated_queries")
    p.add_argument("--langs", default=None, help="comma-separated subset of generated languages (default: all)")
    p.add_argument("--per-lang", type=int, default=None, help="use the first N texts per language")
    p.add_argument("--analyzer", default="subword",
                   help="subword (default: e5-small's multilingual sentencepiece, queries alike), whitespace, "
                        "en/default, or a Lucene language analyzer code (ar, ja, zh, ...)")
    p.add_argument("--tokenizer", default="e5-small", help="subword tokenizer: model name or dir")
    p.add_argument("--passage-template", default="{title} {contents}")
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
    p.add_argument("--weights", default=None, help="one weight per run, e.g. '0.7 0.3' (default: equal)")
    p.add_argument("--k", type=float, default=60, help="RRF k (default: %(default)s)")
    p.add_argument("--hits", type=int, default=1000)
    p.add_argument("--run-tag", default=None)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_fuse)

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
    p.add_argument("--permutations", type=int, default=10_000)
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
    q = datasets.add_parser("combine", help="one retrieval set from several converted ones (harder corpus)")
    q.add_argument("--inputs", nargs="+", required=True)
    q.add_argument("--output", required=True)
    q.set_defaults(func=cmd_data)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(argv) if argv is not None else sys.argv[1:]
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["xqg", *argv])  # recorded in provenance
    try:
        return args.func(args)
    except (InputError, ValueError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"xqg {args.command}: error: {message}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # Java discovery, model loading
        print(f"xqg {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
