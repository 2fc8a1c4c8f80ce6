"""The generator interface, the generator registry, and language names.

A generator turns (passage, target language) requests into texts: queries (``hf-qg``,
``openai``) or translated passages (``hf-mt``). The runner (``generate/run.py``) owns
batching, sharding, resuming, de-duplication and the output files; a generator only maps a
batch of requests to outputs. Each generator class declares the ``xqg generate`` flags it
takes (``options()``, see :mod:`xqg_pyserini.options`); ``BATCH_SIZE``, ``DEVICE`` and
``DTYPE`` are the declarations several share.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from xqg_pyserini.encode.base import DTYPES
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.generated import PASSAGES_FIELD, QUERIES_FIELD
from xqg_pyserini.options import Option
from xqg_pyserini.registry import Registry

OUTPUT_FIELDS = {"queries": QUERIES_FIELD, "passages": PASSAGES_FIELD}  # a generator's output -> its row field

# ISO 639-1 code -> English language name, as used in the xQG prompt
# ("Generate a {Language} question for this passage: ..."), ielab/xor-tydi-docTquery-mt5-base.
LANGUAGES = {
    "ar": "Arabic", "bn": "Bengali", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "fi": "Finnish", "fr": "French", "hi": "Hindi", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "ko": "Korean", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian", "sw": "Swahili", "te": "Telugu",
    "th": "Thai", "tr": "Turkish", "vi": "Vietnamese", "zh": "Chinese",
}


@dataclass(frozen=True)
class Request:
    """Generate ``n`` texts in ``lang`` for one passage, sampling with ``seed``."""

    docid: str
    title: str
    text: str
    lang: str
    n: int
    seed: int


def request_seed(seed: int, docid: str, lang: str) -> int:
    """A 63-bit seed from (seed, docid, lang): the same wherever and whenever it is generated."""
    digest = hashlib.sha256(f"{seed}\x1f{docid}\x1f{lang}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def check_langs(langs: Sequence[str], known: Sequence[str] | None = None) -> list[str]:
    """Validate language codes; the error lists the known ones."""
    known = sorted(known if known is not None else LANGUAGES)
    unknown = [lang for lang in langs if lang not in known]
    if unknown:
        raise InputError(f"--langs: unknown language code(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if not langs:
        raise InputError("--langs: no target languages given")
    return list(langs)


def default_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# Declarations several generators share (identical declarations become one flag).
BATCH_SIZE = Option("--batch-size", type=int, default=16, help="requests per generator call (default: %(default)s)")
DEVICE = Option("--device", help="cpu, cuda, cuda:1 (default: cuda when available)", default_factory=default_device)
DTYPE = Option("--dtype", choices=DTYPES, help="default float32 (fp16/bf16 on a GPU)")


class Generator(Protocol):
    """Optional extras the runner uses when present: ``languages`` (the codes it accepts; default
    ``LANGUAGES``) and ``report(corpus_docids) -> dict`` (stored as the manifest's ``generator_report``).

    Optional extras of the class the CLI uses: ``options()`` (a classmethod: the ``Option`` descriptors
    it takes; without it a plug-in receives ``--model`` when given), ``summary`` (one line for
    its ``--help`` section) and ``needs_language_names`` (True: every target language must be a
    code of ``LANGUAGES``, checked before the model loads).
    """

    output: str  # "queries" or "passages": which field of the output rows it fills

    def generate(self, requests: Sequence[Request]) -> list[list[str]]:
        """One list of raw outputs per request (the runner drops empties and duplicates)."""
        ...

    def config(self) -> dict[str, Any]:
        """Everything that determines the outputs (recorded in the manifest)."""
        ...


GENERATORS = Registry("generator", "xqg_pyserini.generators")
GENERATORS.register("hf-qg", "xqg_pyserini.generate.hf_qg:HFQueryGenerator")
GENERATORS.register("hf-mt", "xqg_pyserini.generate.hf_mt:HFTranslator")
GENERATORS.register("openai", "xqg_pyserini.generate.openai:OpenAIGenerator")
GENERATORS.register("file", "xqg_pyserini.generate.file:FileGenerator")
GENERATORS.register("apertium", "xqg_pyserini.generate.apertium:ApertiumTranslator")
