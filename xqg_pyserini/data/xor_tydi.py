"""XOR-TyDi XOR-Retrieve (the paper's setting) as files the pipeline reads: ``xqg data xor-tydi``.

Inputs: the English Wikipedia passages in DPR's TSV format (``id<TAB>text<TAB>title`` with that
header, fields quoted as Python's ``csv`` module writes them: XOR-TyDi's
``enwiki_20190201_w100.tsv``, often saved as ``psgs_w100.tsv``) and the dev questions
(``xor_dev_retrieve_eng_span*.jsonl``: ``{"id", "lang", "question", "answers"}`` per line).

Output (one directory, written atomically)::

    corpus.jsonl                     {"id", "contents", "title"}: the passages, in TSV order
    topics.tsv, topics.{lang}.tsv    qid<TAB>question (qids as XOR-TyDi gives them: no language prefix)
    answers.jsonl                    {"id", "lang", "answers"}: R@kt's answers (xqg eval --answers)
    clusters.tsv                     qid<TAB>qid: every question its own cluster (none is a translation
                                     of another), for xqg eval --cluster-by
    shards/corpus-I-of-N.jsonl       with --shards N: contiguous slices, the ranges of xqg generate --shard I/N
    generated/                       with --generated: released generations re-cut into the same N slices
                                     (a shard set; each shard file is one xqg encode --kind generated input)
    stats.json, README.md

There are no qrels: XOR-Retrieve is scored by R@kt (answer strings in the first k tokens).

The TSV is streamed, so the 18M-passage file converts in memory that does not grow with the
passages' text; only ``--generated`` keeps a docid -> shard map (about 100 bytes per passage).
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.run import MANIFEST_FILE, SHARD_FILE, shard_range
from xqg_pyserini.io.answers import read_answers
from xqg_pyserini.io.atomic import atomic_dir
from xqg_pyserini.io.generated import QUERIES_FIELD
from xqg_pyserini.io.jsonl import read_jsonl, require_str
from xqg_pyserini.io.topics import write_topics

DPR_HEADER = ["id", "text", "title"]
CORPUS_SHARD = "corpus-{index:05d}-of-{count:05d}.jsonl"
IMPORT_KIND = "xqg-imported-shard"


class _HashedLines:
    """The lines of a text file, hashing their bytes as they are read (the file's sha256 at the end)."""

    def __init__(self, handle):
        self.handle, self.digest = handle, hashlib.sha256()

    def __iter__(self):
        for line in self.handle:
            self.digest.update(line.encode("utf-8"))
            yield line


def iter_dpr_passages(path: str | Path, hashed: list | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, {"id", "contents", "title"})`` for each passage of a DPR TSV, streamed.

    Bad rows (a wrong header, a field count other than 3, an empty id or text) raise InputError
    with the line. With ``hashed`` (a list), the file's sha256 is appended to it at the end.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    with open(path, encoding="utf-8", newline="") as handle:
        lines = _HashedLines(handle)
        reader = csv.reader(lines, delimiter="\t")
        try:
            header = next(reader, None)
            if header != DPR_HEADER:
                raise InputError(f"expected the header {'<TAB>'.join(DPR_HEADER)} (DPR's passage TSV), "
                                 f"found {header!r:.80}", path=path, line=1)
            for row in reader:
                line = reader.line_num
                if len(row) != 3:
                    raise InputError(f"expected 3 tab-separated fields (id, text, title), found {len(row)}",
                                     path=path, line=line)
                docid, text, title = (field.strip() for field in row)
                if not docid or any(c.isspace() for c in docid):
                    raise InputError(f"bad passage id {docid!r}", path=path, line=line)
                if not text:
                    raise InputError("empty passage text", path=path, line=line, docid=docid)
                yield line, {"id": docid, "contents": text, "title": title}
        except csv.Error as err:
            raise InputError(f"malformed TSV ({err})", path=path, line=reader.line_num) from None
        except UnicodeDecodeError as err:
            raise InputError(f"not UTF-8 ({err.reason})", path=path) from None
    if hashed is not None:
        hashed.append(lines.digest.hexdigest())


def read_dev_questions(path: str | Path) -> dict[str, dict[str, str]]:
    """lang -> qid -> question of an XOR-Retrieve dev (or test) jsonl; ids must be unique, answers valid."""
    path = Path(path)
    read_answers(path)  # ids unique, answers non-empty lists of strings
    by_lang: dict[str, dict[str, str]] = {}
    for line, row in read_jsonl(path):
        qid = require_str(row, "id", path, line).strip()
        if any(c.isspace() for c in qid):
            raise InputError(f"question id {qid!r} holds whitespace, which TREC runs cannot carry",
                             path=path, line=line)
        lang = require_str(row, "lang", path, line).strip()
        by_lang.setdefault(lang, {})[qid] = " ".join(require_str(row, "question", path, line).split())
    return dict(sorted(by_lang.items()))


def convert_xor_tydi(corpus_tsv: str | Path, dev: str | Path, output: str | Path, *, shards: int | None = None,
                     generated: Sequence[str | Path] = (), command: str | None = None) -> dict[str, Any]:
    """Write the layout above at ``output`` (replaced only when everything is written); returns stats."""
    if shards is not None and shards < 1:
        raise InputError(f"--shards must be at least 1, not {shards}")
    corpus_tsv, dev, output = Path(corpus_tsv), Path(dev), Path(output)
    questions = read_dev_questions(dev)  # the small file first: its errors come before the long pass
    answers = [row for _, row in read_jsonl(dev)]
    stats: dict[str, Any] = {"dataset": "xor-tydi", "command": command,
                             "sources": {"corpus": str(corpus_tsv.resolve()), "dev": str(dev.resolve())}}
    with atomic_dir(output, marker="stats.json", what="converted dataset") as tmp:
        hashed: list[str] = []
        docids = _write_corpus(iter_dpr_passages(corpus_tsv, hashed), tmp / "corpus.jsonl", keep_ids=bool(generated))
        stats["passages"] = len(docids) if isinstance(docids, list) else docids
        total = stats["passages"]
        stats["sources"]["corpus_sha256"] = hashed[0]
        stats["sources"]["dev_sha256"] = hashlib.sha256(dev.read_bytes()).hexdigest()
        for lang, topics in questions.items():
            write_topics(topics, tmp / f"topics.{lang}.tsv")
        every = {qid: q for topics in questions.values() for qid, q in topics.items()}
        write_topics(every, tmp / "topics.tsv")
        with open(tmp / "answers.jsonl", "w", encoding="utf-8", newline="\n") as out:
            for row in answers:
                out.write(json.dumps({"id": str(row["id"]).strip(), "lang": row["lang"].strip(),
                                      "answers": row["answers"]}, ensure_ascii=False) + "\n")
        (tmp / "clusters.tsv").write_text("".join(f"{qid}\t{qid}\n" for qid in every), encoding="utf-8")
        stats["languages"] = list(questions)
        stats["topics"] = {lang: len(topics) for lang, topics in questions.items()}
        stats["totals"] = {"topics": len(every)}
        count = shards or 1
        if shards:
            _split_corpus(tmp / "corpus.jsonl", tmp / "shards", total, shards)
        stats["shards"] = {"count": count, "ranges": [[r.start, r.stop] for r in
                                                      (shard_range(total, i, count) for i in range(count))]}
        if generated:
            shard_of = {docids[p]: i for i in range(count) for p in shard_range(total, i, count)}
            if len(shard_of) != total:
                raise InputError(f"the passage TSV repeats {total - len(shard_of)} passage id(s)", path=corpus_tsv)
            stats["generated"] = _split_generated(generated, shard_of, tmp / "generated", count, stats["shards"])
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(_readme(stats), encoding="utf-8")
    return stats


def _write_corpus(passages: Iterable[tuple[int, dict[str, str]]], path: Path, keep_ids: bool) -> list[str] | int:
    """corpus.jsonl; returns the docids in order (``keep_ids``) or their count."""
    ids: list[str] = []
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for _, passage in passages:
            out.write(json.dumps(passage, ensure_ascii=False) + "\n")
            count += 1
            if keep_ids:
                ids.append(passage["id"])
    if count == 0:
        raise InputError("the passage TSV holds no passages", path=path)
    return ids if keep_ids else count


def _split_corpus(corpus: Path, folder: Path, total: int, count: int) -> None:
    folder.mkdir()
    with open(corpus, encoding="utf-8") as lines:
        for index in range(count):
            with open(folder / CORPUS_SHARD.format(index=index, count=count), "w", encoding="utf-8",
                      newline="\n") as out:
                for _ in shard_range(total, index, count):
                    out.write(next(lines))


def _generated_inputs(sources: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found = sorted(source.glob("*.jsonl"), key=lambda p: (len(p.name), p.name))  # shard_2 before shard_10
            if not found:
                raise InputError("no .jsonl files in this directory", path=source)
            files += found
        elif source.is_file():
            files.append(source)
        else:
            raise InputError("file not found", path=source)
    return files


def _split_generated(sources: Sequence[str | Path], shard_of: dict[str, int], folder: Path, count: int,
                     layout: dict[str, Any]) -> dict[str, Any]:
    """Released rows ``{"docid", "generated_queries"}`` re-cut by corpus shard, as a shard set."""
    files = _generated_inputs(sources)
    folder.mkdir()
    outs = [open(folder / SHARD_FILE.format(index=i, count=count), "w", encoding="utf-8", newline="\n")
            for i in range(count)]
    rows, texts, seen = [0] * count, [dict() for _ in range(count)], set()
    try:
        for path in files:
            for line, row in read_jsonl(path):
                docid = require_str(row, "docid", path, line)
                by_lang = row.get(QUERIES_FIELD)
                if not isinstance(by_lang, dict) or not all(
                        isinstance(v, list) and all(isinstance(t, str) and t.strip() for t in v) for v in by_lang.values()):
                    raise InputError(f"field {QUERIES_FIELD!r} must be an object of language -> non-empty texts",
                                     path=path, line=line)
                shard = shard_of.get(docid)
                if shard is None:
                    raise InputError("generated texts for a passage that is not in the corpus", path=path,
                                     line=line, docid=docid)
                if docid in seen:
                    raise InputError("a second row for this passage", path=path, line=line, docid=docid)
                seen.add(docid)
                outs[shard].write(json.dumps({"docid": docid, QUERIES_FIELD: by_lang}, ensure_ascii=False) + "\n")
                rows[shard] += 1
                for lang, values in by_lang.items():
                    texts[shard][lang] = texts[shard].get(lang, 0) + len(values)
    finally:
        for out in outs:
            out.close()
    fingerprint = hashlib.sha256(json.dumps([[str(p.resolve()), p.stat().st_size] for p in files]).encode()).hexdigest()
    langs = sorted({lang for shard in texts for lang in shard})
    for index in range(count):
        manifest = {"kind": IMPORT_KIND, "status": "complete", "file": SHARD_FILE.format(index=index, count=count),
                    "output": QUERIES_FIELD, "langs": langs,
                    "shard": {"index": index, "count": count, "layout": "contiguous",
                              "corpus_range": layout["ranges"][index]},
                    "sources": [str(p.resolve()) for p in files], "run_fingerprint": fingerprint,
                    "counts": {"passages": rows[index], "texts": sum(texts[index].values()),
                               "per_lang": {lang: {"texts": texts[index].get(lang, 0)} for lang in langs}}}
        (folder / MANIFEST_FILE.format(index=index, count=count)).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"files": [str(p) for p in files], "passages_with_texts": sum(rows),
            "passages_without": len(shard_of) - sum(rows),
            "texts_per_lang": {lang: sum(shard.get(lang, 0) for shard in texts) for lang in langs}}


def _readme(stats: dict[str, Any]) -> str:
    topics = ", ".join(f"{lang} {n}" for lang, n in stats["topics"].items())
    shards = stats["shards"]["count"]
    lines = [
        "# XOR-TyDi XOR-Retrieve (converted by `xqg data xor-tydi`)", "",
        f"- command: `{stats.get('command') or '-'}`",
        f"- passages: {stats['passages']} (`corpus.jsonl`, from `{stats['sources']['corpus']}`, sha256 "
        f"{stats['sources']['corpus_sha256'][:16]})",
        f"- topics: {stats['totals']['topics']} ({topics}), from `{stats['sources']['dev']}`",
        "- judgements: `answers.jsonl` for R@kt (`xqg eval --answers answers.jsonl --corpus corpus.jsonl "
        "--metrics \"R@2kt R@5kt\"`); no qrels",
        "- `clusters.tsv`: each question its own cluster (XOR-TyDi questions are not translations of each other)",
    ]
    if shards > 1:
        lines.append(f"- `shards/`: the corpus in {shards} contiguous slices (the ranges of `xqg generate --shard I/{shards}`)")
    if "generated" in stats:
        g = stats["generated"]
        lines.append(f"- `generated/`: {g['passages_with_texts']} passages' released generations in {shards} shard(s) "
                     f"({', '.join(f'{lang} {n}' for lang, n in g['texts_per_lang'].items())} texts); "
                     f"{g['passages_without']} passages have none")
    lines += ["", "The steps from here to the paper's Table 1: `docs/REPRODUCE.md`.", ""]
    return "\n".join(lines)
