"""``xqg generate``: flags -> a registered generator -> the sharded, resumable runner.

The runner's flags are fixed here; every generator's flags come from its ``options()``
declaration (built-ins and plug-ins alike), merged so that a flag several generators
declare alike appears once.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from xqg_pyserini.engine import add_engine_flags, cluster_options, run_shards
from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import BATCH_SIZE, GENERATORS
from xqg_pyserini.options import (MergedOption, Option, chosen_values, collect_options, comma_list,
                                  declared_options, merge_options, taken_flags)

RUNNER = "xqg generate"  # the owner name of the runner's own flags
DEFAULT_GENERATOR = "hf-qg"
DEFAULT_PER_LANG = 5  # for generators that produce texts; importing ones default to what they read
# A plug-in that declares no options receives --model when it is given.
PLUGIN_OPTIONS = (Option("--model", help="passed to the plug-in's constructor when given"),)


def _add_runner_flags(p: argparse.ArgumentParser) -> None:
    """The runner's own flags (``--batch-size`` aside: generators may take it too)."""
    p.add_argument("--corpus", help="corpus JSONL (id, contents, optional title)")
    p.add_argument("--output", required=True, help="shard-set dir (with --merge: the merged JSONL file)")
    p.add_argument("--merge", metavar="DIR", default=None, help="merge the shard set in DIR into --output")
    p.add_argument("--generator", default=DEFAULT_GENERATOR,
                   help=f"registered generator: {', '.join(GENERATORS.in_order())} (default: %(default)s)")
    p.add_argument("--langs", help="comma-separated target languages, e.g. ar,bn,fi,ja,ko,ru,te "
                                   "(required; for --generator file, default: every language in the file)")
    p.add_argument("--per-lang", type=int, default=None,
                   help=f"texts kept per passage and language, after dropping empty and duplicate ones "
                        f"(default: {DEFAULT_PER_LANG}; for --generator file, all the file holds)")
    p.add_argument("--shard", default=None,
                   help="I/N: generate the I-th of N contiguous corpus shards (default: 0/1, the whole corpus)")
    p.add_argument("--seed", type=int, default=42,
                   help="sampling seed; each (docid, lang) derives its own (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="discard earlier work in --output made with other settings; with --merge, replace "
                        "an existing --output file that is not a generated-texts file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "generate", help="generate queries (or translated passages) in target languages for a corpus",
        description="Writes a shard set (shard-I-of-N.jsonl + manifest) under --output; rerun the same "
                    "command after a crash to resume. With --merge DIR, concatenates a complete shard set "
                    "into the single JSONL file --output.")
    _add_runner_flags(p)
    add_engine_flags(p)
    declared, unavailable = collect_options(GENERATORS, PLUGIN_OPTIONS, base={RUNNER: [BATCH_SIZE]},
                                            reserved=taken_flags(p))
    shared = p.add_argument_group("options several generators take")
    groups = {name: p.add_argument_group(_title(name)) for name in declared}
    for merged in merge_options({RUNNER: [BATCH_SIZE], **declared}):
        _add(merged, p, shared, groups)
    p.set_defaults(func=run, unavailable_generators=unavailable)


def _title(name: str) -> str:
    summary = getattr(GENERATORS.get(name), "summary", None)
    return f"{name} ({summary})" if summary else name


def _add(merged: MergedOption, parser: Any, shared: Any, groups: dict[str, Any]) -> None:
    users = [owner for owner in merged.owners if owner != RUNNER]
    if RUNNER in merged.owners:
        merged.option.add_to(parser, help=merged.option.help + (f"; also given to {', '.join(users)}"
                                                                if users else ""))
    elif len(users) > 1:
        merged.option.add_to(shared, help=merged.help)
    else:
        merged.option.add_to(groups[users[0]])


def parse_shard(value: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise InputError(f"--shard must look like I/N (e.g. 0/4), not {value!r}") from None
    if count < 1 or not 0 <= index < count:
        raise InputError(f"--shard {value}: need 0 <= I < N")
    return index, count


def generator_options(args: argparse.Namespace) -> dict[str, Any]:
    """Constructor options of the chosen generator: its declared flags that were set."""
    reason = getattr(args, "unavailable_generators", {}).get(args.generator)
    if reason:
        raise RuntimeError(f"generator plug-in {args.generator!r} cannot be used: {reason}")
    return chosen_values(declared_options(GENERATORS.get(args.generator), PLUGIN_OPTIONS), args)


def run(args: argparse.Namespace) -> int:
    from xqg_pyserini.generate import run as runner

    if args.merge:
        record = runner.merge(args.merge, args.output)
        print(f"{record['counts']['passages']} passages from {record['shards']} shards merged into {args.output}")
        return 0
    cls = GENERATORS.get(args.generator)
    from_input = getattr(cls, "outputs_from_input", False)
    if not args.corpus or not (args.langs or from_input):
        raise InputError("--corpus and --langs are required (unless --merge; --generator file reads its "
                         "languages from the file)")
    from xqg_pyserini.generate.base import check_langs
    from xqg_pyserini.io.atomic import check_work_dir
    from xqg_pyserini.io.generated import SHARD_SET_FILES

    cluster = cluster_options(args, shard_given=args.shard is not None)
    shard = parse_shard(args.shard or "0/1")
    check_work_dir(args.output, markers=SHARD_SET_FILES, what="shard set")  # before loading a model
    langs = comma_list(args.langs) or []
    if langs and getattr(cls, "needs_language_names", False):
        check_langs(langs)  # before loading a model; the generator checks again what it can produce
    per_lang = args.per_lang if args.per_lang is not None else DEFAULT_PER_LANG
    if from_input:  # an importing generator (cheap to build) says which languages and how many it holds
        generator = cls(**generator_options(args))
        if not generator.input_langs:
            raise InputError("holds no generated texts", path=getattr(generator, "path", None))
        langs = langs or generator.input_langs
        per_lang = args.per_lang if args.per_lang is not None else generator.max_per_lang
    summaries = run_shards(_generate_job(args, langs, per_lang, absolute=cluster is not None), cluster, shard)
    for summary in summaries:
        index, count = summary["shard"]
        dropped = [f"{summary['dropped'][key]} {what}" for key, what in (
            ("over_limit", f"beyond --per-lang {per_lang}"), ("duplicates_removed", "duplicates"),
            ("empty_dropped", "empty")) if summary["dropped"].get(key)]
        print(f"shard {index}/{count}: {summary['passages']} passages, {summary['kept']} texts kept "
              f"({json.dumps(summary['per_lang'])}){'; dropped: ' + ', '.join(dropped) if dropped else ''} "
              f"in {args.output}{' (complete, skipped)' if summary['status'] == 'skipped' else ''}")
    return 0


def _generate_job(args: argparse.Namespace, langs: list[str], per_lang: int, absolute: bool):
    """The generation job of the flags; ``absolute``: paths resolved here, for workers on other machines."""
    from pathlib import Path

    from xqg_pyserini.engine.jobs import GenerateJob

    def path(value: str) -> str:
        return str(Path(value).resolve()) if absolute else value

    return GenerateJob(corpus=path(args.corpus), output=path(args.output), generator=args.generator,
                       generator_options=generator_options(args), langs=langs, per_lang=per_lang,
                       batch_size=args.batch_size, seed=args.seed, overwrite=args.overwrite,
                       progress=not args.no_progress and not absolute)
