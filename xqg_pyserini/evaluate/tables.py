"""Render score tables as Markdown, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from typing import Sequence

from xqg_pyserini.evaluate.measures import Scores

FORMATS = ("md", "csv", "json")


def render(scores: Sequence[Scores], metrics: Sequence[str], fmt: str = "md", digits: int = 4) -> str:
    if fmt == "json":
        return json.dumps([{"run": s.name, **{m: s.mean[m] for m in metrics}} for s in scores], indent=2) + "\n"
    rows = [[s.name, *(f"{s.mean[m]:.{digits}f}" for m in metrics)] for s in scores]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["run", *metrics])
        writer.writerows(rows)
        return buffer.getvalue()
    if fmt != "md":
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    header = ["run", *metrics]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule, *map(line, rows)]) + "\n"
