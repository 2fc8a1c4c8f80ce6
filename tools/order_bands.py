"""The number-of-languages curves of study B as a table: per arm and number of target languages, the
reference order's difference to plain with its interval, and the spread over language orders.

Reads an experiment's ``effects.json`` (runs ``{arm}-...-L{m}`` and ``{arm}-...-L{m}-o{seed}`` of a
sweep with ``orders: all``). Orders whose first m languages are the same set give the same run; each
distinct language set is counted once (the provenance JSON of a run names its languages).

    python tools/order_bands.py experiments/mlqa-qg-vs-pg --sweep-prefix qg-a0.3-n5u pg-a0.3 qg+pg-a0.3-n5u
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", type=Path, help="an xqg experiment output dir")
    parser.add_argument("--sweep-prefix", nargs="+", required=True, help="tag prefixes before -L{m}, one per arm")
    parser.add_argument("--metric", default="MRR@10", help="metric (default: %(default)s)")
    parser.add_argument("--suffix", default="", help="tag suffix after -L{m} (e.g. -mean), default none")
    args = parser.parse_args()

    effects = json.loads((args.experiment / "effects.json").read_text("utf-8"))["effects"]
    by_run = {e["run"]: e for e in effects if e["metric"] == args.metric and e["language"] is None}
    runs_dir = args.experiment / "runs"
    kt = args.metric.endswith("kt")
    show = (lambda x: f"{x:.1f}") if kt else (lambda x: f"{x:.4f}")
    delta = (lambda x: f"{x:+.1f}") if kt else (lambda x: f"{x:+.4f}")
    print(f"| arm | languages | {args.metric}, reference order (Δ [95% CI]) | distinct orders | "
          f"mean over orders | min – max |")
    print("|---|---:|---:|---:|---:|---:|")
    for prefix in args.sweep_prefix:
        pattern = re.compile(rf"^{re.escape(prefix)}-L(\d+){re.escape(args.suffix)}(-o\d+)?$")
        points: dict[int, dict[tuple, float]] = {}
        for run, effect in by_run.items():
            match = pattern.match(run)
            if not match:
                continue
            provenance = next(runs_dir.glob(f"{run}.trec*.json"))
            langs = tuple(sorted(json.loads(provenance.read_text("utf-8"))["langs"]))
            points.setdefault(int(match.group(1)), {})[langs] = effect["run_mean"]
        for m in sorted(points):
            reference = by_run.get(f"{prefix}-L{m}{args.suffix}")
            values = list(points[m].values())
            ref = (f"{show(reference['run_mean'])} ({delta(reference['difference'])} "
                   f"[{delta(reference['interval'][0])}, {delta(reference['interval'][1])}])") if reference else ""
            print(f"| {prefix} | {m} | {ref} | {len(values)} | {show(sum(values) / len(values))} | "
                  f"{show(min(values))} – {show(max(values))} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
