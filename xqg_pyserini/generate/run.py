"""Run a generator over a corpus: sharded, resumable, deterministic output files.

An output dir holds a *shard set*::

    shard-00000-of-00003.jsonl           rows {"docid", "generated_queries": {lang: [...]}}, corpus order
    manifest-0-of-3.json                 settings, counts, status (complete / incomplete)
    shard-00001-of-00003.jsonl.partial   a shard in progress (gone once the shard is complete)
    shard-00001-of-00003.jsonl.lock      held while a process works on that shard

Shard ``i`` of ``n`` holds the contiguous corpus range ``[i*N//n, (i+1)*N//n)``, so shards
0..n-1 concatenated are the corpus order, and a 3-way run merged is byte-identical to a 1-way run.
Rows carry ``generated_passages`` instead when the generator's ``output`` is ``"passages"``.

Determinism: request ``(docid, lang)`` is sampled with ``request_seed(seed, docid, lang)`` and
generators must not let batch composition change a request's outputs.

Resuming: a shard's requests are listed passage by passage (all languages of a passage together)
and cut into fixed batches ``requests[k*B:(k+1)*B]``. After each batch, the passages whose
languages are all done are appended to the ``.partial`` file (flush + fsync), one line each.
A rerun reads that file, drops a torn last line, and restarts at the batch holding the first
missing passage; the batches are the same as in an uninterrupted run, so the output is
byte-identical. The ``.partial`` file starts with a header naming the settings; a rerun with other
settings (generator config, langs, per_lang, seed, corpus content) stops with an error unless
``overwrite=True``, which discards the old work. The batch size is recorded, not part of that
check: outputs depend only on (model, request). A finished shard with the same settings is
returned as it is; one process at a time may work on a shard (an flock on its ``.lock`` file).

Cleaning, per passage and language: outputs are stripped of surrounding whitespace, empty ones
dropped, exact duplicates removed (first kept), at most ``per_lang`` kept; all counted.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from xqg_pyserini.errors import InputError, OutputError
from xqg_pyserini.generate.base import OUTPUT_FIELDS, Generator, Request, check_langs, request_seed
from xqg_pyserini.generate.counts import COUNTERS, STATS, Counts, clean_outputs  # noqa: F401 (clean_outputs: API)
from xqg_pyserini.io.atomic import WRITE_ERRNOS, atomic_file, check_work_dir
from xqg_pyserini.io.corpus import Passage, iter_passages, read_corpus
from xqg_pyserini.io.generated import (  # noqa: F401 (iter_generated, generated_sha256: API)
    MANIFEST_PATTERN, SHARD_SET_FILES, generated_sha256, is_generated_file, iter_generated, shard_set_manifests)
from xqg_pyserini.io.hashing import file_sha256
from xqg_pyserini.io.shard_input import ShardInput
from xqg_pyserini.provenance import write_provenance

SHARD_FILE = "shard-{index:05d}-of-{count:05d}.jsonl"
MANIFEST_FILE = "manifest-{index}-of-{count}.json"
PARTIAL_SUFFIX = ".partial"


def shard_range(total: int, index: int, count: int) -> range:
    """Corpus positions of shard ``index`` of ``count``: a contiguous range."""
    return range(index * total // count, (index + 1) * total // count)


def _fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class _ShardRun:
    """One shard of one run: its files, settings and progress."""

    def __init__(self, output_dir: Path, index: int, count: int, settings: dict[str, Any]):
        self.dir = output_dir
        self.index, self.count = index, count
        self.settings = settings
        self.run_fingerprint = _fingerprint({k: v for k, v in settings.items() if k != "shard"})
        self.fingerprint = _fingerprint(settings)
        self.shard = output_dir / SHARD_FILE.format(index=index, count=count)
        self.manifest = output_dir / MANIFEST_FILE.format(index=index, count=count)
        self.partial = self.shard.with_name(self.shard.name + PARTIAL_SUFFIX)

    def finished_manifest(self, overwrite: bool) -> dict[str, Any] | None:
        """The manifest of an identical finished run, or None when there is work to do."""
        if not self.manifest.is_file():
            return None
        manifest = json.loads(self.manifest.read_text(encoding="utf-8"))
        if manifest.get("status") != "complete" or not self.shard.is_file():
            return None
        if manifest.get("fingerprint") == self.fingerprint:
            self.partial.unlink(missing_ok=True)  # left by a kill between the manifest and the cleanup
            return manifest
        if not overwrite:
            raise InputError(f"holds a finished shard made with other settings "
                             f"({_differences(manifest, self.settings)}); use another output dir or overwrite",
                             path=self.manifest)
        return None

    def check_neighbours(self, overwrite: bool) -> None:
        """Refuse (or, with overwrite, remove) files of a different run in the same dir."""
        for path in sorted(self.dir.glob("manifest-*-of-*.json")):
            match = MANIFEST_PATTERN.fullmatch(path.name)
            if not match or path == self.manifest:
                continue
            other = json.loads(path.read_text(encoding="utf-8"))
            index, count = int(match.group(1)), int(match.group(2))
            if count == self.count and other.get("run_fingerprint") == self.run_fingerprint:
                continue
            if not overwrite:
                what = (f"a {count}-way split" if count != self.count else _differences(other, self.settings))
                raise InputError(f"the output dir holds shards of a different run ({what}); "
                                 "use another output dir or overwrite", path=path)
            stale = self.dir / SHARD_FILE.format(index=index, count=count)
            for file in (stale, stale.with_name(stale.name + PARTIAL_SUFFIX), path):
                file.unlink(missing_ok=True)

    def resume(self, passages: Sequence[Passage], langs: Sequence[str], overwrite: bool,
               counts: Counts) -> int:
        """Passages already in the partial file (their counts added); starts the file if needed."""
        done = 0
        if self.partial.is_file():
            done = self._read_partial(passages, langs, overwrite, counts)
        if done == 0 and not self._has_header():
            header = {"xqg_partial": 1, "fingerprint": self.fingerprint, "settings": self.settings}
            with open(self.partial, "w", encoding="utf-8") as out:
                out.write(json.dumps(header, ensure_ascii=False, sort_keys=True) + "\n")
                out.flush()
                os.fsync(out.fileno())
        return done

    def _has_header(self) -> bool:
        return self.partial.is_file() and self.partial.stat().st_size > 0

    def _read_partial(self, passages: Sequence[Passage], langs: Sequence[str], overwrite: bool,
                      counts: Counts) -> int:
        with open(self.partial, "rb") as handle:
            data = handle.read()
        lines = data.split(b"\n")
        header = _parse(lines[0]) if len(lines) > 1 else None  # no newline yet: torn header
        if header is None:
            self.partial.unlink()
            return 0
        if header.get("fingerprint") != self.fingerprint:
            if not overwrite:
                raise InputError("an unfinished run with other settings "
                                 f"({_differences(header, self.settings)}) is here; rerun its command to resume "
                                 "it, or overwrite to discard it", path=self.partial)
            self.partial.unlink()
            return 0
        good_bytes = len(lines[0]) + 1
        done = 0
        # The last element is what follows the final newline: a torn line, or b"".
        for raw in lines[1:-1]:
            record = _parse(raw)
            if record is None or done >= len(passages) or record.get("docid") != passages[done].docid:
                break
            self._count(record, langs, counts)
            good_bytes += len(raw) + 1
            done += 1
        if good_bytes != len(data):
            with open(self.partial, "r+b") as handle:
                handle.truncate(good_bytes)
                handle.flush()
                os.fsync(handle.fileno())
        return done

    def _count(self, record: dict[str, Any], langs: Sequence[str], counts: Counts) -> None:
        field = self.settings["output"]
        counts.add_passage(self.settings["per_lang"], {
            lang: (record[field][lang], dict(zip(STATS, record["stats"][lang]))) for lang in langs})

    def keep_complete_passages(self) -> int:
        """After a failed write: cut the partial file after its last complete line, so a rerun
        resumes from it, or remove it (and this run's unfinished manifest) when it holds no
        passage. Returns the passages kept."""
        data = self.partial.read_bytes() if self.partial.is_file() else b""
        kept = max(data.count(b"\n") - 1, 0)  # the first line is the header
        if kept == 0:
            self.partial.unlink(missing_ok=True)
            if self.manifest.is_file():
                manifest = json.loads(self.manifest.read_text(encoding="utf-8"))
                if manifest.get("status") != "complete" and manifest.get("fingerprint") == self.fingerprint:
                    self.manifest.unlink()
        elif not data.endswith(b"\n"):
            with open(self.partial, "r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)
        return kept

    def finalize(self) -> str:
        """Partial records -> the shard file (atomically); returns its sha256."""
        field = self.settings["output"]
        digest = hashlib.sha256()
        with open(self.partial, encoding="utf-8") as records, atomic_file(self.shard) as out:
            next(records)  # header
            for line in records:
                record = json.loads(line)
                row = json.dumps({"docid": record["docid"], field: record[field]}, ensure_ascii=False) + "\n"
                digest.update(row.encode("utf-8"))
                out.write(row)
        return digest.hexdigest()


def _record_line(docid: str, field: str, langs: Sequence[str],
                 results: dict[str, tuple[list[str], dict[str, int]]]) -> str:
    """A partial-file line: the output row plus the counts the manifest needs after a resume."""
    return json.dumps({"docid": docid, field: {lang: results[lang][0] for lang in langs},
                       "stats": {lang: [results[lang][1][key] for key in STATS] for lang in langs}},
                      ensure_ascii=False) + "\n"


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _differences(recorded: dict[str, Any], settings: dict[str, Any]) -> str:
    old = recorded.get("settings", recorded)
    changed = [key for key in settings if key != "shard" and old.get(key) != settings[key]]
    return "differs in " + ", ".join(changed) if changed else "different settings"


def _check_arguments(generator: Generator, langs: Sequence[str], per_lang: int, shard: tuple[int, int],
                     batch_size: int) -> tuple[list[str], str]:
    """Validated languages and the output field; InputError for bad values."""
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise InputError(f"shard must be (i, n) with 0 <= i < n, not {shard}")
    if per_lang < 1:
        raise InputError(f"per_lang must be at least 1, not {per_lang}")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, not {batch_size}")
    langs = check_langs(list(langs), getattr(generator, "languages", None))
    if len(set(langs)) != len(langs):
        raise InputError(f"repeated language code in {','.join(langs)}")
    field = OUTPUT_FIELDS.get(getattr(generator, "output", "queries"))
    if field is None:
        raise ValueError(f"generator output must be one of {', '.join(OUTPUT_FIELDS)}")
    return langs, field


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One process per shard: a second one would interleave lines in the partial file."""
    import fcntl

    with open(lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError("another process is generating this shard", path=lock) from None
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def generate_corpus(corpus_path: str | Path, generator: Generator, langs: Sequence[str], per_lang: int,
                    output_dir: str | Path, shard: tuple[int, int] = (0, 1), batch_size: int = 16, seed: int = 42,
                    progress: bool = True, overwrite: bool = False, given: ShardInput | None = None) -> dict[str, Any]:
    """Generate ``per_lang`` outputs per passage and language for one shard; returns its manifest.

    Rerunning a finished shard with the same settings returns its manifest without work.
    ``given``: the shard's passages and the corpus's size and hash, already read by the caller
    (the Ray engine); the same files result as from reading ``corpus_path`` here.
    """
    corpus_path, output_dir = Path(corpus_path), Path(output_dir)
    langs, field = _check_arguments(generator, langs, per_lang, shard, batch_size)
    index, count = shard
    if given is None:
        corpus = read_corpus(corpus_path)
        given = ShardInput([corpus[p] for p in shard_range(len(corpus), index, count)], len(corpus),
                           file_sha256(corpus_path))
        passages_of_corpus: Callable[[], Iterable[Passage]] = lambda: corpus
    else:  # not read here: only a generator's report needs the whole corpus
        passages_of_corpus = lambda: iter_passages(corpus_path)
    positions = shard_range(given.total, index, count)
    given.check(len(positions), f"shard {index}/{count} of {corpus_path}")
    settings = {"generator": generator.config(), "output": field, "langs": langs, "per_lang": per_lang,
                "seed": seed, "corpus_sha256": given.sha256, "shard": [index, count]}
    created = not check_work_dir(output_dir, markers=SHARD_SET_FILES, what="shard set").exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    run = _ShardRun(output_dir, index, count, settings)
    run.check_neighbours(overwrite)
    finished = run.finished_manifest(overwrite)
    if finished is not None:
        return finished
    try:
        return _run_shard(run, generator, corpus_path, given, passages_of_corpus, positions, batch_size, progress,
                          overwrite)
    except (OSError, OutputError) as err:
        failure = _write_failure(run, err, len(positions), created)
        if failure is None:
            raise
        raise failure from None


def _write_failure(run: _ShardRun, err: Exception, total: int, created: bool) -> OutputError | None:
    """The error to report when the disk fills up (or the like) while generating, after keeping the
    complete passages for a rerun; None when ``err`` is not such a failure."""
    reason = err.message if isinstance(err, OutputError) else WRITE_ERRNOS.get(getattr(err, "errno", None))
    if reason is None:
        return None
    kept = run.keep_complete_passages()
    if created and not any(run.dir.iterdir()):
        run.dir.rmdir()
    if kept:
        return OutputError(f"{reason}; {kept} of {total} passages of this shard are saved in {run.partial.name}: "
                           "make room and rerun the same command to resume", path=run.dir)
    return OutputError(f"{reason}; no passage was saved", path=run.dir)


def _run_shard(run: _ShardRun, generator: Generator, corpus_path: Path, given: ShardInput,
               passages_of_corpus: Callable[[], Iterable[Passage]], positions: range, batch_size: int, progress: bool,
               overwrite: bool) -> dict[str, Any]:
    """Generate (or resume) one shard under its lock, then finalize it; returns its manifest."""
    settings, langs, index, count = run.settings, run.settings["langs"], run.index, run.count
    passages = list(given.rows)
    with _exclusive(run.shard.with_name(run.shard.name + ".lock")):
        counts = Counts(langs)
        done = run.resume(passages, langs, overwrite, counts)
        record: dict[str, Any] = {
            "kind": "xqg-generated-shard", "status": "incomplete",
            "shard": {"index": index, "count": count, "layout": "contiguous",
                      "corpus_range": [positions.start, positions.stop]},
            "file": run.shard.name, **{k: v for k, v in settings.items() if k != "shard"},
            "batch_size": batch_size, "corpus": {"path": str(corpus_path.resolve()), "passages": given.total},
            "fingerprint": run.fingerprint, "run_fingerprint": run.run_fingerprint,
        }
        write_provenance(run.manifest, {**record, "counts": counts.as_dict()})
        _generate_batches(run, generator, passages, done, counts, batch_size, progress)

        record["sha256"] = run.finalize()
        record["status"] = "complete"
        report = getattr(generator, "report", None)
        if callable(report):
            record["generator_report"] = report({p.docid for p in passages_of_corpus()})
        write_provenance(run.manifest, {**record, "counts": counts.as_dict()})
        run.partial.unlink()
    return json.loads(run.manifest.read_text(encoding="utf-8"))


def _generate_batches(run: _ShardRun, generator: Generator, passages: Sequence[Passage], done: int,
                      counts: Counts, batch_size: int, progress: bool) -> None:
    """Generate passages ``done:`` in fixed batches, appending each completed passage to the partial file."""
    from tqdm.auto import tqdm

    langs, per_lang, seed = run.settings["langs"], run.settings["per_lang"], run.settings["seed"]
    field = run.settings["output"]
    requests = [(k, lang) for k in range(len(passages)) for lang in langs]
    pending: dict[int, dict[str, tuple[list[str], dict[str, int]]]] = {}
    next_row = done
    # The batch holding the first missing request: the same cut as an uninterrupted run.
    first_batch = done * len(langs) // batch_size * batch_size if done < len(passages) else len(requests)
    with open(run.partial, "a", encoding="utf-8") as out, \
            tqdm(total=len(passages), initial=done, desc=f"generate shard {run.index}/{run.count}",
                 unit="passage", disable=not progress) as bar:
        for start in range(first_batch, len(requests), batch_size):
            batch = requests[start:start + batch_size]
            outputs = generator.generate([
                Request(docid=passages[k].docid, title=passages[k].title, text=passages[k].contents, lang=lang,
                        n=per_lang, seed=request_seed(seed, passages[k].docid, lang)) for k, lang in batch])
            if len(outputs) != len(batch) or not all(isinstance(o, (list, tuple)) for o in outputs):
                raise RuntimeError(f"generator must return one list of texts per request ({len(batch)} requests)")
            for (k, lang), raw in zip(batch, outputs):
                if k >= done:  # a resumed first batch can hold passages already written
                    pending.setdefault(k, {})[lang] = clean_outputs(raw, per_lang)
            lines = []
            while len(pending.get(next_row, ())) == len(langs):
                results = pending.pop(next_row)
                lines.append(_record_line(passages[next_row].docid, field, langs, results))
                counts.add_passage(per_lang, results)
                next_row += 1
            if lines:
                out.write("".join(lines))
                out.flush()
                os.fsync(out.fileno())
                bar.update(len(lines))
    if next_row != len(passages):
        raise RuntimeError(f"shard {run.index}/{run.count}: {len(passages) - next_row} passages never completed")


def read_shard_set(output_dir: str | Path) -> list[dict[str, Any]]:
    """All rows of a complete shard set, in corpus order."""
    return list(iter_generated(Path(output_dir)))


def merge(output_dir: str | Path, out_path: str | Path) -> dict[str, Any]:
    """Concatenate a complete shard set into one JSONL file (+ ``<out>.json`` manifest)."""
    output_dir, out_path = Path(output_dir), Path(out_path)
    manifests = shard_set_manifests(output_dir)
    digest = hashlib.sha256()
    with atomic_file(out_path, "wb", same_kind=is_generated_file, what="generated-texts file") as out:
        for manifest in manifests:
            with open(output_dir / manifest["file"], "rb") as shard:
                for block in iter(lambda: shard.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
    first = manifests[0]
    langs = first["langs"]
    record = {
        "kind": "xqg-generated", "file": out_path.name, "sha256": digest.hexdigest(),
        "shard_set": str(output_dir.resolve()), "shards": len(manifests),
        **{key: first[key] for key in ("generator", "output", "langs", "per_lang", "seed", "corpus_sha256",
                                       "corpus", "run_fingerprint")},
        "counts": _summed_counts([manifest["counts"] for manifest in manifests], langs),
    }
    for key in ("generator_report", "filter"):  # "filter": a shard set written by xqg filter
        if key in first:
            record[key] = first[key]
    write_provenance(f"{out_path}.json", record)
    return json.loads(Path(f"{out_path}.json").read_text(encoding="utf-8"))


def _summed_counts(shard_counts: Sequence[dict[str, Any]], langs: Sequence[str]) -> dict[str, Any]:
    """The shards' per-language counters summed (``COUNTERS``, or those an ``xqg filter`` manifest keeps)."""
    keys = list(shard_counts[0]["per_lang"][langs[0]]) if langs else list(COUNTERS)
    per_lang = {lang: {key: sum(c["per_lang"][lang][key] for c in shard_counts) for key in keys} for lang in langs}
    total = {key: sum(counts[key] for counts in per_lang.values()) for key in keys}
    return {"passages": sum(c["passages"] for c in shard_counts), **total, "per_lang": per_lang}
