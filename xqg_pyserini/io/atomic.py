"""Every output is written into a temporary sibling and renamed into place only when complete,
and never over something that is not an earlier output of the same kind. This module is the one
place that decides what may be replaced:

* a missing path is created (with its parents);
* a directory output (:func:`atomic_dir`) replaces an existing directory that is empty or holds
  the output's ``marker`` file (whose JSON ``"kind"`` must be one of ``kind``, when given); a
  caller that names no marker replaces only a directory holding nothing but names it writes
  itself. With overwrite (``--overwrite``, :func:`overwriting`) it also replaces a regular file,
  or a directory holding another kind of xqg output (one of ``XQG_MARKERS``). A non-empty
  directory that holds no xqg output is never replaced, not even with overwrite;
* a file output (:func:`atomic_file`) replaces an existing file that is empty or that the
  caller's ``same_kind`` recognizes (a TREC run, a topics file...); with overwrite any regular
  file; never a directory;
* directories written in place (a shard set, an experiment, the demo: :func:`check_work_dir`)
  must be missing, empty, or already of their kind;
* OS failures while writing (no space, quota, read-only file system, permission, a file where a
  directory is needed) become an :class:`~xqg_pyserini.errors.OutputError` (an InputError)
  naming the path, with the temp files gone;
* what is written gets ordinary permissions (0666/0777 less the umask), not the private 0600/0700
  of ``mkstemp``/``mkdtemp``, so colleagues on a shared machine can read it.
"""

from __future__ import annotations

import contextvars
import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from fnmatch import fnmatch
from pathlib import Path
from typing import Callable, Iterator, Sequence

from xqg_pyserini.errors import OutputError

# Files by which a directory is recognized as some xqg output (for overwrite): an index's or a
# Lucene index's xqg.json, a store's meta.json (or its shards' metas), a converted dataset's
# stats.json, an experiment's experiment.json, a shard set's manifests, an offline model export, an
# `xqg align` output.
XQG_MARKERS = ("xqg.json", "meta.json", "meta-*-of-*.json", "stats.json", "experiment.json", "manifest-*-of-*.json",
               "xqg-export.json", "per_query.csv")
# errno values that mean "this output cannot be written here" (not a bug, not bad input data).
WRITE_ERRNOS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                errno.EFBIG: "file too large (file system or process limit)",
                errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                errno.EPERM: "operation not permitted"}

_OVERWRITE = contextvars.ContextVar("xqg_overwrite", default=False)


@contextmanager
def overwriting(allowed: bool = True) -> Iterator[None]:
    """Within the block, outputs may replace files and other kinds of xqg output (``--overwrite``)."""
    token = _OVERWRITE.set(bool(allowed))
    try:
        yield
    finally:
        _OVERWRITE.reset(token)


def _overwrite(overwrite: bool | None) -> bool:
    return _OVERWRITE.get() if overwrite is None else overwrite


# --------------------------------------------------------------------------- deciding

def _entries(directory: Path) -> list[str]:
    return [entry.name for entry in directory.iterdir()]


def _has(directory: Path, pattern: str) -> bool:
    return any(fnmatch(name, pattern) for name in _entries(directory))


def _marker_matches(directory: Path, marker: str, kind: str | Sequence[str] | None) -> bool:
    if not (directory / marker).is_file():
        return False
    if kind is None:
        return True
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    try:
        recorded = json.loads((directory / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded.get("kind") in kinds


def _is_xqg_output(directory: Path) -> bool:
    return any(_has(directory, marker) for marker in XQG_MARKERS)


def _check_parent(path: Path) -> None:
    """OutputError when an ancestor of ``path`` is a file (the output could never be created)."""
    for ancestor in path.absolute().parents:
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir():
                raise OutputError(f"cannot create it: {ancestor} is a file, not a directory", path=path)
            return


def _a(what: str) -> str:
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"


def _foreign_dir(path: Path, what: str, marker: str | None) -> OutputError:
    named = f" (no {marker})" if marker else ""
    return OutputError(f"exists and is not {_a(what)}{named}; xqg never replaces a directory it did not write, "
                      "not even with --overwrite: remove it or choose another output", path=path)


def check_output_dir(path: str | Path, *, marker: str | None = None, kind: str | Sequence[str] | None = None,
                     what: str = "output", overwrite: bool | None = None) -> Path:
    """``path`` as a Path if a directory output may be written there now; else OutputError.

    With ``marker=None`` a non-empty directory passes here and is judged at the swap (see
    :func:`atomic_dir`). Commands call this before any long work, so they fail early.
    """
    path = Path(path)
    _check_parent(path)
    if not (path.exists() or path.is_symlink()):
        return path
    allowed = _overwrite(overwrite)
    if not path.is_dir():
        if allowed:
            return path
        raise OutputError(f"exists and is a file, not {_a(what)}; pass --overwrite to replace it, "
                         "or choose another output", path=path)
    if not _entries(path) or marker is None or _marker_matches(path, marker, kind):
        return path
    if allowed and _is_xqg_output(path):
        return path
    if _is_xqg_output(path):
        raise OutputError(f"holds another kind of xqg output, not {_a(what)}; pass --overwrite to replace it, "
                         "or choose another output", path=path)
    raise _foreign_dir(path, what, marker)


def _check_swap(path: Path, new_entries: set[str], marker: str | None, kind, what: str,
                overwrite: bool | None) -> None:
    """The final decision, just before ``path`` is replaced (it may have changed meanwhile)."""
    check_output_dir(path, marker=marker, kind=kind, what=what, overwrite=overwrite)
    if marker is None and path.is_dir() and not path.is_symlink():
        extra = sorted(set(_entries(path)) - new_entries)
        if extra and not (_overwrite(overwrite) and _is_xqg_output(path)):
            raise OutputError(f"exists and holds files this {what} does not write ({', '.join(extra[:3])}"
                             f"{', ...' if len(extra) > 3 else ''}); nothing was replaced: remove it or "
                             "choose another output", path=path)


def check_output_file(path: str | Path, *, same_kind: Callable[[Path], bool] | None = None,
                      what: str = "output file", overwrite: bool | None = None) -> Path:
    """``path`` as a Path if a file output may be written there now; else OutputError.

    ``same_kind(path)``: whether an existing file is an earlier output of this kind (None: the
    caller owns the path, e.g. a file inside its own output dir, and any file is replaced).
    """
    path = Path(path)
    _check_parent(path)
    if path.is_dir():
        raise OutputError(f"is a directory; {_a(what)} cannot replace it", path=path)
    if not path.exists() or same_kind is None or _overwrite(overwrite):
        return path
    try:
        if path.stat().st_size == 0 or same_kind(path):
            return path
    except (OSError, ValueError):
        pass
    raise OutputError(f"exists and is not {_a(what)}; pass --overwrite to replace it, or choose another output",
                     path=path)


def check_work_dir(path: str | Path, *, markers: Sequence[str], what: str, entries: Sequence[str] = ()) -> Path:
    """For outputs written in place, file by file (a shard set, an experiment, the demo): ``path``
    must be missing, empty, hold one of ``markers`` (glob patterns), or hold only names matching
    ``entries`` (what a run stopped before writing its marker leaves). --overwrite does not apply:
    nothing of such a directory is deleted."""
    path = Path(path)
    _check_parent(path)
    if not (path.exists() or path.is_symlink()):
        return path
    if not path.is_dir():
        raise OutputError(f"exists and is a file, not {_a(what)} directory", path=path)
    names = _entries(path)
    if not names or any(_has(path, marker) for marker in markers):
        return path
    if entries and all(any(fnmatch(name, pattern) for pattern in entries) for name in names):
        return path
    raise OutputError(f"exists and is not {_a(what)} (nothing named {' or '.join(markers)}); xqg writes only into "
                      "a new or empty directory or one of its own: remove it or choose another output", path=path)


# --------------------------------------------------------------------------- OS failures

def write_error(err: OSError, path: str | Path, doing: str = "writing it",
                temp: str | Path | None = None) -> OutputError | None:
    """The OutputError for an OS failure to write ``path``, or None when ``err`` is not one.

    ``temp``: the temp file or dir being written, left out of the message (it is removed).
    """
    try:
        _check_parent(Path(path))
    except OutputError as parent_error:
        return parent_error
    reason = WRITE_ERRNOS.get(err.errno)
    if reason is None:
        return None
    culprit = str(err.filename) if err.filename else ""
    shown = culprit and culprit != str(path) and not (temp and culprit.startswith(str(temp)))
    return OutputError(f"{reason} while {doing}{f' ({culprit})' if shown else ''}; nothing was written", path=path)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise (write_error(err, path, "creating its directory") or err) from None


# --------------------------------------------------------------------------- writing

@contextmanager
def atomic_file(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None,
                *, same_kind: Callable[[Path], bool] | None = None, what: str = "output file",
                overwrite: bool | None = None) -> Iterator:
    """Open a temp file next to ``path``; it replaces ``path`` only if the block succeeds (and
    :func:`check_output_file` allows it)."""
    path = Path(path)
    check_output_file(path, same_kind=same_kind, what=what, overwrite=overwrite)
    _make_parent(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise (write_error(err, path) or err) from None
    os.close(fd)
    try:
        binary = "b" in mode
        with open(tmp, mode, encoding=None if binary else encoding, newline=None if binary else newline) as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~_umask())
        check_output_file(path, same_kind=same_kind, what=what, overwrite=overwrite)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        converted = write_error(err, path, temp=tmp) if isinstance(err, OSError) else None
        if converted is not None:
            raise converted from None
        raise


@contextmanager
def atomic_dir(path: str | Path, *, marker: str | None = None, kind: str | Sequence[str] | None = None,
               what: str = "output", overwrite: bool | None = None) -> Iterator[Path]:
    """Yield an empty temp dir next to ``path``; it replaces ``path`` only if the block succeeds
    (and :func:`check_output_dir` allows it).

    ``marker``: the file (written in the block) that makes a directory this kind of output, e.g.
    ``xqg.json``; ``kind``: the value(s) its JSON ``"kind"`` must have. Without a marker an
    existing directory is replaced only when everything in it is a name the block writes too.
    """
    path = Path(path)
    check_output_dir(path, marker=marker, kind=kind, what=what, overwrite=overwrite)
    _make_parent(path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as err:
        raise (write_error(err, path) or err) from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        _check_swap(path, set(_entries(tmp)), marker, kind, what, overwrite)
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "previous")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        converted = write_error(err, path, temp=tmp) if isinstance(err, OSError) else None
        if converted is not None:
            raise converted from None
        raise
