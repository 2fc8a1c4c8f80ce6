"""Benchmark: ``xqg encode`` against ``python -m pyserini.encode``, same checkpoint, flags and passages.

Passages: XQuAD paragraphs (English first, then the other languages) and MLQA-r English
contexts from ``$XQG_DATA_DIR`` (default ``../shared/data``), deduplicated, the first
``--passages``. Both sides get the same corpus JSONL (``id``, ``contents``), the e5-small
checkpoint (``xqg models path e5-small``), mean pooling, L2 norm, prefix ``passage:``,
``--max-length`` and ``--batch-size``, on the CPU; each runs as its own CLI subprocess (model
loading included) and is timed by wall clock. Our side runs with ``--backend torch``,
``--backend onnx`` (the ONNX export is made once before timing, as a cached model would be) and
``torch+bfloat16``: ``--backend torch --autocast bfloat16`` (float32 weights, matrix products
in bfloat16 on the CPU's AMX/AVX-512-BF16 units where it has them). The last line is the
fastest of our backends against Pyserini, with the minimum cosine of its vectors to Pyserini's
over all passages.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def load_passages(data_dir: Path, count: int) -> list[dict]:
    texts: list[str] = []
    files = [data_dir / "xquad" / "xquad.en.json"] + sorted((data_dir / "xquad").glob("xquad.*.json")) + \
        [data_dir / "mlqa-r" / "en.json"]
    for path in files:
        if not path.is_file():
            continue
        for article in json.loads(path.read_text("utf-8"))["data"]:
            texts += [p["context"] for p in article["paragraphs"]]
    unique = list(dict.fromkeys(" ".join(t.split()) for t in texts))[:count]
    return [{"id": f"p{i}", "contents": text} for i, text in enumerate(unique)]


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    default_data = Path(os.environ.get("XQG_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data)
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--max-length", type=int, default=256, help="Pyserini's default")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backends", default="torch,onnx,torch+bfloat16",
                        help="comma-separated: torch, onnx, or BACKEND+AUTOCAST (torch+bfloat16)")
    args = parser.parse_args(argv)

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    model = subprocess.run([str(bin_dir / "xqg"), "models", "path", "e5-small"], check=True, capture_output=True,
                           text=True, env=env).stdout.strip()
    env["JAVA_HOME"] = subprocess.run([str(bin_dir / "xqg"), "java", "--home"], check=True, capture_output=True,
                                      text=True, env=env).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="xqg-encode-bench-"))
    try:
        rows = load_passages(args.data_dir, args.passages)
        corpus = work / "corpus.jsonl"
        corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"passages: {len(rows)}; model {model}; max_length {args.max_length}; batch {args.batch_size}; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        common = ["--encoder", model, "--pooling", "mean", "--l2-norm", "--batch-size", str(args.batch_size),
                  "--max-length", str(args.max_length), "--device", "cpu"]
        ours: dict[str, float] = {}
        vectors: dict[str, np.ndarray] = {}
        for backend in args.backends.split(","):
            engine, _, autocast = backend.partition("+")
            command = [str(bin_dir / "xqg"), "encode", "--kind", "passage", "--input", str(corpus),
                       "--passage-template", "{contents}", "--passage-prefix", "passage:", *common,
                       "--backend", engine, *(["--autocast", autocast] if autocast else []), "--output"]
            if backend == "onnx":  # export once (cached), as any later run finds it
                subprocess.run([*command, str(work / "warm")], check=True, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, input=None)
                shutil.rmtree(work / "warm")
            ours[backend] = timed([*command, str(work / f"ours-{backend}")], env)
            vectors[backend] = np.load(work / f"ours-{backend}" / "embeddings.npy")
            print(f"ours ({backend}): {ours[backend]:.1f}s  {len(rows) / ours[backend]:.1f} passages/s", flush=True)
        pyserini = timed([sys.executable, "-m", "pyserini.encode", "input", "--corpus", str(corpus), "--fields", "text",
                          "output", "--embeddings", str(work / "pyserini"),
                          "encoder", "--encoder-class", "auto", "--fields", "text", "--prefix", "passage:", *common],
                         env)
        print(f"pyserini.encode: {pyserini:.1f}s  {len(rows) / pyserini:.1f} passages/s", flush=True)
        theirs = {}
        for line in (work / "pyserini" / "embeddings.jsonl").read_text("utf-8").splitlines():
            row = json.loads(line)
            theirs[row["id"]] = np.asarray(row["vector"], dtype=np.float32)
        reference = np.stack([theirs[r["id"]] for r in rows])
        cosines = {b: float((v * reference).sum(axis=1).min()) for b, v in vectors.items()}
        for backend in ours:
            print(f"{backend}: speedup={pyserini / ours[backend]:.2f} min_cosine={cosines[backend]:.6f}")
        best = min(ours, key=ours.get)
        print(f"load {os.getloadavg()[0]:.2f}; best backend: {best}")
        print(f"encode: speedup={pyserini / ours[best]:.2f} min_cosine={cosines[best]:.6f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
