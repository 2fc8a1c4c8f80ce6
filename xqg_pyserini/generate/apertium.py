"""``apertium``: rule-based machine translation with Apertium, offline (Debian's ``apertium-*`` packages).

``apt-get install apertium-eng-spa`` gives the ``apertium`` command and the English->Spanish pair;
``apertium -u eng-spa`` translates plain text from stdin to stdout (``-u``: no ``*`` marks on
unknown words). A target language maps to a pair ``{source}-{target}`` in ISO 639-3 codes
(``es`` -> ``eng-spa``), or to the pair given with ``--apertium-pairs es=eng-spa``.

What a translation is: the request's text (a passage's contents, never its title) with line
breaks, tabs and other control characters turned into spaces, translated as one piece; runs of
whitespace in the output become one space (Apertium leaves a double space where it drops a word).

Each text gets its own ``apertium`` process by default (several run at once, ``workers``), because
Apertium 3.8 carries state from one text to the next within a process: its HMM tagger replaces the
open word class (the tags it guesses for unknown words) whenever it meets an ambiguity class its model
lacks (``tagger_utils::find_similar_ambiguity_class`` assigns through a reference to it), so in a
stream a text's translation can depend on the texts before it (about one XQuAD question in ten
changes). One text per process makes a translation a function of its text alone: the same whatever
the batch, shard or resume. ``join=True`` (``--apertium-join``) instead sends a whole batch of one
language to one process, the texts separated by blank lines (an empty line ends a paragraph and a
sentence for Apertium, so no sentence runs across two texts), about 20x faster, at the price of
outputs that depend on the batch (``batch_size`` is then part of the recorded config). If the output
does not have exactly one line per text (Apertium's stream format gives ``^ $ [ ] \\ / < > { } @ * #
~ |`` meanings; the txt deformatter escapes them, but the check is cheap), that batch is translated
again one text per process.

The translation is deterministic (a rule-based system, no sampling): one output per request
whatever its ``n``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import BATCH_SIZE, OUTPUT_FIELDS, Request
from xqg_pyserini.options import Option

INSTALL_HINT = "apt-get install apertium-eng-spa"
DEFAULT_BINARY = "apertium"
# ISO 639-1 -> the ISO 639-3 codes Apertium names its pairs with.
ISO3 = {
    "ar": "ara", "bn": "ben", "ca": "cat", "de": "deu", "el": "ell", "en": "eng", "es": "spa", "eu": "eus",
    "fi": "fin", "fr": "fra", "gl": "glg", "hi": "hin", "id": "ind", "it": "ita", "ja": "jpn", "ko": "kor",
    "nl": "nld", "oc": "oci", "pt": "por", "ro": "ron", "ru": "rus", "sw": "swa", "te": "tel", "th": "tha",
    "tr": "tur", "vi": "vie", "zh": "zho",
}
TEXT_RULE = "control characters and line breaks -> spaces; output whitespace runs -> one space"  # recorded
SEPARATOR = "\n\n"  # between the texts of a joined batch: an empty line, a paragraph break for Apertium
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # line breaks, tabs, other control characters
_TIMEOUT_S = 600  # one apertium call; a text of 100k words takes a few seconds


def sanitize(text: str) -> str:
    """The text as Apertium receives it: control characters and line breaks as spaces, ends stripped."""
    return _BREAKS.sub(" ", text).strip()


def parse_pairs(value: str | dict[str, str] | None) -> dict[str, str]:
    """``"es=eng-spa, ca=eng-cat"`` (or a dict) -> ``{"es": "eng-spa", "ca": "eng-cat"}``."""
    if not value:
        return {}
    items = value.items() if isinstance(value, dict) else (
        item.split("=", 1) if "=" in item else (item, "") for item in value.split(",") if item.strip())
    pairs = {}
    for lang, pair in items:
        lang, pair = lang.strip(), pair.strip()
        if not lang or not re.fullmatch(r"[A-Za-z0-9_]+-[A-Za-z0-9_-]+", pair):
            raise InputError(f"--apertium-pairs must look like 'es=eng-spa,ca=eng-cat', not {value!r}")
        pairs[lang] = pair
    return pairs


class ApertiumTranslator:
    """Translate texts with the ``apertium`` command (see the module docstring)."""

    output = "passages"
    summary = f"rule-based MT with Apertium, offline ({INSTALL_HINT})"

    @classmethod
    def options(cls) -> list[Option]:
        return [
            Option("--apertium-binary", keyword="binary", help="the apertium command (default: apertium on PATH)"),
            Option("--apertium-pairs", keyword="pairs",
                   help="language -> Apertium pair, e.g. 'es=eng-spa' (default: SRC-TGT in ISO 639-3 codes)"),
            Option("--source-lang", help="corpus language (default en)"),
            Option("--apertium-output", keyword="output", choices=tuple(OUTPUT_FIELDS),
                   help="fill generated_passages (default) or generated_queries (translated questions)"),
            Option("--apertium-mark-unknown", action="store_true", keyword="mark_unknown",
                   help="keep Apertium's * marks on unknown words (default: apertium -u, no marks)"),
            Option("--apertium-join", action="store_true", keyword="join",
                   help="one apertium call per batch and language (faster; outputs then depend on the batch)"),
            Option("--apertium-workers", type=int, keyword="workers",
                   help="apertium processes at once (default: the CPU count, at most 8)"),
            BATCH_SIZE,
        ]

    def __init__(self, binary: str = DEFAULT_BINARY, pairs: str | dict[str, str] | None = None,
                 source_lang: str = "en", output: str = "passages", mark_unknown: bool = False,
                 join: bool = False, workers: int | None = None, batch_size: int = 16,
                 langs: Sequence[str] | None = None):
        if output not in OUTPUT_FIELDS:
            raise InputError(f"--apertium-output must be one of {', '.join(OUTPUT_FIELDS)}, not {output!r}")
        if source_lang not in ISO3:
            raise InputError(f"--source-lang: unknown source language {source_lang!r}; "
                             f"known: {', '.join(sorted(ISO3))}")
        for flag, value in (("--apertium-workers", workers), ("--batch-size", batch_size)):
            if value is not None and int(value) < 1:
                raise InputError(f"{flag} must be at least 1, not {value}")
        self.output = output
        self.source_lang = source_lang
        self.mark_unknown = bool(mark_unknown)
        self.join = bool(join)
        self.workers = int(workers) if workers else min(8, os.cpu_count() or 1)
        self.batch_size = int(batch_size)
        self.binary = _find_binary(binary)
        self.installed = _installed_pairs(self.binary)
        explicit = parse_pairs(pairs)
        source = ISO3[source_lang]
        self.pair_of = {lang: f"{source}-{code}" for lang, code in ISO3.items() if lang != source_lang}
        self.pair_of.update(explicit)
        missing = sorted({pair for pair in explicit.values() if pair not in self.installed})
        if missing:
            raise InputError(f"--apertium-pairs: Apertium pair(s) {', '.join(missing)} not installed; "
                             f"installed: {', '.join(self.installed) or 'none'}")
        if langs is not None:
            self.require(langs)
            self.pair_of = {lang: self.pair_of[lang] for lang in langs}
        # The codes the runner accepts: those whose pair is here (others fail before any output).
        self.languages = sorted(lang for lang, pair in self.pair_of.items() if pair in self.installed)
        self.version = _apertium_version(self.binary)

    @property
    def flags(self) -> list[str]:
        return [] if self.mark_unknown else ["-u"]

    def require(self, langs: Sequence[str]) -> None:
        """InputError unless every language in ``langs`` has an installed pair."""
        for lang in langs:
            pair = self.pair_of.get(lang)
            if pair is None:
                raise InputError(f"--langs: no Apertium pair for {lang!r} from {self.source_lang!r}; known codes: "
                                 f"{', '.join(sorted(self.pair_of))} (or give one: --apertium-pairs {lang}=SRC-TGT)")
            if pair not in self.installed:
                raise InputError(f"--langs {lang}: the Apertium pair {pair} is not installed; installed pairs: "
                                 f"{', '.join(self.installed) or 'none'} (English->Spanish: {INSTALL_HINT}; "
                                 "`apt-cache search apertium` lists the others)")

    def config(self) -> dict[str, Any]:
        used = {lang: pair for lang, pair in sorted(self.pair_of.items()) if pair in self.installed}
        config = {
            "name": "apertium", "binary": self.binary, "version": self.version, "source_lang": self.source_lang,
            "pairs": used, "packages": {pair: _package_version(pair) for pair in sorted(set(used.values()))},
            "flags": self.flags, "text": TEXT_RULE, "output": self.output,
            "mode": "joined" if self.join else "one text per process",
        }
        if self.join:  # a joined batch's outputs depend on its texts
            config["batch_size"] = self.batch_size
        return config

    def generate(self, requests: Sequence[Request]) -> list[list[str]]:
        results: list[list[str]] = [[] for _ in requests]
        by_lang: dict[str, list[int]] = {}
        for position, request in enumerate(requests):
            by_lang.setdefault(request.lang, []).append(position)
        for lang, positions in by_lang.items():
            translations = self.translate([requests[p].text for p in positions], lang)
            for position, translation in zip(positions, translations):
                results[position] = [translation] if translation else []
        return results

    def translate(self, texts: Sequence[str], lang: str) -> list[str]:
        """One translation into ``lang`` per text, in order ("" for a text with nothing to translate)."""
        self.require([lang])
        pair = self.pair_of[lang]
        cleaned = [sanitize(text) for text in texts]
        todo = [k for k, text in enumerate(cleaned) if text]
        out = [""] * len(texts)
        if self.join:
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start:start + self.batch_size]
                joined = self._translate_joined([cleaned[k] for k in chunk], pair)
                for k, translation in zip(chunk, joined or self._translate_each([cleaned[k] for k in chunk], pair)):
                    out[k] = translation
        else:
            for k, translation in zip(todo, self._translate_each([cleaned[k] for k in todo], pair)):
                out[k] = translation
        return out

    def _translate_each(self, texts: Sequence[str], pair: str) -> list[str]:
        def one(text: str) -> str:
            return " ".join(self._run(text + "\n", pair).split())

        if self.workers == 1 or len(texts) < 2:
            return [one(text) for text in texts]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(texts))) as pool:
            return list(pool.map(one, texts))

    def _translate_joined(self, texts: Sequence[str], pair: str) -> list[str] | None:
        """The texts in one call, or None when the output lines do not match them one to one."""
        lines = self._run(SEPARATOR.join(texts) + "\n", pair).split("\n")  # t1, "", t2, "", ..., tn, ""
        if len(lines) != 2 * len(texts) or any(lines[1::2]):
            return None
        return [" ".join(line.split()) for line in lines[0::2]]

    def _run(self, stdin: str, pair: str) -> str:
        command = [self.binary, *self.flags, pair]
        try:
            done = subprocess.run(command, input=stdin.encode("utf-8"), capture_output=True, timeout=_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise RuntimeError(f"apertium {pair}: {' '.join(command)} failed: {err}") from None
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"apertium {pair}: {' '.join(command)} exited with status {done.returncode}: "
                               f"{stderr[-2000:] or '(no stderr)'}")
        return done.stdout.decode("utf-8", "replace")


def _find_binary(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        raise InputError(f"--apertium-binary: {binary!r} not found"
                         f"{' on PATH' if os.sep not in binary else ''}; Apertium and its English->Spanish "
                         f"pair install with `{INSTALL_HINT}` (Debian/Ubuntu)")
    return os.path.abspath(found)


def _installed_pairs(binary: str) -> list[str]:
    """``apertium -l``: the installed translation directions (e.g. eng-spa, spa-eng)."""
    try:
        done = subprocess.run([binary, "-l"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise InputError(f"--apertium-binary: cannot run {binary} -l: {err}") from None
    if done.returncode != 0:
        raise InputError(f"--apertium-binary: {binary} -l exited with status {done.returncode}: "
                         f"{done.stderr.decode('utf-8', 'replace').strip()[-500:]}")
    names = done.stdout.decode("utf-8", "replace").split()
    return sorted(name for name in names if re.fullmatch(r"[A-Za-z0-9_]+-[A-Za-z0-9_-]+", name))


def _quiet(command: Sequence[str]) -> str | None:
    """A command's stripped stdout, or None when it cannot tell (best effort, for the record)."""
    try:
        done = subprocess.run(list(command), capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.decode("utf-8", "replace").strip()
    return text if done.returncode == 0 and text else None


def _apertium_version(binary: str) -> str | None:
    """``apertium -V`` (e.g. ``Apertium 3.8.3``), else the Debian package's version."""
    return _quiet([binary, "-V"]) or _quiet(["dpkg-query", "-W", "-f", "${Version}", "apertium"])


def _package_version(pair: str) -> str | None:
    """The Debian package holding ``pair`` and its version, e.g. ``apertium-eng-spa 0.8.1-2`` (best effort)."""
    source, target = pair.split("-", 1)
    target = target.split("_", 1)[0]  # spa-eng_US is in apertium-eng-spa
    for package in (f"apertium-{source}-{target}", f"apertium-{target}-{source}"):
        version = _quiet(["dpkg-query", "-W", "-f", "${Version}", package])
        if version:
            return f"{package} {version}"
    return None
