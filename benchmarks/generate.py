"""Benchmark: our runner + hf-qg against the official per-passage generation loop, side by side.

Naive side: the xQG inference example of ielab/xQG4xDR's README (and the model card of
ielabgroup/xor-tydi-docTquery-mt5-base): one ``pipeline("text2text-generation")`` call per
passage and language, ``do_sample=True, max_length=64, num_return_sequences=n``. transformers 5
removed that pipeline task; one call of it was tokenize one prompt, ``model.generate``, decode,
which is what the naive side runs here (no truncation, as the pipeline; transformers' default
top-k 50).

Our side: ``generate_corpus`` with ``HFQueryGenerator``: ``--batch-size`` requests per call, the
passage encoded once for its n samples, batch-independent Gumbel-max sampling, shards written
with fsync and a manifest. Same model object, passages, languages, n and max_length 64.

Model: ``--model DIR`` (any seq2seq checkpoint), else a random mT5 built in a temp dir with a
tokenizer trained on the passages: ``--config tiny`` (default, CPU) or ``--config mt5-base``
(google/mt5-base's shape and vocabulary, for GPU runs). Passages: the bundled demo collection
(``--source demo``) or XQuAD's English paragraphs from ``$XQG_DATA_DIR/xquad`` (``--source
xquad``; default ``../shared/data`` beside the checkout). Both sides get one warm-up call first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

XOR_TYDI_LANGS = "ar,bn,fi,ja,ko,ru,te"  # the seven languages of the released xQG data


def load_passages(source: str, data_dir: Path, count: int) -> list[dict]:
    if source == "demo":
        from xqg_pyserini.data import demo_dir

        rows = [json.loads(line) for line in (demo_dir() / "corpus.jsonl").read_text("utf-8").splitlines()]
    else:
        english = json.loads((data_dir / "xquad" / "xquad.en.json").read_text("utf-8"))
        rows = [{"id": f"xquad-{a}-{p}", "title": article["title"].replace("_", " "), "contents": paragraph["context"]}
                for a, article in enumerate(english["data"]) for p, paragraph in enumerate(article["paragraphs"])]
    return rows[:count]


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def naive_loop(generator, passages: list[dict], langs: list[str], n: int, device: str) -> list[list[str]]:
    """One tokenize + generate + decode per passage and language, as the README's pipeline calls."""
    from xqg_pyserini.generate.base import Request
    from xqg_pyserini.generate.hf_qg import render_prompt

    model, tokenizer = generator.model, generator.tokenizer
    outputs = []
    for row in passages:
        for lang in langs:
            prompt = render_prompt(generator.prompt, Request(row["id"], row.get("title", ""), row["contents"],
                                                             lang, n, 0))
            encoded = tokenizer(prompt, return_tensors="pt").to(device)
            sequences = model.generate(**encoded, do_sample=True, max_length=64, num_return_sequences=n, top_k=50)
            outputs.append(tokenizer.batch_decode(sequences, skip_special_tokens=True))
    synchronize(device)
    return outputs


def main(argv: list[str] | None = None) -> None:
    default_data = Path(os.environ.get("XQG_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="seq2seq checkpoint dir or hub id (default: build a random mT5)")
    parser.add_argument("--config", choices=("tiny", "mt5-base"), default="tiny", help="shape of the built model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32")
    parser.add_argument("--source", choices=("demo", "xquad"), default="demo")
    parser.add_argument("--data-dir", type=Path, default=default_data)
    parser.add_argument("--passages", type=int, default=48)
    parser.add_argument("--per-lang", type=int, default=5)
    parser.add_argument("--langs", default=XOR_TYDI_LANGS)
    parser.add_argument("--batch-size", type=int, default=32, help="requests per generate call (ours)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test models' builders
    from tiny_models import build_random_mt5

    from xqg_pyserini.generate.hf_qg import HFQueryGenerator
    from xqg_pyserini.generate.run import generate_corpus

    langs = [lang.strip() for lang in args.langs.split(",") if lang.strip()]
    passages = load_passages(args.source, args.data_dir, args.passages)
    with tempfile.TemporaryDirectory(prefix="xqg-bench-generate-") as tmp:
        tmp = Path(tmp)
        corpus = tmp / "corpus.jsonl"
        corpus.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in passages), encoding="utf-8")
        model = args.model
        if model is None:
            model = str(build_random_mt5(tmp / "model", [row["contents"] for row in passages], shape=args.config))
        generator = HFQueryGenerator(model, device=args.device, dtype=args.dtype, max_length=64)
        parameters = sum(p.numel() for p in generator.model.parameters()) / 1e6
        print(f"model: {args.model or f'random mT5 ({args.config})'}; {parameters:.2f}M parameters; "
              f"device={args.device} dtype={args.dtype} torch threads={torch.get_num_threads()}")
        print(f"passages: {len(passages)} ({args.source}); languages: {','.join(langs)}; "
              f"{args.per_lang} outputs per passage and language; batch size {args.batch_size}")

        warm = passages[:1]
        naive_loop(generator, warm, langs[:1], args.per_lang, args.device)
        generate_corpus(corpus, generator, langs[:1], args.per_lang, tmp / "warm", shard=(0, len(passages)),
                        batch_size=args.batch_size, progress=False)

        start = time.perf_counter()
        naive = naive_loop(generator, passages, langs, args.per_lang, args.device)
        naive_s = time.perf_counter() - start

        start = time.perf_counter()
        manifest = generate_corpus(corpus, generator, langs, args.per_lang, tmp / "ours", batch_size=args.batch_size,
                                   progress=False)
        synchronize(args.device)
        ours_s = time.perf_counter() - start

    naive_count = sum(len(texts) for texts in naive)
    counts = manifest["counts"]
    print(f"naive per-passage loop: {naive_s:.2f}s  {len(passages) / naive_s:.2f} passages/s  "
          f"({naive_count} outputs)")
    print(f"ours (runner + hf-qg):  {ours_s:.2f}s  {len(passages) / ours_s:.2f} passages/s  "
          f"({counts['generated']} outputs, {counts['kept']} kept after dedupe)")
    print(f"generate: speedup={naive_s / ours_s:.2f}")


if __name__ == "__main__":
    main()
