"""Lucene (BM25) indexes of passages expanded with their generated texts, doc2query style.

Each passage becomes one JsonCollection document whose ``contents`` is the passage followed by
the selected generated queries (or generated passages), and Pyserini's own indexer
(Anserini's ``IndexCollection``, run in-process after :func:`~xqg_pyserini.java.ensure_jvm`)
builds the index with positions, document vectors and raw documents stored, so every Pyserini
tool works on it. ``xqg.json`` beside the Lucene files records the corpus, the generated file,
languages, queries per language, the analyzer, counts and versions.

Analyzer
--------
An xQG document mixes scripts: an English passage followed by queries in Arabic, Japanese,
Chinese, German... No Lucene language analyzer fits such a document: the English analyzer
(Pyserini's default) stems and stop-words by English rules and splits CJK text into single
characters through the standard tokenizer; ``ar`` normalizes Arabic but treats the English
part with no stemming; ``ja`` (Kuromoji) and ``zh`` (CJK bigrams) apply to their own script
only. An index has one analyzer, and a query must be analyzed the way the documents were.

The default analyzer, ``subword``, therefore pre-tokenizes documents and queries alike in
Python with a multilingual subword tokenizer: the XLM-R sentencepiece-unigram tokenizer of
``e5-small`` (250k pieces trained on 100 languages, the same tokenizer as the dense encoder),
and indexes the tokens with Pyserini's ``--pretokenized`` (whitespace analysis, nothing else).
Every script is segmented by the same learned vocabulary: words without spaces (Chinese,
Japanese) become subword units instead of one unsearchable run, Arabic keeps its letters, and
nothing is stemmed by the wrong language's rules. Details:

* text is lowercased *before* tokenization, so a word segments the same way whatever its case
  (``Jahr`` -> ``▁Jahr`` but ``jahr`` -> ``▁ jahr``: lowercasing afterwards would not match);
* sentencepiece's ``▁`` word-start marks are kept, so a word-initial piece (``▁us``, the word)
  and the same letters inside a word (``us`` in ``▁ves uvi us``) stay different terms;
* tokens with no letter, digit or combining mark (punctuation, a lone ``▁``) are dropped: a
  question mark in a query would otherwise match the passages whose generated queries end
  with one.

Measured (MRR@10, BM25 k1=0.9 b=0.4, passages + generated queries) on the demo collection and on
an XQuAD proxy (240 English paragraphs; per paragraph, every other XQuAD question in 10 languages
serves as its "generated queries" and the rest, 5100, as topics): this setting 0.8875 / 0.7425;
dropping the ``▁`` marks 0.8792 / 0.7357 (better for Japanese, worse for Latin scripts); not
lowercasing 0.8821 / 0.7395; keeping punctuation 0.8851 / 0.7422; Pyserini's default English
analyzer 0.8114 / 0.6462 (Thai 0.20 vs 0.77: it cannot segment Thai). Without expansion the
subword index scores 0.4039 / 0.2540 and the English analyzer 0.3449 / 0.2356.

Queries are pre-tokenized with the tokenizer recorded in ``xqg.json`` (``xqg search --sparse``
does it; :func:`xqg_pyserini.search.sparse.pretokenize_topics` writes a topics file for
``python -m pyserini.search.lucene --pretokenized``).

Lucene's own analyzers are offered by name too (``en``, ``default`` = ``en``, ``ar``, ``ja``,
``zh``, ...: the ones Anserini maps language codes to), and ``whitespace`` indexes text that is
already tokenized as it is.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from xqg_pyserini.errors import InputError
from xqg_pyserini.index.fusion import select_rows
from xqg_pyserini.index.subword import DEFAULT_TOKENIZER, SubwordTokenizer, TokenizerSpec, subword_tokenizer
from xqg_pyserini.io.atomic import atomic_dir, check_output_dir
from xqg_pyserini.io.corpus import DEFAULT_PASSAGE_TEMPLATE, Passage, read_corpus
from xqg_pyserini.io.generated import FIELDS, QUERIES_FIELD, read_generated
from xqg_pyserini.io.jsonl import read_jsonl
from xqg_pyserini.provenance import versions

PROVENANCE = "xqg.json"
KIND = "xqg-lucene-index"
OUTPUT = dict(marker=PROVENANCE, kind=KIND, what="Lucene index")  # what an output dir may replace
SUBWORD = "subword"
WHITESPACE = "whitespace"
DEFAULT_ANALYZER = SUBWORD
RAW_TEXT_FIELD = "passage"  # the raw JSON field holding the passage text as given

# Anserini's AnalyzerMap (language code -> Lucene analyzer), as `-language` uses it at indexing.
LANGUAGE_ANALYZERS = {
    "ar": "org.apache.lucene.analysis.ar.ArabicAnalyzer",
    "bn": "org.apache.lucene.analysis.bn.BengaliAnalyzer",
    "da": "org.apache.lucene.analysis.da.DanishAnalyzer",
    "de": "org.apache.lucene.analysis.de.GermanAnalyzer",
    "es": "org.apache.lucene.analysis.es.SpanishAnalyzer",
    "fa": "org.apache.lucene.analysis.fa.PersianAnalyzer",
    "fi": "org.apache.lucene.analysis.fi.FinnishAnalyzer",
    "fr": "org.apache.lucene.analysis.fr.FrenchAnalyzer",
    "hi": "org.apache.lucene.analysis.hi.HindiAnalyzer",
    "hu": "org.apache.lucene.analysis.hu.HungarianAnalyzer",
    "id": "org.apache.lucene.analysis.id.IndonesianAnalyzer",
    "it": "org.apache.lucene.analysis.it.ItalianAnalyzer",
    "ja": "org.apache.lucene.analysis.ja.JapaneseAnalyzer",
    "ko": "org.apache.lucene.analysis.ko.KoreanAnalyzer",
    "nl": "org.apache.lucene.analysis.nl.DutchAnalyzer",
    "no": "org.apache.lucene.analysis.no.NorwegianAnalyzer",
    "pl": "org.apache.lucene.analysis.morfologik.MorfologikAnalyzer",
    "pt": "org.apache.lucene.analysis.pt.PortugueseAnalyzer",
    "ru": "org.apache.lucene.analysis.ru.RussianAnalyzer",
    "sv": "org.apache.lucene.analysis.sv.SwedishAnalyzer",
    "te": "org.apache.lucene.analysis.te.TeluguAnalyzer",
    "th": "org.apache.lucene.analysis.th.ThaiAnalyzer",
    "tr": "org.apache.lucene.analysis.tr.TurkishAnalyzer",
    "uk": "org.apache.lucene.analysis.uk.UkrainianMorfologikAnalyzer",
    "zh": "org.apache.lucene.analysis.cjk.CJKAnalyzer",
}
ALIASES = {"default": "en"}
ANALYZERS = (SUBWORD, WHITESPACE, "en", "default", *sorted(LANGUAGE_ANALYZERS))


def check_analyzer(name: str) -> str:
    """The canonical analyzer name, or an InputError listing the choices."""
    canonical = ALIASES.get(name, name)
    if canonical in (SUBWORD, WHITESPACE, "en") or canonical in LANGUAGE_ANALYZERS:
        return canonical
    raise InputError(
        f"unknown analyzer {name!r}; choose one of: {SUBWORD} (default: multilingual subword "
        f"pre-tokenization), {WHITESPACE} (text already tokenized), en (Pyserini's default English "
        f"analyzer; alias: default), or a Lucene language analyzer: {', '.join(sorted(LANGUAGE_ANALYZERS))}")


def is_pretokenized(analyzer: str) -> bool:
    """Whether the index uses whitespace analysis (``--pretokenized`` in Pyserini's CLI)."""
    return analyzer in (SUBWORD, WHITESPACE)


def pyserini_search_flags(analyzer: str) -> list[str]:
    """The flags ``python -m pyserini.search.lucene`` needs to analyze queries like the index."""
    if is_pretokenized(analyzer):
        return ["--pretokenized"]
    return [] if analyzer == "en" else ["--language", analyzer]


# --------------------------------------------------------------------------- building

def _expansions(generated: Path, field: str, corpus_ids: set[str], langs: Iterable[str] | None,
                per_lang: int | None) -> tuple[dict[str, dict[str, list[str]]], dict[str, Any]]:
    """docid -> lang -> selected generated texts (in rank order), and counts."""
    texts = read_generated(generated, field=field)
    unknown = [t.docid for t in texts if t.docid not in corpus_ids]
    if unknown:
        first = unknown[0]
        line = next((n for n, row in read_jsonl(generated) if str(row.get("docid")) == first), None)
        raise InputError(f"{field} name a docid that is not in the corpus "
                         f"({len(set(unknown))} such docid{'s' if len(set(unknown)) > 1 else ''})",
                         path=generated, line=line, docid=first)
    keys = [(t.docid, t.lang, t.rank) for t in texts]
    chosen = select_rows(keys, langs, per_lang)
    by_doc: dict[str, dict[str, list[str]]] = {}
    for i in chosen:
        t = texts[int(i)]
        by_doc.setdefault(t.docid, {}).setdefault(t.lang, []).append(t.text)
    per_lang_counts = Counter(texts[int(i)].lang for i in chosen)
    stats = {"texts_in_file": len(texts), "queries_used": len(chosen), "passages_augmented": len(by_doc),
             "queries_per_lang": dict(sorted(per_lang_counts.items()))}
    return by_doc, stats


def _documents(passages: list[Passage], expansions: dict[str, dict[str, list[str]]], template: str,
               tokenizer: SubwordTokenizer | None) -> list[dict[str, Any]]:
    rendered = [p.render(template) for p in passages]
    extra = [[text for texts in expansions.get(p.docid, {}).values() for text in texts] for p in passages]
    if tokenizer is not None:
        flat = [text for texts in extra for text in texts]
        tokens = iter(tokenizer.tokenize(rendered + flat))
        passage_tokens = [next(tokens) for _ in rendered]
        contents = [" ".join(x for x in [head, *(next(tokens) for _ in texts)] if x)
                    for head, texts in zip(passage_tokens, extra)]
    else:
        contents = ["\n".join([head, *texts]) for head, texts in zip(rendered, extra)]
    docs = []
    for p, text in zip(passages, contents):
        doc: dict[str, Any] = {"id": p.docid, "contents": text, RAW_TEXT_FIELD: p.contents}
        if p.title:
            doc["title"] = p.title
        if p.docid in expansions:
            doc["expansion"] = expansions[p.docid]
        docs.append(doc)
    return docs


def _write_collection(docs: list[dict[str, Any]], directory: Path, parts: int) -> None:
    parts = max(1, min(parts, len(docs)))
    size = -(-len(docs) // parts)
    for part in range(parts):
        with open(directory / f"docs{part:02d}.jsonl", "w", encoding="utf-8") as out:
            for doc in docs[part * size:(part + 1) * size]:
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")


def indexer_args(collection: Path, index: Path, analyzer: str, threads: int) -> list[str]:
    """Anserini ``IndexCollection`` arguments (``python -m pyserini.index.lucene`` takes them with ``--``)."""
    args = ["-collection", "JsonCollection", "-generator", "DefaultLuceneDocumentGenerator",
            "-input", str(collection), "-index", str(index), "-threads", str(threads),
            "-storePositions", "-storeDocvectors", "-storeRaw"]
    if is_pretokenized(analyzer):
        args.append("-pretokenized")
    elif analyzer != "en":
        args += ["-language", analyzer]
    return args


def _run_indexer(args: list[str]) -> dict[str, int]:
    from xqg_pyserini.java import ensure_jvm

    ensure_jvm()
    from jnius import autoclass

    parsed = autoclass("io.anserini.index.IndexCollection$Args")()
    argv = autoclass("java.util.ArrayList")()
    for arg in [*args, "-quiet"]:
        argv.add(arg)
    autoclass("org.kohsuke.args4j.CmdLineParser")(parsed).parseArgument(argv)
    indexer = autoclass("io.anserini.index.IndexCollection")(parsed)
    indexer.run()
    counters = indexer.getCounters()
    names = ("indexed", "empty", "unindexable", "skipped", "errors")
    return {name: int(getattr(counters, name).get()) for name in names}


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"[xqg index-sparse] {message}", file=sys.stderr, flush=True)


def build_sparse_index(corpus: str | Path, output: str | Path, generated: str | Path | None = None,
                       langs: Iterable[str] | None = None, per_lang: int | None = None, field: str = QUERIES_FIELD,
                       analyzer: str = DEFAULT_ANALYZER, tokenizer: str = DEFAULT_TOKENIZER,
                       passage_template: str = DEFAULT_PASSAGE_TEMPLATE, threads: int = 1,
                       progress: bool = True) -> dict[str, Any]:
    """Write a Lucene index of ``corpus`` (+ generated texts) at ``output`` atomically; its ``xqg.json``.

    ``generated``: a generated-queries JSONL (``field`` = ``generated_queries`` or
    ``generated_passages``); ``langs``/``per_lang`` pick its languages and the first N texts per
    language. ``analyzer``: see the module doc (``subword``, ``whitespace``, ``en``/``default``, or a
    language code). ``tokenizer``: the subword tokenizer (``subword`` only).
    """
    started = time.perf_counter()
    analyzer = check_analyzer(analyzer)
    if field not in FIELDS:
        raise InputError(f"field must be one of {', '.join(FIELDS)}, not {field!r}")
    if threads < 1:
        raise InputError("--threads must be at least 1")
    langs = sorted(set(langs)) if langs else None
    output = check_output_dir(output, **OUTPUT)  # before any work
    corpus = Path(corpus)
    passages = read_corpus(corpus)
    record: dict[str, Any] = {
        "kind": KIND,
        "corpus": {"path": str(corpus.resolve()), "count": len(passages)},
        "passage_template": passage_template,
        "analyzer": analyzer,
        "tokenizer": None,
    }
    if generated is None:
        expansions: dict[str, dict[str, list[str]]] = {}
        record.update(generated=None, langs=[], per_lang=None, queries_used=0, passages_augmented=0,
                      queries_per_lang={})
    else:
        generated = Path(generated)
        expansions, stats = _expansions(generated, field, {p.docid for p in passages}, langs, per_lang)
        record.update(generated={"path": str(generated.resolve()), "field": field, "count": stats.pop("texts_in_file")},
                      langs=sorted(stats["queries_per_lang"]), per_lang=per_lang, **stats)
    subword = None
    if analyzer == SUBWORD:
        subword = subword_tokenizer(TokenizerSpec(name=tokenizer))
        record["tokenizer"] = subword.record()
    _log(progress, f"{len(passages)} passages, {record['queries_used']} generated texts; "
                   f"analyzer {analyzer}{' (pre-tokenizing)' if subword else ''}")
    docs = _documents(passages, expansions, passage_template, subword)
    tokenized_s = time.perf_counter() - started

    with atomic_dir(output, **OUTPUT) as tmp, tempfile.TemporaryDirectory(prefix=f".{output.name}.collection.",
                                                                         dir=output.parent) as collection:
        _write_collection(docs, Path(collection), threads)
        args = indexer_args(Path(collection), tmp, analyzer, threads)
        _log(progress, f"indexing {len(docs)} documents with Anserini IndexCollection ({threads} thread(s))")
        counters = _run_indexer(args)
        if counters["indexed"] + counters["empty"] != len(docs) or counters["errors"]:
            raise InputError(f"Lucene indexed {counters['indexed']} of {len(docs)} documents ({counters})",
                             path=corpus)
        if counters["empty"]:
            print(f"warning: {counters['empty']} passages have no indexable tokens and are not in the index",
                  file=sys.stderr)
        record.update(
            documents=counters["indexed"], empty_documents=counters["empty"],
            stored=["positions", "docvectors", "raw"], raw_text_field=RAW_TEXT_FIELD,
            pyserini={"index": ["-" + a if a.startswith("-") else a
                                for a in indexer_args(Path("COLLECTION_DIR"), Path("INDEX_DIR"), analyzer, threads)],
                      "search": pyserini_search_flags(analyzer)},
            seconds={"prepare": round(tokenized_s, 3), "total": round(time.perf_counter() - started, 3)},
            versions={**versions(), "anserini": _anserini_version()},
        )
        (tmp / PROVENANCE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _log(progress, f"{record['documents']} documents indexed in {record['seconds']['total']:.1f} s -> {output}")
    return record


def _anserini_version() -> str:
    from xqg_pyserini.java import anserini_jar

    return anserini_jar().name.removeprefix("anserini-").removesuffix("-fatjar.jar")


# --------------------------------------------------------------------------- reading back

def sparse_provenance(index_dir: str | Path) -> dict[str, Any]:
    """``xqg.json`` of a Lucene index dir; {} for a Lucene index built elsewhere."""
    index_dir = Path(index_dir)
    check_lucene_dir(index_dir)
    path = index_dir / PROVENANCE
    if not path.is_file():
        return {}
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("kind") != KIND:
        raise InputError(f"{PROVENANCE} is a {record.get('kind')!r} record, not a Lucene index's", path=path)
    return record


def check_lucene_dir(index_dir: Path) -> None:
    if not index_dir.is_dir():
        raise InputError("index dir not found", path=index_dir)
    if not any(index_dir.glob("segments_*")):
        hint = " (a FAISS index: search it without --sparse)" if (index_dir / "index").is_file() else ""
        raise InputError(f"not a Lucene index dir (no segments_* file){hint}", path=index_dir)


def _text_of(raw: str, field: str | None) -> str:
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    if not isinstance(doc, dict):
        return raw
    for key in ((field,) if field else ()) + ("contents", "text"):
        if isinstance(doc.get(key), str):
            return doc[key]
    return raw


def index_texts(index_dir: str | Path, docids: Iterable[str] | None = None) -> dict[str, str]:
    """docid -> passage text (as in the corpus: no title, no expansion) from the stored raw docs.

    All documents, or only ``docids`` (e.g. those a run retrieved). Raises InputError when the
    index stores no raw documents (built without ``--storeRaw``) or lacks a requested docid.
    """
    index_dir = Path(index_dir)
    record = sparse_provenance(index_dir)
    field = record.get("raw_text_field")
    from xqg_pyserini.java import ensure_jvm

    ensure_jvm()
    from pyserini.search.lucene import LuceneSearcher

    searcher = LuceneSearcher(str(index_dir))
    try:
        texts: dict[str, str] = {}
        if docids is None:
            pairs = ((None, searcher.doc(i)) for i in range(searcher.num_docs))
        else:
            pairs = ((d, searcher.doc(str(d))) for d in dict.fromkeys(docids))
        for wanted, doc in pairs:
            if doc is None:
                raise InputError("docid not in the index", path=index_dir, docid=wanted)
            raw = doc.raw()
            if raw is None:
                raise InputError("the index stores no raw documents (it was built without --storeRaw), "
                                 "so passage texts cannot be read from it; give the corpus instead", path=index_dir)
            texts[doc.docid()] = _text_of(raw, field)
        return texts
    finally:
        searcher.close()
