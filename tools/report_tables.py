"""Markdown tables for docs/REPORT.md, cut from the effects files an experiment wrote.

``effects.json`` (all topics) and ``effects_per_language.json`` hold, per run and metric (and
language), the difference to the baseline, its bootstrap interval and the corrected p-value of the
experiment's clustered test. Nothing in the report is copied by hand:

    python tools/report_tables.py experiments/xquad-alignment/effects.json \\
        --runs qg-a0.01-n5u-L7 tuned-qg_alpha-qg --metrics MRR@10 R@2kt
    python tools/report_tables.py experiments/xquad-alignment/effects_per_language.json \\
        --runs tuned-qg_alpha-qg tuned-pg_alpha-pg --metrics MRR@10 --by-language

A cell is ``mean (Δ [low, high])``: the 95% percentile bootstrap interval over clusters, as the
experiment computed it. † marks a p-value (the experiment's clustered permutation test) that is at
most the file's level after Holm's correction over the cells of the printed table, the family a
reader sees (the file's own corrected p is over every run of the experiment).
"""

from __future__ import annotations

import argparse
import json


def cell(effect: dict, rkt: bool, significant: bool, with_mean: bool = True) -> str:
    value = (lambda x: f"{x:+.1f}") if rkt else (lambda x: f"{x:+.4f}")
    low, high = effect["interval"] if effect.get("interval") else (float("nan"), float("nan"))
    mark = "†" if significant else ""
    mean = (f"{effect['run_mean']:.1f} " if rkt else f"{effect['run_mean']:.4f} ") if with_mean else ""
    return f"{mean}({value(effect['difference'])} [{value(low)}, {value(high)}]){mark}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("effects", help="an experiment's effects.json or effects_per_language.json")
    parser.add_argument("--runs", nargs="+", required=True, help="run tags, in row order")
    parser.add_argument("--metrics", nargs="+", required=True, help="metric names, in column order")
    parser.add_argument("--by-language", action="store_true", help="one column per language (first metric only)")
    args = parser.parse_args()

    from xqg_pyserini.evaluate.significance import correct

    data = json.load(open(args.effects, encoding="utf-8"))
    level = data["test"]["alpha"]
    found = {(e["run"], e["metric"], e["language"]): e for e in data["effects"]}
    missing = [r for r in args.runs if not any(k[0] == r for k in found)]
    if missing:
        raise SystemExit(f"{args.effects}: no effects for {', '.join(missing)}")
    if args.by_language:
        langs = sorted({k[2] for k in found if k[1] == args.metrics[0] and k[2] is not None},
                       key=lambda x: (x == "Avg", x))
        shown = [(r, args.metrics[0], lang) for r in args.runs for lang in langs]
    else:
        shown = [(r, m, None) for r in args.runs for m in args.metrics]
    shown = [key for key in shown if key in found]
    corrected = dict(zip(shown, correct([found[key]["p_value"] for key in shown], "holm")))
    significant = {key: p <= level for key, p in corrected.items()}
    if args.by_language:
        metric = args.metrics[0]
        print(f"| run ({metric}: Δ [95% CI]) | " + " | ".join(langs) + " |")
        print("|---|" + "---:|" * len(langs))
        for run in args.runs:
            cells = [cell(found[(run, metric, lang)], metric.endswith("kt"), significant[(run, metric, lang)],
                          with_mean=False)
                     if (run, metric, lang) in found else "" for lang in langs]
            print(f"| {run} | " + " | ".join(cells) + " |")
        print(f"\n† Holm-corrected p <= {level} over the {len(shown)} cells of this table.")
        return 0
    first = next(e for e in data["effects"])
    print("| run | " + " | ".join(f"{m} (Δ [95% CI])" for m in args.metrics) + " |")
    print("|---|" + "---:|" * len(args.metrics))
    baseline = {m: next(e["baseline_mean"] for k, e in found.items() if k[1] == m) for m in args.metrics}
    print(f"| {first['baseline']} (baseline) | " + " | ".join(
        f"{baseline[m]:.1f}" if m.endswith("kt") else f"{baseline[m]:.4f}" for m in args.metrics) + " |")
    for run in args.runs:
        cells = [cell(found[(run, m, None)], m.endswith("kt"), significant[(run, m, None)])
                 if (run, m, None) in found else ""
                 for m in args.metrics]
        print(f"| {run} | " + " | ".join(cells) + " |")
    print(f"\n† Holm-corrected p <= {level} over the {len(shown)} cells of this table.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
