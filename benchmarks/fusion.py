"""Benchmark: ``xqg index`` (streaming fusion into a flat index) against the official fuse_embeds.py, side by side.

Official side: ``fuse_embeds.py`` of ielab/xQG4xDR re-implemented faithfully: Tevatron pickles
``(embeddings, ids)``, one for the passages and one per generated-query slot (each with one
vector per passage, in passage order); it loads the passages, keeps a float32 running total,
loads one query file at a time (asserting the ids match) and adds it, then computes
``(1-α)·p + α·Σq`` and pickles the result.

Our side: ``build_index`` (what ``xqg index`` runs) on embedding stores holding the same arrays:
a passage store and one generated store with the passage's queries as consecutive rows (what
``xqg encode --kind generated`` writes), fused block by block in float64 and streamed into a
flat FAISS index.

Each side's inputs are written first (not timed), then the side runs in a fresh subprocess whose
peak resident memory (``ru_maxrss``) and wall time are reported. ``identical`` compares our fused
vectors bit for bit with the float64 formula of the pre-streaming ``xqg index`` (``np.add.at``
over every row), computed in a third subprocess; ``max_abs_diff_vs_official`` is the gap to the
official float32 running sum.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BLOCK = 8192  # passages generated per step


def _block(seed: int, slot: int, start: int, stop: int, dim: int) -> np.ndarray:
    """Generated vector of slot ``slot`` for passages [start, stop): the same arrays for both sides."""
    return np.random.default_rng([seed, slot, start]).standard_normal((stop - start, dim), dtype=np.float32) * 0.1


def _passages(seed: int, start: int, stop: int, dim: int) -> np.ndarray:
    return np.random.default_rng([seed, 1 << 20, start]).standard_normal((stop - start, dim), dtype=np.float32)


def _slot_key(slot: int) -> tuple[str, int]:
    return f"l{slot // 5}", slot % 5


def prepare_ours(args: argparse.Namespace, work: Path) -> None:
    from xqg_pyserini.io.embeddings import write_store_chunks

    n, dim, q = args.passages, args.dim, args.per_passage
    ids = [f"p{i}" for i in range(n)]
    passages = ((ids[s:s + BLOCK], _passages(args.seed, s, min(n, s + BLOCK), dim)) for s in range(0, n, BLOCK))
    write_store_chunks(work / "ours-p", n, dim, {"kind": "passage", "encoder": {"encoder": "synthetic"}}, passages)

    def chunks():
        for start in range(0, n, BLOCK):
            stop = min(n, start + BLOCK)
            slots = np.stack([_block(args.seed, k, start, stop, dim) for k in range(q)], axis=1)
            keys = [f"p{i}\t{lang}\t{rank}" for i in range(start, stop) for lang, rank in map(_slot_key, range(q))]
            yield keys, slots.reshape(-1, dim)

    write_store_chunks(work / "ours-g", n * q, dim, {"kind": "generated", "encoder": {"encoder": "synthetic"}},
                       chunks())


def run_ours(args: argparse.Namespace, work: Path) -> None:
    from xqg_pyserini.index.build import build_index

    build_index(work / "ours-p", work / "ours-index", generated=work / "ours-g", alpha=args.alpha)


def prepare_official(args: argparse.Namespace, work: Path) -> None:
    n, dim = args.passages, args.dim
    dids = [f"p{i}" for i in range(n)]
    (work / "official").mkdir(exist_ok=True)
    with open(work / "official" / "passages.pkl", "wb") as f:
        pickle.dump((np.concatenate([_passages(args.seed, s, min(n, s + BLOCK), dim) for s in range(0, n, BLOCK)]),
                     dids), f)
    for slot in range(args.per_passage):
        lang, rank = _slot_key(slot)
        with open(work / "official" / f"query.{lang}.{rank}.pkl", "wb") as f:
            pickle.dump((np.concatenate([_block(args.seed, slot, s, min(n, s + BLOCK), dim)
                                         for s in range(0, n, BLOCK)]), dids), f)


def run_official(args: argparse.Namespace, work: Path) -> None:
    """fuse_embeds.py, as written (the 768 of its zeros made the data's dim)."""
    def pickle_load(path):
        with open(path, "rb") as f:
            return pickle.load(f)

    doc_embeds, dids = pickle_load(work / "official" / "passages.pkl")
    total_hyqe_embeds = np.zeros((len(dids), args.dim), dtype=np.float32)
    for f in glob.glob(str(work / "official" / "query.*.pkl")):
        hyqe_embeds, hyqe_dids = pickle_load(f)
        assert dids == hyqe_dids, "docids not match"
        total_hyqe_embeds += hyqe_embeds
        del hyqe_dids, hyqe_embeds
    embeds = ((1 - args.alpha) * doc_embeds) + (args.alpha * total_hyqe_embeds)
    with open(work / "official" / "fused.pkl", "wb") as f:
        pickle.dump((embeds, dids), f)


def run_reference(args: argparse.Namespace, work: Path) -> None:
    """The pre-streaming xqg index formula: float64 sums, rows added in store order."""
    n, dim = args.passages, args.dim
    sums = np.zeros((n, dim), dtype=np.float64)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        for slot in range(args.per_passage):
            sums[start:stop] += _block(args.seed, slot, start, stop, dim)
    passages = np.concatenate([_passages(args.seed, s, min(n, s + BLOCK), dim) for s in range(0, n, BLOCK)])
    fused = ((1.0 - args.alpha) * passages.astype(np.float64) + args.alpha * sums).astype(np.float32)
    np.save(work / "reference.npy", fused)


ROLES = {"prepare-ours": prepare_ours, "ours": run_ours, "prepare-official": prepare_official,
         "official": run_official, "reference": run_reference}


def _child(role: str, args: argparse.Namespace, work: Path) -> tuple[float, float]:
    command = [sys.executable, __file__, "--role", role, "--work", str(work), "--passages", str(args.passages),
               "--dim", str(args.dim), "--per-passage", str(args.per_passage), "--alpha", str(args.alpha),
               "--seed", str(args.seed)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{role} failed:\n{done.stderr[-3000:]}")
    out = done.stdout.strip().splitlines()[-1]
    result = json.loads(out)
    return result["seconds"], result["peak_rss_mib"]


def compare(work: Path) -> tuple[bool, float]:
    reference = np.load(work / "reference.npy", mmap_mode="r")
    with open(work / "ours-index" / "index", "rb") as handle:
        handle.seek(45)  # FAISS IndexFlatIP header
        ours = np.fromfile(handle, dtype=np.float32).reshape(reference.shape)
    with open(work / "official" / "fused.pkl", "rb") as f:
        official = pickle.load(f)[0]
    return ours.tobytes() == reference.tobytes(), float(np.abs(ours - official).max())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--per-passage", type=int, default=8, help="generated vectors per passage")
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--work", type=Path, default=None, help="scratch dir (default: a temp dir, removed)")
    parser.add_argument("--role", choices=sorted(ROLES), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        started = time.perf_counter()
        ROLES[args.role](args, args.work)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"seconds": seconds, "peak_rss_mib": peak}))
        return
    work = Path(tempfile.mkdtemp(prefix="xqg-fusion-bench-", dir=args.work))
    try:
        generated_gib = args.passages * args.per_passage * args.dim * 4 / 2 ** 30
        print(f"passages={args.passages} dim={args.dim} per_passage={args.per_passage} "
              f"generated={generated_gib:.2f} GiB per side; load {os.getloadavg()[0]:.2f}")
        _child("prepare-ours", args, work)
        ours = _child("ours", args, work)
        print(f"ours: seconds={ours[0]:.2f} peak_rss_mib={ours[1]:.0f}", flush=True)
        shutil.rmtree(work / "ours-g")
        _child("reference", args, work)
        _child("prepare-official", args, work)
        official = _child("official", args, work)
        print(f"official: seconds={official[0]:.2f} peak_rss_mib={official[1]:.0f}", flush=True)
        identical, gap = compare(work)
        print(f"max_abs_diff_vs_official={gap:.3g}; load {os.getloadavg()[0]:.2f}")
        print(f"fusion: speedup={official[0] / ours[0]:.2f} memory_ratio={ours[1] / official[1]:.3f} "
              f"identical={str(identical).lower()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
