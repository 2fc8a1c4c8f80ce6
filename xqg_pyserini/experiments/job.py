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
from typing import TYPE_CHECKING, Any

import numpy as np

from xqg_pyserini.encode.base import Encoder, create_encoder, encoder_differences
from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.measures import Judgements, Scores, parse_measures, score
from xqg_pyserini.evaluate.rkt import RktWarning
from xqg_pyserini.experiments.cache import TextCache, write_derived_store
from xqg_pyserini.experiments.config import ExperimentConfig
from xqg_pyserini.experiments.dataset import PASSAGES_FIELD, QUERIES_FIELD, Dataset
from xqg_pyserini.experiments.grid import PLAIN, Grid, GridPoint, qg_source
from xqg_pyserini.experiments.sources import Generated, draws_rows, move_texts, split_source, uniform_draws
from xqg_pyserini.index.build import fuse_stores
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.runs import Run, read_run, write_run
from xqg_pyserini.provenance import write_provenance
from xqg_pyserini.search.exact import exact_search

if TYPE_CHECKING:
    from xqg_pyserini.experiments.tuning import Tuned

ENCODE_CHUNK = 2048  # texts per encoder call; the cache is saved after each, so a killed run resumes


@dataclass
class RunResult:
    """A searched and scored grid point, or a tuned run (``point`` None; the ranking is only on disk)."""

    point: GridPoint | None
    scores: Scores
    path: Path
    sweeps: list[str]
    tuned: "Tuned | None" = None


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
        query_texts = list(data.topics.values()) + [t.text.strip() for ts in [*data.qg.values(), *data.mt_qg.values()]
                                                    for t in ts]
        generated_passages = [t.text.strip() for t in [*(data.pg or []), *(data.mt_pg or [])]]
        wanted = [(self.query_cache, query_texts, "queries"),
                  (self.passage_cache, passage_texts + generated_passages, "passages")]
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
        for name in self._base_sources():
            self.store(name)

    def _base_sources(self) -> list[str]:
        data = self.data
        return ([qg_source(f) for f in data.qg] + ["pg"] * (data.pg is not None)
                + [qg_source(f, "mt-qg") for f in data.mt_qg] + ["mt-pg"] * (data.mt_pg is not None))

    def _base_texts(self, base: str) -> tuple[list, str]:
        """(GeneratedText rows, file) of a base source."""
        data, arm, _, fold = self.data, *base.partition("/fold-")
        if base == "pg":
            return data.pg, "oracle/pg.jsonl"
        if base == "mt-pg":
            return data.mt_pg, "mt/pg.jsonl"
        if arm == "qg":
            return data.qg[int(fold)], f"oracle/qg/fold-{fold}.jsonl"
        if arm == "mt-qg":
            return data.mt_qg[int(fold)], f"mt/qg/fold-{fold}.jsonl"
        raise ValueError(f"no generated source {base!r}")

    def generated(self, source: str) -> Generated:
        """Texts and vectors of a source (see :mod:`~xqg_pyserini.experiments.sources`), built once."""
        if source not in self._generated:
            base, modifiers = split_source(source)
            if modifiers:
                parent = self.generated(":".join([base, *modifiers[:-1]]))
                last = modifiers[-1]
                self._generated[source] = (uniform_draws(parent, self.uniform_n, self.config.uniform_seed, base)
                                           if last == "uniform" else
                                           move_texts(parent, last, self.docids, self.config.control_seed, base))
            else:
                texts, _ = self._base_texts(base)
                cache = self.passage_cache if self._is_passages(base) else self.query_cache
                stripped = [t.text.strip() for t in texts]
                self._generated[source] = Generated([(t.docid, t.lang, t.rank) for t in texts], stripped,
                                                    cache.get(stripped))
        return self._generated[source]

    @staticmethod
    def _is_passages(base: str) -> bool:
        return base in ("pg", "mt-pg")

    @property
    def uniform_n(self) -> int:
        """The draws per passage and language of uniform sources: the largest n any point uses."""
        return max([p.per_lang for p in self.grid.points.values() if p.counts == "uniform"] or [1])

    def store(self, source: str) -> Path:
        """The embedding store of a source, written on first need (derived sources record their texts)."""
        if source not in self.stores:
            base, modifiers = split_source(source)
            generated = self.generated(source)
            passages = self._is_passages(base)
            config = self.passage_encoder_config if passages else self.query_encoder_config
            field_name = PASSAGES_FIELD if passages else QUERIES_FIELD
            path = self.cache_dir / (source.replace(":", "@") if modifiers else source)
            keys = [f"{d}\t{l}\t{r}" for d, l, r in generated.keys]
            meta = {"kind": "generated", "encoder": config, "generated_field": field_name,
                    "input": str((self.data.root / self._base_texts(base)[1]).resolve()),
                    "derived_from": "content-keyed cache"}
            if modifiers:
                meta.update(modifiers=modifiers, uniform_seed=self.config.uniform_seed, uniform_n=self.uniform_n,
                            control_seed=self.config.control_seed)
                self._record_draws(source, generated, field_name)
            write_derived_store(path, keys, generated.vectors, meta)
            self.stores[source] = path
        return self.stores[source]

    def _record_draws(self, source: str, generated: Generated, field_name: str) -> None:
        """What a derived source holds, under OUTPUT/sources/, so a reader can see every text fused."""
        path = self.output / "sources" / f"{source.replace('/', '-').replace(':', '@')}.jsonl"
        with atomic_file(path) as handle:
            for row in draws_rows(generated, field_name):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        if generated.moved:
            with atomic_file(path.with_suffix(".moved.json")) as handle:
                json.dump(generated.moved, handle, ensure_ascii=False)

    # ------------------------------------------------------------------ fusion and search

    def index_inputs(self, point: GridPoint, fold: int | None) -> dict[str, Any]:
        """``fuse_stores``/``build_index`` keyword arguments for (point, fold)."""
        inputs = self.grid.fusion_inputs(point, fold)
        if inputs is None:
            return dict(passages=self.stores["passages"], generated=None, alpha=0.0, fusion=point.fusion,
                        langs=None, per_lang=point.per_lang)
        return dict(passages=self.stores["passages"], generated=[self.store(s) for s in inputs.sources],
                    alpha=inputs.alpha, fusion=inputs.fusion, langs=list(inputs.langs), per_lang=inputs.per_lang,
                    unaugmented=inputs.unaugmented, renorm=inputs.renorm)

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

    def ceiling(self) -> Scores | None:
        """R@kt of a run that ranks each topic's relevant passages first: what the answers allow at best."""
        rkt = [m for m in parse_measures(self.config.metrics) if m.macro]
        if not rkt or self.data.answers is None:
            return None
        run = {qid: [(d, 1.0) for d, rel in self.data.qrels[qid].items() if rel > 0] for qid in self.qids}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RktWarning)
            return score("ceiling", run, rkt, self._judgements or Judgements(
                qrels=self.data.qrels, answers=self.data.answers, corpus=self.data.passages))

    def run_path(self, tag: str) -> Path:
        """Where a run is written: ``runs/{tag}.trec``, gzip-compressed (``.trec.gz``) with ``compress_runs``."""
        return self.output / "runs" / (f"{tag}.trec.gz" if self.config.compress_runs else f"{tag}.trec")

    def run_point(self, point: GridPoint, sweeps: list[str], timings: dict[str, float]) -> RunResult:
        """Search, write the run and its provenance, score; times added to ``timings``."""
        started = time.time()
        run = self.search_point(point)
        if list(run) != self.qids:
            raise RuntimeError(f"run {point.tag} does not rank every topic exactly once")
        path = self.run_path(point.tag)
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
            "unaugmented": point.unaugmented if point.arm != PLAIN else None,
            "renorm": point.renorm if point.arm != PLAIN else None, "counts": point.counts,
            "language_order": point.order, "control": point.control,
            "sources": [list(self.grid.fusion_inputs(point, f).sources) for f in folds] if point.arm != PLAIN else [],
            "uniform_seed": self.config.uniform_seed if point.counts == "uniform" else None,
            "control_seed": self.config.control_seed if point.control != "none" else None,
            "hits": self.config.hits,
            "folds": [f for f in folds if f is not None] or None,
            "search": "exact inner product (faiss IndexFlatIP) over the fused vectors"
                      + ("; fold f's topics on fold f's vectors, runs merged" if folds != [None] else ""),
            "queries": len(self.qids), "stores": {k: str(v.resolve()) for k, v in self.stores.items()},
            "query_encoder": self.query_encoder_config, "passage_encoder": self.passage_encoder_config,
        })

    def run_tuned(self, tuned: "Tuned", results: dict[str, RunResult]) -> RunResult:
        """Merge each held-out fold's ranking by the candidate chosen on the other folds; write, score."""
        merged: Run = {}
        for fold, tag in tuned.choices.items():
            run = read_run(results[tag].path)
            merged.update({qid: run[qid] for qid in self.grid.topics_of(fold) if qid in run})
        run = {qid: merged[qid] for qid in self.qids if qid in merged}
        if list(run) != self.qids:
            raise RuntimeError(f"{tuned.tag} does not rank every topic exactly once")
        path = self.run_path(tuned.tag)
        write_run(run, path, tag=tuned.tag)
        write_provenance(f"{path}.json", {
            "kind": "xqg-experiment-tuned-run", "experiment": self.config.name, "tag": tuned.tag,
            "sweep": tuned.sweep, "arm": tuned.arm, "selected_by": f"{tuned.metric} on the other folds' topics",
            "choices": {str(f): t for f, t in tuned.choices.items()},
            "dev_scores": {str(f): v for f, v in tuned.dev_scores.items()},
            "edge_folds": tuned.edges, "queries": len(self.qids)})
        return RunResult(None, self.score(tuned.tag, run), path, [], tuned=tuned)

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
