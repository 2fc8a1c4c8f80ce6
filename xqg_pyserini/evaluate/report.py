"""One evaluation entry point, in the spirit of ranx's ``compare``: runs in, a :class:`Report` out.

``evaluate(runs, measures, judgements, baseline=..., settings=..., lang_of=...)`` scores every run
(TREC runs or official prediction JSON, or rankings in memory) on every measure, and the report
tests each run against the baseline and renders leaderboards (md, csv, json, tex), over all
queries or per query language, with the † footnote that explains the marks.

Tests are computed once, on first need, over all queries (one test per run and metric; a measure
whose aggregate is a macro average over languages, R@kt, is tested on that macro average) and per
language (one test per run, metric and language, plus the macro average ``Avg``). The correction
(Holm, Bonferroni) applies within each table rendered: the family is the comparisons the table
shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import (Judgements, Measure, Ranking, Scores, check_on_texts,
                                            parse_measures, score)
from xqg_pyserini.evaluate.significance import (Comparison, LanguageOf, SignificanceSettings, compare,
                                                cluster_function, correct_comparisons)
from xqg_pyserini.evaluate.tables import effects_table, leaderboard
from xqg_pyserini.io.answers import Answer, read_predictions
from xqg_pyserini.io.runs import read_run

RUN_SUFFIXES = (".trec", ".txt", ".run", ".json")


def run_name(path: str | Path) -> str:
    """A run's name in tables: its file name without the .trec/.txt/.run/.json suffix."""
    path = Path(path)
    if path.suffix == ".gz":
        path = path.with_suffix("")
    return path.stem if path.suffix in RUN_SUFFIXES else path.name


def language_of(answers: Mapping[str, Answer] | None, separator: str = "-") -> LanguageOf:
    """qid -> language: the answers file's ``lang`` when it has the qid, else the qid's prefix."""
    def lang(qid: str) -> str:
        if answers and qid in answers:
            return answers[qid].lang
        return qid.split(separator, 1)[0] if separator and separator in qid else "all"
    return lang


def score_files(paths: Sequence[str | Path], measures: str | Sequence[str | Measure],
                judgements: Judgements) -> list[Scores]:
    """One Scores per run file, named by :func:`run_name`: TREC runs, or prediction JSON (R@kt only)."""
    measures = parse_measures(measures)
    judgements.require(measures, "qrels", "answers")  # before reading any run
    results = []
    for path in paths:
        if Path(path).suffix == ".json":
            check_on_texts(measures, where=str(path))
            ranking: Ranking = read_predictions(path)
        else:
            ranking = read_run(path)
        results.append(score(run_name(path), ranking, measures, judgements))
    return results


def evaluate(runs: Mapping[str, Ranking] | Sequence[str | Path], measures: str | Sequence[str | Measure],
             judgements: Judgements, *, baseline: str | Path | None = None,
             settings: SignificanceSettings = SignificanceSettings(),
             lang_of: LanguageOf | None = None) -> Report:
    """Score ``runs`` (name -> ranking, or run file paths) and test them against ``baseline``.

    ``baseline``: a run's name, or the path it was given as. ``lang_of`` (qid -> language, for
    per-language tables and macro averages) defaults to the answers' languages, else qid prefixes.
    """
    measures = parse_measures(measures)
    if isinstance(runs, Mapping):
        scores = [score(name, ranking, measures, judgements) for name, ranking in runs.items()]
    else:
        scores = score_files(runs, measures, judgements)
    names = [s.name for s in scores]
    if baseline is not None and str(baseline) not in names and run_name(baseline) in names:
        baseline = run_name(baseline)
    return Report(scores, measures, baseline=None if baseline is None else str(baseline), settings=settings,
                  lang_of=lang_of or language_of(judgements.answers))


class Report:
    """Every run's :class:`Scores`, their tests against the baseline, and the leaderboards.

    Built by :func:`evaluate`, or directly from Scores scored one run at a time (the experiment
    runner keeps no rankings in memory).
    """

    def __init__(self, scores: Sequence[Scores], measures: str | Sequence[str | Measure], *,
                 baseline: str | None = None, settings: SignificanceSettings = SignificanceSettings(),
                 lang_of: LanguageOf | None = None):
        names = [s.name for s in scores]
        if baseline is not None and baseline not in names:
            raise InputError(f"--baseline {baseline!r} is not among the runs ({', '.join(names)})")
        if len(set(names)) != len(names):
            raise ValueError(f"run names must be distinct: {names}")
        self.scores = {s.name: s for s in scores}
        self.measures = parse_measures(measures)
        self.metrics = [m.name for m in self.measures]
        self.baseline = baseline
        self.settings = settings
        self.lang_of = lang_of or language_of(None)
        self._comparisons: dict[bool, list[Comparison]] = {}

    def comparisons(self, per_lang: bool = False) -> list[Comparison]:
        """Every test over all queries, or per language, uncorrected; [] without a baseline."""
        if self.baseline is None:
            return []
        if per_lang not in self._comparisons:
            macro = {m.name: self.lang_of for m in self.measures if m.macro}
            self._comparisons[per_lang] = compare(
                self.scores[self.baseline], list(self.scores.values()), self.metrics, settings=self.settings,
                by_lang=self.lang_of if per_lang else None, macro=macro, cluster_of=self._cluster_of(),
                correct_family=False)
        return self._comparisons[per_lang]

    def _cluster_of(self):
        if not hasattr(self, "_clusters"):
            self._clusters = cluster_function(self.settings)
        return self._clusters

    def tests(self, runs: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
              per_lang: bool = False) -> list[Comparison]:
        """The comparisons of one table (``runs`` x ``metrics`` [x languages]), corrected as one family."""
        runs = set(runs if runs is not None else self.scores)
        metrics = set(metrics if metrics is not None else self.metrics)
        shown = [c for c in self.comparisons(per_lang) if c.run in runs and c.metric in metrics]
        return correct_comparisons(shown, self.settings.correction)

    def _check(self, runs: Sequence[str] | None, metrics: Sequence[str] | None) -> None:
        unknown = [name for name in runs or () if name not in self.scores]
        unknown += [metric for metric in metrics or () if metric not in self.metrics]
        if unknown:
            raise ValueError(f"not in this report: {', '.join(unknown)}")

    def table(self, fmt: str = "md", runs: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
              per_lang: bool = False) -> str:
        """A leaderboard (md, csv, json, tex) of ``runs`` and ``metrics`` (default: all, in order given).

        With ``per_lang`` each metric gets a column per query language and their macro average.
        A subset of the runs should include the baseline, whose row is marked. † marks are corrected
        within this table.
        """
        self._check(runs, metrics)
        shown = [self.scores[name] for name in (runs if runs is not None else self.scores)]
        metrics = list(metrics if metrics is not None else self.metrics)
        return leaderboard(shown, metrics, baseline=self.baseline, tests=self.tests(runs, metrics, per_lang),
                           fmt=fmt, by_lang=self.lang_of if per_lang else None)

    def effects(self, fmt: str = "md", runs: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                per_lang: bool = False, languages: Sequence[str] | None = None) -> str:
        """Effect sizes: per run and column, the difference to the baseline with its bootstrap interval and
        the p-value corrected within this table (md, csv or json). ``languages`` (with ``per_lang``)
        picks columns, e.g. ``["Avg"]``."""
        self._check(runs, metrics)
        names = [n for n in (runs if runs is not None else self.scores) if n != self.baseline]
        metrics = list(metrics if metrics is not None else self.metrics)
        tests = [t for t in self.tests(names, metrics, per_lang)
                 if not per_lang or languages is None or t.language in languages]
        if languages is not None and per_lang:
            tests = correct_comparisons(tests, self.settings.correction)
        return effects_table(tests, names, metrics, fmt=fmt)

    def footnote(self, scope: str | None = None) -> str:
        """What the † marks mean. ``scope`` names what a table holds (e.g. "every run and metric of the
        table"); with it the note also explains bold values and macro-averaged measures.
        """
        if self.baseline is None:
            raise ValueError("no baseline: nothing was tested")
        s = self.settings
        # xqg eval (no scope) has always printed the level as str(), the experiment summary with :g.
        level = f"{s.level:g}" if scope else f"{s.level}"
        unit = f"; unit: {s.cluster_unit}" if s.clustered else ""
        note = (f"† p <= {level} vs {self.baseline}: two-sided paired {'clustered ' if s.clustered else ''}"
                f"Fisher randomization test, {s.permutations} permutations, seed {s.seed}, p = (b+1)/(n+1){unit}, "
                f"correction: {s.correction}" + (" within each table" if s.correction != "none" else ""))
        if s.bootstrap:
            note += (f"; {100 * s.confidence:g}% intervals of the difference: percentile bootstrap over "
                     f"{'clusters' if s.clustered else 'queries'}, {s.bootstrap} resamples")
        if not scope:
            return note + "."
        macro = [m.name for m in self.measures if m.macro]
        return (note + f" (over {scope}). Best value per column in bold."
                + (f" {', '.join(macro)}: macro average over topic languages, in percent, tested on per-query hits."
                   if macro else ""))
