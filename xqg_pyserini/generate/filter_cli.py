"""``xqg filter``: score generated texts against their passages and keep the best (Doc2Query--)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.corpus import DEFAULT_PASSAGE_TEMPLATE
from xqg_pyserini.io.generated import FIELDS, PASSAGES_FIELD, QUERIES_FIELD


def percentage(text: str) -> float:
    """argparse type: ``70`` or ``70%``."""
    try:
        return float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None


def make_scorer(args: argparse.Namespace):
    """The scorer the flags choose: the dual encoder (``xqg encode``'s flags) or a cross-encoder."""
    from xqg_pyserini.generate.scorers import CrossEncoderScorer, DualEncoderScorer

    if args.scorer == "cross-encoder":
        if not args.cross_encoder:
            raise InputError("--scorer cross-encoder needs --cross-encoder MODEL (an HF name or a local dir)")
        flags = {key: getattr(args, key) for key in ("batch_size", "device", "max_length", "dtype")
                 if getattr(args, key, None) is not None}
        return CrossEncoderScorer(args.cross_encoder, **flags)
    if args.cross_encoder:
        raise InputError("--cross-encoder is only used with --scorer cross-encoder")
    from xqg_pyserini.encode.cli import make_encoder

    return DualEncoderScorer(make_encoder(args), texts_as_passages=args.generated_field == PASSAGES_FIELD)


def cmd_filter(args: argparse.Namespace) -> int:
    from xqg_pyserini.generate.filter import check_rule, filter_generated

    check_rule(args.keep_top, args.threshold, args.scope)  # before loading a model
    manifest = filter_generated(args.corpus, args.generated, args.output, make_scorer(args),
                                keep_top=args.keep_top, threshold=args.threshold, scope=args.scope,
                                field=args.generated_field, passage_template=args.passage_template,
                                progress=not args.no_progress)
    totals = manifest["filter"]["totals"]
    kept = {lang: f"{c['kept']}/{c['input']}" for lang, c in totals["per_lang"].items()}
    print(f"kept {totals['kept']} of {totals['input']} generated texts ({json.dumps(kept)}) in {args.output}")
    return 0


def add_parser(sub: Any) -> None:
    from xqg_pyserini.encode.cli import add_encoder_flags
    from xqg_pyserini.generate.filter import DEFAULT_SCOPE, SCOPES
    from xqg_pyserini.generate.scorers import SCORERS

    p = sub.add_parser(
        "filter", help="score generated texts against their passages and keep the best (Doc2Query--)",
        description="Scores every generated text against its passage and writes the kept ones, with their "
                    "scores, as a shard set that xqg index-sparse and xqg encode --kind generated read unchanged.")
    p.add_argument("--corpus", required=True, help="corpus JSONL (the passages the texts were generated for)")
    p.add_argument("--generated", required=True, help="generated JSONL or shard-set dir (xqg generate)")
    p.add_argument("--output", required=True, help="shard-set dir for the kept texts")
    rule = p.add_mutually_exclusive_group(required=True)
    rule.add_argument("--keep-top", type=percentage, metavar="P%",
                      help="keep the best P percent of each --scope group (ceil(P*n/100) of n)")
    rule.add_argument("--threshold", type=float, metavar="T", help="keep every text scoring at least T")
    p.add_argument("--scope", choices=SCOPES, default=DEFAULT_SCOPE,
                   help="groups of --keep-top: lang (each language over the whole set), all (one pool, "
                        "Doc2Query--'s rule), passage (each passage and language) (default: %(default)s)")
    p.add_argument("--scorer", choices=SCORERS, default="dual",
                   help="dual: cosine of the encoder's query-side text and passage-side passage vectors; "
                        "cross-encoder: a sequence-classification model on (text, passage) (default: %(default)s)")
    p.add_argument("--cross-encoder", default=None, metavar="MODEL",
                   help="with --scorer cross-encoder: its HF name or local dir (--batch-size, --device, "
                        "--max-length and --dtype apply to it)")
    p.add_argument("--generated-field", choices=FIELDS, default=QUERIES_FIELD,
                   help="which texts: generated_queries, or generated_passages (translated passages, scored on the passage side) (default: %(default)s)")
    p.add_argument("--passage-template", default=DEFAULT_PASSAGE_TEMPLATE,
                   help="how a passage becomes text (default: %(default)r)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (default: shown)")
    add_encoder_flags(p)
    p.set_defaults(func=cmd_filter)
