"""Benchmark: fast R@kt (xqg_pyserini.evaluate.rkt) against the official algorithm run naively.

Inputs are built from XQuAD (``$XQG_DATA_DIR/xquad``, default ``../shared/data`` beside the
checkout), not run in CI:

* corpus: the 240 English paragraphs of ``xquad.en.json`` cut into overlapping windows of
  ``--window`` whitespace words every ``--stride`` words (defaults 50 and 5: about 3,700
  passages of ~60 NLTK tokens, so 100 hits reach past 5,000 tokens as XOR-TyDi's 100-word
  passages do);
* queries: every (question id, language) pair over the 11 XQuAD languages, qid ``<id>-<lang>``;
  answers are the English answers of that id from ``xquad.en.json`` (the corpus is English, as
  in XOR-Retrieve); ``--queries`` of them are drawn with ``--seed``;
* run: ``--hits`` passages per query ranked by BM25 (k1=0.9, b=0.4) of the English question plus
  seeded Gaussian noise with a standard deviation drawn per language from [4, 16] (a stand-in
  for a cross-lingual retriever that is better in some languages than others; it puts R@2kt
  between roughly 40 and 80 per language).

Both sides score R@2kt and R@5kt from the same run. The naive side is ``_official_reference``:
prediction texts built from the run, every passage tokenized again for every query and k, as
``eval_xor_retrieve.py`` does. NLTK's Punkt model is loaded before either clock starts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from collections import Counter
from pathlib import Path

from xqg_pyserini.evaluate.rkt import _official_reference, evaluate_rkt
from xqg_pyserini.io.answers import Answer, build_predictions

LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
KS = (2, 5)


def load_xquad(data_dir: Path) -> tuple[list[str], dict[str, str], dict[str, list[str]], set[str]]:
    """English paragraphs, question id -> English question, id -> English answers, ids in all languages."""
    english = json.loads((data_dir / "xquad" / "xquad.en.json").read_text("utf-8"))
    paragraphs, questions, answers = [], {}, {}
    for article in english["data"]:
        for paragraph in article["paragraphs"]:
            paragraphs.append(paragraph["context"])
            for qa in paragraph["qas"]:
                questions[qa["id"]] = qa["question"]
                answers[qa["id"]] = [answer["text"] for answer in qa["answers"]]
    shared = set(questions)
    for lang in LANGS:
        data = json.loads((data_dir / "xquad" / f"xquad.{lang}.json").read_text("utf-8"))
        shared &= {qa["id"] for article in data["data"] for paragraph in article["paragraphs"]
                   for qa in paragraph["qas"]}
    return paragraphs, questions, answers, shared


def windows(paragraphs: list[str], size: int, stride: int) -> dict[str, str]:
    corpus = {}
    for p, paragraph in enumerate(paragraphs):
        words = paragraph.split()
        starts = range(0, max(len(words) - size, 0) + 1, stride)
        for w, start in enumerate(starts):
            corpus[f"p{p}-w{w}"] = " ".join(words[start:start + size])
    return corpus


class BM25:
    def __init__(self, corpus: dict[str, str], k1: float = 0.9, b: float = 0.4):
        self.docids = list(corpus)
        self.terms = [Counter(self._words(text)) for text in corpus.values()]
        self.lengths = [sum(terms.values()) for terms in self.terms]
        average = sum(self.lengths) / len(self.lengths)
        self.norm = [k1 * (1 - b + b * length / average) for length in self.lengths]
        self.k1 = k1
        frequency = Counter(term for terms in self.terms for term in terms)
        n = len(self.docids)
        self.idf = {term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}
        self.postings: dict[str, list[int]] = {}
        for index, terms in enumerate(self.terms):
            for term in terms:
                self.postings.setdefault(term, []).append(index)

    @staticmethod
    def _words(text: str) -> list[str]:
        return "".join(c.lower() if c.isalnum() else " " for c in text).split()

    def scores(self, query: str) -> list[float]:
        scores = [0.0] * len(self.docids)
        for term in set(self._words(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for index in self.postings[term]:
                tf = self.terms[index][term]
                scores[index] += idf * tf * (self.k1 + 1) / (tf + self.norm[index])
        return scores


def make_inputs(data_dir: Path, queries: int, hits: int, seed: int, window: int, stride: int):
    paragraphs, questions, english_answers, shared = load_xquad(data_dir)
    corpus = windows(paragraphs, window, stride)
    rng = random.Random(seed)
    pairs = [(qid, lang) for qid in sorted(shared) for lang in LANGS]
    chosen = rng.sample(pairs, min(queries, len(pairs)))
    noise = {lang: rng.uniform(4.0, 16.0) for lang in LANGS}
    bm25 = BM25(corpus)
    run, answers = {}, {}
    for qid, lang in chosen:
        scored = [(score + rng.gauss(0, noise[lang]), docid)
                  for score, docid in zip(bm25.scores(questions[qid]), bm25.docids)]
        scored.sort(key=lambda pair: -pair[0])
        run[f"{qid}-{lang}"] = [(docid, score) for score, docid in scored[:hits]]
        answers[f"{qid}-{lang}"] = Answer(lang=lang, answers=tuple(english_answers[qid]))
    return corpus, run, answers


def main(argv: list[str] | None = None) -> None:
    default_data = Path(os.environ.get("XQG_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--hits", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--stride", type=int, default=5)
    args = parser.parse_args(argv)

    corpus, run, answers = make_inputs(args.data_dir, args.queries, args.hits, args.seed, args.window, args.stride)
    print(f"corpus: {len(corpus)} passages; run: {len(run)} queries x {args.hits} hits; "
          f"languages: {len({a.lang for a in answers.values()})}")

    from xqg_pyserini.evaluate.nltk_data import word_tokenize

    word_tokenize("Warm up. Loads the Punkt model.")

    start = time.perf_counter()
    fast = evaluate_rkt(run, corpus, answers, ks=KS)
    fast_s = time.perf_counter() - start

    start = time.perf_counter()
    predictions = build_predictions(run, corpus, answers)
    naive = {result.name: result for result in (_official_reference(predictions, answers, k) for k in KS)}
    naive_s = time.perf_counter() - start

    for name in fast:
        print(f"{name}: fast macro={fast[name].macro!r} naive macro={naive[name].macro!r} "
              f"counted={sum(fast[name].counts.values())}")
        scores = sorted(fast[name].per_lang.items())
        print("  per language: " + " ".join(f"{lang}={score:.2f}" for lang, score in scores))
    print(f"time: fast={fast_s:.2f}s naive={naive_s:.2f}s")
    identical = fast == naive
    print(f"rkt: speedup={naive_s / fast_s:.1f} identical={str(identical).lower()}")


if __name__ == "__main__":
    main()
