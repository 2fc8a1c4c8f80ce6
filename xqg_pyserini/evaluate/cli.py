"""``xqg predictions`` and ``xqg align`` (``xqg eval`` is in ``xqg_pyserini/cli.py``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from xqg_pyserini.errors import InputError
from xqg_pyserini.options import add_overwrite_flag, positive_int

ALIGN_MARKER = "per_query.csv"  # what makes a directory an `xqg align` output


def cmd_predictions(args: argparse.Namespace) -> int:
    from xqg_pyserini.io.answers import is_predictions_file, read_answers, write_predictions
    from xqg_pyserini.io.atomic import check_output_file
    from xqg_pyserini.io.corpus import open_corpus_texts
    from xqg_pyserini.io.runs import read_run

    check_output_file(args.output, same_kind=is_predictions_file, what="prediction JSON")
    write_predictions(read_run(args.run), open_corpus_texts(args.corpus), read_answers(args.answers), args.output,
                      hits=args.hits)
    print(f"official prediction JSON written to {args.output}")
    return 0


def cmd_align(args: argparse.Namespace) -> int:
    from xqg_pyserini.encode.cli import make_encoder
    from xqg_pyserini.evaluate import align
    from xqg_pyserini.evaluate.tables import render_rows
    from xqg_pyserini.index.build import check_faiss_dir, index_provenance, read_index_vectors
    from xqg_pyserini.io.atomic import atomic_dir, check_output_dir
    from xqg_pyserini.io.embeddings import read_store
    from xqg_pyserini.io.qrels import read_qrels
    from xqg_pyserini.io.topics import read_topics
    from xqg_pyserini.search.dense import query_vectors

    if len(args.index) != 2:
        raise InputError("give --index twice: the plain index, then the augmented one")
    output = dict(marker=ALIGN_MARKER, what="alignment output")
    check_output_dir(args.output, **output)
    topics, qrels = read_topics(args.topics), read_qrels(args.qrels)
    for index in args.index:
        check_faiss_dir(index)  # before loading a model
    store = read_store(args.encoded_queries, kind="query") if args.encoded_queries else None
    if store is not None:
        vectors = query_vectors(store, topics)
    else:
        encoder = make_encoder(args, index_provenance(args.index[0]).get("encoder") or {})
        vectors = encoder.encode_queries(list(topics.values()), progress=True)
    (plain_ids, plain), (aug_ids, augmented) = (read_index_vectors(path) for path in args.index)
    if plain_ids != aug_ids:
        raise InputError("the two indexes hold different docids (or orders)", path=args.index[1])
    qids = list(topics)
    before = align.align(vectors, qids, plain_ids, plain, qrels)
    after = align.align(vectors, qids, aug_ids, augmented, qrels)
    if not before:
        raise InputError("no topic has a relevant passage in the index", path=args.qrels)
    lang_of, note = align.language_groups(list(before), args.lang_sep)
    if note:
        print(f"note: {note}", file=sys.stderr)
    summaries = align.summarize(before, after, lang_of)
    with atomic_dir(args.output, **output) as tmp:
        align.write_per_query(tmp / ALIGN_MARKER, before, after, lang_of)
        align.write_summary(tmp / "per_language.csv", summaries)
        align.plot_margins(tmp / "margins.png", before, after, lang_of)
    sys.stdout.write(render_rows(*align.summary_rows(summaries)))
    print(f"per-query and per-language CSV and margins.png in {args.output}")
    return 0


def add_parsers(sub: Any) -> None:
    from xqg_pyserini.encode.cli import add_encoder_flags

    p = sub.add_parser("predictions", help="export a run as XOR-TyDi's official prediction JSON",
                       description="Writes the JSON list eval_xor_retrieve.py reads: per query its language "
                                   "(from --answers) and the texts of its top --hits passages (from --corpus).")
    p.add_argument("--run", required=True, help="TREC run to export")
    p.add_argument("--corpus", required=True, help="corpus JSONL: the passage texts (contents, no title)")
    p.add_argument("--answers", required=True,
                   help="answers.jsonl {id, lang, answers} or XOR-TyDi dev jsonl: each query's language")
    p.add_argument("--hits", type=positive_int, default=100,
                   help="passages per query (default: %(default)s, what R@2kt and R@5kt can read)")
    p.add_argument("--output", required=True, help="prediction JSON file to write")
    add_overwrite_flag(p, "prediction JSON")
    p.set_defaults(func=cmd_predictions)

    p = sub.add_parser("align", help="query-passage cosine alignment, plain vs augmented index")
    p.add_argument("--index", action="append", required=True, help="give twice: plain, then augmented")
    p.add_argument("--topics", required=True, help="TSV qid<TAB>query")
    p.add_argument("--qrels", required=True, help="TREC qrels: each query's relevant passages")
    p.add_argument("--encoded-queries", default=None, help="query embedding store instead of encoding the topics")
    p.add_argument("--lang-sep", default="-",
                   help="query language = the qid up to this separator, when every qid starts with a language "
                        "code and it (default: %(default)r); otherwise, or with '', one group 'all'")
    p.add_argument("--output", required=True, help="dir for per_query.csv, per_language.csv, margins.png")
    add_overwrite_flag(p, "alignment output")
    add_encoder_flags(p, default_encoder=None, side="query")
    p.set_defaults(func=cmd_align)
