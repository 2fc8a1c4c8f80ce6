"""``xqg experiment CONFIG.yaml``: a grid of xQG augmentation runs, evaluated, tested, plotted.

The dataset dir is a converter's output (layout: ``experiments/dataset.py``).

Arms: ``plain`` (the baseline), ``qg`` (fold f's generated queries fused, fold f's questions
searched, the per-fold runs merged), ``pg`` (translations, no folds), ``qg+pg`` (both, the QG part
per fold). Every distinct text is encoded once, into content-keyed caches under
``OUTPUT/cache/<encoder>/``: queries and QG texts with the query encoder (QG oracle texts are
topic texts, so their vectors are shared), the corpus and PG translations with the passage
encoder. A rerun with the same encoder encodes nothing and does not even load the model.
Fusion is :func:`~xqg_pyserini.index.fusion.fuse` in memory and search is an exact FAISS
``IndexFlatIP`` over the fused vectors, as ``build_index`` + ``search`` do on disk (tested).
"""

from __future__ import annotations

import hashlib
import json
import random
import shlex
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xqg_pyserini.encode.base import Encoder, create_encoder
from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import Judgements, Scores, parse_measures, score as score_ranking
from xqg_pyserini.evaluate.report import Report
from xqg_pyserini.evaluate.rkt import RktWarning
from xqg_pyserini.evaluate.significance import AVERAGE, language_means
from xqg_pyserini.evaluate.tables import render_rows
from xqg_pyserini.experiments import plots
from xqg_pyserini.experiments.cache import TextCache, generated_store, write_derived_store
from xqg_pyserini.experiments.config import ExperimentConfig, load_config, resolved
from xqg_pyserini.experiments.dataset import PASSAGES_FIELD, QUERIES_FIELD, load_dataset
from xqg_pyserini.index.fusion import fuse
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.runs import Run, write_run
from xqg_pyserini.provenance import write_provenance

ENCODE_CHUNK = 2048  # texts per encoder call; the cache is saved after each, so a killed run resumes
_ENCODER_KEYS = ("encoder", "path", "pooling", "l2_norm", "query_prefix", "passage_prefix", "max_length",
                 "dtype", "dim")


# --------------------------------------------------------------------------- entry point


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


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class GridPoint:
    """One configuration; ``per_lang`` is None where it does not apply (plain, pg).

    ``suffix`` marks a fusion other than the experiment's default (``"mean"`` -> ``...-mean``).
    """

    arm: str
    alpha: float = 0.0
    per_lang: int | None = None
    num_langs: int = 0
    fusion: str = "sum"
    suffix: str = ""

    @property
    def tag(self) -> str:
        if self.arm == "plain":
            return "plain"
        parts = [self.arm, f"a{self.alpha:g}"]
        if self.uses_qg:
            parts.append(f"n{self.per_lang}")
        parts.append(f"L{self.num_langs}")
        if self.suffix:
            parts.append(self.suffix)
        return "-".join(parts)

    @property
    def series(self) -> str:
        """The line a point belongs to in plots: its arm, and its fusion if not the default."""
        return f"{self.arm} ({self.suffix})" if self.suffix else self.arm

    @property
    def uses_qg(self) -> bool:
        return self.arm in ("qg", "qg+pg")

    @property
    def uses_pg(self) -> bool:
        return self.arm in ("pg", "qg+pg")


@dataclass
class Generated:
    """The generated texts a fusion may draw on (before the langs/per_lang selection)."""

    keys: list[tuple[str, str, int]]
    texts: list[str]
    vectors: np.ndarray


@dataclass
class RunResult:
    """A searched and scored grid point (the ranking itself is only kept on disk: memory)."""

    point: GridPoint
    scores: Scores
    path: Path
    sweeps: list[str]


class Experiment:
    """One experiment: data, caches, grid, runs, evaluation, tables, plots, summary."""

    def __init__(self, config: ExperimentConfig, output: str | Path, progress: bool = True,
                 command: str | None = None):
        self.config = config
        self.output = Path(output)
        self.progress = progress
        self.command = command or (f"xqg experiment {shlex.quote(str(config.path))} "
                                   f"--output {shlex.quote(str(self.output))}")
        self.timings: dict[str, float] = {}
        self._encoder: Encoder | None = None
        self._generated: dict[tuple[str, int | None], Generated] = {}
        self.results: dict[str, RunResult] = {}
        self.notes: list[str] = []

    # ------------------------------------------------------------------ setup

    def _tqdm(self, iterable=None, **kwargs):
        from tqdm.auto import tqdm

        return tqdm(iterable, disable=not self.progress, **kwargs)

    def _step(self, name: str, started: float) -> None:
        self.timings[name] = round(time.time() - started, 2)

    def prepare(self) -> "Experiment":
        """Load the data, encode what the caches lack, set up the grid (no search yet)."""
        started = time.time()
        self.data = load_dataset(self.config)
        self._resolve_langs()
        self.points, self.sweeps = self._grid()  # config errors before any encoding
        if self.config.alignment is not None:
            self.alignment_point()
        self._step("load data", started)
        started = time.time()
        self._encode()
        self._step("encode (cache)", started)
        return self

    def _resolve_langs(self) -> None:
        config, data = self.config, self.data
        sources: list[tuple[str, set[str]]] = []
        for fold, texts in data.qg.items():
            sources.append((f"oracle/qg/fold-{fold}.jsonl", {t.lang for t in texts}))
        if data.pg is not None:
            sources.append(("oracle/pg.jsonl", {t.lang for t in data.pg}))
        if config.target_langs:
            for i, lang in enumerate(config.target_langs):
                for name, langs in sources:
                    if lang not in langs:
                        raise InputError(f"target_langs[{i}]: no {lang!r} texts in {name}",
                                         path=data.root / name)
            target = list(config.target_langs)
        else:
            common = set.intersection(*(langs for _, langs in sources)) if sources else set()
            target = sorted(common)
            if sources and not target:
                raise InputError("the oracle files share no language; set target_langs", path=data.root / "oracle")
        if config.lang_order:
            for i, lang in enumerate(config.lang_order):
                if lang not in target:
                    raise InputError(f"lang_order[{i}]: {lang!r} is not a target language ({', '.join(target)})",
                                     path=config.path)
            order = list(config.lang_order)
        elif config.lang_order_seed is not None:
            order = sorted(target)
            random.Random(config.lang_order_seed).shuffle(order)
        else:
            order = target
        self.lang_order = order
        counts = Counter((fold, t.docid, t.lang) for fold, texts in data.qg.items() for t in texts
                         if t.lang in set(order))
        self.max_per_lang = max(counts.values()) if counts else None

    # ------------------------------------------------------------------ encoding

    def encoder(self) -> Encoder:
        """The model, loaded on first need only (a warm cache never loads it)."""
        if self._encoder is None:
            settings = self.config.encoder
            self._encoder = create_encoder(settings.name, settings.encoder_class, **settings.flags())
        return self._encoder

    def _encode(self) -> None:
        data, settings = self.data, self.config.encoder
        self.cache_dir = (self.config.cache or self.output / "cache") / settings.cache_name()
        self.query_cache = TextCache(self.cache_dir / "query-texts", "query")
        self.passage_cache = TextCache(self.cache_dir / "passage-texts", "passage")
        self.passage_texts = [p.render(settings.passage_template) for p in data.passages]
        query_texts = list(data.topics.values()) + [t.text.strip() for ts in data.qg.values() for t in ts]
        passage_texts = self.passage_texts + [t.text.strip() for t in data.pg or []]
        wanted = [(self.query_cache, query_texts, "queries"), (self.passage_cache, passage_texts, "passages")]
        self.cache_stats = {cache.side: {"distinct_texts": len(set(texts)), "encoded": 0}
                            for cache, texts, _ in wanted}
        if any(cache.missing(texts) for cache, texts, _ in wanted):
            model = self.encoder()
            for cache, _, _ in wanted:
                if cache.encoder_config is not None and _differs(cache.encoder_config, model.config()):
                    warnings.warn(f"{cache.path}: cached vectors came from a different encoder "
                                  f"({', '.join(_differs(cache.encoder_config, model.config()))}); re-encoding")
                    cache.reset()
            for cache, texts, what in wanted:
                missing = cache.missing(texts)
                if not missing:
                    continue
                missing.sort(key=len)  # similar lengths per call: less padding
                encode = model.encode_queries if cache.side == "query" else model.encode_passages
                with self._tqdm(total=len(missing), desc=f"encode {what} (new texts)", unit="text") as bar:
                    for start in range(0, len(missing), ENCODE_CHUNK):
                        chunk = missing[start:start + ENCODE_CHUNK]
                        cache.add(chunk, encode(chunk), model.config())
                        bar.update(len(chunk))
                self.cache_stats[cache.side]["encoded"] = cache.encoded
        self.query_encoder_config = self.query_cache.encoder_config
        self.passage_encoder_config = self.passage_cache.encoder_config

        self.docids = [p.docid for p in data.passages]
        self.passage_vectors = self.passage_cache.get(self.passage_texts)
        self.qids = list(data.topics)
        self.query_vectors = self.query_cache.get(list(data.topics.values()))
        self.row_of_qid = {qid: row for row, qid in enumerate(self.qids)}
        if self.passage_vectors.shape[1] != self.query_vectors.shape[1]:
            raise InputError(f"query vectors have dim {self.query_vectors.shape[1]}, passages "
                             f"{self.passage_vectors.shape[1]}", path=self.cache_dir)
        # Ordinary stores, for build_index / xqg search / xqg align on the same vectors.
        self.stores: dict[str, Path] = {}
        corpus = data.root / "corpus.jsonl"
        write_derived_store(self.cache_dir / "passages", self.docids, self.passage_vectors, {
            "kind": "passage", "encoder": self.passage_encoder_config, "input": str(corpus.resolve()),
            "passage_template": self.config.encoder.passage_template, "derived_from": "content-keyed cache"})
        self.stores["passages"] = self.cache_dir / "passages"
        write_derived_store(self.cache_dir / "queries", self.qids, self.query_vectors, {
            "kind": "query", "encoder": self.query_encoder_config, "input": str(data.root.resolve()),
            "derived_from": "content-keyed cache"})
        self.stores["queries"] = self.cache_dir / "queries"
        for fold, texts in data.qg.items():
            generated = self.generated("qg", fold)
            generated_store(self.cache_dir / "qg" / f"fold-{fold}", texts, generated.vectors,
                            self.query_encoder_config, QUERIES_FIELD, data.root / "oracle" / "qg" / f"fold-{fold}.jsonl")
            self.stores[f"qg/fold-{fold}"] = self.cache_dir / "qg" / f"fold-{fold}"
        if data.pg is not None:
            generated_store(self.cache_dir / "pg", data.pg, self.generated("pg", None).vectors,
                            self.passage_encoder_config, PASSAGES_FIELD, data.root / "oracle" / "pg.jsonl")
            self.stores["pg"] = self.cache_dir / "pg"

    def generated(self, source: str, fold: int | None) -> Generated:
        """Texts and vectors of ``qg`` (for one fold), ``pg``, or ``qg+pg`` (QG of the fold, then PG)."""
        key = (source, fold)
        if key not in self._generated:
            if source == "qg":
                texts = self.data.qg[fold]
                vectors = self.query_cache.get([t.text.strip() for t in texts])
            elif source == "pg":
                texts = self.data.pg
                vectors = self.passage_cache.get([t.text.strip() for t in texts])
            elif source == "qg+pg":
                qg, pg = self.generated("qg", fold), self.generated("pg", None)
                self._generated[key] = Generated(qg.keys + pg.keys, qg.texts + pg.texts,
                                                 np.concatenate([qg.vectors, pg.vectors]))
                return self._generated[key]
            else:
                raise ValueError(f"no generated texts for {source!r}")
            self._generated[key] = Generated([(t.docid, t.lang, t.rank) for t in texts],
                                             [t.text.strip() for t in texts], vectors)
        return self._generated[key]

    # ------------------------------------------------------------------ grid

    def _grid(self) -> tuple[dict[str, GridPoint], dict[str, list[str]]]:
        config = self.config
        total = len(self.lang_order)
        points: dict[str, GridPoint] = {"plain": GridPoint("plain")}
        sweeps: dict[str, list[str]] = {}
        if config.reference.num_langs is not None and config.reference.num_langs > total:
            raise InputError(f"reference.num_langs: {config.reference.num_langs} is more than the {total} target "
                             f"languages ({', '.join(self.lang_order)})", path=config.path)
        for sweep in config.grid:
            key = f"grid.{sweep.name}"
            alphas = sweep.alphas or (config.reference.alpha,)
            per_langs = list(sweep.per_lang) or ([] if sweep.per_lang_range_to_all else [config.reference.per_lang])
            if sweep.per_lang_range_to_all and self.max_per_lang:
                per_langs += list(range(sweep.per_lang_range_to_all, self.max_per_lang + 1))
            nums = list(sweep.num_langs) or ([] if sweep.num_langs_range_to_all else [config.reference.num_langs])
            if sweep.num_langs_range_to_all:
                nums += list(range(sweep.num_langs_range_to_all, total + 1))
            for n in nums:
                if n is not None and n > total:
                    raise InputError(f"{key}.num_langs: {n} is more than the {total} target languages "
                                     f"({', '.join(self.lang_order)})", path=config.path)
            fusions = sweep.fusions or (config.fusion,)
            tags = sweeps.setdefault(sweep.name, [])
            for arm in sweep.arms:
                if arm == "plain":
                    combos = [GridPoint("plain")]
                else:
                    combos = [self.point(arm, alpha, per_lang, n, fusion) for fusion in fusions for alpha in alphas
                              for per_lang in per_langs for n in nums]
                for point in combos:
                    points.setdefault(point.tag, point)
                    if point.tag not in tags:
                        tags.append(point.tag)
        return points, sweeps

    def point(self, arm: str, alpha: float, per_lang: int | None, num_langs: int | None,
              fusion: str | None = None) -> GridPoint:
        """A grid point with ``all``/None resolved: per_lang to the most queries any passage has per language."""
        fusion = fusion or self.config.fusion
        if arm == "plain":
            return GridPoint("plain")
        if arm in ("qg", "qg+pg"):
            top = self.max_per_lang or 1
            per_lang = top if per_lang is None else min(per_lang, top)
        else:
            per_lang = None
        return GridPoint(arm, float(alpha), per_lang, len(self.lang_order) if num_langs is None else num_langs,
                         fusion, "" if fusion == self.config.fusion else fusion)

    def reference_point(self, arm: str, fusion: str | None = None) -> GridPoint:
        ref = self.config.reference
        return self.point(arm, ref.alpha, ref.per_lang, ref.num_langs, fusion)

    # ------------------------------------------------------------------ fusion and search

    def folds_of(self, point: GridPoint) -> list[int | None]:
        return list(self.data.folds) if point.uses_qg else [None]

    def topics_of(self, fold: int | None) -> list[str]:
        return self.qids if fold is None else self.data.fold_topics(fold)

    def fusion_inputs(self, point: GridPoint, fold: int | None) -> Generated | None:
        if point.arm == "plain":
            return None
        return self.generated(point.arm, fold)

    def fused(self, point: GridPoint, fold: int | None) -> np.ndarray:
        """Fused passage vectors of one grid point (for one fold of the QG arms), in corpus order."""
        generated = self.fusion_inputs(point, fold)
        if generated is None or point.alpha == 0:
            return self.passage_vectors
        langs = self.lang_order[:point.num_langs]
        vectors, _ = fuse(self.docids, self.passage_vectors, generated.keys, generated.vectors, point.alpha,
                          point.fusion, langs, point.per_lang, source=f"{point.arm} (fold {fold})")
        return vectors

    def search_point(self, point: GridPoint) -> Run:
        """Exact inner-product search of every topic, each fold's topics on that fold's vectors; merged."""
        run: Run = {}
        for fold in self.folds_of(point):
            qids = self.topics_of(fold)
            if qids:
                run.update(self._search(self.fused(point, fold), qids))
        return {qid: run[qid] for qid in self.qids if qid in run}

    def _search(self, vectors: np.ndarray, qids: Sequence[str]) -> Run:
        import faiss

        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.omp_set_num_threads(self.config.threads)
        queries = np.ascontiguousarray(self.query_vectors[[self.row_of_qid[q] for q in qids]], dtype=np.float32)
        scores, rows = index.search(queries, self.config.hits)
        return {qid: [(self.docids[i], float(s)) for s, i in zip(scores[r], rows[r]) if i != -1]
                for r, qid in enumerate(qids)}

    # ------------------------------------------------------------------ evaluation

    def _judgements(self) -> Judgements:
        if getattr(self, "_judged", None) is None:  # one, so R@kt tokenizes each passage once for all runs
            self._judged = Judgements(qrels=self.data.qrels, answers=self.data.answers, corpus=self.data.passages)
        return self._judged

    def score(self, name: str, run: Run) -> Scores:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RktWarning)  # topics without answers: reported once, below
            return score_ranking(name, run, parse_measures(self.config.metrics), self._judgements())

    def lang_of(self, qid: str) -> str:
        return self.data.topic_lang.get(qid) or qid.split("-", 1)[0]

    # ------------------------------------------------------------------ the whole job

    def run(self) -> Path:
        started_all = time.time()
        self.prepare()
        config, out = self.config, self.output
        self.timings["search"] = self.timings["evaluate"] = 0.0
        for tag in self._tqdm(list(self.points), desc="search and evaluate the grid", unit="run"):
            started = time.time()
            point = self.points[tag]
            run = self.search_point(point)
            if list(run) != self.qids:
                raise RuntimeError(f"run {tag} does not rank every topic exactly once")
            path = out / "runs" / f"{tag}.trec"
            write_run(run, path, tag=tag)
            self._write_run_provenance(path, point)
            self.timings["search"] += time.time() - started
            started = time.time()
            self.results[tag] = RunResult(point, self.score(tag, run), path,
                                          [s for s, tags in self.sweeps.items() if tag in tags])
            self.timings["evaluate"] += time.time() - started
        self.timings["search"] = round(self.timings["search"], 2)
        self.timings["evaluate"] = round(self.timings["evaluate"], 2)
        _prune(out / "runs", {f"{tag}.trec" for tag in self.results} | {f"{tag}.trec.json" for tag in self.results},
               ("*.trec", "*.trec.json"))
        if self.data.answers is not None and len(self.data.answers) < len(self.qids):
            self.notes.append(f"{len(self.qids) - len(self.data.answers)} of {len(self.qids)} topics have no "
                              "answers entry and are left out of R@kt (as the official script does).")

        started = time.time()
        self._tables()
        self._step("significance tests and tables", started)
        started = time.time()
        self._plots()
        _prune(out / "plots", {p.name for p in self.plot_files}, ("*.png",))
        self._step("plots", started)
        if config.alignment is not None:
            started = time.time()
            self._alignment()
            self._step("alignment", started)
        if config.save_indexes:
            started = time.time()
            self._save_indexes()
            self._step("save indexes", started)
        self.timings["total"] = round(time.time() - started_all, 2)
        return self._write_summary()

    def _write_run_provenance(self, path: Path, point: GridPoint) -> None:
        folds = self.folds_of(point)
        write_provenance(f"{path}.json", {
            "kind": "xqg-experiment-run", "experiment": self.config.name, "tag": point.tag, "arm": point.arm,
            "alpha": point.alpha, "per_lang": point.per_lang, "num_langs": point.num_langs,
            "langs": self.lang_order[:point.num_langs] if point.arm != "plain" else [],
            "fusion": point.fusion if point.arm != "plain" else None, "hits": self.config.hits,
            "folds": [f for f in folds if f is not None] or None,
            "search": "exact inner product (faiss IndexFlatIP) over the fused vectors"
                      + ("; fold f's topics on fold f's vectors, runs merged" if folds != [None] else ""),
            "queries": len(self.qids), "stores": {k: str(v.resolve()) for k, v in self.stores.items()},
            "query_encoder": self.query_encoder_config, "passage_encoder": self.passage_encoder_config,
        })

    # ------------------------------------------------------------------ tables

    def final_points(self) -> list[GridPoint]:
        """plain, then per arm its reference configuration (if run) and its best by the select metric."""
        metric = self.config.select_metric
        chosen = [self.points["plain"]]
        for arm in self.config.arms:
            if arm == "plain":
                continue
            ref = self.reference_point(arm)
            if ref.tag in self.results and ref not in chosen:
                chosen.append(ref)
            best = self.best_point(arm, metric)
            if best is not None and best not in chosen:
                chosen.append(best)
        return chosen

    def best_point(self, arm: str | None, metric: str) -> GridPoint | None:
        candidates = [r for r in self.results.values() if r.point.arm != "plain" and (arm is None or r.point.arm == arm)]
        augmented = [r for r in candidates if r.point.alpha > 0]  # alpha = 0 is plain under another name
        candidates = augmented or candidates
        if not candidates:
            return None
        return max(candidates, key=lambda r: r.scores.mean[metric]).point

    def _tables(self) -> None:
        config, out = self.config, self.output
        metrics = config.metrics
        report = self.report = Report([r.scores for r in self.results.values()], metrics, baseline="plain",
                                      settings=config.significance, lang_of=self.lang_of)
        # Sweep and final tables show subsets of the runs, marked by the tests of the whole family.
        self.sweep_tables: dict[str, str] = {name: report.table(runs=["plain"] + [t for t in tags if t != "plain"])
                                             for name, tags in self.sweeps.items()}
        note = self._test_note()
        with atomic_file(out / "leaderboard.md") as handle:
            handle.write(f"# {config.name}: every run\n\n{report.table()}\n{note}\n")
            for name, table in self.sweep_tables.items():
                handle.write(f"\n## sweep `{name}`\n\n{table}")
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

        # Every run's means, overall and per language, as data.
        rows = {}
        for tag, result in self.results.items():
            point = result.point
            rows[tag] = {"arm": point.arm, "alpha": point.alpha, "per_lang": point.per_lang,
                         "num_langs": point.num_langs, "sweeps": result.sweeps,
                         "langs": self.lang_order[:point.num_langs] if point.arm != "plain" else [],
                         "mean": result.scores.mean,
                         "per_lang_mean": {m: language_means(result.scores, m, self.lang_of) for m in metrics}}
        with atomic_file(out / "scores.json") as handle:
            json.dump(rows, handle, indent=1, ensure_ascii=False)
            handle.write("\n")

    def _test_note(self) -> str:
        return self.report.footnote(scope="every run and metric of the table's family")

    # ------------------------------------------------------------------ plots

    def _plots(self) -> None:
        out = self.output / "plots"
        config = self.config
        ref = config.reference
        self.plot_files: list[Path] = []
        plain = self.results["plain"].scores
        total = len(self.lang_order)
        ref_n = total if ref.num_langs is None else ref.num_langs
        lines = list(dict.fromkeys((r.point.arm, r.point.fusion) for r in self.results.values()
                                   if r.point.arm != "plain"))
        axes = [("alpha", "alpha (weight of the generated vectors)", lambda p: p.alpha),
                ("per_lang", "generated queries per language", lambda p: p.per_lang),
                ("num_langs", "number of target languages", lambda p: p.num_langs)]
        for metric in config.plot_metrics:
            for axis, label, x_of in axes:
                series: dict[str, list[tuple[float, float]]] = {}
                flat: dict[str, float] = {}
                for arm, fusion in lines:
                    reference = self.reference_point(arm, fusion)
                    points = [r for r in self.results.values() if r.point.arm == arm and all(
                        getattr(r.point, other) == getattr(reference, other)
                        for other in ("alpha", "per_lang", "num_langs", "fusion") if other != axis)]
                    if axis == "per_lang" and arm == "pg":
                        if reference.tag in self.results:
                            flat[reference.series] = self.results[reference.tag].scores.mean[metric]
                        continue
                    if len({x_of(r.point) for r in points}) >= 2:
                        series[reference.series] = [(float(x_of(r.point)), r.scores.mean[metric]) for r in points]
                if not series:
                    continue
                fixed = {"alpha": f"α={ref.alpha:g}", "per_lang": f"n={ref.per_lang or 'all'}",
                         "num_langs": f"L={ref_n}", "fusion": f"fusion {config.fusion}"}
                if any(" (" in key for key in [*series, *flat]):
                    fixed.pop("fusion")  # several fusions: the legend tells them apart
                title = f"{config.name}: {metric} vs {axis} ({', '.join(v for k, v in fixed.items() if k != axis)})"
                path = out / f"{axis}-{_safe(metric)}.png"
                plots.plot_sweep(path, metric, label, series, plain.mean[metric], title=title,
                                 log_x=axis == "alpha", flat=flat if axis == "per_lang" else None)
                self.plot_files.append(path)
            best = self.best_point(None, config.select_metric)
            if best is not None:
                base = language_means(plain, metric, self.lang_of)
                other = language_means(self.results[best.tag].scores, metric, self.lang_of)
                langs = [lang for lang in base if lang != AVERAGE] + [AVERAGE]
                path = out / f"languages-{_safe(metric)}.png"
                plots.plot_language_bars(path, metric, langs, [base[l] for l in langs],
                                         [other.get(l, float("nan")) for l in langs], best.tag,
                                         title=f"{config.name}: {metric} per topic language, plain vs {best.tag} "
                                               f"(best by {config.select_metric})")
                self.plot_files.append(path)

    # ------------------------------------------------------------------ alignment

    def alignment_point(self) -> GridPoint:
        settings, ref = self.config.alignment, self.config.reference
        alpha = ref.alpha if settings.alpha is None else settings.alpha
        per_lang = ref.per_lang if settings.per_lang == "reference" else settings.per_lang
        num_langs = ref.num_langs if settings.num_langs == "reference" else settings.num_langs
        if num_langs is not None and num_langs > len(self.lang_order):
            raise InputError(f"alignment.num_langs: {num_langs} is more than the {len(self.lang_order)} target "
                             "languages", path=self.config.path)
        return self.point(settings.arm, alpha, per_lang, num_langs, settings.fusion)

    def _alignment(self) -> None:
        from xqg_pyserini.evaluate import align

        point = self.alignment_point()
        out = self.output / "alignment"
        before: dict = {}
        after: dict = {}
        for fold in self.folds_of(point):
            qids = self.topics_of(fold)
            if not qids:
                continue
            queries = self.query_vectors[[self.row_of_qid[q] for q in qids]]
            before.update(align.align(queries, qids, self.docids, self.passage_vectors, self.data.qrels))
            after.update(align.align(queries, qids, self.docids, self.fused(point, fold), self.data.qrels))
        align.write_per_query(out / "per_query.csv", before, after, self.lang_of)
        summaries = align.summarize(before, after, self.lang_of)
        align.write_summary(out / "per_language.csv", summaries)
        align.plot_margins(out / "margins.png", before, after, self.lang_of,
                           title=f"{self.config.name}: cosine margin, plain (grey) vs {point.tag} (blue)")
        header = ["lang", "queries", "margin plain", f"margin {point.tag}", "median plain", f"median {point.tag}",
                  "cos(q, rel) plain", f"cos(q, rel) {point.tag}", "mean rank plain", f"mean rank {point.tag}",
                  "margin improved"]
        rows = [[s.lang, s.queries, *(f"{v:.4f}" for v in (*s.mean_margin, *s.median_margin,
                                                              *s.mean_cos_relevant)),
                 *(f"{v:.2f}" for v in s.mean_rank), f"{100 * s.share_margin_improved:.1f}%"] for s in summaries]
        self.alignment_table = render_rows(header, rows)
        self.alignment_tag = point.tag
        with atomic_file(out / "per_language.md") as handle:
            handle.write(self.alignment_table)

    # ------------------------------------------------------------------ indexes

    def index_inputs(self, point: GridPoint, fold: int | None) -> dict[str, Any]:
        """``build_index`` keyword arguments that reproduce :meth:`fused` for (point, fold) on disk."""
        generated = None
        if point.arm != "plain":
            generated = ([self.stores[f"qg/fold-{fold}"]] if point.uses_qg else []) + (
                [self.stores["pg"]] if point.uses_pg else [])
        return dict(passages=self.stores["passages"], generated=generated or None,
                    alpha=point.alpha if point.arm != "plain" else 0.0, fusion=point.fusion,
                    langs=self.lang_order[:point.num_langs] if point.arm != "plain" else None,
                    per_lang=point.per_lang)

    def _save_indexes(self) -> None:
        from xqg_pyserini.index.build import build_index

        points = self.final_points()
        if self.config.alignment is not None and self.alignment_point() not in points:
            points.append(self.alignment_point())
        self.saved_indexes: list[str] = []
        for point in self._tqdm(points, desc="save indexes", unit="index"):
            for fold in self.folds_of(point):
                target = self.output / "indexes" / point.tag
                if fold is not None:
                    target = target / f"fold-{fold}"
                build_index(output=target, **self.index_inputs(point, fold))
                self.saved_indexes.append(str(target.relative_to(self.output)))
            if point.uses_qg:
                folds = {str(f): self.topics_of(f) for f in self.data.folds}
                with atomic_file(self.output / "indexes" / point.tag / "folds.json") as handle:
                    json.dump({"note": "search each fold's topics on that fold's index only", "topics": folds},
                              handle, ensure_ascii=False)

    # ------------------------------------------------------------------ summary

    def checks(self) -> list[str]:
        """Sanity checks reported in the summary (fold leakage, runs complete)."""
        lines = []
        lines.append(f"every run ranks each of the {len(self.qids)} topics exactly once (per-fold runs merged)")
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

    def _write_summary(self) -> Path:
        config, data = self.config, self.data
        lang_counts = Counter(data.topic_lang.values())
        encoder = self.query_encoder_config or {}
        lines = [f"# Experiment `{config.name}`", ""]
        if config.description:
            lines += [config.description.strip(), ""]
        lines += [
            f"- command: `{self.command}`",
            f"- config: `{config.path}` (sha256 {hashlib.sha256(config.text.encode()).hexdigest()[:16]})",
            f"- data: `{data.root}`: {len(data.passages)} passages; {len(self.qids)} topics "
            f"({', '.join(f'{lang} {lang_counts[lang]}' for lang in data.langs)})",
        ]
        if data.qg:
            lines.append(f"- QG oracle: {len(data.folds)} folds (k={data.fold_k}, seed={data.fold_seed}); "
                         f"{', '.join(f'fold {f}: {len(data.fold_topics(f))} topics, {len(data.qg[f])} generated queries' for f in data.folds)}; "
                         f"at most {self.max_per_lang} per passage and language")
        if data.pg is not None:
            lines.append(f"- PG oracle: {len(data.pg)} translated passages")
        lines += [
            f"- target languages, in num_langs order: {', '.join(self.lang_order) or '-'}",
            f"- reference: α={config.reference.alpha:g}, per_lang={config.reference.per_lang or 'all'}, "
            f"num_langs={config.reference.num_langs or 'all'}; fusion {config.fusion}; {config.hits} hits; "
            "exact inner-product search",
            f"- encoder: `{encoder.get('encoder')}` ({', '.join(f'{k}={encoder.get(k)!r}' for k in _ENCODER_KEYS[1:] if k in encoder)})",
            f"- embedding cache: `{self.cache_dir}`: this run encoded {self.cache_stats['query']['encoded']} query "
            f"texts and {self.cache_stats['passage']['encoded']} passage texts (distinct: "
            f"{self.cache_stats['query']['distinct_texts']} query-side, {self.cache_stats['passage']['distinct_texts']} "
            "passage-side; QG oracle texts share the topic vectors)",
            f"- {len(self.results)} runs in `runs/`; took {self.timings.get('total', 0):.0f}s "
            f"({', '.join(f'{k} {v:.0f}s' for k, v in self.timings.items() if k != 'total')})",
            "",
            f"Tags: `{{arm}}-a{{α}}-n{{queries per language}}-L{{number of target languages}}` (PG has no n; "
            f"`-mean`/`-sum`: a fusion other than {config.fusion}). QG arms search "
            "each fold's held-out questions on passages fused with that fold's generated queries only.",
            "",
            "## Leaderboard",
            "",
        ]
        for name, table in self.sweep_tables.items():
            lines += [f"### sweep `{name}`", "", table]
        lines += [self._test_note(), ""]
        lines += ["## Per topic language (final configurations)", "",
                  f"plain, then per arm its reference configuration and its best by {config.select_metric}; every "
                  "run in `per_language_all.md` (tests per language and on the macro average `Avg`).", ""]
        for metric, table in self.language_tables.items():
            lines += [f"### {metric}", "", table]
        lines += [self._test_note(), ""]
        if config.alignment is not None:
            lines += [f"## Cosine alignment: plain vs `{self.alignment_tag}`", "",
                      "Per query: cosine to its relevant passage minus cosine to the best-scoring non-relevant one "
                      "(QG: each fold's topics against that fold's fused vectors). CSVs and `margins.png` in "
                      "`alignment/`.", "", self.alignment_table, "![margins](alignment/margins.png)", ""]
        if self.plot_files:
            lines += ["## Plots", ""]
            lines += [f"![{p.stem}]({p.relative_to(self.output).as_posix()})" for p in self.plot_files]
            lines.append("")
        if config.save_indexes:
            lines += ["## Indexes", "", "Pyserini FAISS indexes of the final configurations (QG: one per fold; "
                      "`folds.json` lists each fold's topics):", ""]
            lines += [f"- `{p}`" for p in self.saved_indexes]
            lines.append("")
        lines += ["## Checks", ""] + [f"- {line}" for line in self.checks() + self.notes] + [""]
        lines += ["## Config", "", f"`{config.path}`:", "", "```yaml", config.text.rstrip(), "```", "",
                  "Resolved (defaults filled in):", "", "```json",
                  json.dumps(resolved(config), indent=2, ensure_ascii=False), "```", "",
                  "Encoder configuration (query side):", "", "```json",
                  json.dumps(self.query_encoder_config, indent=2, ensure_ascii=False), "```", ""]
        if self.passage_encoder_config != self.query_encoder_config:
            lines += ["Encoder configuration (passage side):", "", "```json",
                      json.dumps(self.passage_encoder_config, indent=2, ensure_ascii=False), "```", ""]
        summary = self.output / "summary.md"
        with atomic_file(summary) as handle:
            handle.write("\n".join(lines))
        write_provenance(self.output / "experiment.json", {
            "kind": "xqg-experiment", "name": config.name, "command": self.command, "config": resolved(config),
            "lang_order": self.lang_order, "max_per_lang": self.max_per_lang, "cache": str(self.cache_dir),
            "cache_stats": self.cache_stats, "stores": {k: str(v) for k, v in self.stores.items()},
            "query_encoder": self.query_encoder_config, "passage_encoder": self.passage_encoder_config,
            "runs": {tag: {**asdict(r.point), "path": str(r.path), "sweeps": r.sweeps, "mean": r.scores.mean}
                     for tag, r in self.results.items()},
            "final": [p.tag for p in self.final_points()], "timings": self.timings,
        })
        return summary


def _differs(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [k for k in _ENCODER_KEYS if a.get(k) != b.get(k)]


def _prune(folder: Path, keep: set[str], patterns: Sequence[str]) -> None:
    """Remove outputs of an earlier grid (files matching ``patterns`` not in ``keep``) from our own dir."""
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path.name not in keep and path.is_file():
                path.unlink()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "@._-" else "_" for c in name)
