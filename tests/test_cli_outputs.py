"""Outputs never destroy data: every command refuses what is not its own earlier output (a named
error, exit status 2, nothing changed) before any long work, replaces its own, and names the place
when the disk is full, with nothing left behind."""

import json
import os
import resource
import signal
import stat
from contextlib import contextmanager

import numpy as np
import pytest

from helpers import demo_subset, listing, write_config, write_jsonl, xqg_generate
from xqg_pyserini.cli import main
from xqg_pyserini.io.embeddings import write_store
from xqg_pyserini.io.runs import read_run


def run(argv, capsys):
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err


def foreign(path):
    path.mkdir()
    (path / "notes.txt").write_text("keep me", encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path):
    write_store(tmp_path / "p", ["d1", "d2"], np.eye(2, 4), {"kind": "passage", "encoder": {"encoder": "m"}})
    return tmp_path / "p"


def umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_index_refuses_a_foreign_dir_even_with_overwrite_and_a_file_without_it(tmp_path, capsys, store):
    foreign(tmp_path / "out")
    (tmp_path / "file.txt").write_text("keep me too", encoding="utf-8")
    before = listing(tmp_path)
    for flags in ([], ["--overwrite"]):
        status, err = run(["index", "--passages", store, "--output", tmp_path / "out", *flags], capsys)
        assert status == 2 and "out: exists and is not a FAISS index (no xqg.json); xqg never replaces" in err
    status, err = run(["index", "--passages", store, "--output", tmp_path / "file.txt"], capsys)
    assert status == 2 and "file.txt: exists and is a file, not a FAISS index; pass --overwrite" in err
    assert listing(tmp_path) == before

    for _ in range(2):  # its own earlier output is replaced
        assert main(["index", "--passages", str(store), "--output", str(tmp_path / "idx")]) == 0
    assert main(["index", "--passages", str(store), "--output", str(tmp_path / "file.txt"), "--overwrite"]) == 0
    assert (tmp_path / "file.txt" / "xqg.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "idx", "out", "p"]
    assert stat.S_IMODE((tmp_path / "idx").stat().st_mode) == 0o777 & ~umask()  # not mkdtemp's 0700
    assert stat.S_IMODE((tmp_path / "idx" / "docid").stat().st_mode) == 0o666 & ~umask()


@pytest.mark.parametrize("command", ["index", "encode"])
def test_an_output_below_a_file_is_named_before_any_work(tmp_path, capsys, store, command):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    argv = {"index": ["index", "--passages", store],
            # the encoder does not exist either: the output is checked before a model is looked for
            "encode": ["encode", "--kind", "passage", "--input", tmp_path / "file", "--encoder", tmp_path / "none"]}
    before = listing(tmp_path)
    status, err = run([*argv[command], "--output", tmp_path / "file" / "out"], capsys)
    assert status == 2 and f"cannot create it: {tmp_path / 'file'} is a file, not a directory" in err
    assert listing(tmp_path) == before


def test_search_checks_its_inputs_and_output_before_a_model_or_java(tmp_path, capsys, store):
    data = demo_subset(tmp_path, passages=2)
    status, err = run(["search", "--index", tmp_path / "missing", "--topics", data["topics"],
                       "--output", tmp_path / "r.trec"], capsys)
    assert status == 2 and "missing: not a FAISS index dir (missing index)" in err
    assert main(["index", "--passages", str(store), "--output", str(tmp_path / "idx")]) == 0
    (tmp_path / "notes.txt").write_text("my notes", encoding="utf-8")
    before = listing(tmp_path)
    status, err = run(["search", "--index", tmp_path / "idx", "--topics", data["topics"], "--encoder",
                       tmp_path / "no-such-model", "--output", tmp_path / "notes.txt"], capsys)
    assert status == 2 and "notes.txt: exists and is not a TREC run; pass --overwrite" in err
    status, err = run(["search", "--index", tmp_path / "idx", "--topics", data["topics"], "--encoded-queries",
                       store, "--output", tmp_path / "r.trec"], capsys)
    assert status == 2 and "expected query embeddings, found 'passage'" in err
    assert listing(tmp_path) == before
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--index", str(tmp_path / "idx"), "--topics", str(data["topics"]), "--hits", "0",
              "--output", str(tmp_path / "r.trec")])
    assert exit_info.value.code == 2 and "argument --hits: must be at least 1, not 0" in capsys.readouterr().err


def test_every_writing_command_refuses_a_foreign_output(tmp_path, capsys):
    data = demo_subset(tmp_path, passages=2)
    out, notes = foreign(tmp_path / "out"), tmp_path / "notes.txt"
    notes.write_text("my notes", encoding="utf-8")
    (tmp_path / "r.trec").write_text("q Q0 d 1 1.0 t\n", encoding="utf-8")
    config = write_config(tmp_path, tmp_path / "model")
    cases = [
        (["encode", "--kind", "query", "--input", data["topics"], "--encoder", tmp_path / "no-model", "--output", out],
         "out: exists and is not an embedding store (no meta.json)"),
        (["index-sparse", "--corpus", data["corpus"], "--output", out], "out: exists and is not a Lucene index"),
        (["pretokenize", "--index", tmp_path / "none", "--topics", data["topics"], "--output", notes],
         "notes.txt: exists and is not a topics file"),
        (["fuse", "--runs", "r.trec", "r.trec", "--output", notes], "notes.txt: exists and is not a TREC run"),
        (["predictions", "--run", "r.trec", "--corpus", data["corpus"], "--answers", "a.jsonl", "--output", notes],
         "notes.txt: exists and is not a prediction JSON"),
        (["align", "--index", "a", "--index", "b", "--topics", data["topics"], "--qrels", data["qrels"],
          "--output", out], "out: exists and is not an alignment output (no per_query.csv)"),
        (["generate", "--corpus", data["corpus"], "--generator", "file", "--model", data["generated"],
          "--output", out], "out: exists and is not a shard set (nothing named manifest-*-of-*.json or"),
        (["generate", "--merge", tmp_path / "none", "--output", notes], "not a directory"),
        (["data", "combine", "--inputs", tmp_path / "none", "--output", out],
         "out: exists and is not a converted dataset (no stats.json)"),
        (["experiment", config, "--output", out], "out: exists and is not an experiment output"),
        (["demo", "--encoder", tmp_path / "no-model", "--output", out], "out: exists and is not a demo output"),
    ]
    before = listing(tmp_path)
    for argv, needle in cases:
        status, err = run(argv, capsys)
        assert status == 2 and needle in err, (argv[0], err)
        assert listing(tmp_path) == before, argv[0]


def test_merge_refuses_to_replace_a_file_that_is_not_generated_texts(tmp_path, capsys):
    data = demo_subset(tmp_path, passages=2)
    assert xqg_generate(data["corpus"], tmp_path / "gen", "--generator", "file", "--model", data["generated"]) == 0
    (tmp_path / "notes.txt").write_text("my notes", encoding="utf-8")
    before = listing(tmp_path)
    status, err = run(["generate", "--merge", tmp_path / "gen", "--output", tmp_path / "notes.txt"], capsys)
    assert status == 2 and "notes.txt: exists and is not a generated-texts file; pass --overwrite" in err
    assert listing(tmp_path) == before
    for _ in range(2):  # a merged file is replaced by the next merge
        assert main(["generate", "--merge", str(tmp_path / "gen"), "--output", str(tmp_path / "m.jsonl")]) == 0


@contextmanager
def file_size_limit(limit):
    """Writes past ``limit`` bytes fail with EFBIG, as a full disk fails with ENOSPC: a real OS failure."""
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, handler)


def test_fuse_on_a_full_disk_names_the_output_and_leaves_nothing(tmp_path, capsys):
    from xqg_pyserini.search.hybrid import fuse_runs

    for name in ("a", "b"):
        (tmp_path / f"{name}.trec").write_text("".join(f"q{q} Q0 d{(q * 7 + r * (3 if name == 'a' else 5)) % 97} "
                                                       f"{r + 1} {50 - r}.5 {name}\n"
                                                       for q in range(30) for r in range(20)), encoding="utf-8")
    runs = [read_run(tmp_path / f"{name}.trec") for name in "ab"]
    fuse_runs(runs, method="combsum")  # ranx compiles (and caches) its functions before the limit
    before = listing(tmp_path)
    with file_size_limit(4096):
        status = main(["fuse", "--runs", str(tmp_path / "a.trec"), str(tmp_path / "b.trec"), "--method", "combsum",
                       "--output", str(tmp_path / "fused.trec")])
    err = capsys.readouterr().err
    assert status == 2 and "fused.trec: file too large (file system or process limit) while writing it" in err
    assert listing(tmp_path) == before


def test_generate_on_a_full_disk_keeps_whole_passages_and_resumes(tmp_path, capsys):
    data = demo_subset(tmp_path, passages=24)
    flags = ["--generator", "file", "--model", data["generated"], "--batch-size", "6"]
    assert xqg_generate(data["corpus"], tmp_path / "whole", *flags) == 0
    with file_size_limit(12_000):
        status = xqg_generate(data["corpus"], tmp_path / "gen", *flags)
    err = capsys.readouterr().err
    assert status == 2 and "file too large (file system or process limit)" in err, err
    assert "passages of this shard are saved in shard-00000-of-00001.jsonl.partial: make room and rerun" in err
    partial = (tmp_path / "gen" / "shard-00000-of-00001.jsonl.partial").read_bytes()
    assert partial.endswith(b"\n") and all(json.loads(line) for line in partial.splitlines())  # no torn line
    assert sorted(p.name for p in (tmp_path / "gen").iterdir()) == ["manifest-0-of-1.json",
                                                                    "shard-00000-of-00001.jsonl.partial"]
    assert xqg_generate(data["corpus"], tmp_path / "gen", *flags) == 0  # the same command resumes
    assert listing(tmp_path / "gen").keys() == listing(tmp_path / "whole").keys()
    shard = "shard-00000-of-00001.jsonl"
    assert (tmp_path / "gen" / shard).read_bytes() == (tmp_path / "whole" / shard).read_bytes()


def test_generate_on_a_full_disk_before_any_passage_leaves_nothing(tmp_path, capsys):
    data = demo_subset(tmp_path, passages=4)
    write_jsonl(tmp_path / "long.jsonl", [{"docid": f"demo-00{i}", "generated_queries": {"de": ["x" * 5000]}}
                                          for i in range(1, 5)])
    before = listing(tmp_path)
    with file_size_limit(4096):
        status = xqg_generate(data["corpus"], tmp_path / "gen", "--generator", "file", "--model",
                              tmp_path / "long.jsonl")
    err = capsys.readouterr().err
    assert status == 2 and "gen: file too large (file system or process limit)" in err and "no passage was saved" in err
    assert listing(tmp_path) == before
