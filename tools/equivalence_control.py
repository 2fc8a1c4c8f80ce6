"""Control for study A: is "sum at α" = "mean at α' = Nα/(1-α+Nα)" exact, and if not, why not?

With exactly N texts fused into every passage, sum fusion is mean fusion at α' times the global
factor c = 1-α+Nα, so inner-product rankings are the same. In the oracle some passages have no
text in a fold (all of a passage's questions are held out there) and keep E(p): under sum they sit
at norm 1 while the augmented ones are scaled by c, under mean they do not. This prints, for a
config's uniform QG setting (per language n, all target languages):

- the largest deviation of ``sum / mean`` from c over the augmented passages (the tool's check);
- MRR@10 of sum, mean at α', and both renormalized (renorm removes every global scale, so those
  two must agree exactly if the unaugmented passages are the whole story);
- for how many topics the relevant passage's rank differs, and how many of those involve an
  unaugmented passage (the relevant one, or one ranked above it in either run).

    python tools/equivalence_control.py configs/xquad-alignment.yaml --output /tmp/eqv [--alpha 0.01 --per-lang 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="an xqg experiment config with a QG oracle")
    parser.add_argument("--output", type=Path, required=True, help="scratch output dir (the embedding cache is reused)")
    parser.add_argument("--alpha", type=float, default=0.01, help="sum-fusion alpha (default: %(default)s)")
    parser.add_argument("--per-lang", type=int, default=5, help="uniform texts per language (default: %(default)s)")
    args = parser.parse_args()

    from xqg_pyserini.experiments.config import load_config
    from xqg_pyserini.experiments.runner import Experiment

    exp = Experiment(load_config(args.config), args.output, progress=False).prepare()
    grid, job = exp.grid, exp.job
    langs = len(grid.lang_order)
    n_texts = args.per_lang * langs
    equivalent = n_texts * args.alpha / (1 - args.alpha + n_texts * args.alpha)
    scale = 1 - args.alpha + n_texts * args.alpha
    point = lambda fusion, alpha, renorm: grid.point("qg", alpha, args.per_lang, langs, fusion, counts="uniform",
                                                     renorm=renorm)
    points = {"sum": point("sum", args.alpha, False), "mean": point("mean", equivalent, False),
              "sum-renorm": point("sum", args.alpha, True), "mean-renorm": point("mean", equivalent, True)}
    print(f"N = {args.per_lang} x {langs} = {n_texts} texts; alpha = {args.alpha} (sum) ~ alpha' = {equivalent:.6f} "
          f"(mean); global factor c = {scale:.6f}")

    covered_by_fold, deviations = {}, []
    for fold in grid.folds_of(points["sum"]):
        source = grid.fusion_inputs(points["sum"], fold).sources[0]
        covered_by_fold[fold] = {docid for docid, _, _ in job.generated(source).keys}
        rows = [i for i, d in enumerate(job.docids) if d in covered_by_fold[fold]]
        summed, meaned = job.fused(points["sum"], fold)[rows], job.fused(points["mean"], fold)[rows]
        deviations.append(float(np.abs(summed - scale * meaned).max()))
    uncovered = sum(len(job.docids) - len(c) for c in covered_by_fold.values())
    print(f"max |sum - c * mean| over augmented passages: {max(deviations):.2e}; unaugmented passages: {uncovered} "
          f"over {len(covered_by_fold)} folds")

    runs = {name: job.search_point(p) for name, p in points.items()}
    for name, run in runs.items():
        print(f"MRR@10 {name:<12} {job.score(name, run).mean['MRR@10']:.4f}")
    fold_of = exp.data.fold_of_topic
    relevant = {q: {d for d, rel in exp.data.qrels[q].items() if rel > 0} for q in job.qids}

    def rank(run, q):  # rank of the first relevant passage (hits + 1 when none was retrieved)
        return next((r for r, (d, _) in enumerate(run[q], 1) if d in relevant[q]), len(run[q]) + 1)

    for a, b in (("sum", "mean"), ("sum-renorm", "mean-renorm")):
        differ = [q for q in job.qids if rank(runs[a], q) != rank(runs[b], q)]
        involved = 0
        for q in differ:
            above = {d for run in (runs[a], runs[b]) for d, _ in run[q][:rank(run, q)]}
            involved += bool((above | relevant[q]) - covered_by_fold[fold_of[q]])
        print(f"{a} vs {b}: the relevant passage's rank differs for {len(differ)} of {len(job.qids)} topics; "
              f"{involved} of them have an unaugmented passage as the relevant one or ranked above it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
