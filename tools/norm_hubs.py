"""Norms of fused passage vectors, and which passages win the first rank (docs/REPORT.md controls).

Inner-product search over fused vectors favours passages with large ``|p'|``, and with partial
coverage the augmented passages (those with generated text) can win or lose as a group, whatever
the text. For each grid point named, over every fold's fused vectors and that fold's topics:

- the mean norm of augmented and of unaugmented passages;
- the share of topics whose first-ranked passage is augmented, against the share of passages
  that are augmented, and the share of topics whose relevant passage is augmented;
- the number of distinct passages ranked first.

    python tools/norm_hubs.py configs/mlqa-qg-vs-pg.yaml --output /tmp/hubs plain qg-a0.3-n5u-L6 qg-a0.3-n5u-L6-renorm
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="an xqg experiment config")
    parser.add_argument("--output", type=Path, required=True, help="scratch output dir (the embedding cache is reused)")
    parser.add_argument("tags", nargs="+", help="grid points of the config, by tag")
    args = parser.parse_args()

    from xqg_pyserini.experiments.config import load_config
    from xqg_pyserini.experiments.runner import Experiment

    exp = Experiment(load_config(args.config), args.output, progress=False).prepare()
    grid, job = exp.grid, exp.job
    unknown = [t for t in args.tags if t not in grid.points]
    if unknown:
        raise SystemExit(f"not grid points of {args.config}: {', '.join(unknown)}")
    relevant = {q: {d for d, rel in exp.data.qrels[q].items() if rel > 0} for q in job.qids}
    print("| run | norm, augmented | norm, unaugmented | passages augmented | relevant augmented | "
          "top-1 augmented | distinct top-1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for tag in args.tags:
        point = grid.points[tag]
        run = job.search_point(point)
        norms_aug, norms_plain, shares, rel_aug, top_aug, top = [], [], [], 0, 0, Counter()
        for fold in grid.folds_of(point):
            inputs = grid.fusion_inputs(point, fold)
            covered = set()
            for source in (inputs.sources if inputs else ()):
                covered |= {d for d, lang, _ in job.generated(source).keys if lang in inputs.langs}
            norms = np.linalg.norm(job.fused(point, fold), axis=1)
            mask = np.array([d in covered for d in job.docids])
            norms_aug += list(norms[mask])
            norms_plain += list(norms[~mask])
            shares.append(mask.mean())
            for q in grid.topics_of(fold):
                if run.get(q):
                    first = run[q][0][0]
                    top[first] += 1
                    top_aug += first in covered
                    rel_aug += bool(relevant[q] & covered)
        topics = sum(top.values())
        mean = lambda xs: f"{np.mean(xs):.3f}" if xs else "–"
        print(f"| {tag} | {mean(norms_aug)} | {mean(norms_plain)} | {100 * np.mean(shares):.1f}% | "
              f"{100 * rel_aug / topics:.1f}% | {100 * top_aug / topics:.1f}% | {len(top)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
