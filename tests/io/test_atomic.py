"""io/atomic.py: what an output may replace, OS failures as named errors, ordinary permissions."""

import errno
import json
import os
import stat
import tempfile

import pytest

from helpers import listing
from xqg_pyserini.errors import InputError, OutputError
from xqg_pyserini.io.atomic import (atomic_dir, atomic_file, check_output_dir, check_work_dir, overwriting)


def write_index(path, kind="xqg-faiss-index"):
    with atomic_dir(path, marker="xqg.json", kind=kind, what="FAISS index") as tmp:
        (tmp / "index").write_bytes(b"vectors")
        (tmp / "xqg.json").write_text(json.dumps({"kind": kind}))


def umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_foreign_directory_is_never_replaced(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("my notes")
    before = listing(tmp_path)
    for overwrite in (False, True):
        with overwriting(overwrite), pytest.raises(OutputError) as err:
            write_index(tmp_path / "out")
        assert "out: exists and is not a FAISS index (no xqg.json); xqg never replaces a directory" in str(err.value)
        assert listing(tmp_path) == before


def test_an_earlier_output_of_the_same_kind_is_replaced(tmp_path):
    write_index(tmp_path / "idx")
    (tmp_path / "idx" / "stale").write_text("from the old index")
    write_index(tmp_path / "idx")
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == ["index", "xqg.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]  # no temp or .old dirs


def test_another_kind_of_output_or_a_file_needs_overwrite(tmp_path):
    write_index(tmp_path / "lucene", kind="xqg-lucene-index")
    (tmp_path / "file").write_text("a file")
    before = listing(tmp_path)
    with pytest.raises(OutputError, match="lucene: holds another kind of xqg output, not a FAISS index; pass --overwr"):
        write_index(tmp_path / "lucene")
    with pytest.raises(OutputError, match="file: exists and is a file, not a FAISS index; pass --overwrite"):
        write_index(tmp_path / "file")
    assert listing(tmp_path) == before
    with overwriting():
        write_index(tmp_path / "lucene")
        write_index(tmp_path / "file")
    assert json.loads((tmp_path / "lucene" / "xqg.json").read_text())["kind"] == "xqg-faiss-index"
    assert (tmp_path / "file" / "index").read_bytes() == b"vectors"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "lucene"]


def test_without_a_marker_only_a_directory_it_rewrites_entirely_is_replaced(tmp_path):
    with atomic_dir(tmp_path / "d") as tmp:
        (tmp / "a").write_text("1")
    with atomic_dir(tmp_path / "d") as tmp:
        (tmp / "a").write_text("2")
    (tmp_path / "d" / "mine").write_text("keep")
    before = listing(tmp_path)
    with pytest.raises(OutputError, match="holds files this output does not write \\(mine\\); nothing was replaced"):
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "a").write_text("3")
    assert listing(tmp_path) == before


def test_files_replace_only_their_own_kind(tmp_path):
    def is_run(path):
        return path.read_text().startswith("q1 Q0")

    (tmp_path / "run.trec").write_text("q1 Q0 d 1 1.0 t\n")
    (tmp_path / "notes.txt").write_text("my notes")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "adir").mkdir()
    before = listing(tmp_path)
    for name, needle in (("notes.txt", "notes.txt: exists and is not a TREC run; pass --overwrite"),
                         ("adir", "adir: is a directory; a TREC run cannot replace it")):
        with pytest.raises(OutputError, match=needle):
            with atomic_file(tmp_path / name, same_kind=is_run, what="TREC run") as out:
                out.write("q2 Q0 d 1 1.0 t\n")
    assert listing(tmp_path) == before
    for name in ("run.trec", "empty.txt"):
        with atomic_file(tmp_path / name, same_kind=is_run, what="TREC run") as out:
            out.write("q2 Q0 d 1 1.0 t\n")
    with overwriting(), pytest.raises(OutputError, match="is a directory"):  # never a directory
        with atomic_file(tmp_path / "adir", same_kind=is_run, what="TREC run") as out:
            out.write("x")
    with overwriting():
        with atomic_file(tmp_path / "notes.txt", same_kind=is_run, what="TREC run") as out:
            out.write("q2 Q0 d 1 1.0 t\n")
    assert {p.name: p.read_text() for p in tmp_path.iterdir() if p.is_file()} == dict.fromkeys(
        ["run.trec", "notes.txt", "empty.txt"], "q2 Q0 d 1 1.0 t\n")


def test_a_parent_that_is_a_file_is_named(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=f"cannot create it: {tmp_path / 'file'} is a file, not a directory"):
        write_index(tmp_path / "file" / "sub" / "idx")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        with atomic_file(tmp_path / "file" / "run.trec") as out:
            out.write("x")
    assert listing(tmp_path) == {"file": b"x"}


@pytest.mark.parametrize("code, needle", [(errno.ENOSPC, "no space left on device"),
                                          (errno.EDQUOT, "disk quota exceeded"),
                                          (errno.EFBIG, r"file too large \(file system or process limit\)")])
def test_a_full_disk_while_writing_is_named_and_leaves_nothing(tmp_path, code, needle):
    (tmp_path / "idx").mkdir()  # an earlier output stays as it was
    (tmp_path / "idx" / "xqg.json").write_text('{"kind": "xqg-faiss-index"}')
    before = listing(tmp_path)
    with pytest.raises(OutputError, match=f"idx: {needle} while writing it; nothing was written"):
        with atomic_dir(tmp_path / "idx", marker="xqg.json") as tmp:
            (tmp / "index").write_bytes(b"half")
            raise OSError(code, os.strerror(code), str(tmp / "index"))
    with pytest.raises(OutputError, match=f"run.trec: {needle} while writing it"):
        with atomic_file(tmp_path / "run.trec") as out:
            out.write("half")
            raise OSError(code, os.strerror(code))
    assert listing(tmp_path) == before


def test_a_read_only_file_system_is_named(tmp_path, monkeypatch):
    def read_only(*args, dir=None, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(dir))

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match="idx: read-only file system while writing it"):
        write_index(tmp_path / "idx")
    with pytest.raises(OutputError, match="r.trec: read-only file system"):
        with atomic_file(tmp_path / "r.trec") as out:
            out.write("x")
    assert listing(tmp_path) == {}


def test_outputs_get_the_umask_permissions_not_private_ones(tmp_path):
    write_index(tmp_path / "idx")
    with atomic_file(tmp_path / "run.trec") as out:
        out.write("x")
    assert stat.S_IMODE((tmp_path / "idx").stat().st_mode) == 0o777 & ~umask()
    assert stat.S_IMODE((tmp_path / "run.trec").stat().st_mode) == 0o666 & ~umask()


def test_work_dirs_are_new_empty_or_their_own(tmp_path):
    check_work_dir(tmp_path / "new", markers=("manifest-*.json",), what="shard set")
    (tmp_path / "sets").mkdir()
    check_work_dir(tmp_path / "sets", markers=("manifest-*.json",), what="shard set")
    (tmp_path / "sets" / "manifest-0-of-1.json").write_text("{}")
    check_work_dir(tmp_path / "sets", markers=("manifest-*.json",), what="shard set")
    (tmp_path / "stopped").mkdir()
    (tmp_path / "stopped" / "cache").mkdir()
    check_work_dir(tmp_path / "stopped", markers=("experiment.json",), entries=("cache",), what="experiment output")
    (tmp_path / "stopped" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="stopped: exists and is not an experiment output"):
        check_work_dir(tmp_path / "stopped", markers=("experiment.json",), entries=("cache",),
                       what="experiment output")
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="f: exists and is a file"):
        check_work_dir(tmp_path / "f", markers=("x",), what="shard set")


def test_check_output_dir_fails_before_any_work(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "meta.json").write_text("{}")
    with pytest.raises(OutputError, match="not a FAISS index"):
        check_output_dir(tmp_path / "out", marker="xqg.json", what="FAISS index")
    assert check_output_dir(tmp_path / "out", marker="meta.json", what="embedding store") == tmp_path / "out"
