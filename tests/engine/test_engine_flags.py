"""``--engine``'s flags without a cluster: misuse is named (exit 2), and without Ray the extra is named."""

import sys

import pytest

from helpers import demo_subset, xqg_generate
from xqg_pyserini.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_subset(tmp_path_factory.mktemp("demo"), passages=2)


@pytest.mark.parametrize("flags, needle", [
    (["--num-workers", "2"], "--num-workers: only with --engine ray"),
    (["--address", "auto", "--gpus-per-worker", "1"], "--address, --gpus-per-worker: only with --engine ray"),
    (["--engine", "ray", "--shard", "0/2"], "--shard is for the local engine"),
    (["--engine", "ray", "--num-workers", "0"], "--num-workers must be at least 1"),
    (["--engine", "ray", "--num-shards", "0"], "--num-shards must be at least 1"),
    (["--engine", "ray", "--gpus-per-worker", "-1"], "--gpus-per-worker must be at least 0"),
])
def test_engine_flag_misuse_is_named(tmp_path, capsys, demo, flags, needle):
    status = xqg_generate(demo["corpus"], tmp_path / "gen", "--generator", "file", "--model", demo["generated"],
                          "--langs", "de", *flags)
    assert status == 2 and needle in capsys.readouterr().err
    assert not (tmp_path / "gen").exists()


def test_without_ray_the_extra_is_named(tmp_path, capsys, monkeypatch, demo):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as when it is not installed
    status = xqg_generate(demo["corpus"], tmp_path / "gen", "--generator", "file", "--model", demo["generated"],
                          "--langs", "de", "--engine", "ray")
    assert status == 2 and 'needs Ray' in capsys.readouterr().err
    status = main(["encode", "--input", str(demo["corpus"]), "--kind", "passage", "--output", str(tmp_path / "emb"),
                   "--engine", "ray"])
    err = capsys.readouterr().err
    assert status == 2 and 'pip install -e ".[ray]"' in err
    assert not (tmp_path / "gen").exists() and not (tmp_path / "emb").exists()


def test_tevatron_formats_stay_local(tmp_path, capsys, demo):
    status = main(["encode", "--input", str(tmp_path / "x.pkl"), "--kind", "passage", "--output", str(tmp_path / "e"),
                   "--input-format", "tevatron", "--engine", "ray"])
    assert status == 2 and "Tevatron imports and exports run with --engine local" in capsys.readouterr().err
