"""R@kt, XOR-Retrieve's metric, with the semantics of the official ``eval_xor_retrieve.py``.

R@kt (R@2kt, R@5kt in the XOR-TyDi papers): for each query, NLTK-``word_tokenize`` its
retrieved passage texts in rank order, concatenate the tokens until at least ``k * 1000`` are
gathered, keep the first ``k * 1000`` and join them with single spaces. The query is a hit when
one of its answers is a substring of that string. Exactly as the official script:

* passage text only (no title); answers are neither normalized nor lowercased, the substring
  test is case-sensitive;
* answers equal to ``"yes"`` or ``"no"`` (exactly; ``"Yes"`` is a span answer) are dropped, and a
  query left with no answer is skipped, counted nowhere;
* per language: ``(hits / count) * 100`` over the counted queries; headline: ``statistics.mean``
  of the per-language scores (languages with no counted query are left out);
* a query of the run or prediction file without answers is skipped, and a query of the answers
  file that was never retrieved for is not counted at all (not as a miss). Both proceed with a
  :class:`RktWarning`, as the official script proceeds silently. A TREC run cannot say "searched,
  nothing found" (a BM25 query whose terms match no document is simply absent), so
  ``missing="miss"`` counts the answered queries absent from a TREC run as misses instead, as
  ir-measures counts them 0: the official script would have seen them with empty ``ctxs``.

Speed: a passage is tokenized once, on first need, and its tokens and their space-joined string
are kept, so a query costs string joins and substring tests. Only the last passage a query
reaches is cut token by token. :func:`_official_reference` is the unoptimized statement of the
official algorithm, kept to test the fast path against.
"""

from __future__ import annotations

import re
import statistics
import warnings
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterable, Mapping, Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.io.answers import Answer, Prediction, check_run_passages, corpus_texts
from xqg_pyserini.io.corpus import Passage
from xqg_pyserini.io.runs import Run

DEFAULT_KS = (2, 5)
YES_NO = ("yes", "no")

_RKT_NAME = re.compile(r"R@(\d+(?:\.\d*)?|\.\d+)kt", re.IGNORECASE)


class RktWarning(UserWarning):
    """Input the official script would also score, but whose number may not mean what you think."""


@dataclass
class RktResult:
    """One R@kt: per-query hits (0/1; skipped queries absent), per-language scores, macro average."""

    name: str  # "R@2kt"
    k: float
    max_tokens: int
    per_query: dict[str, int]
    per_lang: dict[str, float]  # lang -> (hits / count) * 100
    counts: dict[str, int]  # lang -> counted queries
    hits: dict[str, int]  # lang -> queries with a hit
    macro: float  # statistics.mean over per_lang
    skipped: int  # queries whose answers are all yes/no
    not_in_answers: int = 0  # run queries without an answers entry (ignored)
    not_in_run: int = 0  # answers queries the run has no ranking for (not counted)
    langs: dict[str, str] = field(default_factory=dict, repr=False)  # qid -> lang, for per_query

    def to_dict(self) -> dict:
        return {"name": self.name, "k": self.k, "max_tokens": self.max_tokens, "macro": self.macro,
                "per_lang": self.per_lang, "counts": self.counts, "hits": self.hits, "skipped": self.skipped,
                "not_in_answers": self.not_in_answers, "not_in_run": self.not_in_run, "per_query": self.per_query,
                "langs": self.langs}


def parse_rkt(name: str) -> float | None:
    """k for an R@kt name (``R@2kt`` -> 2.0, ``R@0.5kt`` -> 0.5); None for any other metric name."""
    match = _RKT_NAME.fullmatch(name.strip())
    if not match:
        return None
    k = float(match.group(1))
    max_tokens_for(k)  # a k that gives no whole, positive token count is an error, not another metric
    return k


def max_tokens_for(k: float) -> int:
    """``k * 1000`` as a whole number of tokens (the official script's ``topk * 1000``)."""
    tokens = k * 1000
    if not tokens >= 1 or abs(tokens - round(tokens)) > 1e-6:
        raise InputError(f"R@{k:g}kt: k * 1000 must be a whole number of tokens, at least 1")
    return int(round(tokens))


def rkt_name(k: float) -> str:
    return f"R@{k:g}kt"


def span_answers(answers: Iterable[str]) -> list[str]:
    """The answers the official script searches for: all but exact ``"yes"``/``"no"``."""
    return [answer for answer in answers if answer not in YES_NO]


@dataclass(frozen=True)
class _Tokens:
    tokens: list[str]
    joined: str  # " ".join(tokens)


class TokenCache:
    """``word_tokenize`` of each passage, computed on first need and kept (key -> tokens)."""

    def __init__(self, text_of: Callable[[Hashable], str]):
        self._text_of = text_of
        self._cache: dict[Hashable, _Tokens] = {}
        self._tokenize: Callable[[str], list[str]] | None = None  # set up on the first miss

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, key: Hashable) -> _Tokens:
        entry = self._cache.get(key)
        if entry is None:
            if self._tokenize is None:
                self._tokenize = _tokenizer()
            tokens = self._tokenize(self._text_of(key))
            entry = self._cache[key] = _Tokens(tokens, " ".join(tokens))
        return entry


def _tokenizer() -> Callable[[str], list[str]]:
    import nltk

    from xqg_pyserini.evaluate.nltk_data import ensure_punkt

    ensure_punkt()
    return nltk.word_tokenize


def first_tokens(ranked: Iterable[Hashable], cache: TokenCache, max_tokens: int) -> str:
    """The first ``max_tokens`` tokens of the ranked passages, joined by single spaces."""
    parts: list[str] = []
    gathered = 0
    for key in ranked:
        entry = cache.get(key)
        count = len(entry.tokens)
        if count == 0:
            continue  # adds no token; joining its "" would add a second space
        if gathered + count >= max_tokens:
            needed = max_tokens - gathered
            parts.append(entry.joined if needed == count else " ".join(entry.tokens[:needed]))
            break
        parts.append(entry.joined)
        gathered += count
    return " ".join(parts)


class RktEvaluator:
    """R@kt of runs over one corpus and one answers file; passages are tokenized once across runs."""

    def __init__(self, corpus: Mapping[str, str] | Iterable[Passage], answers: Mapping[str, Answer]):
        self.texts = corpus_texts(corpus)
        self.answers = answers
        self.cache = TokenCache(self.texts.__getitem__)

    def evaluate(self, run: Run, ks: Sequence[float] = DEFAULT_KS, missing: str = "skip") -> dict[str, RktResult]:
        """name -> result for each k; bad runs raise InputError (see the module doc for warnings).

        ``missing``: ``"skip"`` (official) or ``"miss"``: answered queries absent from the run.
        """
        if not run:
            raise InputError("run is empty")
        if missing not in ("skip", "miss"):
            raise ValueError(f"missing must be 'skip' or 'miss', not {missing!r}")
        check_run_passages(run, self.texts)
        queries = [(qid, self.answers[qid].lang, [docid for docid, _ in ranked])
                   for qid, ranked in run.items() if qid in self.answers]
        if missing == "miss":
            absent = [qid for qid in self.answers if qid not in run]
            queries += [(qid, self.answers[qid].lang, []) for qid in absent]
            run = {**run, **dict.fromkeys(absent, [])}
        _warn_mismatch(run, self.answers, len(queries), "run")
        return {rkt_name(k): _score(queries, self.answers, self.cache, k, len(run) - len(queries))
                for k in ks}


def evaluate_rkt(run: Run, corpus: Mapping[str, str] | Iterable[Passage], answers: Mapping[str, Answer],
                 ks: Sequence[float] = DEFAULT_KS) -> dict[str, RktResult]:
    """R@kt of one run: ``{"R@2kt": RktResult, "R@5kt": RktResult}`` by default."""
    return RktEvaluator(corpus, answers).evaluate(run, ks)


def evaluate_rkt_predictions(predictions: Sequence[Prediction], answers: Mapping[str, Answer],
                             ks: Sequence[float] = DEFAULT_KS, cache: TokenCache | None = None
                             ) -> dict[str, RktResult]:
    """R@kt of an official prediction file; languages come from the predictions, as officially."""
    if not predictions:
        raise InputError("prediction file is empty")
    if cache is None:
        cache = TokenCache(lambda text: text)
    queries = [(p.qid, p.lang, p.ctxs) for p in predictions if p.qid in answers]
    _warn_mismatch({p.qid: p for p in predictions}, answers, len(queries), "prediction file")
    return {rkt_name(k): _score(queries, answers, cache, k, len(predictions) - len(queries)) for k in ks}


def _warn_mismatch(ranked: Mapping[str, object], answers: Mapping[str, Answer], known: int, what: str) -> None:
    if known < len(ranked):
        first = next(qid for qid in ranked if qid not in answers)
        warnings.warn(f"{len(ranked) - known} of {len(ranked)} queries of the {what} have no answers entry and "
                      f"are ignored, as the official script does (first: {first!r})", RktWarning, stacklevel=3)
    if known < len(answers):
        first = next(qid for qid in answers if qid not in ranked)
        warnings.warn(f"{len(answers) - known} of {len(answers)} answered queries are absent from the {what}; "
                      f"like the official script, R@kt leaves them out of the count instead of scoring them 0 "
                      f"(first: {first!r})", RktWarning, stacklevel=3)


def _score(queries: Sequence[tuple[str, str, Sequence[Hashable]]], answers: Mapping[str, Answer],
           cache: TokenCache, k: float, not_in_answers: int) -> RktResult:
    max_tokens = max_tokens_for(k)
    per_query: dict[str, int] = {}
    langs: dict[str, str] = {}
    counts: dict[str, int] = {}
    hits: dict[str, int] = {}
    skipped = 0
    for qid, lang, ranked in queries:
        targets = span_answers(answers[qid].answers)
        if not targets:
            skipped += 1
            continue
        text = first_tokens(ranked, cache, max_tokens)
        hit = int(any(answer in text for answer in targets))
        per_query[qid] = hit
        langs[qid] = lang
        counts[lang] = counts.get(lang, 0) + 1
        hits[lang] = hits.get(lang, 0) + hit
    retrieved = {qid for qid, _, _ in queries}
    return _result(k, max_tokens, per_query, langs, counts, hits, skipped, not_in_answers,
                   not_in_run=sum(qid not in retrieved for qid in answers))


def _result(k, max_tokens, per_query, langs, counts, hits, skipped, not_in_answers, not_in_run) -> RktResult:
    if not counts:
        raise InputError("no query to score: every retrieved query lacks answers or has only yes/no answers")
    per_lang = {lang: (hits[lang] / counts[lang]) * 100 for lang in counts}  # the official order of operations
    return RktResult(name=rkt_name(k), k=k, max_tokens=max_tokens, per_query=per_query, per_lang=per_lang,
                     counts=counts, hits=hits, macro=statistics.mean(per_lang.values()), skipped=skipped,
                     not_in_answers=not_in_answers, not_in_run=not_in_run, langs=langs)


def _official_reference(predictions: Sequence[Prediction], answers: Mapping[str, Answer], k: float) -> RktResult:
    """The official ``eval_xor_retrieve.py`` algorithm, unoptimized, for tests and the benchmark.

    A restatement of ``evaluate_top_k_hit`` and the averaging in its ``main`` (ielab/xQG4xDR
    ``eval_xor_retrieve.py``): every passage is tokenized again for every query and every k.
    """
    import nltk

    from xqg_pyserini.evaluate.nltk_data import ensure_punkt

    ensure_punkt()
    max_tokens = max_tokens_for(k)
    per_query, langs, counts, hits = {}, {}, {}, {}
    skipped = not_in_answers = 0
    for prediction in predictions:
        if prediction.qid not in answers:
            not_in_answers += 1
            continue
        targets = [answer for answer in answers[prediction.qid].answers if answer not in ["yes", "no"]]
        if not targets:
            skipped += 1
            continue
        counts[prediction.lang] = counts.get(prediction.lang, 0) + 1
        tokens: list[str] = []
        for text in prediction.ctxs:
            tokens += nltk.word_tokenize(text)
            if len(tokens) >= max_tokens:
                break
        joined = " ".join(tokens[:max_tokens])
        hit = any(answer in joined for answer in targets)
        per_query[prediction.qid] = int(hit)
        langs[prediction.qid] = prediction.lang
        hits[prediction.lang] = hits.get(prediction.lang, 0) + int(hit)
    retrieved = {prediction.qid for prediction in predictions}
    return _result(k, max_tokens, per_query, langs, counts, hits, skipped, not_in_answers,
                   not_in_run=sum(qid not in retrieved for qid in answers))
