"""The report writer of an experiment: leaderboards, per-language tables, plots, alignment, summary.

Reads what the job produced (runs and their scores) and writes every table and plot under the
output dir, then ``summary.md`` and ``experiment.json``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from xqg_pyserini.encode.base import ENCODER_KEYS
from xqg_pyserini.evaluate.report import Report
from xqg_pyserini.evaluate.significance import AVERAGE, language_means
from xqg_pyserini.evaluate.tables import render_rows
from xqg_pyserini.experiments import plots
from xqg_pyserini.experiments.config import resolved
from xqg_pyserini.experiments.grid import GridPoint
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.provenance import write_provenance

if TYPE_CHECKING:
    from xqg_pyserini.experiments.runner import Experiment


class ReportWriter:
    """Tables, plots, alignment and summary of a finished grid (``experiment.results``)."""

    def __init__(self, experiment: "Experiment"):
        self.experiment = experiment
        self.config, self.output, self.data = experiment.config, experiment.output, experiment.data
        self.grid, self.job, self.results = experiment.grid, experiment.job, experiment.results
        self.means = {tag: result.scores.mean for tag, result in self.results.items() if result.point is not None}
        self.plot_files: list[Path] = []

    def lang_of(self, qid: str) -> str:
        return self.data.topic_lang.get(qid) or qid.split("-", 1)[0]

    def final_points(self) -> list[GridPoint]:
        return self.grid.final_points(self.means)

    def tables(self) -> None:
        config, out = self.config, self.output
        metrics = config.metrics
        report = self.report = Report([r.scores for r in self.results.values()], metrics, baseline="plain",
                                      settings=config.significance, lang_of=self.lang_of)
        # Sweep and final tables show subsets of the runs, marked by the tests of the whole family.
        self.sweep_tables: dict[str, str] = {name: report.table(runs=["plain"] + [t for t in tags if t != "plain"])
                                             for name, tags in self.grid.sweeps.items()}
        note = self._test_note()
        with atomic_file(out / "leaderboard.md") as handle:
            handle.write(f"# {config.name}: every run\n\n{report.table()}\n{note}\n")
            for name, table in self.sweep_tables.items():
                handle.write(f"\n## sweep `{name}`\n\n{table}")
        with atomic_file(out / "effects.json") as handle:
            handle.write(report.effects("json"))
        with atomic_file(out / "effects_per_language.json") as handle:
            handle.write(report.effects("json", per_lang=True))
        for fmt in ("csv", "json", "tex"):
            with atomic_file(out / f"leaderboard.{fmt}") as handle:
                handle.write(report.table(fmt))

        # Per language (and their macro average), every run against plain; the summary shows the final ones.
        with atomic_file(out / "per_language_all.md") as handle:
            handle.write(f"# {config.name}: per topic language, every run\n\n")
            for metric in metrics:
                handle.write(f"## {metric}\n\n" + report.table(metrics=[metric], per_lang=True) + "\n")
            handle.write(note + "\n")
        for fmt in ("csv", "json"):
            with atomic_file(out / f"per_language_all.{fmt}") as handle:
                handle.write(report.table(fmt, per_lang=True))
        final = [p.tag for p in self.final_points()]
        self.language_tables: dict[str, str] = {
            metric: report.table(runs=final, metrics=[metric], per_lang=True) for metric in metrics}
        with atomic_file(out / "per_language.md") as handle:
            handle.write(f"# {config.name}: per topic language (final configurations)\n\n")
            for metric, table in self.language_tables.items():
                handle.write(f"## {metric}\n\n{table}\n")
            handle.write(note + "\n")
        for fmt in ("csv", "json", "tex"):
            with atomic_file(out / f"per_language.{fmt}") as handle:
                handle.write(report.table(fmt, runs=final, per_lang=True))
        self._write_scores()

    def _write_scores(self) -> None:
        metrics, out = self.config.metrics, self.output
        # Every run's means, overall and per language, as data.
        rows = {}
        for tag, result in self.results.items():
            point = result.point
            described = ({**asdict(point), "langs": self.grid.langs_of(point)} if point is not None else
                         {"tuned": {"sweep": result.tuned.sweep, "arm": result.tuned.arm,
                                    "choices": {str(f): t for f, t in result.tuned.choices.items()}}})
            rows[tag] = {**described, "sweeps": result.sweeps, "mean": result.scores.mean,
                         "per_lang_mean": {m: language_means(result.scores, m, self.lang_of) for m in metrics}}
        with atomic_file(out / "scores.json") as handle:
            json.dump(rows, handle, indent=1, ensure_ascii=False)
            handle.write("\n")

    def _test_note(self) -> str:
        return self.report.footnote(scope="every run and metric of the table's family")

    def plots(self) -> None:
        """Per sweep and metric: the metric against the sweep's varying axis, one line per setting
        (several language orders: their mean, with the range as a band); and per-language bars."""
        out = self.output / "plots"
        self.plot_files: list[Path] = []
        plain = self.results["plain"].scores
        for metric in self.config.plot_metrics:
            for sweep, tags in self.grid.sweeps.items():
                lines = sweep_lines([self.grid.points[t] for t in tags if t != "plain" and t in self.results],
                                    lambda point: self.results[point.tag].scores.mean[metric])
                if lines is None:
                    continue
                axis, series, bands, flat = lines
                path = out / f"{sweep}-{_safe(metric)}.png"
                plots.plot_sweep(path, metric, AXIS_LABELS[axis], series, plain.mean[metric],
                                 title=f"{self.config.name}: {metric}, sweep {sweep}", log_x=axis == "alpha",
                                 flat=flat, bands=bands)
                self.plot_files.append(path)
            self._language_bars(out, metric, plain)

    def _language_bars(self, out: Path, metric: str, plain) -> None:
        best = self.grid.best_point(self.means, None, self.config.select_metric)
        if best is None:
            return
        base = language_means(plain, metric, self.lang_of)
        other = language_means(self.results[best.tag].scores, metric, self.lang_of)
        langs = [lang for lang in base if lang != AVERAGE] + [AVERAGE]
        path = out / f"languages-{_safe(metric)}.png"
        plots.plot_language_bars(path, metric, langs, [base[l] for l in langs],
                                 [other.get(l, float("nan")) for l in langs], best.tag,
                                 title=f"{self.config.name}: {metric} per topic language, plain vs {best.tag} "
                                       f"(best by {self.config.select_metric}, chosen on all topics)")
        self.plot_files.append(path)

    def alignment(self) -> None:
        """Alignment of each analysed point against plain: CSVs, box plot and table under ``alignment/``
        (one subdir per tag when the config names tags)."""
        self.alignments: list[tuple[str, str, str]] = []  # (tag, dir, table)
        points = self.grid.alignment_points()
        for point in points:
            out = self.output / "alignment" / (point.tag if self.config.alignment.tags else "")
            self.alignments.append((point.tag, out.relative_to(self.output).as_posix(), self._align(point, out)))

    def _align(self, point: GridPoint, out: Path) -> str:
        from xqg_pyserini.evaluate import align

        before, after = self.job.alignment(point)
        align.write_per_query(out / "per_query.csv", before, after, self.lang_of)
        summaries = align.summarize(before, after, self.lang_of)
        align.write_summary(out / "per_language.csv", summaries)
        align.plot_margins(out / "margins.png", before, after, self.lang_of,
                           title=f"{self.config.name}: cosine margin, plain (grey) vs {point.tag} (blue)")
        table = render_rows(*align.summary_rows(summaries))
        with atomic_file(out / "per_language.md") as handle:
            handle.write(table)
        return table

    def checks(self) -> list[str]:
        """Sanity checks reported in the summary (fold leakage, runs complete)."""
        lines = []
        lines.append(f"every run ranks each of the {len(self.job.qids)} topics exactly once (per-fold runs merged)")
        if self.data.qg:
            leaks = 0
            for fold, texts in self.data.qg.items():
                available = {(t.docid, t.text.strip()) for t in texts}
                for qid in self.data.fold_topics(fold):
                    relevant = [d for d, rel in self.data.qrels[qid].items() if rel > 0]
                    leaks += any((d, self.data.topics[qid]) in available for d in relevant)
            lines.append(f"fold leakage: {leaks} held-out topics find their own text among the generated queries "
                         "of their relevant passage in their fold's file" + (" (expected 0)" if leaks else ""))
        return lines

    def summary(self) -> Path:
        """Write ``summary.md`` and ``experiment.json``; returns the summary's path."""
        lines = self._summary_head() + self._summary_results() + self._summary_config()
        summary = self.output / "summary.md"
        with atomic_file(summary) as handle:
            handle.write("\n".join(lines))
        self._write_experiment_json()
        return summary

    def _summary_head(self) -> list[str]:
        config, data = self.config, self.data
        lang_counts = Counter(data.topic_lang.values())
        encoder = self.job.query_encoder_config or {}
        lines = [f"# Experiment `{config.name}`", ""]
        if config.description:
            lines += [config.description.strip(), ""]
        lines += [
            f"- command: `{self.experiment.command}`",
            f"- config: `{config.path}` (sha256 {hashlib.sha256(config.text.encode()).hexdigest()[:16]})",
            f"- data: `{data.root}`: {len(data.passages)} passages; {len(self.job.qids)} topics "
            f"({', '.join(f'{lang} {lang_counts[lang]}' for lang in data.langs)})",
        ]
        if data.qg:
            lines.append(f"- QG oracle: {len(data.folds)} folds (k={data.fold_k}, seed={data.fold_seed}); "
                         f"{', '.join(f'fold {f}: {len(data.fold_topics(f))} topics, {len(data.qg[f])} generated queries' for f in data.folds)}; "
                         f"at most {self.grid.max_per_lang} per passage and language")
        if data.pg is not None:
            lines.append(f"- PG oracle: {len(data.pg)} translated passages")
        lines += [
            f"- target languages, in num_langs order: {', '.join(self.grid.lang_order) or '-'}",
            f"- reference: α={config.reference.alpha:g}, per_lang={config.reference.per_lang or 'all'}, "
            f"num_langs={config.reference.num_langs or 'all'}; fusion {config.fusion}; {config.hits} hits; "
            "exact inner-product search",
            f"- encoder: `{encoder.get('encoder')}` ({', '.join(f'{k}={encoder.get(k)!r}' for k in ENCODER_KEYS[1:] if k in encoder)})",
            f"- embedding cache: `{self.job.cache_dir}`: this run encoded {self.job.cache_stats['query']['encoded']} query "
            f"texts and {self.job.cache_stats['passage']['encoded']} passage texts (distinct: "
            f"{self.job.cache_stats['query']['distinct_texts']} query-side, {self.job.cache_stats['passage']['distinct_texts']} "
            "passage-side; QG oracle texts share the topic vectors)",
            f"- {len(self.results)} runs in `runs/`; took {self.experiment.timings.get('total', 0):.0f}s "
            f"({', '.join(f'{k} {v:.0f}s' for k, v in self.experiment.timings.items() if k != 'total')})",
            "",
            f"Tags: `{{arm}}-a{{α}}-n{{queries per language}}-L{{number of target languages}}` (PG has no n; "
            f"`-mean`/`-sum`: a fusion other than {config.fusion}). QG arms search "
            "each fold's held-out questions on passages fused with that fold's generated queries only.",
            "",
            "## Leaderboard",
            "",
        ]
        return lines

    def _summary_results(self) -> list[str]:
        config = self.config
        lines: list[str] = []
        for name, table in self.sweep_tables.items():
            lines += [f"### sweep `{name}`", "", table]
        lines += [self._test_note(), ""]
        lines += self._effects_section()
        lines += self._ceiling_section()
        lines += self._coverage_section()
        lines += ["## Per topic language (final configurations)", "",
                  f"plain, then per arm its reference configuration and its best by {config.select_metric}; every "
                  "run in `per_language_all.md` (tests per language and on the macro average `Avg`).", ""]
        for metric, table in self.language_tables.items():
            lines += [f"### {metric}", "", table]
        lines += [self._test_note(), ""]
        if config.alignment is not None:
            lines += ["## Cosine alignment", "",
                      "Per query and language, plain → augmented: cosine to its relevant passage, mean cosine to "
                      "every non-relevant one, their gap, the margin over the nearest non-relevant passage by "
                      "cosine (Δ: mean change with a 95% bootstrap interval over queries), the relevant passage's "
                      "rank by cosine and by inner product on the same vectors, and the first edition's margin "
                      "over the top inner-product competitor (QG: each fold's topics against that fold's fused "
                      "vectors). CSVs and `margins.png` in each dir.", ""]
            for tag, folder, table in self.alignments:
                lines += [f"### plain vs `{tag}` (`{folder}/`)", "", table, f"![margins]({folder}/margins.png)", ""]
        if self.plot_files:
            lines += ["## Plots", ""]
            lines += [f"![{p.stem}]({p.relative_to(self.output).as_posix()})" for p in self.plot_files]
            lines.append("")
        if config.save_indexes:
            lines += ["## Indexes", "", "Pyserini FAISS indexes of the final configurations (QG: one per fold; "
                      "`folds.json` lists each fold's topics):", ""]
            lines += [f"- `{p}`" for p in self.experiment.saved_indexes]
            lines.append("")
        lines += ["## Checks", ""] + [f"- {line}" for line in self.checks() + self.experiment.notes] + [""]
        return lines

    def effect_runs(self) -> list[str]:
        """The runs of the effects table: tuned runs (settings chosen on dev folds), then the final points."""
        tuned = [tag for tag, r in self.results.items() if r.tuned is not None]
        return tuned + [p.tag for p in self.final_points() if p.tag != "plain"]

    def _effects_section(self) -> list[str]:
        runs = self.effect_runs()
        if not runs:
            return []
        lines = ["## Effects against plain", "",
                 "Difference to plain with its bootstrap interval and the p-value corrected within this table. "
                 "`tuned-*` runs choose their setting on the other folds' topics (dev) and are measured on the "
                 "held-out fold (see below); the other rows are the reference configurations and each arm's "
                 f"best by {self.config.select_metric} chosen on all topics (optimistic).", "",
                 self.report.effects(runs=["plain", *runs]), self.report.footnote(), ""]
        tuned = [r.tuned for r in self.results.values() if r.tuned is not None]
        if tuned:
            lines += ["### Tuned runs: choices per held-out fold", ""]
            for t in tuned:
                choices = ", ".join(f"fold {f}: `{tag}`" for f, tag in t.choices.items())
                edge = (f" **At the edge of the α range for folds {t.edges}: extend the grid.**" if t.edges else "")
                lines.append(f"- `{t.tag}` ({t.metric} on dev topics): {choices}.{edge}")
            lines.append("")
        return lines

    def _ceiling_section(self) -> list[str]:
        ceiling = self.job.ceiling()
        if ceiling is None:
            return []
        plain = self.results["plain"].scores.mean
        values = ", ".join(f"{m} {v:.1f} (plain {plain[m]:.1f})" for m, v in ceiling.mean.items())
        return ["## R@kt ceiling", "",
                f"R@kt of a run that ranks each topic's relevant passage first: {values}. Answers the official "
                "substring test cannot find in the tokenized relevant passage cap every run there.", ""]

    def _coverage_section(self) -> list[str]:
        from xqg_pyserini.experiments.coverage import coverage, coverage_rows

        rows = coverage(self.data)
        if not rows or all(r.passages_covered == 1 for r in rows):
            return []
        return ["## Coverage and relevance", "",
                "Share of passages with generated text in each topic language, and share of that language's "
                "topics whose relevant passage has some (QG: each topic against its own fold's texts). Where the "
                "second is much higher, being augmented at all marks relevant passages, whatever the text.", "",
                render_rows(*coverage_rows(rows)), ""]

    def _summary_config(self) -> list[str]:
        config = self.config
        lines = ["## Config", "", f"`{config.path}`:", "", "```yaml", config.text.rstrip(), "```", "",
                  "Resolved (defaults filled in):", "", "```json",
                  json.dumps(resolved(config), indent=2, ensure_ascii=False), "```", "",
                  "Encoder configuration (query side):", "", "```json",
                  json.dumps(self.job.query_encoder_config, indent=2, ensure_ascii=False), "```", ""]
        if self.job.passage_encoder_config != self.job.query_encoder_config:
            lines += ["Encoder configuration (passage side):", "", "```json",
                      json.dumps(self.job.passage_encoder_config, indent=2, ensure_ascii=False), "```", ""]
        return lines

    def _write_experiment_json(self) -> None:
        config = self.config
        write_provenance(self.output / "experiment.json", {
            "kind": "xqg-experiment", "name": config.name, "command": self.experiment.command, "config": resolved(config),
            "lang_order": self.grid.lang_order, "max_per_lang": self.grid.max_per_lang, "cache": str(self.job.cache_dir),
            "cache_stats": self.job.cache_stats, "stores": {k: str(v) for k, v in self.job.stores.items()},
            "query_encoder": self.job.query_encoder_config, "passage_encoder": self.job.passage_encoder_config,
            "runs": {tag: {**(asdict(r.point) if r.point is not None else {"tuned": r.tuned.tag}),
                           "path": str(r.path), "sweeps": r.sweeps, "mean": r.scores.mean}
                     for tag, r in self.results.items()},
            "final": [p.tag for p in self.final_points()], "timings": self.experiment.timings,
        })


AXIS_LABELS = {"alpha": "alpha (weight of the generated vectors)", "per_lang": "generated queries per language",
               "num_langs": "number of target languages"}


def sweep_lines(points: list[GridPoint], value):
    """(x axis, series, bands, flat lines) for the points of one sweep, or None when nothing varies.

    The x axis is the numeric axis with the most distinct values; every other difference between
    points makes a line; points that differ only by their language order are averaged (band: range).
    """
    varying = {axis: len({getattr(p, axis) for p in points if getattr(p, axis) is not None})
               for axis in AXIS_LABELS}
    axis = max(varying, key=lambda a: varying[a])
    if varying[axis] < 2:
        return None
    grouped: dict[str, dict[float, list[float]]] = {}
    flat: dict[str, float] = {}
    for point in points:
        others = [f"{short}={getattr(point, a)}" for a, short in (("alpha", "α"), ("per_lang", "n"), ("num_langs", "L"))
                  if a != axis and varying[a] > 1 and getattr(point, a) is not None]
        label = point.series + (f" {' '.join(others)}" if others else "")
        x = getattr(point, axis)
        if x is None:  # e.g. PG on the per_lang axis: drawn as a flat line
            flat[label] = value(point)
            continue
        grouped.setdefault(label, {}).setdefault(float(x), []).append(value(point))
    series = {label: [(x, sum(v) / len(v)) for x, v in sorted(xs.items())] for label, xs in grouped.items()}
    bands = {label: [(x, min(v), max(v)) for x, v in sorted(xs.items())] for label, xs in grouped.items()
             if any(len(v) > 1 for v in xs.values())}
    return axis, series, bands, flat


def _prune(folder: Path, keep: set[str], patterns: Sequence[str]) -> None:
    """Remove outputs of an earlier grid (files matching ``patterns`` not in ``keep``) from our own dir."""
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path.name not in keep and path.is_file():
                path.unlink()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "@._-" else "_" for c in name)
