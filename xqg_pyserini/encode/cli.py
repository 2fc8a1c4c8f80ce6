"""``xqg encode``, and the encoder flags every command that encodes shares (``encode``, ``search``, ``align``).

``--encoder`` and ``--encoder-class`` are fixed here; every other encoder flag comes from the
``options()`` of the registered encoder classes (``ENCODERS``), merged as ``xqg generate`` merges
its generators'.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.corpus import DEFAULT_PASSAGE_TEMPLATE
from xqg_pyserini.io.generated import FIELDS, QUERIES_FIELD
from xqg_pyserini.options import (Option, add_overwrite_flag, chosen_values, collect_options, declared_options,
                                  merge_options, taken_flags)

PASSAGE_SIDE_FLAGS = ("--passage-prefix",)  # not offered by commands that only encode queries


def add_encoder_flags(parser: argparse.ArgumentParser, default_encoder: str | None = "e5-small",
                      side: str | None = None) -> None:
    """``--encoder``, ``--encoder-class`` and the options every registered encoder class declares.

    ``side="query"``: a command that encodes queries only (``search``, ``align``); the
    passage-side flags are left out.
    """
    from xqg_pyserini.encode.base import ENCODERS

    group = parser.add_argument_group("encoder (Pyserini flag names)")
    if default_encoder is None:
        group.add_argument("--encoder", default=None,
                           help="model name, HF id or local dir (default: the encoder the index records, "
                                "with its pooling, normalization and prefixes)")
    else:
        group.add_argument("--encoder", default=default_encoder,
                           help="model name (e5-small), HF id or local dir (default: %(default)s)")
    group.add_argument("--encoder-class", default=None,
                       help=f"registered encoder family: {', '.join(ENCODERS.in_order())} (default: hf)")
    declared, unavailable = collect_options(ENCODERS, _undeclared(), reserved=taken_flags(parser))
    for merged in merge_options(declared):
        if side == "query" and merged.option.flag in PASSAGE_SIDE_FLAGS:
            continue
        merged.option.add_to(group, help=merged.help)
    parser.set_defaults(unavailable_encoders=unavailable)


def _undeclared() -> list[Option]:
    """What an encoder plug-in without ``options()`` receives: the ``hf`` flags that are set, as before
    classes declared their options."""
    from xqg_pyserini.encode.hf import HFEncoder

    return HFEncoder.options()


def make_encoder(args: argparse.Namespace, recorded: dict[str, Any] | None = None):
    """Encoder from flags; with ``recorded`` (an index's encoder), unset flags take its values."""
    from xqg_pyserini.encode.base import create_encoder

    encoder, encoder_class, flags = encoder_spec(args, recorded)
    return create_encoder(encoder, encoder_class, **flags)


def encoder_spec(args: argparse.Namespace, recorded: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
    """``(encoder, encoder_class, flags)`` for ``create_encoder``: what :func:`make_encoder` builds."""
    from xqg_pyserini.encode.base import ENCODERS

    encoder, encoder_class = args.encoder, args.encoder_class
    if recorded and encoder is None:
        # The exact checkpoint the index was built with, while it exists; else its name.
        path = recorded.get("path")
        encoder = path if path and Path(path).exists() else recorded.get("encoder")
        encoder_class = encoder_class or recorded.get("encoder_class")
    if encoder is None:
        raise InputError("no --encoder given and the index records none")
    encoder_class = encoder_class or "hf"
    reason = getattr(args, "unavailable_encoders", {}).get(encoder_class)
    if reason:
        raise RuntimeError(f"encoder plug-in {encoder_class!r} cannot be used: {reason}")
    options = declared_options(ENCODERS.get(encoder_class), _undeclared())
    flags = chosen_values(options, args)
    if recorded and args.encoder is None:
        for option in options:
            if option.from_record and option.argument not in flags:
                flags[option.argument] = recorded.get(option.argument)
    return encoder, encoder_class, flags


def cmd_encode(args: argparse.Namespace) -> int:
    from xqg_pyserini.encode.run import parse_shard
    from xqg_pyserini.io.store_writer import check_store_output

    if args.engine != "local" and "tevatron" in (args.input_format, args.output_format):
        raise InputError("--engine ray encodes texts; Tevatron imports and exports run with --engine local")
    if args.output_format == "tevatron":
        from xqg_pyserini.encode.tevatron import export_tevatron

        files = export_tevatron(args.input, args.kind, args.output)
        print(f"{len(files)} Tevatron pickle(s) (embeddings, ids) written to {args.output}")
        return 0
    shard = parse_shard(args.shard)
    if args.input_format == "tevatron":
        from xqg_pyserini.encode.tevatron import import_tevatron

        if shard:
            raise InputError("--shard encodes a slice of a text input; a Tevatron import writes one whole store")
        check_store_output(args.output)
        meta = import_tevatron(args.input, args.kind, args.output, dtype=args.store_dtype)
        print(f"{meta['count']} {args.kind} vectors of dim {meta['dim']} imported from "
              f"{len(meta['imported_from']['files'])} Tevatron pickle(s) into {args.output}")
        return 0
    from xqg_pyserini.engine import cluster_options, run_shards

    cluster = cluster_options(args, shard_given=args.shard is not None)
    if cluster is None:
        check_store_output(args.output, shard)  # before loading the model
    summaries = run_shards(_encode_job(args, absolute=cluster is not None), cluster, shard)
    for summary in summaries:
        output, part = Path(args.output), summary["shard"]
        where = str(output) if part is None else f"shard {part[0]}/{part[1]} of {output}"
        if summary["status"] in ("up to date", "skipped"):
            print(f"up to date: {summary['rows']} {args.kind} vectors of dim {summary['dim']} in {where} "
                  "(nothing encoded)")
        else:
            print(f"{summary['rows']} {args.kind} vectors of dim {summary['dim']} in {where}"
                  f"{' (resumed)' if summary['status'] == 'resumed' else ''}")
    return 0


def _encode_job(args: argparse.Namespace, absolute: bool):
    """The encode job of the flags; ``absolute``: paths resolved here, for workers on other machines."""
    from xqg_pyserini.engine.jobs import EncodeJob

    def path(value: str) -> str:
        return str(Path(value).resolve()) if absolute else value

    encoder, encoder_class, flags = encoder_spec(args)
    return EncodeJob(input=path(args.input), kind=args.kind, output=path(args.output), encoder=encoder,
                     encoder_class=encoder_class, encoder_flags=flags, passage_template=args.passage_template,
                     generated_field=args.generated_field, dtype=args.store_dtype, progress=not absolute)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("encode", help="encode passages, queries or generated queries into an embedding store")
    p.add_argument("--input", required=True,
                   help="corpus JSONL (--kind passage), topics TSV (query) or generated-queries JSONL or "
                        "shard-set dir (generated)")
    p.add_argument("--kind", required=True, choices=("passage", "query", "generated"),
                   help="what --input holds: passages (passage encoder), queries (query encoder, for "
                        "xqg search/align --encoded-queries) or generated texts (see --generated-field)")
    p.add_argument("--output", required=True, help="embedding store dir")
    add_overwrite_flag(p, "embedding store")
    p.add_argument("--passage-template", default=DEFAULT_PASSAGE_TEMPLATE,
                   help="how a passage becomes text (default: %(default)r)")
    p.add_argument("--generated-field", choices=FIELDS, default=QUERIES_FIELD,
                   help="with --kind generated: queries (query encoder) or translated passages (passage "
                        "encoder) (default: %(default)s)")
    p.add_argument("--shard", default=None,
                   help="I/N: encode the I-th of N contiguous slices into shard files of --output (run one "
                        "process per shard; the shards read as one store) (default: the whole input)")
    p.add_argument("--store-dtype", choices=("float32", "float16"), default="float32",
                   help="dtype of the stored vectors (float16 halves the store; vectors are upcast when fused) "
                        "(default: %(default)s)")
    p.add_argument("--input-format", choices=("text", "tevatron"), default="text",
                   help="tevatron: --input is a path or glob of Tevatron pickles (embeddings, ids) to import "
                        "(default: %(default)s)")
    p.add_argument("--output-format", choices=("store", "tevatron"), default="store",
                   help="tevatron: export the store --input as Tevatron pickle(s) to --output "
                        "(default: %(default)s)")
    add_encoder_flags(p)
    from xqg_pyserini.engine import add_engine_flags

    add_engine_flags(p)
    p.set_defaults(func=cmd_encode)
