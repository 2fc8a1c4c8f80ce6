"""Render score tables: plain (``render``) and leaderboards with significance marks (``leaderboard``).

Leaderboard conventions (the paper's): one row per run, best value per column in bold, a dagger
on values significantly different from the baseline, the baseline row marked. With ``by_lang``
(qid -> language) each metric gets one column per language plus their macro average, as in the
paper's Table 1.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Mapping, Sequence

from xqg_pyserini.evaluate.measures import Scores
from xqg_pyserini.evaluate.significance import AVERAGE, Comparison, LanguageOf, language_means, percent_scale

FORMATS = ("md", "csv", "json", "tex")
BASELINE_NOTE = " (baseline)"


def render(scores: Sequence[Scores], metrics: Sequence[str], fmt: str = "md", digits: int = 4) -> str:
    """Means only, no marks; ``tex`` goes through :func:`leaderboard`."""
    if fmt == "tex":
        return leaderboard(scores, metrics, fmt="tex", digits=digits)
    if fmt == "json":
        return json.dumps([{"run": s.name, **{m: s.mean[m] for m in metrics}} for s in scores], indent=2) + "\n"
    rows = [[s.name, *(f"{s.mean[m]:.{digits}f}" for m in metrics)] for s in scores]
    if fmt == "csv":
        return _csv([["run", *metrics], *rows])
    if fmt != "md":
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return _markdown(["run", *metrics], rows)


def render_rows(header: Sequence[str], rows: Sequence[Sequence[object]], fmt: str = "md") -> str:
    """Any table of already formatted cells, as Markdown (first column left, others right) or CSV."""
    cells = [[str(cell) for cell in row] for row in rows]
    if fmt == "csv":
        return _csv([list(header), *cells])
    if fmt != "md":
        raise ValueError("format must be md or csv")
    return _markdown([_md_text(h) for h in header], [[_md_text(c) for c in row] for row in cells])


@dataclass(frozen=True)
class _Column:
    metric: str
    language: str | None  # None: all queries; a language code; or AVERAGE

    @property
    def label(self) -> str:
        return self.metric if self.language is None else f"{self.metric} {_language_label(self.language)}"


def leaderboard(scores: Sequence[Scores], metrics: Sequence[str], baseline: str | None = None,
                tests: Sequence[Comparison] | None = None, fmt: str = "md", by_lang: LanguageOf | None = None,
                digits: int | Mapping[str, int] | None = None) -> str:
    """A leaderboard in ``md``, ``csv``, ``json`` or ``tex`` (a booktabs ``tabular``).

    ``tests`` come from :func:`~xqg_pyserini.evaluate.significance.compare` (with the same
    ``by_lang``); without them nothing is marked significant. ``baseline`` defaults to the tests'
    baseline. ``digits``: one number, or per metric; by default 4, or 1 for metrics in percent.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    names = [s.name for s in scores]
    if len(set(names)) != len(names):
        raise ValueError(f"run names must be distinct: {names}")
    tests = list(tests or [])
    baseline = _baseline_name(baseline, tests, names)

    columns, values = _columns_and_values(scores, metrics, by_lang)
    found = {(t.run, t.metric, t.language): t for t in tests}
    marks: dict[tuple[str, _Column], Comparison] = {}
    for name in names if tests else []:
        for column in columns if name != baseline else []:
            key = (name, column.metric, column.language)
            if key not in found:
                where = "all queries" if column.language is None else column.language
                raise ValueError(f"no test of {name!r} on {column.metric} ({where}); "
                                 "run compare() on the same runs, metrics and by_lang")
            marks[name, column] = found[key]

    places = {m: _places(m, digits, scores, [v[c] for v in values.values() for c in columns if c.metric == m])
              for m in metrics}
    shown = {(name, c): f"{values[name][c]:.{places[c.metric]}f}" for name in names for c in columns}
    best = {c: max(float(shown[name, c]) for name in names) for c in columns}
    is_best = {(name, c): float(shown[name, c]) == best[c] for name in names for c in columns}

    if fmt == "json":
        return _json(names, columns, values, marks, baseline, metrics, by_lang is not None, tests)
    if fmt == "csv":
        return _leaderboard_csv(names, columns, shown, marks, baseline)
    if fmt == "tex":
        return _tex_table(names, columns, shown, is_best, marks, baseline, by_lang is not None)
    rows = []
    for name in names:
        cells = [_md_text(name) + (BASELINE_NOTE if name == baseline else "")]
        for column in columns:
            text = f"**{shown[name, column]}**" if is_best[name, column] else shown[name, column]
            cells.append(text + ("†" if _significant(marks, name, column) else ""))
        rows.append(cells)
    return _markdown(["run", *(_md_text(c.label) for c in columns)], rows)


def _baseline_name(baseline: str | None, tests: list[Comparison], names: list[str]) -> str | None:
    tested = {t.baseline for t in tests}
    if len(tested) > 1:
        raise ValueError(f"tests against several baselines: {sorted(tested)}")
    if baseline is None and tested:
        baseline = tested.pop()
    elif tested and baseline not in tested:
        raise ValueError(f"baseline {baseline!r} is not the tests' baseline {tested.pop()!r}")
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline {baseline!r} is not among the runs {names}")
    return baseline


def _columns_and_values(scores: Sequence[Scores], metrics: Sequence[str], by_lang: LanguageOf | None):
    if by_lang is None:
        columns = [_Column(m, None) for m in metrics]
        return columns, {s.name: {c: s.mean[c.metric] for c in columns} for s in scores}
    means = {s.name: {m: language_means(s, m, by_lang) for m in metrics} for s in scores}
    columns = []
    for metric in metrics:
        languages = {lang for by_metric in means.values() for lang in by_metric[metric] if lang != AVERAGE}
        columns += [_Column(metric, lang) for lang in [*sorted(languages), AVERAGE]]
    values = {name: {c: by_metric[c.metric].get(c.language, float("nan")) for c in columns}
              for name, by_metric in means.items()}
    return columns, values


def _places(metric: str, digits: int | Mapping[str, int] | None, scores: Sequence[Scores],
            values: list[float]) -> int:
    if isinstance(digits, int):
        return digits
    if digits is not None and metric in digits:
        return digits[metric]
    in_percent = any(abs(v) > 1 for v in values) or any(percent_scale(s, metric) == 100 for s in scores)
    return 1 if in_percent else 4


def _significant(marks: Mapping[tuple[str, _Column], Comparison], name: str, column: _Column) -> bool:
    test = marks.get((name, column))
    return test is not None and test.significant


def _json(names, columns, values, marks, baseline, metrics, per_language, tests) -> str:
    def nest(per_column: dict) -> dict:
        if not per_language:
            return {c.metric: v for c, v in per_column.items()}
        out: dict = {}
        for c, v in per_column.items():
            out.setdefault(c.metric, {})[c.language] = v
        return out

    rows = []
    for name in names:
        row = {"run": name, "baseline": name == baseline, "values": nest({c: values[name][c] for c in columns})}
        tested = {c: marks[name, c] for c in columns if (name, c) in marks}
        if tested:
            row["p_values"] = nest({c: t.p_value for c, t in tested.items()})
            row["corrected_p_values"] = nest({c: t.corrected_p_value for c, t in tested.items()})
            row["significant"] = nest({c: t.significant for c, t in tested.items()})
            if any(t.ci_low == t.ci_low for t in tested.values()):  # not nan: intervals were computed
                row["differences"] = nest({c: t.difference for c, t in tested.items()})
                row["intervals"] = nest({c: [t.ci_low, t.ci_high] for c, t in tested.items()})
        rows.append(row)
    document = {"baseline": baseline, "metrics": list(metrics)}
    if per_language:
        document["languages"] = [c.language for c in columns if c.metric == metrics[0] and c.language != AVERAGE]
    document.update(test=tests[0].settings.to_json() if tests else None, rows=rows)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _leaderboard_csv(names, columns, shown, marks, baseline) -> str:
    tested = bool(marks)
    intervals = tested and any(t.ci_low == t.ci_low for t in marks.values())
    header = ["run", "baseline"]
    for column in columns:
        header += [column.label, f"{column.label} p", f"{column.label} significant"] if tested else [column.label]
        if intervals:
            header += [f"{column.label} ci low", f"{column.label} ci high"]
    rows = [header]
    for name in names:
        row = [name, "true" if name == baseline else "false"]
        for column in columns:
            row.append(shown[name, column])
            if tested:
                test = marks.get((name, column))
                row += [repr(test.corrected_p_value), "true" if test.significant else "false"] if test else ["", ""]
                if intervals:
                    row += [repr(test.ci_low), repr(test.ci_high)] if test else ["", ""]
        rows.append(row)
    return _csv(rows)


def effects_table(tests: Sequence[Comparison], runs: Sequence[str], metrics: Sequence[str], fmt: str = "md") -> str:
    """Per run (rows) and metric [and language] (columns): difference to the baseline, its interval, and
    the corrected p-value (``†`` when significant). md, csv or json."""
    if fmt not in ("md", "csv", "json"):
        raise ValueError("effects render as md, csv or json")
    if fmt == "json":
        rows = [{"run": t.run, "metric": t.metric, "language": t.language, "baseline": t.baseline,
                 "baseline_mean": t.baseline_mean, "run_mean": t.run_mean, "difference": t.difference,
                 "interval": [t.ci_low, t.ci_high], "p_value": t.p_value, "corrected_p_value": t.corrected_p_value,
                 "significant": t.significant, "units": t.units} for t in tests]
        settings = tests[0].settings.to_json() if tests else None
        return json.dumps({"test": settings, "effects": rows}, indent=2, ensure_ascii=False) + "\n"
    columns = list(dict.fromkeys(_Column(t.metric, t.language) for t in tests if t.metric in metrics))
    columns.sort(key=lambda c: (list(metrics).index(c.metric), c.language == AVERAGE, c.language or ""))
    found = {(t.run, _Column(t.metric, t.language)): t for t in tests}
    places = {m: 1 if any(abs(t.baseline_mean) > 1 for t in tests if t.metric == m) else 4 for m in metrics}

    def cell(test: Comparison | None, column: _Column) -> str:
        if test is None:
            return ""
        d = places[column.metric]
        text = f"{test.difference:+.{d}f} [{test.ci_low:+.{d}f}, {test.ci_high:+.{d}f}] p={test.corrected_p_value:.2g}"
        return text + ("†" if test.significant else "")

    rows = [[name, *(cell(found.get((name, c)), c) for c in columns)] for name in runs]
    header = ["run", *(f"Δ {c.label}" for c in columns)]
    return _csv([header, *rows]) if fmt == "csv" else _markdown([_md_text(h) for h in header],
                                                                  [[_md_text(x) for x in row] for row in rows])


def _tex_table(names, columns, shown, is_best, marks, baseline, per_language) -> str:
    lines = [r"\begin{tabular}{l" + "r" * len(columns) + "}", r"\toprule"]
    if per_language:
        spans, start = [], 2
        for metric in dict.fromkeys(c.metric for c in columns):
            width = sum(c.metric == metric for c in columns)
            spans.append((metric, start, start + width - 1))
            start += width
        lines.append(" & ".join(["", *(rf"\multicolumn{{{b - a + 1}}}{{c}}{{{_tex_text(m)}}}" for m, a, b in spans)])
                     + r" \\")
        lines.append(" ".join(rf"\cmidrule(lr){{{a}-{b}}}" for _, a, b in spans))
        labels = [_language_label(c.language) for c in columns]
    else:
        labels = [c.metric for c in columns]
    lines.append(" & ".join(["Run", *map(_tex_text, labels)]) + r" \\")
    lines.append(r"\midrule")
    for name in names:
        cells = [_tex_text(name) + (BASELINE_NOTE if name == baseline else "")]
        for column in columns:
            text = rf"\textbf{{{shown[name, column]}}}" if is_best[name, column] else shown[name, column]
            cells.append(text + (r"$^\dagger$" if _significant(marks, name, column) else ""))
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _language_label(language: str) -> str:
    return language if language == AVERAGE else language[:1].upper() + language[1:]


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def _tex_text(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(char, char) for char in text)


def _md_text(text: str) -> str:
    return text.replace("|", r"\|")


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule, *map(line, rows)]) + "\n"
