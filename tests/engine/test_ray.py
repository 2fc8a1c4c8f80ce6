"""``--engine ray`` on a local Ray started here: the same files as the local engine's shards, resume,
a named error for an unreachable cluster, and a worker killed mid-shard."""

import ctypes
import os
import signal
import socket
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="--engine ray needs the ray extra: pip install -e '.[ray]'")

from dying_job import KillingGenerateJob  # noqa: E402
from helpers import demo_subset, xqg_generate  # noqa: E402
from xqg_pyserini.cli import main  # noqa: E402
from xqg_pyserini.engine import ClusterOptions, run_shards  # noqa: E402
from xqg_pyserini.engine.jobs import GenerateJob  # noqa: E402
from xqg_pyserini.io.embeddings import read_store  # noqa: E402

TESTS = Path(__file__).resolve().parents[1]


# Ray's driver replaces the native handlers of these signals and leaves SIG_DFL behind on shutdown. The JVM
# an earlier test started in this process (Pyserini) takes its null checks as SIGSEGVs: without its handler
# back, the next one kills pytest.
NATIVE_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE)


def _native_handlers() -> dict[int, ctypes.Array]:
    libc = ctypes.CDLL(None, use_errno=True)
    saved = {}
    for number in NATIVE_SIGNALS:
        saved[number] = ctypes.create_string_buffer(512)  # larger than any libc's struct sigaction
        assert libc.sigaction(number, None, saved[number]) == 0
    return saved


def _restore(saved: dict[int, ctypes.Array]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for number, action in saved.items():
        assert libc.sigaction(number, action, None) == 0


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    """One local Ray for the module; its workers import this suite's helpers (``dying_job``)."""
    saved = _native_handlers()
    with pytest.MonkeyPatch.context() as mp:  # the raylet, and so every worker, inherits this environment
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    _restore(saved)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_subset(tmp_path_factory.mktemp("demo"), passages=6)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_generate_on_ray_writes_the_local_shards(tmp_path, capsys, demo, tiny_mt5):
    flags = ["--model", tiny_mt5, "--langs", "ar,ja", "--per-lang", "2", "--max-length", "8", "--batch-size", "3",
             "--device", "cpu"]
    for index in range(3):
        assert xqg_generate(demo["corpus"], tmp_path / "local", *flags, "--shard", f"{index}/3") == 0
    capsys.readouterr()
    ray_flags = ["--engine", "ray", "--num-workers", "2", "--num-shards", "3"]
    assert xqg_generate(demo["corpus"], tmp_path / "ray", *flags, *ray_flags) == 0
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")  # shard files and manifests, byte for byte
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()] == ["shard 0/3", "shard 1/3", "shard 2/3"]

    before = _stamps(tmp_path / "ray")
    assert xqg_generate(demo["corpus"], tmp_path / "ray", *flags, *ray_flags) == 0  # a rerun: nothing to do
    assert capsys.readouterr().out.count("(complete, skipped)") == 2  # shard 0 checks the generator on a worker
    assert _stamps(tmp_path / "ray") == before


def test_encode_on_ray_writes_the_local_shards(tmp_path, capsys, demo, tiny_bert):
    def encode(out, *extra):
        return main([str(a) for a in ("encode", "--input", demo["generated"], "--kind", "generated", "--output", out,
                                      "--encoder", tiny_bert, "--pooling", "mean", *extra)])

    assert encode(tmp_path / "one") == 0
    for index in range(2):
        assert encode(tmp_path / "local", "--shard", f"{index}/2") == 0
    assert encode(tmp_path / "ray", "--engine", "ray", "--num-workers", "2", "--num-shards", "2") == 0
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
    one, sharded = read_store(tmp_path / "one"), read_store(tmp_path / "ray")
    assert sharded.ids == one.ids and sharded.read_vectors(0, one.count).tobytes() == \
        one.read_vectors(0, one.count).tobytes()
    capsys.readouterr()
    assert encode(tmp_path / "ray", "--engine", "ray", "--num-shards", "2") == 0  # up to date: no worker started
    assert capsys.readouterr().out.count("up to date") == 2


def test_unreachable_address_is_named_fast(tmp_path, capsys, demo):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for address, needle in ((f"ray://127.0.0.1:{port}", "no Ray cluster reachable at 127.0.0.1"),
                            ("no-port", "give auto, HOST:PORT or ray://HOST:PORT")):
        start = time.monotonic()
        status = xqg_generate(demo["corpus"], tmp_path / "gen", "--generator", "file", "--model", demo["generated"],
                              "--langs", "de", "--engine", "ray", "--address", address)
        assert status == 2 and needle in capsys.readouterr().err
        assert time.monotonic() - start < 10
    assert not (tmp_path / "gen").exists()


def test_bad_input_met_by_a_worker_is_the_named_error(tmp_path, capsys, demo):
    status = xqg_generate(demo["corpus"], tmp_path / "gen", "--generator", "file", "--model", demo["generated"],
                          "--langs", "de", "--per-lang", "0", "--engine", "ray")
    assert status == 2 and "per_lang must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "gen").exists()


def test_a_worker_killed_mid_shard_keeps_finished_shards_and_a_rerun_completes(tmp_path, demo):
    def job(output, **kill):
        cls = KillingGenerateJob if kill else GenerateJob
        return cls(corpus=str(demo["corpus"]), output=str(tmp_path / output), generator="file",
                   generator_options={"path": str(demo["generated"])}, langs=["de", "fr"], per_lang=2,
                   batch_size=1, seed=1, progress=False, **kill)

    reference = job("local")
    for index in range(3):
        reference.run_shard(reference.load(), (index, 3))
    expected = _files(tmp_path / "local")
    # Shard 1 holds passages 2 and 3: the worker dies after passage 2 is in its partial file.
    third = demo["corpus"].read_text("utf-8").splitlines()[3]
    killing = job("ray", kill_at=third.split('"')[3], marker=str(tmp_path / "killed"))

    with pytest.raises(RuntimeError, match="rerun the same command to resume"):
        run_shards(killing, ClusterOptions(num_workers=1, num_shards=3, max_restarts=0, progress=False), None)
    assert (tmp_path / "killed").exists()
    left = _files(tmp_path / "ray")
    assert "shard-00001-of-00003.jsonl" not in left and "shard-00001-of-00003.jsonl.partial" in left
    finished = {name: data for name, data in left.items() if name.startswith("shard-") and name.endswith(".jsonl")}
    assert all(data == expected[name] for name, data in finished.items())
    stamps = {name: (tmp_path / "ray" / name).stat().st_mtime_ns for name in finished}

    summaries = run_shards(killing, ClusterOptions(num_workers=1, num_shards=3, progress=False), None)
    assert [s["shard"] for s in summaries] == [[0, 3], [1, 3], [2, 3]]
    assert _files(tmp_path / "ray") == expected
    assert all((tmp_path / "ray" / name).stat().st_mtime_ns == stamp for name, stamp in stamps.items())

    # With restarts (the default) the killed worker comes back and the same run completes.
    (tmp_path / "killed").unlink()
    run_shards(job("retried", kill_at=third.split('"')[3], marker=str(tmp_path / "killed")),
               ClusterOptions(num_workers=1, num_shards=3, progress=False), None)
    assert (tmp_path / "killed").exists() and _files(tmp_path / "retried") == expected


def _file_job(demo, output, **extra):
    return GenerateJob(corpus=str(demo["corpus"]), output=str(output), generator="file",
                       generator_options={"path": str(demo["generated"])}, langs=["de", "fr"], per_lang=2,
                       batch_size=1, seed=1, progress=False, **extra)


def test_the_dataset_rows_are_the_input_rows_with_their_docids(tmp_path, demo, tiny_bert):
    from xqg_pyserini.engine.jobs import EncodeJob
    from xqg_pyserini.engine.ray_engine import input_rows
    from xqg_pyserini.encode.run import iter_texts
    from xqg_pyserini.io.corpus import read_corpus

    plan = _file_job(demo, tmp_path / "gen").plan(4)  # 6 passages: shards of 1, 2, 1, 2
    rows = ray.data.read_datasource(input_rows(_file_job(demo, tmp_path / "gen"), plan.shards)).take_all()
    rows.sort(key=lambda row: row["position"])
    corpus = read_corpus(demo["corpus"])
    assert [(r["docid"], r["contents"], r["title"]) for r in rows] == [(p.docid, p.contents, p.title) for p in corpus]
    assert [r["shard"] for r in rows] == [s.index for s in plan.shards for _ in range(s.start, s.stop)]

    job = EncodeJob(input=str(demo["generated"]), kind="generated", output=str(tmp_path / "enc"), encoder=str(tiny_bert),
                    encoder_flags={"pooling": "mean"}, chunk_size=4, progress=False)
    plan = job.plan(2)
    rows = sorted(ray.data.read_datasource(input_rows(job, plan.shards)).take_all(), key=lambda r: r["position"])
    assert [(r["id"], r["text"]) for r in rows] == list(iter_texts(demo["generated"], "generated"))


def test_a_batch_without_all_of_a_shards_rows_is_refused(tmp_path, demo):
    import numpy as np

    from xqg_pyserini.engine.ray_engine import ShardWorker

    job = _file_job(demo, tmp_path / "gen")
    plan = job.plan(2)  # shard 0: passages 0..2
    rows = list(job.read_rows(0, 3))[:2]
    batch = {"shard": np.array([0, 0]), "position": np.array([1, 0]),
             **{name: np.array([r[name] for r in rows], dtype=object) for name in job.COLUMNS}}
    with pytest.raises(RuntimeError, match="a batch holds 2 of its rows, not all 3"):
        ShardWorker(job, plan)(batch)
    assert not (tmp_path / "gen").exists()


def test_more_shards_than_passages_write_the_local_empty_shards(tmp_path, demo):
    reference = _file_job(demo, tmp_path / "local")
    for index in range(8):
        reference.run_shard(reference.load(), (index, 8))
    run_shards(_file_job(demo, tmp_path / "ray"), ClusterOptions(num_workers=2, num_shards=8, progress=False), None)
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
    assert (tmp_path / "ray" / "shard-00000-of-00008.jsonl").read_bytes() == b""  # 6 passages: shard 0 is empty


def test_encode_shards_of_several_chunks_on_ray_are_the_local_ones(tmp_path, demo, tiny_bert):
    from xqg_pyserini.engine.jobs import EncodeJob

    def job(output):
        return EncodeJob(input=str(demo["generated"]), kind="generated", output=str(tmp_path / output),
                         encoder=str(tiny_bert), encoder_flags={"pooling": "mean"}, chunk_size=4, progress=False)

    local = job("local")
    for index in range(2):
        local.run_shard(local.load(), (index, 2))
    run_shards(job("ray"), ClusterOptions(num_workers=2, num_shards=2, progress=False), None)
    assert read_store(tmp_path / "ray").count > 8  # each shard holds more than one chunk
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
