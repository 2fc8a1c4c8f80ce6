"""Passage translation (the "PG" arm): English passages into target languages with HF MT models.

Three model families, told apart by ``config.model_type`` and the tokenizer:

- **Marian** (OPUS-MT, ``model_type == "marian"``): one model per language pair. ``model`` may be
  a template such as ``Helsinki-NLP/opus-mt-en-{lang}`` (or a local ``/models/opus-mt-en-{lang}``);
  each language then loads its own model on first use. Multilingual-target Marian models (and
  some pair models such as ``opus-mt-en-ar``) pick the target with a ``>>xxx<<`` prefix token;
  the token is chosen from those in the vocabulary (``>>ara<<``, ``>>cmn_Hans<<``, ...).
- **M2M100** (``model_type == "m2m_100"`` with an ``M2M100Tokenizer``): ISO codes,
  ``tokenizer.src_lang = "en"``, ``forced_bos_token_id = tokenizer.get_lang_id(lang)``.
- **NLLB** (``model_type`` ``m2m_100`` or ``nllb-moe`` with an NLLB tokenizer, recognized by its
  FLORES-200 vocabulary): ``tokenizer.src_lang = "eng_Latn"``,
  ``forced_bos_token_id`` = the id of the FLORES code (``arb_Arab``, ``jpn_Jpan``, ``zho_Hans``).

What a translated passage is: the title (if any, ``include_title``) and the text are
translated separately and joined with a space, mirroring the ``"{title} {contents}"`` passage
template. With ``segment="sentence"`` (default) the text is split into sentences (NLTK Punkt,
offline) and each is translated on its own: MT models are trained on sentences and drop or
hallucinate content on long inputs. ``segment="passage"`` translates the text in one piece.
Either way a segment longer than ``max_length`` tokens is truncated there.

Beam search (the default) is deterministic, so a request gets one translation whatever its
``n``; the runner counts what it gets. With ``do_sample=True`` a request gets ``n``
translations, sampled with ``request.seed`` (one request at a time, so a request's outputs do
not depend on which batch it landed in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from xqg_pyserini.encode.base import DTYPES
from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import BATCH_SIZE, DEVICE, DTYPE, LANGUAGES, Request
from xqg_pyserini.generate.mt_codes import FLORES, MARIAN_CODES
from xqg_pyserini.options import Option

SEGMENTS = ("sentence", "passage")

# config.model_type -> the transformers class with the generation (LM) head.
GENERATION_HEADS = {"marian": "MarianMTModel", "m2m_100": "M2M100ForConditionalGeneration",
                    "nllb-moe": "NllbMoeForConditionalGeneration"}

# Languages written without spaces between sentences.
NO_SPACE_LANGS = {"ja", "zh"}

_MARIAN_PAIR_NAME = re.compile(r"opus-mt-[A-Za-z_]+-([A-Za-z_]+)/*$")


@dataclass
class _Loaded:
    """One loaded checkpoint (shared by every language it serves)."""

    name: str
    family: str
    tokenizer: Any
    model: Any


@dataclass
class _Target:
    """How to translate into one language: which model, and how to ask it for that language."""

    lang: str
    loaded: _Loaded
    prefix: str = ""  # multilingual Marian: ">>xxx<< "
    forced_bos_token_id: int | None = None  # M2M100 / NLLB
    code: str | None = None  # the model's own name for the language


class HFTranslator:
    """Translate passages with a Marian, M2M100 or NLLB model (see the module docstring)."""

    output = "passages"
    summary = "passage translation with Marian, M2M100 or NLLB"
    needs_language_names = True  # each code picks a model or a target-language token

    @classmethod
    def options(cls) -> list[Option]:
        return [
            Option("--model", required="hf-mt needs --model (a Marian, M2M100 or NLLB checkpoint)",
                   help="HF id or local dir, or a template with {lang} (one model per language)"),
            DEVICE, DTYPE,
            Option("--max-length", type=int, help="input tokens kept per segment (default 512)"),
            Option("--top-p", type=float, help="default 1.0 (with --sample)"),
            Option("--temperature", type=float, help="default 1.0 (with --sample)"),
            Option("--sample", action="store_true", keyword="do_sample",
                   help="sample translations instead of beam search"),
            Option("--num-beams", type=int, help="default 4"),
            Option("--segment", choices=SEGMENTS, help="translate sentence by sentence (default) or the whole passage"),
            Option("--source-lang", help="corpus language (default en)"),
            Option("--model-lang-codes", help="override the model's codes, e.g. 'ar=arb_Arab,ja=jpn_Jpan'"),
            BATCH_SIZE,
        ]

    def __init__(self, model: str, device: str = "cpu", dtype: str = "float32", max_length: int = 512,
                 batch_size: int = 16, num_beams: int = 4, max_new_tokens: int | None = None,
                 do_sample: bool = False, temperature: float = 1.0, top_p: float = 1.0,
                 segment: str = "sentence", include_title: bool = True, source_lang: str = "en",
                 model_lang_codes: str | dict[str, str] | None = None):
        if dtype not in DTYPES:
            raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
        if dtype == "float16" and not str(device).startswith("cuda"):
            raise InputError("float16 needs a CUDA device (--device cuda)")
        if segment not in SEGMENTS:
            raise InputError(f"--segment must be one of {', '.join(SEGMENTS)}, not {segment!r}")
        if source_lang not in FLORES:
            raise InputError(f"--source-lang: unknown source language {source_lang!r}; "
                             f"known: {', '.join(sorted(FLORES))}")
        for flag, value in (("--max-length", max_length), ("--batch-size", batch_size), ("--num-beams", num_beams)):
            if int(value) < 1:
                raise InputError(f"{flag} must be at least 1, not {value}")
        self.model_name = model
        self.device = device
        self.dtype = dtype
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.num_beams = int(num_beams)
        self.max_new_tokens = int(max_new_tokens) if max_new_tokens else None
        self.do_sample = bool(do_sample)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.segment = segment
        self.include_title = bool(include_title)
        self.source_lang = source_lang
        self.model_lang_codes = _parse_codes(model_lang_codes)
        self.is_template = "{lang}" in model
        self._loaded: dict[str, _Loaded] = {}
        self._targets: dict[str, _Target] = {}
        if not self.is_template:
            try:
                self._load(model)  # fail fast on a model that cannot translate
            except OSError as err:
                raise InputError(f"cannot load model {model}: {err}") from None

    def config(self) -> dict[str, Any]:
        return {
            "generator": "hf-mt", "model": self.model_name, "dtype": self.dtype,
            "max_length": self.max_length, "max_new_tokens": self.max_new_tokens or "2*source+16",
            "num_beams": 1 if self.do_sample else self.num_beams, "do_sample": self.do_sample,
            "temperature": self.temperature if self.do_sample else None,
            "top_p": self.top_p if self.do_sample else None,
            "segment": self.segment, "include_title": self.include_title, "source_lang": self.source_lang,
            "model_lang_codes": self.model_lang_codes or None,
        }

    @property
    def languages(self) -> list[str] | None:
        """The ISO codes this model can produce; None for a {lang} template (each model is only
        known once loaded, and a language whose model is missing fails on first use)."""
        if self.is_template:
            return None
        supported = []
        for lang in sorted(LANGUAGES):
            try:
                self._target(lang)
            except InputError:
                continue
            supported.append(lang)
        return supported

    def check_langs(self, langs: Sequence[str]) -> list[str]:
        """Load what each language needs; raises for one the model(s) cannot produce."""
        for lang in langs:
            self._target(lang)
        return list(langs)

    def generate(self, requests: Sequence[Request]) -> list[list[str]]:
        self.check_langs(sorted({request.lang for request in requests}))
        outputs: list[list[str]] = [[] for _ in requests]
        by_lang: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            by_lang.setdefault(request.lang, []).append(i)
        for lang, rows in by_lang.items():
            target = self._target(lang)
            if self.do_sample:
                for i in rows:
                    outputs[i] = self._sample(target, requests[i])
            else:
                for i, passage in zip(rows, self._translate_requests(target, [requests[i] for i in rows])):
                    outputs[i] = [passage] if passage else []
        return outputs

    # -- loading -----------------------------------------------------------------------------

    def _load(self, name: str) -> _Loaded:
        if name in self._loaded:
            return self._loaded[name]
        import torch
        from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

        config = AutoConfig.from_pretrained(name)
        model_type = getattr(config, "model_type", None)
        if model_type not in GENERATION_HEADS:
            raise InputError(f"{name} is a {model_type!r} model, not a translation model hf-mt supports: "
                             "Marian (opus-mt), M2M100 or NLLB")
        architectures = list(getattr(config, "architectures", None) or [])
        if architectures and GENERATION_HEADS[model_type] not in architectures:
            raise InputError(f"{name} has no generation head (architectures: {', '.join(architectures)}); "
                             f"hf-mt needs a {GENERATION_HEADS[model_type]} checkpoint")
        tokenizer = AutoTokenizer.from_pretrained(name)
        family = _family(name, model_type, tokenizer)
        if family == "m2m100":
            tokenizer.src_lang = self.source_lang
        elif family == "nllb":
            tokenizer.src_lang = FLORES[self.source_lang]
        model = AutoModelForSeq2SeqLM.from_pretrained(name, dtype=getattr(torch, self.dtype))
        loaded = _Loaded(name, family, tokenizer, model.to(self.device).eval())
        self._loaded[name] = loaded
        return loaded

    def _model_for(self, lang: str) -> str:
        if not self.is_template:
            return self.model_name
        return self.model_name.replace("{lang}", self.model_lang_codes.get(lang, lang))

    def _target(self, lang: str) -> _Target:
        if lang in self._targets:
            return self._targets[lang]
        if lang not in LANGUAGES:
            raise InputError(f"unknown language code {lang!r}; known: {', '.join(sorted(LANGUAGES))}")
        name = self._model_for(lang)
        try:
            loaded = self._load(name)
        except OSError as error:
            if not self.is_template:
                raise
            raise InputError(f"no translation model for {lang!r}: template {self.model_name!r} gives {name!r}, "
                             f"which cannot be loaded ({error})") from error
        tokenizer = loaded.tokenizer
        if loaded.family == "nllb":
            supported = {iso: code for iso, code in FLORES.items() if _token_id(tokenizer, code) is not None}
            if lang not in supported:
                raise InputError(f"{name} (NLLB) cannot translate into {lang!r} ({FLORES[lang]}); "
                                 f"supported: {', '.join(sorted(supported))}")
            target = _Target(lang, loaded, forced_bos_token_id=_token_id(tokenizer, FLORES[lang]), code=FLORES[lang])
        elif loaded.family == "m2m100":
            supported = sorted(getattr(tokenizer, "lang_code_to_id", {}))
            if lang not in supported:
                raise InputError(f"{name} (M2M100) cannot translate into {lang!r}; supported: {', '.join(supported)}")
            target = _Target(lang, loaded, forced_bos_token_id=tokenizer.get_lang_id(lang), code=lang)
        else:
            target = self._marian_target(lang, loaded)
        self._targets[lang] = target
        return target

    def _marian_target(self, lang: str, loaded: _Loaded) -> _Target:
        tokenizer = loaded.tokenizer
        codes = list(getattr(tokenizer, "supported_language_codes", None) or
                     [t for t in tokenizer.get_vocab() if t.startswith(">>") and t.endswith("<<")])
        if codes:
            for candidate in [lang, self.model_lang_codes.get(lang), *MARIAN_CODES.get(lang, [])]:
                if candidate and f">>{candidate}<<" in codes:
                    return _Target(lang, loaded, prefix=f">>{candidate}<< ", code=candidate)
            raise InputError(f"{loaded.name} (multilingual Marian) has no target token for {lang!r} "
                             f"(tried {', '.join(f'>>{c}<<' for c in [lang, *MARIAN_CODES.get(lang, [])])}); "
                             f"its target tokens: {', '.join(sorted(codes))}")
        if self.is_template:
            return _Target(lang, loaded, code=self.model_lang_codes.get(lang, lang))  # the template chose the pair
        produces = getattr(tokenizer, "target_lang", None)
        if not produces:
            match = _MARIAN_PAIR_NAME.search(loaded.name)
            produces = match.group(1) if match else None
        if produces is None:
            raise InputError(f"cannot tell which language {loaded.name} translates into; give a model name "
                             "template with {lang} (for example Helsinki-NLP/opus-mt-en-{lang}) so each "
                             "language loads its own model")
        accepted = {lang, self.model_lang_codes.get(lang), *MARIAN_CODES.get(lang, [])}
        if produces not in accepted:
            raise InputError(f"{loaded.name} translates into {produces!r} only, not {lang!r}; for several "
                             "languages give a model name template with {lang}, e.g. Helsinki-NLP/opus-mt-en-{lang}")
        return _Target(lang, loaded, code=produces)

    # -- translation -------------------------------------------------------------------------

    def _segments(self, request: Request) -> tuple[list[str], int]:
        """The texts to translate for a request, and how many of them belong to the title."""
        title = [request.title.strip()] if self.include_title and request.title.strip() else []
        text = request.text.strip()
        if not text:
            body: list[str] = []
        elif self.segment == "sentence":
            body = _sentences(text)
        else:
            body = [text]
        return title + body, len(title)

    def _join(self, lang: str, translated: list[str], title_count: int) -> str:
        separator = "" if lang in NO_SPACE_LANGS else " "
        body = separator.join(t for t in translated[title_count:] if t)
        return " ".join(t for t in [*translated[:title_count], body] if t).strip()

    def _translate_requests(self, target: _Target, requests: Sequence[Request]) -> list[str]:
        segmented = [self._segments(request) for request in requests]
        flat = [segment for segments, _ in segmented for segment in segments]
        translated = self._translate(target, flat, num_return_sequences=1)
        passages, start = [], 0
        for segments, title_count in segmented:
            passages.append(self._join(target.lang, translated[start:start + len(segments)], title_count))
            start += len(segments)
        return passages

    def _sample(self, target: _Target, request: Request) -> list[str]:
        import torch

        segments, title_count = self._segments(request)
        if not segments:
            return []
        devices = [torch.device(self.device).index or 0] if str(self.device).startswith("cuda") else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(request.seed)
            translated = self._translate(target, segments, num_return_sequences=request.n)
        # translated is segment-major: segment s, sample k at s * n + k
        n = request.n
        return [self._join(target.lang, [translated[s * n + k] for s in range(len(segments))], title_count)
                for k in range(n)]

    def _translate(self, target: _Target, texts: list[str], num_return_sequences: int) -> list[str]:
        """Translations of ``texts`` in order, ``num_return_sequences`` consecutive ones per text."""
        import torch

        if not texts:
            return []
        tokenizer, model = target.loaded.tokenizer, target.loaded.model
        texts = [target.prefix + text for text in texts]
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])  # similar lengths share a batch
        out: list[list[str]] = [[] for _ in texts]
        decoder_positions = int(getattr(model.config, "max_position_embeddings", 1024) or 1024)
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            batch = tokenizer([texts[i] for i in rows], truncation=True, max_length=self.max_length,
                              padding=True, return_tensors="pt").to(self.device)
            budget = self.max_new_tokens or 2 * max(lengths[i] for i in rows) + 16
            options: dict[str, Any] = {"max_new_tokens": min(budget, decoder_positions - 2),
                                       "num_return_sequences": num_return_sequences}
            if self.do_sample:
                options.update(do_sample=True, num_beams=1, temperature=self.temperature, top_p=self.top_p)
            else:
                options.update(do_sample=False, num_beams=max(self.num_beams, num_return_sequences))
            if target.forced_bos_token_id is not None:
                options["forced_bos_token_id"] = target.forced_bos_token_id
            with torch.inference_mode():
                generated = model.generate(**batch, **options)
            decoded = tokenizer.batch_decode(generated, skip_special_tokens=True)
            for j, i in enumerate(rows):
                out[i] = [text.strip() for text in decoded[j * num_return_sequences:(j + 1) * num_return_sequences]]
        return [text for texts_of_one in out for text in texts_of_one]


def _family(name: str, model_type: str, tokenizer: Any) -> str:
    if model_type == "marian":
        return "marian"
    # NLLB checkpoints say model_type "m2m_100" too; only the tokenizer tells them apart.
    if callable(getattr(tokenizer, "get_lang_id", None)) and getattr(tokenizer, "lang_code_to_id", None):
        return "m2m100"
    if _token_id(tokenizer, "eng_Latn") is not None:
        return "nllb"
    raise InputError(f"{name} is an {model_type} model whose tokenizer ({type(tokenizer).__name__}) has neither "
                     "M2M100 language tokens (__en__) nor NLLB FLORES-200 codes (eng_Latn)")


def _token_id(tokenizer: Any, token: str) -> int | None:
    """The id of ``token`` if it is in the vocabulary (not mapped to <unk>)."""
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or (token_id == tokenizer.unk_token_id and token != tokenizer.unk_token):
        return None
    return int(token_id)


def _sentences(text: str) -> list[str]:
    import nltk

    from xqg_pyserini.evaluate.nltk_data import ensure_punkt

    ensure_punkt()
    return [sentence for sentence in nltk.sent_tokenize(text, language="english") if sentence.strip()]


def _parse_codes(codes: str | dict[str, str] | None) -> dict[str, str]:
    """``"ja=jap,zh=zh"`` or a dict: the code a language has in model names (and Marian tokens)."""
    if not codes:
        return {}
    if isinstance(codes, dict):
        return {str(k): str(v) for k, v in codes.items()}
    parsed = {}
    for item in codes.split(","):
        lang, sep, code = item.strip().partition("=")
        if not sep or not lang.strip() or not code.strip():
            raise InputError(f"--model-lang-codes must look like 'ja=jap,zh=zh', not {codes!r}")
        parsed[lang.strip()] = code.strip()
    return parsed
