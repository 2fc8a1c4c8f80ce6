#!/usr/bin/env python3
"""Validate the embedded demo collection in ``xqg_pyserini/data/demo/``.

Standalone (standard library only). Run from the repository root::

    python tools/check_demo_data.py [--data-dir PATH] [--threshold 0.6]

Checks:

* every file is UTF-8 with LF line endings and parses (JSONL / TSV / TREC qrels);
* ids are unique and well formed (``demo-NNN``; ``{lang}-{NNN}-{1|2}``);
* 48 passages, each 60-120 words, with a non-empty title;
* every passage has exactly 2 test questions per language and exactly
  3 generated queries per language (languages: ar de es fr ja zh);
* qrels match topics one-to-one and point at the passage named in the qid;
* no generated query equals a test question after normalisation
  (lowercase, punctuation/symbols and whitespace removed);
* the character-trigram Jaccard similarity between each generated query and
  each test question of the same passage and language is reported; pairs
  above the threshold are failures.

Exits with status 1 if any check fails, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

LANGS = ("ar", "de", "es", "fr", "ja", "zh")
N_PASSAGES = 48
QUESTIONS_PER_LANG = 2
GENERATED_PER_LANG = 3
MIN_WORDS, MAX_WORDS = 60, 120

DOCID_RE = re.compile(r"^demo-(\d{3})$")
QID_RE = re.compile(r"^(ar|de|es|fr|ja|zh)-(\d{3})-([12])$")

# Rough script checks so that a question filed under a language is written in it.
SCRIPT_RES = {
    "ar": re.compile(r"[\u0600-\u06FF]"),
    "ja": re.compile(r"[\u3040-\u30FF]"),  # hiragana / katakana
    "zh": re.compile(r"[\u4E00-\u9FFF]"),
}
KANA_RE = re.compile(r"[\u3040-\u30FF]")
# Generated queries may be keyword style, so Japanese ones may be all kanji.
GEN_SCRIPT_RES = dict(SCRIPT_RES, ja=re.compile(r"[\u3040-\u30FF\u4E00-\u9FFF]"))
LATIN_LANGS = ("de", "es", "fr")
LATIN_RE = re.compile(r"[A-Za-z]")


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and symbols, remove all whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(
        ch
        for ch in text
        if not ch.isspace() and unicodedata.category(ch)[0] not in ("P", "S")
    )


def trigrams(text: str) -> set[str]:
    """Character trigrams of the text, lowercased, punctuation removed,
    whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch)[0] not in ("P", "S")
    )
    text = " ".join(text.split())
    if len(text) < 3:
        return {text} if text else set()
    return {text[i : i + 3] for i in range(len(text) - 2)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


class Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, msg: str) -> None:
        self.errors.append(msg)

    def read_lines(self, path: Path) -> list[str] | None:
        if not path.is_file():
            self.error(f"missing file: {path}")
            return None
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.error(f"{path.name}: not valid UTF-8 ({exc})")
            return None
        if text.startswith("\ufeff"):
            self.error(f"{path.name}: starts with a byte-order mark")
        if "\r" in text:
            self.error(f"{path.name}: contains CR characters (use LF line endings)")
        if text and not text.endswith("\n"):
            self.error(f"{path.name}: last line is not terminated by a newline")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for i, line in enumerate(lines, 1):
            if not line.strip():
                self.error(f"{path.name}:{i}: blank line")
        return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=repo_root() / "xqg_pyserini" / "data" / "demo",
    )
    parser.add_argument("--threshold", type=float, default=0.6,
                        help="max allowed trigram Jaccard (default: 0.6)")
    parser.add_argument("--top", type=int, default=5,
                        help="show the N most similar generated/test pairs")
    args = parser.parse_args(argv)
    d: Path = args.data_dir
    c = Checker()

    # ---------------------------------------------------------------- corpus
    corpus: dict[str, dict] = {}
    word_counts: list[int] = []
    lines = c.read_lines(d / "corpus.jsonl") or []
    for i, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            c.error(f"corpus.jsonl:{i}: invalid JSON ({exc})")
            continue
        if not isinstance(obj, dict) or set(obj) != {"id", "title", "contents"}:
            c.error(f"corpus.jsonl:{i}: expected keys id, title, contents")
            continue
        docid = obj["id"]
        if not isinstance(docid, str) or not DOCID_RE.match(docid):
            c.error(f"corpus.jsonl:{i}: bad id {docid!r}")
            continue
        if docid in corpus:
            c.error(f"corpus.jsonl:{i}: duplicate id {docid}")
            continue
        if not isinstance(obj["title"], str) or not obj["title"].strip():
            c.error(f"{docid}: empty title")
        contents = obj["contents"]
        if not isinstance(contents, str):
            c.error(f"{docid}: contents is not a string")
            continue
        n_words = len(contents.split())
        word_counts.append(n_words)
        if not MIN_WORDS <= n_words <= MAX_WORDS:
            c.error(f"{docid}: {n_words} words (expected {MIN_WORDS}-{MAX_WORDS})")
        corpus[docid] = obj
    if len(corpus) != N_PASSAGES:
        c.error(f"corpus: {len(corpus)} passages (expected {N_PASSAGES})")
    expected_ids = [f"demo-{n:03d}" for n in range(1, N_PASSAGES + 1)]
    if sorted(corpus) != expected_ids:
        missing = sorted(set(expected_ids) - set(corpus))
        extra = sorted(set(corpus) - set(expected_ids))
        c.error(f"corpus ids not demo-001..demo-{N_PASSAGES:03d}; "
                f"missing={missing[:5]} extra={extra[:5]}")
    dup_titles = [t for t, k in Counter(o["title"] for o in corpus.values()).items() if k > 1]
    if dup_titles:
        c.error(f"corpus: duplicate titles {dup_titles}")

    # ---------------------------------------------------------------- topics
    topics: dict[str, str] = {}
    questions: dict[tuple[str, str], list[str]] = defaultdict(list)  # (docid, lang)
    lines = c.read_lines(d / "topics.tsv") or []
    for i, line in enumerate(lines, 1):
        parts = line.split("\t")
        if len(parts) != 2:
            c.error(f"topics.tsv:{i}: expected 2 tab-separated fields, got {len(parts)}")
            continue
        qid, query = parts
        m = QID_RE.match(qid)
        if not m:
            c.error(f"topics.tsv:{i}: bad qid {qid!r}")
            continue
        if qid in topics:
            c.error(f"topics.tsv:{i}: duplicate qid {qid}")
            continue
        if not query.strip() or query != query.strip():
            c.error(f"{qid}: empty query or surrounding whitespace")
        lang, num, _ = m.groups()
        docid = f"demo-{num}"
        if docid not in corpus:
            c.error(f"{qid}: passage {docid} not in corpus")
        topics[qid] = query
        questions[(docid, lang)].append(query)
        script = SCRIPT_RES.get(lang)
        if script and not script.search(query):
            c.error(f"{qid}: does not look like {lang} text: {query!r}")
        if lang == "zh" and KANA_RE.search(query):
            c.error(f"{qid}: Chinese question contains kana: {query!r}")
        if lang in LATIN_LANGS and not LATIN_RE.search(query):
            c.error(f"{qid}: does not look like {lang} text: {query!r}")
    for docid in corpus:
        for lang in LANGS:
            n = len(questions.get((docid, lang), []))
            if n != QUESTIONS_PER_LANG:
                c.error(f"{docid}/{lang}: {n} test questions (expected {QUESTIONS_PER_LANG})")
            qs = questions.get((docid, lang), [])
            if len({normalize(q) for q in qs}) != len(qs):
                c.error(f"{docid}/{lang}: duplicate test questions")
    dup_q = [q for q, k in Counter(normalize(q) for q in topics.values()).items() if k > 1]
    if dup_q:
        c.error(f"topics: {len(dup_q)} questions duplicated across passages")

    # ----------------------------------------------------------------- qrels
    qrels: dict[str, str] = {}
    lines = c.read_lines(d / "qrels.txt") or []
    for i, line in enumerate(lines, 1):
        parts = line.split()
        if len(parts) != 4:
            c.error(f"qrels.txt:{i}: expected 4 fields, got {len(parts)}")
            continue
        qid, zero, docid, rel = parts
        if zero != "0" or rel != "1":
            c.error(f"qrels.txt:{i}: expected 'qid 0 docid 1'")
        if qid in qrels:
            c.error(f"qrels.txt:{i}: duplicate qid {qid}")
            continue
        qrels[qid] = docid
        if qid not in topics:
            c.error(f"qrels.txt:{i}: qid {qid} not in topics")
        if docid not in corpus:
            c.error(f"qrels.txt:{i}: docid {docid} not in corpus")
        m = QID_RE.match(qid)
        if m and docid != f"demo-{m.group(2)}":
            c.error(f"qrels.txt:{i}: {qid} judged against {docid}")
    for qid in topics:
        if qid not in qrels:
            c.error(f"topics qid {qid} has no qrel")

    # ------------------------------------------------------------- generated
    generated: dict[str, dict[str, list[str]]] = {}
    lines = c.read_lines(d / "generated.jsonl") or []
    for i, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            c.error(f"generated.jsonl:{i}: invalid JSON ({exc})")
            continue
        if not isinstance(obj, dict) or set(obj) != {"docid", "generated_queries"}:
            c.error(f"generated.jsonl:{i}: expected keys docid, generated_queries")
            continue
        docid = obj["docid"]
        gq = obj["generated_queries"]
        if docid in generated:
            c.error(f"generated.jsonl:{i}: duplicate docid {docid}")
            continue
        if docid not in corpus:
            c.error(f"generated.jsonl:{i}: docid {docid} not in corpus")
        if not isinstance(gq, dict) or set(gq) != set(LANGS):
            c.error(f"{docid}: generated_queries must have exactly the keys {LANGS}")
            continue
        for lang in LANGS:
            qs = gq[lang]
            if not isinstance(qs, list) or len(qs) != GENERATED_PER_LANG:
                c.error(f"{docid}/{lang}: expected {GENERATED_PER_LANG} generated queries")
                continue
            for q in qs:
                if not isinstance(q, str) or not q.strip() or q != q.strip():
                    c.error(f"{docid}/{lang}: empty or untrimmed generated query {q!r}")
                    continue
                script = GEN_SCRIPT_RES.get(lang)
                if script and not script.search(q):
                    c.error(f"{docid}/{lang}: generated query not in {lang}: {q!r}")
                if lang == "zh" and KANA_RE.search(q):
                    c.error(f"{docid}/{lang}: Chinese generated query contains kana: {q!r}")
                if lang in LATIN_LANGS and not LATIN_RE.search(q):
                    c.error(f"{docid}/{lang}: generated query not in {lang}: {q!r}")
            if len({normalize(q) for q in qs if isinstance(q, str)}) != len(qs):
                c.error(f"{docid}/{lang}: duplicate generated queries")
        generated[docid] = gq
    for docid in corpus:
        if docid not in generated:
            c.error(f"{docid}: no generated queries")

    # ---------------------------------------------- leakage / similarity check
    max_sim = 0.0
    max_pair: tuple[str, str, str, str] | None = None
    all_pairs: list[tuple[float, str, str, str, str]] = []
    flagged: list[tuple[float, str, str, str, str]] = []
    n_pairs = 0
    for docid, gq in sorted(generated.items()):
        if not isinstance(gq, dict):
            continue
        for lang in LANGS:
            tqs = questions.get((docid, lang), [])
            for g in gq.get(lang, []) if isinstance(gq.get(lang), list) else []:
                if not isinstance(g, str):
                    continue
                gn, gt = normalize(g), trigrams(g)
                for t in tqs:
                    n_pairs += 1
                    if gn == normalize(t):
                        c.error(f"{docid}/{lang}: generated query equals test question: {g!r}")
                    sim = jaccard(gt, trigrams(t))
                    all_pairs.append((sim, docid, lang, g, t))
                    if sim > max_sim:
                        max_sim, max_pair = sim, (docid, lang, g, t)
                    if sim > args.threshold:
                        flagged.append((sim, docid, lang, g, t))
    for sim, docid, lang, g, t in sorted(flagged, reverse=True):
        c.error(f"{docid}/{lang}: trigram Jaccard {sim:.3f} > {args.threshold}: "
                f"generated {g!r} vs test {t!r}")

    # ----------------------------------------------------------------- report
    n_gen = sum(len(v) for gq in generated.values() if isinstance(gq, dict)
                for v in gq.values() if isinstance(v, list))
    per_lang = Counter(QID_RE.match(q).group(1) for q in topics)
    print(f"data dir:           {d}")
    print(f"passages:           {len(corpus)}")
    if word_counts:
        print(f"words per passage:  min {min(word_counts)}, max {max(word_counts)}, "
              f"mean {sum(word_counts) / len(word_counts):.1f}")
    print(f"test questions:     {len(topics)} "
          f"({', '.join(f'{l}={per_lang.get(l, 0)}' for l in LANGS)})")
    print(f"qrels:              {len(qrels)}")
    print(f"generated queries:  {n_gen} in {len(generated)} records")
    print(f"gen/test pairs compared (same passage, same language): {n_pairs}")
    if max_pair:
        docid, lang, g, t = max_pair
        print(f"max char-trigram Jaccard: {max_sim:.3f} ({docid}/{lang})")
        print(f"  generated: {g}")
        print(f"  test:      {t}")
    print(f"pairs above {args.threshold}: {len(flagged)}")
    if args.top > 0 and all_pairs:
        print(f"top {min(args.top, len(all_pairs))} most similar pairs:")
        for sim, docid, lang, g, t in sorted(all_pairs, reverse=True)[: args.top]:
            print(f"  {sim:.3f} {docid}/{lang}: {g!r} | {t!r}")
    if c.errors:
        print(f"\nFAILED with {len(c.errors)} error(s):")
        for e in c.errors:
            print(f"  - {e}")
        return 1
    print("\nOK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
