"""Encode a corpus, a topics file or a generated-queries file into an embedding store.

Order of work: the input is checked first, as a stream (bad lines, duplicate ids: an InputError
before any model is loaded); a store that is up to date (same input hash and encoder config) is
reused without loading the model; then one process at a time (an flock on
``.<output>[.I-of-N].lock``) encodes the texts chunk by chunk, reading the input as a stream.
Chunks are saved under a hidden ``.<output>[.I-of-N].partial`` dir, so a killed run resumes
where it stopped and ends with the same vectors; the store is then streamed from the chunk
files, so memory holds one chunk, whatever the input size.

``shard=(I, N)`` encodes the I-th of N contiguous slices of chunks into the shard files of a
store dir (:mod:`xqg_pyserini.io.embeddings`); shards split at chunk boundaries, so N shards
read together hold exactly the vectors of the 1-way store (the same batches are encoded).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from xqg_pyserini.encode.base import Encoder
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.corpus import DEFAULT_PASSAGE_TEMPLATE, iter_passages
from xqg_pyserini.io.embeddings import (KINDS, SINGLE, STORE_DTYPES, EmbeddingStore, check_finite, check_shard,
                                        read_store, shard_files, write_store_chunks)
from xqg_pyserini.io.generated import PASSAGES_FIELD, QUERIES_FIELD, generated_sha256, iter_generated_texts
from xqg_pyserini.io.hashing import file_sha256
from xqg_pyserini.io.shard_input import ShardInput
from xqg_pyserini.io.topics import read_topics
from xqg_pyserini.provenance import versions

CHUNK = 1024


def iter_texts(path: str | Path, kind: str, passage_template: str = DEFAULT_PASSAGE_TEMPLATE,
               generated_field: str = QUERIES_FIELD) -> Iterator[tuple[str, str]]:
    """``(id, text)`` to encode from an input file of the given kind, as a stream."""
    if kind == "passage":
        return ((p.docid, p.render(passage_template)) for p in iter_passages(path))
    if kind == "query":
        return iter(read_topics(path).items())
    if kind == "generated":
        return ((f"{g.docid}\t{g.lang}\t{g.rank}", g.text) for g in iter_generated_texts(path, generated_field))
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


def load_texts(path: str | Path, kind: str, passage_template: str = DEFAULT_PASSAGE_TEMPLATE,
               generated_field: str = QUERIES_FIELD) -> tuple[list[str], list[str]]:
    """``(ids, texts)`` to encode from an input file of the given kind (in memory)."""
    pairs = list(iter_texts(path, kind, passage_template, generated_field))
    return [i for i, _ in pairs], [t for _, t in pairs]


@dataclass
class EncodeResult:
    """What :func:`encode_to_store` did: ``status`` is ``encoded``, ``resumed`` or ``up to date``."""

    status: str
    rows: int
    dim: int
    path: Path
    shard: tuple[int, int] | None = None

    def store(self) -> EmbeddingStore:
        return read_store(self.path)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` -> (I, N); None stays None."""
    if text is None:
        return None
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not 0 <= int(index) < int(count):
        raise InputError(f"--shard must be I/N with 0 <= I < N, not {text!r}")
    return int(index), int(count)


def shard_rows(rows: int, chunk_size: int, shard: tuple[int, int] | None) -> range:
    """Rows of shard ``(I, N)``: the I-th of N contiguous slices of whole chunks."""
    if shard is None:
        return range(rows)
    chunks = -(-rows // chunk_size)
    index, count = shard
    return range(min(rows, index * chunks // count * chunk_size), min(rows, (index + 1) * chunks // count * chunk_size))


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One process per output (store or shard): a second one stops at once."""
    import fcntl

    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError("another process is encoding into this output; wait for it or use another --output",
                             path=lock) from None
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def input_digest(input_path: Path, kind: str) -> str:
    return generated_sha256(input_path) if kind == "generated" else file_sha256(input_path)


def _fingerprint(digest: str, settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps({**settings, "input_sha256": digest}, sort_keys=True).encode()).hexdigest()


def _store_settings(kind: str, encoder: Encoder, passage_template: str, generated_field: str,
                    dtype: str) -> dict[str, Any]:
    """What a store records of how it was made (its fingerprint is over these and the input hash)."""
    settings: dict[str, Any] = {"kind": kind, "encoder": encoder.config()}
    if kind == "passage":
        settings["passage_template"] = passage_template
    if kind == "generated":
        settings["generated_field"] = generated_field
    if dtype != "float32":
        settings["store_dtype"] = dtype
    return settings


def _shard_fingerprint(digest: str, settings: dict[str, Any], shard: tuple[int, int] | None,
                       chunk_size: int) -> str:
    return _fingerprint(digest, settings if shard is None else {**settings, "shard": list(shard),
                                                                "chunk_size": chunk_size})


def up_to_date_shards(input_path: str | Path, kind: str, encoder: Encoder, output: str | Path, count: int,
                      passage_template: str = DEFAULT_PASSAGE_TEMPLATE, chunk_size: int = CHUNK,
                      generated_field: str = QUERIES_FIELD, dtype: str = "float32",
                      digest: str | None = None) -> list[int]:
    """The shards ``I`` of ``count`` that :func:`encode_to_store` would report up to date (no model loaded).

    ``digest``: the input's :func:`input_digest`, when the caller has it already.
    """
    input_path, output = Path(input_path), Path(output)
    digest = digest or input_digest(input_path, kind)
    settings = _store_settings(kind, encoder, passage_template, generated_field, dtype)
    return [index for index in range(count)
            if _up_to_date(output, (index, count), _shard_fingerprint(digest, settings, (index, count), chunk_size))]


def _up_to_date(output: Path, shard: tuple[int, int] | None, fingerprint: str) -> bool:
    meta = output / (SINGLE["meta"] if shard is None else shard_files(*shard)["meta"])
    if not meta.is_file():
        return False
    try:
        current = json.loads(meta.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False  # a damaged meta: encode again
    if not isinstance(current, dict) or current.get("fingerprint") != fingerprint:
        return False
    try:
        read_store(output) if shard is None else check_shard(output, shard)
    except InputError:
        return False  # damaged or torn: encode again (the rewrite replaces it)
    return True


def encode_to_store(input_path: str | Path, kind: str, encoder: Encoder, output: str | Path,
                    passage_template: str = DEFAULT_PASSAGE_TEMPLATE, chunk_size: int = CHUNK,
                    progress: bool = True, generated_field: str = QUERIES_FIELD,
                    shard: tuple[int, int] | None = None, dtype: str = "float32",
                    given: ShardInput | None = None) -> EncodeResult:
    """Generated queries are encoded as queries; generated passages (translations) as passages.

    ``given``: the shard's ``(id, text)`` rows and the input's size and hash, already read by the
    caller (the Ray engine); the same store results as from reading ``input_path`` here.
    """
    if generated_field not in (QUERIES_FIELD, PASSAGES_FIELD):
        raise ValueError(f"generated field must be {QUERIES_FIELD} or {PASSAGES_FIELD}, not {generated_field!r}")
    if dtype not in STORE_DTYPES:
        raise InputError(f"--dtype must be one of {', '.join(STORE_DTYPES)}, not {dtype!r}")
    input_path, output = Path(input_path), Path(output)
    if given is None:
        total = sum(1 for _ in iter_texts(input_path, kind, passage_template, generated_field))  # checks the input
        digest = input_digest(input_path, kind)
    else:
        total, digest = given.total, given.sha256
    settings = _store_settings(kind, encoder, passage_template, generated_field, dtype)
    # The whole encoder config, not encode.base.encoder_differences: a store is reused only by the
    # identical encoder on the same side (keys a plug-in adds to its config included).
    settings_fingerprint = _fingerprint(digest, {**settings, "chunk_size": chunk_size}) if shard else None
    fingerprint = _shard_fingerprint(digest, settings, shard, chunk_size)
    rows = shard_rows(total, chunk_size, shard)
    if given is not None:
        given.check(len(rows), f"shard {shard} of {input_path}")

    def stream() -> Iterator[tuple[str, str]]:
        if given is not None:
            return iter(given.rows)
        return islice(iter_texts(input_path, kind, passage_template, generated_field), rows.start, rows.stop)

    if _up_to_date(output, shard, fingerprint):
        return EncodeResult("up to date", len(rows), encoder.dim, output, shard)
    suffix = "" if shard is None else f".{shard[0]}-of-{shard[1]}"
    with _exclusive(output.parent / f".{output.name}{suffix}.lock"):
        work = output.parent / f".{output.name}{suffix}.partial"
        resumed = _encode_chunks(stream(), input_path, kind, encoder, work, fingerprint, rows, chunk_size, progress,
                                 generated_field)
        meta = {**settings, "fingerprint": fingerprint, "input": str(input_path.resolve()), "versions": versions()}
        if shard is not None:
            meta["settings_fingerprint"] = settings_fingerprint
            meta["rows"] = [rows.start, rows.stop]
        chunks = _stored_chunks(stream(), work, rows, chunk_size)
        write_store_chunks(output, len(rows), encoder.dim, meta, chunks, dtype=dtype, shard=shard)
        shutil.rmtree(work, ignore_errors=True)
    return EncodeResult("resumed" if resumed else "encoded", len(rows), encoder.dim, output, shard)


def _chunk_starts(rows: range, chunk_size: int) -> list[int]:
    return list(range(rows.start, rows.stop, chunk_size))


def _encode_chunks(stream: Iterator[tuple[str, str]], input_path: Path, kind: str, encoder: Encoder, work: Path,
                   fingerprint: str, rows: range, chunk_size: int, progress: bool, generated_field: str) -> bool:
    """Encode every missing chunk of ``rows`` (``stream``: their ``(id, text)``) into ``work``; True when
    some were there already."""
    from tqdm.auto import tqdm

    stamp = work / "fingerprint"
    if work.exists() and (not stamp.is_file() or stamp.read_text() != fingerprint):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)
    as_passages = kind == "passage" or (kind == "generated" and generated_field == PASSAGES_FIELD)
    encode = encoder.encode_passages if as_passages else encoder.encode_queries
    starts = _chunk_starts(rows, chunk_size)
    paths = [work / f"chunk-{start // chunk_size:06d}.npy" for start in starts]
    done = sum(min(chunk_size, rows.stop - s) for s, p in zip(starts, paths) if p.exists())
    with tqdm(total=len(rows), initial=done, desc=f"encode {kind}", unit="text", disable=not progress) as bar:
        for start, path in zip(starts, paths):
            pairs = list(islice(stream, min(chunk_size, rows.stop - start)))
            if path.exists():
                continue
            ids = [i for i, _ in pairs]
            vectors = encode([t for _, t in pairs])
            check_finite(vectors, ids, input_path)
            with atomic_file(path, "wb") as handle:
                np.save(handle, vectors)
            bar.update(len(vectors))
    return done > 0


def _stored_chunks(stream: Iterator[tuple[str, str]], work: Path, rows: range,
                   chunk_size: int) -> Iterator[tuple[list[str], np.ndarray]]:
    for start in _chunk_starts(rows, chunk_size):
        ids = [i for i, _ in islice(stream, min(chunk_size, rows.stop - start))]
        yield ids, np.load(work / f"chunk-{start // chunk_size:06d}.npy")


def encode_file(input_path: str | Path, kind: str, encoder: Encoder, output: str | Path,
                passage_template: str = DEFAULT_PASSAGE_TEMPLATE, chunk_size: int = CHUNK,
                progress: bool = True, generated_field: str = QUERIES_FIELD) -> EmbeddingStore:
    """:func:`encode_to_store` of the whole input into one store, returned read."""
    return encode_to_store(input_path, kind, encoder, output, passage_template, chunk_size, progress,
                           generated_field).store()
