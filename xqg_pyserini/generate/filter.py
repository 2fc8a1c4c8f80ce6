"""Drop the generated texts that fit their passage worst, before fusing or expanding (``xqg filter``).

Doc2Query-- (Gospodinov et al., ECIR 2023) scored every generated query against its passage and
dropped the lowest-scoring ones: expansion got better and cheaper. Here every generated text is
scored against its passage (:mod:`~xqg_pyserini.generate.scorers`: a dual encoder's cosine, or
a cross-encoder), and :func:`keep_mask` chooses what stays:

* ``threshold=T``: every text scoring at least ``T``;
* ``keep_top=P`` (percent): within each group, the ``ceil(P * n / 100)`` best of its ``n`` texts
  (ties: the earlier text first, so the choice is deterministic). The groups come from the
  scope (:func:`group_keys`):

  - ``lang`` (the default): one group per language over the whole set. Doc2Query-- takes one
    percentile over all of its (English) queries; across languages the cosines of one encoder
    sit on different scales (a Telugu query is further from an English passage than a Russian
    one), so one pooled cut would mostly drop whole languages and change the language mix
    instead of the quality. Per language, each language keeps P% of its own texts.
  - ``all``: one group, Doc2Query--'s rule as published.
  - ``passage``: one group per passage and language: every passage keeps its best P% in each
    language (the passages' counts stay even, which sum fusion needs).

The output is a shard set like ``xqg generate``'s (the input's shards, or one shard for a JSONL
file): rows ``{"docid", "generated_queries": {lang: [kept texts]}, "scores": {lang: [their
scores]}}``, texts in their original order (so ``--per-lang N`` still takes the first N that
survived, and ``keep_top=100`` changes no text), every row and language kept even when emptied;
each manifest records the scorer, the rule, the input's hash and the counts kept and dropped per
language (of its shard, and of the whole set). ``xqg index``, ``xqg index-sparse`` and ``xqg
encode --kind generated`` read it as they read any shard set.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Hashable, Sequence

import numpy as np

from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.run import MANIFEST_FILE, SHARD_FILE
from xqg_pyserini.io.atomic import atomic_dir
from xqg_pyserini.io.corpus import DEFAULT_PASSAGE_TEMPLATE, Passage, read_corpus
from xqg_pyserini.io.generated import (QUERIES_FIELD, GeneratedText, generated_files, generated_sha256,
                                       iter_generated, read_generated, shard_set_manifests)
from xqg_pyserini.io.hashing import file_sha256
from xqg_pyserini.provenance import versions

SCOPES = ("lang", "all", "passage")
DEFAULT_SCOPE = "lang"
FILTER_KIND = "xqg-filtered-shard"
SCORES_FIELD = "scores"  # per row: {lang: [score of each kept text]}, parallel to the texts
SCORE_DECIMALS = 6  # in the manifest's score summaries; rows keep every digit
COUNT_KEYS = ("input", "kept", "dropped")  # per language, in each manifest
CHUNK_PASSAGES = 256  # passages (with all their texts) scored per call


def keep_mask(scores: np.ndarray, groups: Sequence[Hashable] | None = None, keep_top: float | None = None,
              threshold: float | None = None) -> np.ndarray:
    """Boolean mask of the texts to keep: ``scores >= threshold``, or the best ``keep_top`` percent
    (``ceil(P * n / 100)`` of ``n``, ties to the earlier text) within each group.

    ``groups[i]``: the group of text ``i`` (any hashable, e.g. a language or ``(docid, lang)``);
    None: one group. Exactly one of ``keep_top`` (0 < P <= 100) and ``threshold`` is given.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError("scores must be one-dimensional")
    if (keep_top is None) == (threshold is None):
        raise ValueError("give exactly one of keep_top and threshold")
    bad = np.flatnonzero(~np.isfinite(scores))
    if len(bad):
        raise ValueError(f"score {bad[0]} is not finite ({scores[bad[0]]})")
    if threshold is not None:
        return scores >= threshold
    if not 0 < keep_top <= 100:
        raise ValueError(f"keep_top must be a percentage in (0, 100], not {keep_top}")
    count = len(scores)
    if groups is None:
        ids = np.zeros(count, dtype=np.int64)
    else:
        if len(groups) != count:
            raise ValueError(f"{len(groups)} groups for {count} scores")
        index: dict[Hashable, int] = {}
        ids = np.fromiter((index.setdefault(g, len(index)) for g in groups), dtype=np.int64, count=count)
    order = np.lexsort((np.arange(count), -scores, ids))  # by group, best first, earlier first
    sizes = np.bincount(ids)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    rank = np.arange(count) - starts[ids[order]]
    quota = np.ceil(sizes * (keep_top / 100) - 1e-9).astype(np.int64)  # 1e-9: 0.7 * 10 is not quite 7
    mask = np.zeros(count, dtype=bool)
    mask[order[rank < quota[ids[order]]]] = True
    return mask


def group_keys(docids: Sequence[str], langs: Sequence[str], scope: str = DEFAULT_SCOPE) -> list | None:
    """The ``groups`` of :func:`keep_mask` for a scope: languages, None (one group), or (docid, lang)."""
    if scope == "lang":
        return list(langs)
    if scope == "all":
        return None
    if scope == "passage":
        return list(zip(docids, langs))
    raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")


def check_rule(keep_top: float | None, threshold: float | None, scope: str) -> None:
    """InputError (naming the flag) for a rule :func:`keep_mask` would refuse."""
    if (keep_top is None) == (threshold is None):
        raise InputError("give one of --keep-top P% and --threshold T")
    if keep_top is not None and not (math.isfinite(keep_top) and 0 < keep_top <= 100):
        raise InputError(f"--keep-top must be a percentage in (0, 100], not {keep_top:g}")
    if threshold is not None and not math.isfinite(threshold):
        raise InputError(f"--threshold must be a finite number, not {threshold}")
    if scope not in SCOPES:
        raise InputError(f"--scope must be one of {', '.join(SCOPES)}, not {scope!r}")


def score_texts(texts: Sequence[GeneratedText], passages: dict[str, Passage], scorer: Any,
                passage_template: str = DEFAULT_PASSAGE_TEMPLATE, progress: bool = False) -> np.ndarray:
    """Each text's score against its passage, in order; a passage is given to the scorer once per chunk."""
    from tqdm.auto import tqdm

    scores = np.empty(len(texts), dtype=np.float64)
    start = 0
    with tqdm(total=len(texts), desc="score generated texts", unit="text", disable=not progress) as bar:
        while start < len(texts):
            chunk_passages: list[str] = []
            owner: list[int] = []
            stop = start
            while stop < len(texts):
                docid = texts[stop].docid
                if stop == start or docid != texts[stop - 1].docid:
                    if len(chunk_passages) == CHUNK_PASSAGES:
                        break
                    chunk_passages.append(passages[docid].render(passage_template))
                owner.append(len(chunk_passages) - 1)
                stop += 1
            values = scorer.score(chunk_passages, [t.text for t in texts[start:stop]], np.array(owner))
            scores[start:stop] = values
            bar.update(stop - start)
            start = stop
    return scores


def filter_generated(corpus: str | Path, generated: str | Path, output: str | Path, scorer: Any, *,
                     keep_top: float | None = None, threshold: float | None = None, scope: str = DEFAULT_SCOPE,
                     field: str = QUERIES_FIELD, passage_template: str = DEFAULT_PASSAGE_TEMPLATE,
                     progress: bool = True) -> dict[str, Any]:
    """Score ``generated`` (a JSONL file or shard set) against ``corpus`` and write the kept texts as a
    shard set at ``output`` (atomically); returns the first shard's manifest."""
    check_rule(keep_top, threshold, scope)
    corpus, generated, output = Path(corpus), Path(generated), Path(output)
    _check_output(generated, output)
    passages = {p.docid: p for p in read_corpus(corpus)}
    texts = read_generated(generated, field=field)
    absent = next((t.docid for t in texts if t.docid not in passages), None)
    if absent is not None:
        raise InputError("generated texts name a passage that is not in the corpus", path=generated, docid=absent)
    scores = score_texts(texts, passages, scorer, passage_template, progress)
    bad = np.flatnonzero(~np.isfinite(scores))
    if len(bad):
        raise InputError(f"the scorer gave a non-finite score ({scores[bad[0]]}) to {texts[bad[0]].lang} text "
                         f"{texts[bad[0]].rank}", path=generated, docid=texts[bad[0]].docid)
    mask = keep_mask(scores, group_keys([t.docid for t in texts], [t.lang for t in texts], scope),
                     keep_top=keep_top, threshold=threshold)
    settings = {"scorer": scorer.config(), "rule": {"keep_top": keep_top, "threshold": threshold, "scope": scope},
                "field": field, "passage_template": passage_template,
                "input": {"path": str(generated.resolve()), "sha256": generated_sha256(generated)},
                "corpus_sha256": file_sha256(corpus)}
    return _write(generated, output, texts, scores, mask, settings, corpus, len(passages))


def _check_output(generated: Path, output: Path) -> None:
    if output.resolve() == generated.resolve():
        raise InputError("--output must differ from --generated", path=output)
    if output.exists() and not output.is_dir():
        raise InputError("--output must be a directory (a shard set)", path=output)
    if output.is_dir():
        for path in sorted(output.iterdir()):
            if path.name.startswith("manifest-") and path.suffix == ".json":
                try:
                    if json.loads(path.read_text(encoding="utf-8")).get("kind") == FILTER_KIND:
                        continue
                except (ValueError, AttributeError):
                    pass  # not a manifest of ours: refused below
            elif path.name.startswith("shard-") and path.suffix == ".jsonl":
                continue
            raise InputError("the output dir holds other files (not an earlier xqg filter output); use another "
                             "output dir", path=path)


def _languages(texts: Sequence[GeneratedText], manifests: list[dict] | None) -> list[str]:
    """The input manifest's languages in its order, then any other language the texts have."""
    listed = list((manifests[0].get("langs") or []) if manifests else [])
    return listed + sorted({t.lang for t in texts} - set(listed))


def _summary(scores: np.ndarray, mask: np.ndarray, langs_of: np.ndarray, langs: Sequence[str]) -> dict[str, Any]:
    summary = {}
    for lang in langs:
        of_lang = langs_of == lang
        values, kept = scores[of_lang], scores[of_lang & mask]
        summary[lang] = {"min": _round(values.min()) if len(values) else None,
                         "mean": _round(values.mean()) if len(values) else None,
                         "max": _round(values.max()) if len(values) else None,
                         "lowest_kept": _round(kept.min()) if len(kept) else None}
    return summary


def _round(value: float) -> float:
    return round(float(value), SCORE_DECIMALS)


def _counts(per_lang: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {**{key: sum(c[key] for c in per_lang.values()) for key in COUNT_KEYS}, "per_lang": per_lang}


def _write(generated: Path, output: Path, texts: Sequence[GeneratedText], scores: np.ndarray, mask: np.ndarray,
           settings: dict[str, Any], corpus: Path, corpus_size: int) -> dict[str, Any]:
    """One output shard per input file (a shard set's shards, or the one JSONL file), rows in input order."""
    manifests = shard_set_manifests(generated) if generated.is_dir() else None
    files = generated_files(generated)
    langs = _languages(texts, manifests)
    run_fingerprint = hashlib.sha256(json.dumps(settings, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    langs_of = np.array([t.lang for t in texts])
    totals = {}
    for lang in langs:
        of_lang = langs_of == lang
        totals[lang] = {"input": int(of_lang.sum()), "kept": int((mask & of_lang).sum())}
        totals[lang]["dropped"] = totals[lang]["input"] - totals[lang]["kept"]
    first = manifests[0] if manifests else {}
    # The keys ``xqg generate --merge`` copies, then what the filter did.
    record = {"kind": FILTER_KIND, "status": "complete", "generator": first.get("generator"),
              "output": settings["field"], "langs": langs,
              "per_lang": first.get("per_lang") or max((t.rank + 1 for t in texts), default=0),
              "seed": first.get("seed"), "corpus_sha256": settings["corpus_sha256"],
              "corpus": {"path": str(corpus.resolve()), "passages": corpus_size}, "run_fingerprint": run_fingerprint,
              "filter": {**settings, "input": {**settings["input"], "run_fingerprint": first.get("run_fingerprint")},
                         "scores": _summary(scores, mask, langs_of, langs), "totals": _counts(totals)}}
    rows = _RowFilter(settings["field"], langs, scores, mask)
    written: list[dict[str, Any]] = []
    with atomic_dir(output) as tmp:
        for index, source in enumerate(files):
            name = SHARD_FILE.format(index=index, count=len(files))
            digest, passages = rows.write(source, tmp / name)
            shard = dict(manifests[index].get("shard") or {}) if manifests else {}
            manifest = {**record, "shard": {**shard, "index": index, "count": len(files)}, "file": name,
                        "sha256": digest, "fingerprint": f"{run_fingerprint}-{index}",
                        "counts": {"passages": passages, **_counts(rows.shard_counts)}, "versions": versions()}
            (tmp / MANIFEST_FILE.format(index=index, count=len(files))).write_text(
                json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            written.append(manifest)
    return written[0]


class _RowFilter:
    """Writes input rows with only their kept texts and scores; ``position`` walks the texts' order."""

    def __init__(self, field: str, langs: Sequence[str], scores: np.ndarray, mask: np.ndarray):
        self.field, self.langs, self.scores, self.mask = field, langs, scores, mask
        self.position = 0
        self.shard_counts: dict[str, dict[str, int]] = {}

    def write(self, source: Path, path: Path) -> tuple[str, int]:
        """Filter the rows of ``source`` into ``path``; returns the file's sha256 and its row count."""
        self.shard_counts = {lang: dict.fromkeys(COUNT_KEYS, 0) for lang in self.langs}
        digest, count = hashlib.sha256(), 0
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            for row in iter_generated(source):
                kept_texts, kept_scores = {}, {}
                for lang, outputs in row[self.field].items():
                    span = slice(self.position, self.position + len(outputs))
                    keep = self.mask[span]
                    kept_texts[lang] = [text for text, k in zip(outputs, keep) if k]
                    kept_scores[lang] = [float(s) for s, k in zip(self.scores[span], keep) if k]
                    counts = self.shard_counts.setdefault(lang, dict.fromkeys(COUNT_KEYS, 0))
                    counts["input"] += len(outputs)
                    counts["kept"] += len(kept_texts[lang])
                    counts["dropped"] += len(outputs) - len(kept_texts[lang])
                    self.position += len(outputs)
                line = json.dumps({"docid": str(row["docid"]), self.field: kept_texts, SCORES_FIELD: kept_scores},
                                  ensure_ascii=False) + "\n"
                digest.update(line.encode("utf-8"))
                out.write(line)
                count += 1
        return digest.hexdigest(), count

