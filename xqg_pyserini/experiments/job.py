"""The work of an experiment: encode every distinct text once, fuse, search, score.

Every distinct text is encoded once, into content-keyed caches under ``OUTPUT/cache/<encoder>/``:
queries and QG texts with the query encoder (QG oracle texts are topic texts, so their vectors are
shared), the corpus and PG translations with the passage encoder. A rerun with the same encoder
encodes nothing and does not even load the model. The caches are also written as ordinary
embedding stores, and a grid point is fused from those stores by
:func:`~xqg_pyserini.index.build.fuse_stores` (what ``xqg index`` runs) and searched exactly in
memory (:mod:`xqg_pyserini.search.exact`).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xqg_pyserini.encode.base import Encoder, create_encoder, encoder_differences
from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import Judgements, Scores, parse_measures, score
from xqg_pyserini.evaluate.rkt import RktWarning
from xqg_pyserini.experiments.cache import TextCache, generated_store, write_derived_store
from xqg_pyserini.experiments.config import ExperimentConfig
from xqg_pyserini.experiments.dataset import PASSAGES_FIELD, QUERIES_FIELD, Dataset
from xqg_pyserini.experiments.grid import PLAIN, Grid, GridPoint, qg_source
from xqg_pyserini.index.build import fuse_stores
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.runs import Run, write_run
from xqg_pyserini.provenance import write_provenance
from xqg_pyserini.search.exact import exact_search

ENCODE_CHUNK = 2048  # texts per encoder call; the cache is saved after each, so a killed run resumes


@dataclass
class Generated:
    """The generated texts of one source (before the langs/per_lang selection) and their vectors."""

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


class Job:
    """Caches, stores and the search and scoring of grid points, for one config and dataset."""

    def __init__(self, config: ExperimentConfig, data: Dataset, grid: Grid, output: Path, progress: bool = True):
        self.config, self.data, self.grid, self.output, self.progress = config, data, grid, output, progress
        self._encoder: Encoder | None = None
        self._generated: dict[tuple[str, int | None], Generated] = {}
        self._judgements: Judgements | None = None
        self.qids = list(data.topics)
        self.row_of_qid = {qid: row for row, qid in enumerate(self.qids)}
        self.docids = [p.docid for p in data.passages]

    def _tqdm(self, iterable=None, **kwargs):
        from tqdm.auto import tqdm

        return tqdm(iterable, disable=not self.progress, **kwargs)

    # ------------------------------------------------------------------ encoding

    def encoder(self) -> Encoder:
        """The model, loaded on first need only (a warm cache never loads it)."""
        if self._encoder is None:
            settings = self.config.encoder
            self._encoder = create_encoder(settings.name, settings.encoder_class, **settings.flags())
        return self._encoder

    def encode(self) -> None:
        """Encode what the caches lack, then write the stores every grid point is fused from."""
        data, settings = self.data, self.config.encoder
        self.cache_dir = (self.config.cache or self.output / "cache") / settings.cache_name()
        self.query_cache = TextCache(self.cache_dir / "query-texts", "query")
        self.passage_cache = TextCache(self.cache_dir / "passage-texts", "passage")
        passage_texts = [p.render(settings.passage_template) for p in data.passages]
        query_texts = list(data.topics.values()) + [t.text.strip() for ts in data.qg.values() for t in ts]
        wanted = [(self.query_cache, query_texts, "queries"),
                  (self.passage_cache, passage_texts + [t.text.strip() for t in data.pg or []], "passages")]
        self.cache_stats = {cache.side: {"distinct_texts": len(set(texts)), "encoded": 0}
                            for cache, texts, _ in wanted}
        if any(cache.missing(texts) for cache, texts, _ in wanted):
            self._fill(wanted)
        self.query_encoder_config = self.query_cache.encoder_config
        self.passage_encoder_config = self.passage_cache.encoder_config
        self.passage_vectors = self.passage_cache.get(passage_texts)
        self.query_vectors = self.query_cache.get(list(data.topics.values()))
        if self.passage_vectors.shape[1] != self.query_vectors.shape[1]:
            raise InputError(f"query vectors have dim {self.query_vectors.shape[1]}, passages "
                             f"{self.passage_vectors.shape[1]}", path=self.cache_dir)
        self._write_stores()

    def _fill(self, wanted: list[tuple[TextCache, list[str], str]]) -> None:
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

    def _write_stores(self) -> None:
        """Ordinary stores, for fuse_stores / build_index / xqg search / xqg align on the same vectors."""
        data = self.data
        self.stores: dict[str, Path] = {"passages": self.cache_dir / "passages",
                                        "queries": self.cache_dir / "queries"}
        write_derived_store(self.stores["passages"], self.docids, self.passage_vectors, {
            "kind": "passage", "encoder": self.passage_encoder_config,
            "input": str((data.root / "corpus.jsonl").resolve()),
            "passage_template": self.config.encoder.passage_template, "derived_from": "content-keyed cache"})
        write_derived_store(self.stores["queries"], self.qids, self.query_vectors, {
            "kind": "query", "encoder": self.query_encoder_config, "input": str(data.root.resolve()),
            "derived_from": "content-keyed cache"})
        for fold, texts in data.qg.items():
            path = self.cache_dir / "qg" / f"fold-{fold}"
            generated_store(path, texts, self.generated("qg", fold).vectors, self.query_encoder_config,
                            QUERIES_FIELD, data.root / "oracle" / "qg" / f"fold-{fold}.jsonl")
            self.stores[qg_source(fold)] = path
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

    # ------------------------------------------------------------------ fusion and search

    def index_inputs(self, point: GridPoint, fold: int | None) -> dict[str, Any]:
        """``fuse_stores``/``build_index`` keyword arguments for (point, fold)."""
        inputs = self.grid.fusion_inputs(point, fold)
        if inputs is None:
            return dict(passages=self.stores["passages"], generated=None, alpha=0.0, fusion=point.fusion,
                        langs=None, per_lang=point.per_lang)
        return dict(passages=self.stores["passages"], generated=[self.stores[s] for s in inputs.sources],
                    alpha=inputs.alpha, fusion=inputs.fusion, langs=list(inputs.langs), per_lang=inputs.per_lang,
                    unaugmented=self.config.unaugmented, renorm=self.config.renorm)

    def fused(self, point: GridPoint, fold: int | None) -> np.ndarray:
        """Fused passage vectors of one grid point (for one fold of the QG arms), in corpus order."""
        if point.arm == PLAIN or point.alpha == 0:
            return self.passage_vectors
        fused = fuse_stores(**self.index_inputs(point, fold))
        if fused.ids != self.docids:
            raise RuntimeError(f"{point.tag}: fused passages are not in corpus order")
        return fused.vectors

    def search_point(self, point: GridPoint) -> Run:
        """Exact inner-product search of every topic, each fold's topics on that fold's vectors; merged."""
        run: Run = {}
        for fold in self.grid.folds_of(point):
            qids = self.grid.topics_of(fold)
            if qids:
                queries = self.query_vectors[[self.row_of_qid[q] for q in qids]]
                run.update(exact_search(self.docids, self.fused(point, fold), qids, queries, self.config.hits,
                                        threads=self.config.threads))
        return {qid: run[qid] for qid in self.qids if qid in run}

    # ------------------------------------------------------------------ evaluation

    def score(self, name: str, run: Run) -> Scores:
        """Every config metric of ``run``; R@kt tokenizes each passage once for all runs (one Judgements)."""
        if self._judgements is None:
            self._judgements = Judgements(qrels=self.data.qrels, answers=self.data.answers,
                                          corpus=self.data.passages)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RktWarning)  # topics without answers: reported once, in the summary
            return score(name, run, parse_measures(self.config.metrics), self._judgements)

    def run_point(self, point: GridPoint, sweeps: list[str], timings: dict[str, float]) -> RunResult:
        """Search, write the run and its provenance, score; times added to ``timings``."""
        started = time.time()
        run = self.search_point(point)
        if list(run) != self.qids:
            raise RuntimeError(f"run {point.tag} does not rank every topic exactly once")
        path = self.output / "runs" / f"{point.tag}.trec"
        write_run(run, path, tag=point.tag)
        self._write_run_provenance(path, point)
        timings["search"] += time.time() - started
        started = time.time()
        result = RunResult(point, self.score(point.tag, run), path, sweeps)
        timings["evaluate"] += time.time() - started
        return result

    def _write_run_provenance(self, path: Path, point: GridPoint) -> None:
        folds = self.grid.folds_of(point)
        write_provenance(f"{path}.json", {
            "kind": "xqg-experiment-run", "experiment": self.config.name, "tag": point.tag, "arm": point.arm,
            "alpha": point.alpha, "per_lang": point.per_lang, "num_langs": point.num_langs,
            "langs": self.grid.langs_of(point),
            "fusion": point.fusion if point.arm != PLAIN else None,
            "unaugmented": self.config.unaugmented if point.arm != PLAIN else None,
            "renorm": self.config.renorm if point.arm != PLAIN else None, "hits": self.config.hits,
            "folds": [f for f in folds if f is not None] or None,
            "search": "exact inner product (faiss IndexFlatIP) over the fused vectors"
                      + ("; fold f's topics on fold f's vectors, runs merged" if folds != [None] else ""),
            "queries": len(self.qids), "stores": {k: str(v.resolve()) for k, v in self.stores.items()},
            "query_encoder": self.query_encoder_config, "passage_encoder": self.passage_encoder_config,
        })

    # ------------------------------------------------------------------ indexes and alignment

    def save_indexes(self, points: list[GridPoint]) -> list[str]:
        """Pyserini FAISS indexes of ``points`` (QG: one per fold, plus ``folds.json``); their paths."""
        from xqg_pyserini.index.build import build_index

        saved: list[str] = []
        for point in self._tqdm(points, desc="save indexes", unit="index"):
            for fold in self.grid.folds_of(point):
                target = self.output / "indexes" / point.tag
                if fold is not None:
                    target = target / f"fold-{fold}"
                build_index(output=target, **self.index_inputs(point, fold))
                saved.append(str(target.relative_to(self.output)))
            if point.uses_qg:
                folds = {str(f): self.grid.topics_of(f) for f in self.data.folds}
                with atomic_file(self.output / "indexes" / point.tag / "folds.json") as handle:
                    json.dump({"note": "search each fold's topics on that fold's index only", "topics": folds},
                              handle, ensure_ascii=False)
        return saved

    def alignment(self, point: GridPoint) -> tuple[dict, dict]:
        """Per-query alignment before (plain) and after (``point``; QG: each fold's topics on its vectors)."""
        from xqg_pyserini.evaluate import align

        before: dict = {}
        after: dict = {}
        for fold in self.grid.folds_of(point):
            qids = self.grid.topics_of(fold)
            if not qids:
                continue
            queries = self.query_vectors[[self.row_of_qid[q] for q in qids]]
            before.update(align.align(queries, qids, self.docids, self.passage_vectors, self.data.qrels))
            after.update(align.align(queries, qids, self.docids, self.fused(point, fold), self.data.qrels))
        return before, after


def _differs(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Cached vectors of one side are reused only for the very same encoder settings."""
    return encoder_differences(a, b, sides_may_differ=False)
