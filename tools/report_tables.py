"""Markdown tables for docs/REPORT.md, read from the leaderboard.json (or .csv) files the runs wrote.

Each cell is the value with its Fisher-test p-value against the file's baseline (``<1e-4``: no
permutation of 10,000 reached the observed difference), so nothing in the report is copied by hand.

    python tools/report_tables.py experiments/xquad-alignment/leaderboard.json \\
        --runs plain qg-a0.01-n15-L10 qg-a0.3-n15-L10-mean --metrics MRR@10 R@100 R@2kt R@5kt
"""

from __future__ import annotations

import argparse
import csv
import json


def cell(value: float, p: float | None, metric: str, permutations: int) -> str:
    text = f"{value:.1f}" if metric.endswith("kt") else f"{value:.4f}"
    if p is None:
        return text
    shown = f"<{1 / permutations:.0e}" if p == 0 else f"{p:.3f}" if p >= 0.001 else f"{p:.0e}"
    return f"{text} (p {shown}){' †' if p <= 0.05 else ''}"


def load(path: str, metrics: list[str], permutations: int) -> tuple[dict[str, dict], int]:
    """run -> {"values", "p_values", "baseline"} from a leaderboard.json, or from the CSV format."""
    if path.endswith(".json"):
        board = json.load(open(path, encoding="utf-8"))
        return {row["run"]: row for row in board["rows"]}, board["test"]["n_permutations"]
    rows = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["run"]] = {
                "baseline": row["baseline"] == "true",
                "values": {m: float(row[m]) for m in metrics},
                "p_values": {m: float(row[f"{m} p"]) for m in metrics if row.get(f"{m} p")},
            }
    return rows, permutations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("leaderboard")
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--metrics", nargs="+", required=True)
    parser.add_argument("--permutations", type=int, default=10_000, help="of the test, for a CSV leaderboard")
    args = parser.parse_args()
    rows, permutations = load(args.leaderboard, args.metrics, args.permutations)
    missing = [run for run in args.runs if run not in rows]
    if missing:
        raise SystemExit(f"{args.leaderboard}: no run {', '.join(missing)}")
    print("| run | " + " | ".join(args.metrics) + " |")
    print("|---|" + "---:|" * len(args.metrics))
    for run in args.runs:
        row = rows[run]
        cells = [cell(row["values"][m], (row.get("p_values") or {}).get(m), m, permutations) for m in args.metrics]
        print(f"| {run}{' (baseline)' if row.get('baseline') else ''} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
