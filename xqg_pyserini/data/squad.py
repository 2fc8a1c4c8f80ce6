"""SQuAD-format reading shared by the XQuAD and MLQA converters, and source resolution.

A SQuAD file is ``{"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}]}]}]}]}``. MLQA-R adds ``sentence_breaks``/``sentences``
per paragraph; they are not needed here and are ignored.

``source`` is a directory holding one file per language, or an ``http(s)://`` base URL from
which the per-language files are downloaded into a temporary directory (urllib only).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from xqg_pyserini.errors import InputError

LANG_CODE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]+)?$")
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class SquadAnswer:
    text: str
    start: int


@dataclass(frozen=True)
class SquadQuestion:
    qid: str  # the SQuAD question id, shared across languages
    text: str
    answers: tuple[SquadAnswer, ...]
    paragraph: int  # index into SquadFile.paragraphs


@dataclass(frozen=True)
class SquadParagraph:
    article: int  # position of the article in the file
    index: int  # position of the paragraph in its article
    title: str
    context: str
    qids: tuple[str, ...]


@dataclass
class SquadFile:
    path: Path
    lang: str
    paragraphs: list[SquadParagraph] = field(default_factory=list)
    questions: dict[str, SquadQuestion] = field(default_factory=dict)  # file order
    sha256: str = ""


def _fail(path: Path, where: str, message: str) -> InputError:
    return InputError(f"{where}: {message}", path=path)


def _string(value, path: Path, where: str, name: str, *, allow_empty: bool = False) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "id":
        value = str(value)
    if not isinstance(value, str):
        raise _fail(path, where, f"field {name!r} must be a string")
    if not allow_empty and not value.strip():
        raise _fail(path, where, f"field {name!r} is empty")
    return value


def read_squad(path: str | Path, lang: str) -> SquadFile:
    """Parse one SQuAD-format file; structural problems raise InputError naming path and item.

    Duplicate question ids inside one file are an error (they would make duplicate topics).
    Answers are kept as given, even when their text is not at ``answer_start``: the converter
    counts those.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path)
    raw = path.read_bytes()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 ({err.reason} at byte {err.start})", path=path) from None
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON ({err.msg} at line {err.lineno} column {err.colno})",
                         path=path, line=err.lineno) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InputError("not a SQuAD-format file (expected an object with a 'data' list)", path=path)
    out = SquadFile(path=path, lang=lang, sha256=hashlib.sha256(raw).hexdigest())
    for a, article in enumerate(doc["data"]):
        where = f"data[{a}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise _fail(path, where, "expected an object with a 'paragraphs' list")
        title = article.get("title", "")
        title = "" if title is None else _string(title, path, where, "title", allow_empty=True)
        for p, para in enumerate(article["paragraphs"]):
            pwhere = f"{where}.paragraphs[{p}]"
            if not isinstance(para, dict):
                raise _fail(path, pwhere, "expected an object")
            context = _string(para.get("context"), path, pwhere, "context")
            qas = para.get("qas", [])
            if not isinstance(qas, list):
                raise _fail(path, pwhere, "field 'qas' must be a list")
            index = len(out.paragraphs)
            qids: list[str] = []
            for q, qa in enumerate(qas):
                qwhere = f"{pwhere}.qas[{q}]"
                if not isinstance(qa, dict):
                    raise _fail(path, qwhere, "expected an object")
                qid = _string(qa.get("id"), path, qwhere, "id")
                if any(c.isspace() for c in qid):
                    raise _fail(path, qwhere, f"question id {qid!r} contains whitespace")
                text = _string(qa.get("question"), path, qwhere, "question")
                answers = qa.get("answers", [])
                if not isinstance(answers, list):
                    raise _fail(path, qwhere, "field 'answers' must be a list")
                parsed: list[SquadAnswer] = []
                for n, ans in enumerate(answers):
                    awhere = f"{qwhere}.answers[{n}]"
                    if not isinstance(ans, dict):
                        raise _fail(path, awhere, "expected an object")
                    atext = _string(ans.get("text"), path, awhere, "text", allow_empty=True)
                    start = ans.get("answer_start")
                    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
                        raise _fail(path, awhere, "field 'answer_start' must be a non-negative integer")
                    parsed.append(SquadAnswer(text=atext, start=start))
                if qid in out.questions:
                    raise _fail(path, qwhere, f"duplicate question id {qid!r}")
                out.questions[qid] = SquadQuestion(qid=qid, text=text, answers=tuple(parsed), paragraph=index)
                qids.append(qid)
            out.paragraphs.append(SquadParagraph(article=a, index=p, title=title, context=context,
                                                 qids=tuple(qids)))
    if not out.paragraphs:
        raise InputError("no paragraphs", path=path)
    return out


def license_name(directory: Path) -> str:
    """The first non-blank line of the source's LICENSE file (its name), or a note that there is none."""
    for name in ("LICENSE", "LICENSE.txt", "LICENSE.md", "license.txt"):
        path = directory / name
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.strip():
                    return line.strip()
    return "unknown (no LICENSE file in the source)"


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def _download(url: str, target: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(target, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise InputError(f"cannot download {url} ({reason}); download the files yourself and pass "
                         "their directory as the source") from None


@contextmanager
def source_dir(source: str | Path, filename: Callable[[str], str],
               url_languages: Sequence[str]) -> Iterator[Path]:
    """A local directory for ``source``: the directory itself, or a temp dir of downloaded files.

    For a URL, ``{source}/{filename(lang)}`` is fetched for each of ``url_languages`` (a URL
    cannot be listed), and ``{source}/LICENSE`` when it exists.
    """
    if not is_url(source):
        path = Path(source)
        if not path.is_dir():
            raise InputError("source directory not found", path=path)
        yield path
        return
    base = str(source).rstrip("/")
    with tempfile.TemporaryDirectory(prefix="xqg-download-") as tmp:
        tmp_path = Path(tmp)
        for lang in url_languages:
            _download(f"{base}/{filename(lang)}", tmp_path / filename(lang))
        try:
            _download(f"{base}/LICENSE", tmp_path / "LICENSE")
        except InputError:
            pass  # the license is recorded as unknown
        yield tmp_path


def find_language_files(directory: Path, pattern: str, lang_of: Callable[[Path], str | None],
                        languages: Sequence[str] | None) -> dict[str, Path]:
    """lang -> file for every file of ``pattern`` in ``directory`` (sorted by language).

    English is always kept (it is the corpus); ``languages`` restricts the others and every
    language it names must be present.
    """
    found: dict[str, Path] = {}
    for path in sorted(directory.glob(pattern)):
        lang = lang_of(path)
        if lang is not None and LANG_CODE.match(lang) and path.is_file():
            found[lang] = path
    if "en" not in found:
        raise InputError(f"no English file ({pattern} with language 'en') in the source; found: "
                         f"{', '.join(sorted(found)) or 'none'}", path=directory)
    if languages is not None:
        wanted = list(dict.fromkeys(languages))
        missing = [lang for lang in wanted if lang not in found]
        if missing:
            raise InputError(f"language(s) {', '.join(missing)} not in the source; found: "
                             f"{', '.join(sorted(found))}", path=directory)
        found = {lang: path for lang, path in found.items() if lang in wanted or lang == "en"}
    return dict(sorted(found.items()))
