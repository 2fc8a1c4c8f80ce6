"""The shard jobs the engines run: generation and encoding, each through its stage's library function.

A job is a small picklable description (paths, the model's name and flags), so a Ray worker can
rebuild it: ``load()`` builds the model (once per worker), ``run_shard(model, (I, N))`` writes
shard I of N with :func:`~xqg_pyserini.generate.run.generate_corpus` or
:func:`~xqg_pyserini.encode.run.encode_to_store` and returns a JSON-able summary, and
``plan(N)`` (on the driver, no model) checks the input and lists each shard's rows, first and
last id, and the summary of a shard that is already complete, with the input's row count and
hash.

For the Ray engine a job also reads its input as rows: ``read_rows(start, stop)`` gives the
rows ``[start, stop)`` as dicts of ``COLUMNS`` (each keeps its id: a passage's docid, a text's
id), and ``shard_input(columns, plan)`` turns one shard's columns back into the
:class:`~xqg_pyserini.io.shard_input.ShardInput` that ``run_shard(..., given=...)`` writes from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from itertools import islice
from typing import Any, Iterable, Iterator, Mapping, Sequence

from xqg_pyserini.io.corpus import DEFAULT_PASSAGE_TEMPLATE
from xqg_pyserini.io.generated import QUERIES_FIELD
from xqg_pyserini.io.shard_input import ShardInput


@dataclass(frozen=True)
class ShardPlan:
    """Shard ``index`` of ``count``: its rows ``[start, stop)`` of the input, their first and last id."""

    index: int
    count: int
    start: int
    stop: int
    first_id: str | None
    last_id: str | None
    done: dict[str, Any] | None = None  # the summary of a complete shard (skipped), else None


@dataclass(frozen=True)
class JobPlan:
    """Every shard of an N-way split, and the facts of the whole input the shard writers record."""

    shards: list[ShardPlan]
    total: int  # rows of the input
    sha256: str  # the input's content hash, as the stage computes it


def _plans(ids: Iterable[str], ranges: list[range], done: list[dict[str, Any] | None]) -> list[ShardPlan]:
    """Plans of ``ranges`` with their first and last ids, picked from the stream ``ids``."""
    wanted = {position for rows in ranges if rows for position in (rows.start, rows.stop - 1)}
    found = {position: text_id for position, text_id in enumerate(ids) if position in wanted}
    count = len(ranges)
    return [ShardPlan(index, count, rows.start, rows.stop, found.get(rows.start) if rows else None,
                      found.get(rows.stop - 1) if rows else None, done[index]) for index, rows in enumerate(ranges)]


@dataclass(frozen=True)
class GenerateJob:
    """``xqg generate`` of ``corpus`` into the shard set ``output`` with a registered generator."""

    COLUMNS = ("docid", "title", "contents")  # a passage as the generator reads it
    corpus: str
    output: str
    generator: str
    generator_options: dict[str, Any]
    langs: list[str]
    per_lang: int
    batch_size: int
    seed: int
    overwrite: bool = False
    progress: bool = True

    def load(self) -> Any:
        from xqg_pyserini.generate.base import GENERATORS

        return GENERATORS.get(self.generator)(**self.generator_options)

    def run_shard(self, generator: Any, shard: tuple[int, int] | None,
                  given: ShardInput | None = None) -> dict[str, Any]:
        from xqg_pyserini.generate.run import generate_corpus

        manifest = generate_corpus(self.corpus, generator, self.langs, self.per_lang, self.output,
                                   shard=shard or (0, 1), batch_size=self.batch_size, seed=self.seed,
                                   progress=self.progress, overwrite=self.overwrite, given=given)
        return _generate_summary(manifest)

    def read_rows(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        from xqg_pyserini.io.corpus import iter_passages

        for passage in islice(iter_passages(self.corpus), start, stop):
            yield {"docid": passage.docid, "title": passage.title, "contents": passage.contents}

    def shard_input(self, columns: Mapping[str, Sequence[Any]], plan: JobPlan) -> ShardInput:
        from xqg_pyserini.io.corpus import Passage

        passages = [Passage(docid=str(d), contents=str(c), title=str(t))
                    for d, t, c in zip(columns["docid"], columns["title"], columns["contents"])]
        return ShardInput(passages, plan.total, plan.sha256)

    def plan(self, count: int) -> JobPlan:
        """Every shard of a ``count``-way split; the corpus is read (and checked) here.

        A shard counts as complete when its manifest says so with this run's languages, per_lang,
        seed and corpus hash and its file is there. The generator's config cannot be checked
        without loading it: the workers do that (a pending shard checks every finished neighbour's
        run fingerprint; see :func:`~xqg_pyserini.engine.ray_engine.run_on_ray`).
        """
        from xqg_pyserini.generate.run import MANIFEST_FILE, shard_range
        from xqg_pyserini.io.corpus import read_corpus
        from xqg_pyserini.io.hashing import file_sha256

        ids = [p.docid for p in read_corpus(self.corpus)]
        sha256 = file_sha256(self.corpus)
        expected = {"langs": self.langs, "per_lang": self.per_lang, "seed": self.seed, "corpus_sha256": sha256}
        done: list[dict[str, Any] | None] = []
        for index in range(count):
            manifest = _read_json(Path(self.output) / MANIFEST_FILE.format(index=index, count=count))
            complete = (not self.overwrite and manifest is not None and manifest.get("status") == "complete"
                        and all(manifest.get(key) == value for key, value in expected.items())
                        and (Path(self.output) / str(manifest.get("file"))).is_file())
            done.append(_generate_summary(manifest, skipped=True) if complete else None)
        return JobPlan(_plans(ids, [shard_range(len(ids), index, count) for index in range(count)], done),
                       len(ids), sha256)


def _generate_summary(manifest: dict[str, Any], skipped: bool = False) -> dict[str, Any]:
    counts = manifest["counts"]
    return {"shard": [manifest["shard"]["index"], manifest["shard"]["count"]],
            "status": "skipped" if skipped else "complete", "file": manifest["file"],
            "passages": counts["passages"], "kept": counts["kept"],
            "per_lang": {lang: c["kept"] for lang, c in counts["per_lang"].items()},
            "dropped": {key: counts.get(key, 0) for key in ("over_limit", "duplicates_removed", "empty_dropped")}}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class EncodeJob:
    """``xqg encode`` of ``input`` (a corpus, topics or generated texts) into the store ``output``."""

    COLUMNS = ("id", "text")  # a text's id (docid, qid, or docid<TAB>lang<TAB>rank) and the text encoded
    input: str
    kind: str
    output: str
    encoder: str
    encoder_class: str = "hf"
    encoder_flags: dict[str, Any] = field(default_factory=dict)
    passage_template: str = DEFAULT_PASSAGE_TEMPLATE
    generated_field: str = QUERIES_FIELD
    dtype: str = "float32"
    chunk_size: int | None = None  # None: encode.run.CHUNK
    progress: bool = True

    def load(self) -> Any:
        """The encoder; an ``hf`` encoder reads its config here and loads its weights on first encode."""
        from xqg_pyserini.encode.base import create_encoder

        return create_encoder(self.encoder, self.encoder_class, **self.encoder_flags)

    def _chunk(self) -> int:
        from xqg_pyserini.encode.run import CHUNK

        return self.chunk_size or CHUNK

    def run_shard(self, encoder: Any, shard: tuple[int, int] | None,
                  given: ShardInput | None = None) -> dict[str, Any]:
        from xqg_pyserini.encode.run import encode_to_store

        result = encode_to_store(self.input, self.kind, encoder, self.output, passage_template=self.passage_template,
                                 chunk_size=self._chunk(), progress=self.progress,
                                 generated_field=self.generated_field, shard=shard, dtype=self.dtype, given=given)
        return {"shard": list(shard) if shard else None, "status": result.status, "rows": result.rows,
                "dim": result.dim}

    def _texts(self) -> Iterator[tuple[str, str]]:
        from xqg_pyserini.encode.run import iter_texts

        return iter_texts(self.input, self.kind, self.passage_template, self.generated_field)

    def read_rows(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        for text_id, text in islice(self._texts(), start, stop):
            yield {"id": text_id, "text": text}

    def shard_input(self, columns: Mapping[str, Sequence[Any]], plan: JobPlan) -> ShardInput:
        return ShardInput([(str(i), str(t)) for i, t in zip(columns["id"], columns["text"])], plan.total, plan.sha256)

    def plan(self, count: int) -> JobPlan:
        """Every shard of a ``count``-way split (input checked here); up-to-date shards carry their summary."""
        from xqg_pyserini.encode.run import input_digest, shard_rows, up_to_date_shards

        def stream() -> Iterator[str]:  # streamed twice (count, then boundary ids): inputs may not fit in memory
            return (text_id for text_id, _ in self._texts())

        total = sum(1 for _ in stream())
        encoder = self.load()
        digest = input_digest(Path(self.input), self.kind)
        current = set(up_to_date_shards(self.input, self.kind, encoder, self.output, count, self.passage_template,
                                        self._chunk(), self.generated_field, self.dtype, digest))
        ranges = [shard_rows(total, self._chunk(), (index, count)) for index in range(count)]
        done = [{"shard": [index, count], "status": "skipped", "rows": len(ranges[index]), "dim": encoder.dim}
                if index in current else None for index in range(count)]
        return JobPlan(_plans(stream(), ranges, done), total, digest)
