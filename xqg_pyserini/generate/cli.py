"""``xqg generate``: flags -> a registered generator -> the sharded, resumable runner."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from xqg_pyserini.errors import InputError

FIELDS = {"generated_queries": "queries", "generated_passages": "passages"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "generate", help="generate queries (or translated passages) in target languages for a corpus",
        description="Writes a shard set (shard-I-of-N.jsonl + manifest) under --output; rerun the same "
                    "command after a crash to resume. With --merge DIR, concatenates a complete shard set "
                    "into the single JSONL file --output.")
    p.add_argument("--corpus", help="corpus JSONL (id, contents, optional title)")
    p.add_argument("--output", required=True, help="shard-set dir (with --merge: the merged JSONL file)")
    p.add_argument("--merge", metavar="DIR", default=None, help="merge the shard set in DIR into --output")
    p.add_argument("--generator", default="hf-qg",
                   help="registered generator: hf-qg, hf-mt, openai, file, or a plug-in (default: %(default)s)")
    p.add_argument("--model", default=None,
                   help="HF id or local dir (hf-qg, hf-mt; hf-mt also takes a template with {lang}); "
                        "served model name (openai); input file or dir (file)")
    p.add_argument("--langs", help="comma-separated target languages, e.g. ar,bn,fi,ja,ko,ru,te")
    p.add_argument("--per-lang", type=int, default=5, help="outputs per passage and language (default: %(default)s)")
    p.add_argument("--shard", default="0/1", help="I/N: generate the I-th of N contiguous corpus shards")
    p.add_argument("--batch-size", type=int, default=16, help="requests per generator call (default: %(default)s)")
    p.add_argument("--seed", type=int, default=42, help="sampling seed; each (docid, lang) derives its own")
    p.add_argument("--overwrite", action="store_true", help="discard earlier work made with other settings")
    p.add_argument("--no-progress", action="store_true")

    hf = p.add_argument_group("hf-qg / hf-mt")
    hf.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    hf.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default=None,
                    help="default float32 (fp16/bf16 on a GPU)")
    hf.add_argument("--max-length", type=int, default=None,
                    help="generated tokens, as transformers counts them (default: 64 for hf-qg, 512 for hf-mt)")
    hf.add_argument("--max-input-length", type=int, default=None, help="hf-qg: input tokens kept (default 256)")
    hf.add_argument("--top-k", type=int, default=None, help="hf-qg: default 50 (0 = off)")
    hf.add_argument("--top-p", type=float, default=None, help="default 1.0")
    hf.add_argument("--temperature", type=float, default=None, help="default 1.0 (hf), 0.7 (openai)")
    hf.add_argument("--no-sample", action="store_true",
                    help="hf-qg: beam search returning the best --per-lang beams instead of sampling")
    hf.add_argument("--sample", action="store_true", help="hf-mt: sample translations instead of beam search")
    hf.add_argument("--num-beams", type=int, default=None, help="hf-mt: default 4")
    hf.add_argument("--segment", choices=("sentence", "passage"), default=None,
                    help="hf-mt: translate sentence by sentence (default) or the whole passage")
    hf.add_argument("--source-lang", default=None, help="hf-mt: corpus language (default en)")
    hf.add_argument("--model-lang-codes", default=None,
                    help="hf-mt: override the model's codes, e.g. 'ar=arb_Arab,ja=jpn_Jpan'")
    hf.add_argument("--prompt-template", default=None,
                    help="file with the prompt: hf-qg fills {language} {title} {passage}; openai also {n} {lang}")

    api = p.add_argument_group("openai (any OpenAI-compatible chat endpoint)")
    api.add_argument("--base-url", default=None, help="e.g. http://127.0.0.1:8000/v1 (default: $OPENAI_BASE_URL)")
    api.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key")
    api.add_argument("--concurrency", type=int, default=None, help="requests in flight (default 4)")
    api.add_argument("--max-retries", type=int, default=None, help="on 429/5xx/timeouts (default 5)")
    api.add_argument("--timeout", type=float, default=None, help="seconds per request (default 60)")
    api.add_argument("--max-tokens", type=int, default=None, help="default 256")

    files = p.add_argument_group("file (import generations: released JSONL/parquet, or docid<TAB>lang<TAB>query)")
    files.add_argument("--generated-field", choices=tuple(FIELDS), default="generated_queries",
                       help="which field the imported rows fill (default: %(default)s)")
    p.set_defaults(func=run)


def parse_shard(value: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise InputError(f"--shard must look like I/N (e.g. 0/4), not {value!r}") from None
    if count < 1 or not 0 <= index < count:
        raise InputError(f"--shard {value}: need 0 <= I < N")
    return index, count


def _device(value: str | None) -> str:
    if value:
        return value
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def generator_options(args: argparse.Namespace) -> dict[str, Any]:
    """Constructor options of the chosen generator: flags left unset keep its defaults."""
    def given(**values: Any) -> dict[str, Any]:
        return {key: value for key, value in values.items() if value is not None}

    prompt = Path(args.prompt_template).read_text(encoding="utf-8") if args.prompt_template else None
    if args.generator == "hf-qg":
        return given(model=args.model, device=_device(args.device), dtype=args.dtype, max_length=args.max_length,
                     max_input_length=args.max_input_length, top_k=args.top_k, top_p=args.top_p,
                     temperature=args.temperature, do_sample=False if args.no_sample else None, prompt=prompt,
                     batch_size=args.batch_size)
    if args.generator == "hf-mt":
        if not args.model:
            raise InputError("hf-mt needs --model (a Marian, M2M100 or NLLB checkpoint)")
        return given(model=args.model, device=_device(args.device), dtype=args.dtype, max_length=args.max_length,
                     batch_size=args.batch_size, num_beams=args.num_beams, do_sample=True if args.sample else None,
                     temperature=args.temperature, top_p=args.top_p, segment=args.segment,
                     source_lang=args.source_lang, model_lang_codes=args.model_lang_codes)
    if args.generator == "openai":
        return given(model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
                     prompt_template=args.prompt_template, concurrency=args.concurrency,
                     max_retries=args.max_retries, timeout=args.timeout, temperature=args.temperature,
                     max_tokens=args.max_tokens, top_p=args.top_p)
    if args.generator == "file":
        if not args.model:
            raise InputError("the file generator needs --model FILE_OR_DIR (the generations to import)")
        return {"path": args.model, "output": FIELDS[args.generated_field]}
    return given(model=args.model)  # a plug-in: it receives --model when given


def run(args: argparse.Namespace) -> int:
    from xqg_pyserini.generate import run as runner

    if args.merge:
        record = runner.merge(args.merge, args.output)
        print(f"{record['counts']['passages']} passages from {record['shards']} shards merged into {args.output}")
        return 0
    if not args.corpus or not args.langs:
        raise InputError("--corpus and --langs are required (unless --merge)")
    from xqg_pyserini.generate.base import GENERATORS, check_langs

    shard = parse_shard(args.shard)
    langs = [lang.strip() for lang in args.langs.split(",") if lang.strip()]
    if args.generator in ("hf-qg", "hf-mt", "openai"):
        check_langs(langs)  # before loading a model; the generator checks again what it can produce
    generator = GENERATORS.create(args.generator, **generator_options(args))
    manifest = runner.generate_corpus(args.corpus, generator, langs, args.per_lang, args.output,
                                      shard=shard, batch_size=args.batch_size,
                                      seed=args.seed, progress=not args.no_progress, overwrite=args.overwrite)
    counts = manifest["counts"]
    print(f"shard {args.shard}: {counts['passages']} passages, {counts['kept']} texts kept "
          f"({json.dumps({lang: c['kept'] for lang, c in counts['per_lang'].items()})}) in {args.output}")
    return 0
