"""``xqg experiment CONFIG.yaml``: a grid of xQG augmentation runs, evaluated, tested, plotted.

The dataset dir is a converter's output (layout: ``experiments/dataset.py``). Three parts, each
its own module: the grid (``grid.py``: points, sweeps, what fuses for a point), the job
(``job.py``: encode each distinct text once, fuse through the same stores and
:func:`~xqg_pyserini.index.build.fuse_stores` as ``xqg index``, search exactly in memory, score)
and the report writer (``report.py``: tables, tests, plots, alignment, summary). This module
only runs them in order and keeps the timings.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from xqg_pyserini.errors import InputError
from xqg_pyserini.experiments.config import ExperimentConfig, load_config
from xqg_pyserini.experiments.dataset import load_dataset
from xqg_pyserini.experiments.grid import Grid
from xqg_pyserini.experiments.job import Job, RunResult
from xqg_pyserini.experiments.report import ReportWriter, _prune


def run_experiment(config_path: str | Path, output_dir: str | Path | None = None, progress: bool = True, *,
                   data_dir: str | Path | None = None, command: str | None = None) -> Path:
    """Run the grid of ``config_path``; returns the path of ``summary.md`` under the output dir.

    ``output_dir`` overrides the config's ``output``; ``data_dir`` its ``data``; ``command`` is
    recorded in the summary as the command that produced it (default: a reconstruction).
    """
    config = load_config(config_path)
    if data_dir is not None:
        config.data = Path(data_dir)
    output = Path(output_dir) if output_dir is not None else config.output
    if output is None:
        raise InputError("output: no output dir; set `output:` in the config or pass one", path=config.path)
    return Experiment(config, output, progress=progress, command=command).run()


class Experiment:
    """One experiment: data, grid, job (caches, runs, scores), report (tables, plots, summary)."""

    def __init__(self, config: ExperimentConfig, output: str | Path, progress: bool = True,
                 command: str | None = None):
        self.config = config
        self.output = Path(output)
        self.progress = progress
        self.command = command or (f"xqg experiment {shlex.quote(str(config.path))} "
                                   f"--output {shlex.quote(str(self.output))}")
        self.timings: dict[str, float] = {}
        self.results: dict[str, RunResult] = {}
        self.notes: list[str] = []
        self.saved_indexes: list[str] = []

    def _step(self, name: str, started: float) -> None:
        self.timings[name] = round(time.time() - started, 2)

    def prepare(self) -> "Experiment":
        """Load the data, set up the grid (config errors before any encoding), encode what the caches lack."""
        started = time.time()
        self.data = load_dataset(self.config)
        self.grid = Grid(self.config, self.data)
        self.job = Job(self.config, self.data, self.grid, self.output, progress=self.progress)
        self._step("load data", started)
        started = time.time()
        self.job.encode()
        self._step("encode (cache)", started)
        return self

    def _tune(self) -> None:
        """Tuned runs: settings chosen on the other folds' topics, merged over held-out folds."""
        from xqg_pyserini.evaluate.measures import parse_measure
        from xqg_pyserini.experiments.tuning import tune

        started = time.time()
        macro = parse_measure(self.config.select_metric).macro
        scores = {tag: r.scores for tag, r in self.results.items()}
        for tuned in tune(self.grid, scores, self.config.select_metric, macro, self.data.topic_lang.get):
            self.results[tuned.tag] = self.job.run_tuned(tuned, self.results)
        self.timings["evaluate"] += time.time() - started

    def run(self) -> Path:
        started_all = time.time()
        self.prepare()
        config, out = self.config, self.output
        self.timings["search"] = self.timings["evaluate"] = 0.0
        from tqdm.auto import tqdm

        for tag in tqdm(list(self.grid.points), desc="search and evaluate the grid", unit="run",
                        disable=not self.progress):
            sweeps = [s for s, tags in self.grid.sweeps.items() if tag in tags]
            self.results[tag] = self.job.run_point(self.grid.points[tag], sweeps, self.timings)
        if config.tune:
            self._tune()
        self.timings["search"] = round(self.timings["search"], 2)
        self.timings["evaluate"] = round(self.timings["evaluate"], 2)
        written = {r.path.name for r in self.results.values()}
        _prune(out / "runs", written | {f"{name}.json" for name in written}, ("*.trec", "*.trec.gz", "*.json"))
        if self.data.answers is not None and len(self.data.answers) < len(self.job.qids):
            self.notes.append(f"{len(self.job.qids) - len(self.data.answers)} of {len(self.job.qids)} topics have no "
                              "answers entry and are left out of R@kt (as the official script does).")
        report = ReportWriter(self)
        started = time.time()
        report.tables()
        self._step("significance tests and tables", started)
        started = time.time()
        report.plots()
        _prune(out / "plots", {p.name for p in report.plot_files}, ("*.png",))
        self._step("plots", started)
        if config.alignment is not None:
            started = time.time()
            report.alignment()
            self._step("alignment", started)
        if config.save_indexes:
            started = time.time()
            points = report.final_points()
            if config.alignment is not None:
                points += [p for p in self.grid.alignment_points() if p not in points]
            self.saved_indexes = self.job.save_indexes(points)
            self._step("save indexes", started)
        self.timings["total"] = round(time.time() - started_all, 2)
        return report.summary()
