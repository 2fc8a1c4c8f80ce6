"""Encode a corpus, a topics file or a generated-queries file into an embedding store.

Work is saved in chunks under a hidden ``.<output>.partial`` dir, so a killed run resumes
where it stopped and ends with the same vectors; an up-to-date store is reused as is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from xqg_pyserini.encode.base import Encoder
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.corpus import DEFAULT_PASSAGE_TEMPLATE, read_corpus
from xqg_pyserini.io.embeddings import KINDS, EmbeddingStore, check_finite, read_store, write_store
from xqg_pyserini.io.generated import PASSAGES_FIELD, QUERIES_FIELD, generated_sha256, read_generated
from xqg_pyserini.io.hashing import file_sha256
from xqg_pyserini.io.topics import read_topics
from xqg_pyserini.provenance import versions

CHUNK = 1024


def load_texts(path: str | Path, kind: str, passage_template: str = DEFAULT_PASSAGE_TEMPLATE,
               generated_field: str = QUERIES_FIELD) -> tuple[list[str], list[str]]:
    """``(ids, texts)`` to encode from an input file of the given kind."""
    if kind == "passage":
        passages = read_corpus(path)
        return [p.docid for p in passages], [p.render(passage_template) for p in passages]
    if kind == "query":
        topics = read_topics(path)
        return list(topics), list(topics.values())
    if kind == "generated":
        generated = read_generated(path, field=generated_field)
        return [f"{g.docid}\t{g.lang}\t{g.rank}" for g in generated], [g.text for g in generated]
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


def encode_file(input_path: str | Path, kind: str, encoder: Encoder, output: str | Path,
                passage_template: str = DEFAULT_PASSAGE_TEMPLATE, chunk_size: int = CHUNK,
                progress: bool = True, generated_field: str = QUERIES_FIELD) -> EmbeddingStore:
    """Generated queries are encoded as queries; generated passages (translations) as passages."""
    from tqdm.auto import tqdm

    if generated_field not in (QUERIES_FIELD, PASSAGES_FIELD):
        raise ValueError(f"generated field must be {QUERIES_FIELD} or {PASSAGES_FIELD}, not {generated_field!r}")
    input_path, output = Path(input_path), Path(output)
    ids, texts = load_texts(input_path, kind, passage_template, generated_field)
    settings: dict[str, Any] = {"kind": kind, "encoder": encoder.config()}
    if kind == "passage":
        settings["passage_template"] = passage_template
    if kind == "generated":
        settings["generated_field"] = generated_field
    # The whole encoder config, not encode.base.encoder_differences: a store is reused only by the
    # identical encoder on the same side (keys a plug-in adds to its config included).
    fingerprint = hashlib.sha256(
        json.dumps({**settings, "input_sha256": generated_sha256(input_path) if kind == "generated" else file_sha256(input_path)}, sort_keys=True).encode()
    ).hexdigest()
    if (output / "meta.json").is_file():
        existing = read_store(output)
        if existing.meta.get("fingerprint") == fingerprint:
            return existing

    work = output.parent / f".{output.name}.partial"
    stamp = work / "fingerprint"
    if work.exists() and (not stamp.is_file() or stamp.read_text() != fingerprint):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)

    as_passages = kind == "passage" or (kind == "generated" and generated_field == PASSAGES_FIELD)
    encode = encoder.encode_passages if as_passages else encoder.encode_queries
    starts = range(0, len(texts), chunk_size)
    chunk_paths = [work / f"chunk-{i:06d}.npy" for i in range(len(starts))]
    done = sum(min(chunk_size, len(texts) - s) for s, p in zip(starts, chunk_paths) if p.exists())
    with tqdm(total=len(texts), initial=done, desc=f"encode {kind}", unit="text", disable=not progress) as bar:
        for start, chunk_path in zip(starts, chunk_paths):
            if chunk_path.exists():
                continue
            vectors = encode(texts[start:start + chunk_size])
            check_finite(vectors, ids[start:start + chunk_size], input_path)
            with atomic_file(chunk_path, "wb") as handle:
                np.save(handle, vectors)
            bar.update(len(vectors))

    vectors = np.concatenate([np.load(p) for p in chunk_paths]) if chunk_paths else np.zeros((0, encoder.dim), np.float32)
    meta = {**settings, "fingerprint": fingerprint, "input": str(input_path.resolve()), "versions": versions()}
    write_store(output, ids, vectors, meta)
    shutil.rmtree(work, ignore_errors=True)
    return read_store(output)
