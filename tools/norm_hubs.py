"""Norms of fused passage vectors and how concentrated the top-1 results are (docs/REPORT.md, study A).

Inner-product search over ``p' = (1-α)p + α·Σq`` favours passages with large ``|p'|``; when the
number of generated texts differs between passages, so do the norms. For each named run of an
``xqg experiment`` output this prints the norm spread of its index (fold 0 for QG arms) and how
many distinct passages are ranked first across all queries.

    python tools/norm_hubs.py experiments/xquad-alignment plain qg-a0.01-n15-L10 qg-a0.3-n15-L10-mean
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", type=Path, help="output dir of xqg experiment (with save_indexes: true)")
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()

    import faiss

    from xqg_pyserini.io.runs import read_run

    print("| run | mean norm | sd | min | max | distinct top-1 passages | share of queries on the most frequent top-1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.runs:
        folder = args.experiment / "indexes" / name
        index_dir = folder / "fold-0" if (folder / "fold-0").is_dir() else folder
        index = faiss.read_index(str(index_dir / "index"))
        norms = np.linalg.norm(index.reconstruct_n(0, index.ntotal), axis=1)
        run = read_run(args.experiment / "runs" / f"{name}.trec")
        top = Counter(hits[0][0] for hits in run.values() if hits)
        share = top.most_common(1)[0][1] / sum(top.values())
        print(f"| {name} | {norms.mean():.3f} | {norms.std():.3f} | {norms.min():.3f} | {norms.max():.3f} | "
              f"{len(top)} of {index.ntotal} | {100 * share:.1f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
