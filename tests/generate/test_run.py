import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import demo_subset, write_jsonl
from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import GENERATORS
from xqg_pyserini.generate.run import generate_corpus, generated_sha256, iter_generated, merge, read_shard_set
from xqg_pyserini.io.generated import read_generated

# A deterministic generator whose outputs depend only on the request. Kept as source so a
# subprocess (killed with SIGKILL below) runs exactly the same class.
FAKE_SOURCE = '''
import time


class FakeGenerator:
    """Per request: [a, "", a, "  ", b, c] (one duplicate, two empties, one over a limit of 2);
    nothing at all for docids ending in 3 in Japanese."""

    output = "queries"

    def __init__(self, delay=0.0, fail_on_call=None):
        self.delay = delay
        self.fail_on_call = fail_on_call
        self.requests = []

    def generate(self, requests):
        self.requests.extend((r.docid, r.lang) for r in requests)
        if self.fail_on_call is not None and len(self.requests) > self.fail_on_call:
            raise KeyboardInterrupt("killed")
        time.sleep(self.delay)
        out = []
        for r in requests:
            if r.docid.endswith("3") and r.lang == "ja":
                out.append([])
                continue
            a, b, c = (f"{r.lang} {r.docid} {r.seed % 9973} {tag}" for tag in "abc")
            out.append([a, "", a, "  ", b, c])
        return out

    def config(self):
        return {"name": "fake", "version": 1}
'''
exec(FAKE_SOURCE)
GENERATORS.register("fake", FakeGenerator)  # noqa: F821 (defined by exec)
SHARD = "shard-00000-of-00001.jsonl"


def fake(**options):
    return GENERATORS.create("fake", **options)


@pytest.fixture
def corpus(tmp_path):
    return demo_subset(tmp_path, passages=10)["corpus"]


def run(corpus, out, generator=None, **options):
    options = {"langs": ["ar", "ja"], "per_lang": 2, "batch_size": 3, "progress": False, **options}
    return generate_corpus(corpus, generator or fake(), output_dir=out, **options)


def test_rows_manifest_and_counts(tmp_path, corpus):
    manifest = run(corpus, tmp_path / "out", seed=7)
    rows = read_shard_set(tmp_path / "out")
    assert [r["docid"] for r in rows] == [f"demo-{i:03d}" for i in range(1, 11)]
    first = rows[0]["generated_queries"]
    assert list(first) == ["ar", "ja"] and len(first["ar"]) == 2 and first["ar"][0].endswith(" a")
    assert rows[2]["generated_queries"]["ja"] == []  # demo-003: the generator gave nothing
    assert manifest["status"] == "complete" and manifest["file"] == SHARD
    assert (manifest["seed"], manifest["per_lang"], manifest["langs"]) == (7, 2, ["ar", "ja"])
    assert manifest["generator"] == {"name": "fake", "version": 1} and manifest["output"] == "generated_queries"
    assert manifest["corpus"]["passages"] == 10 and len(manifest["corpus_sha256"]) == 64
    assert manifest["shard"] == {"index": 0, "count": 1, "layout": "contiguous", "corpus_range": [0, 10]}
    assert "python" in manifest["versions"]
    answered = 10 * 2 - 1
    counts = manifest["counts"]
    assert counts["passages"] == 10 and counts["requested"] == 10 * 2 * 2
    assert (counts["generated"], counts["kept"]) == (answered * 6, answered * 2)
    assert (counts["duplicates_removed"], counts["empty_dropped"], counts["over_limit"]) == \
        (answered, 2 * answered, answered)
    assert counts["requests_without_output"] == 1
    assert counts["per_lang"]["ja"]["requests_without_output"] == 1 and counts["per_lang"]["ar"]["kept"] == 20
    import hashlib

    assert manifest["sha256"] == hashlib.sha256((tmp_path / "out" / SHARD).read_bytes()).hexdigest()
    assert not list((tmp_path / "out").glob("*.partial"))
    assert len(read_generated(tmp_path / "out" / SHARD)) == answered * 2  # the reader's schema


def test_seeds_are_per_docid_and_language(tmp_path, corpus):
    run(corpus, tmp_path / "a", seed=1)
    run(corpus, tmp_path / "b", seed=2)
    a, b = read_shard_set(tmp_path / "a"), read_shard_set(tmp_path / "b")
    assert a[0]["generated_queries"]["ar"] != b[0]["generated_queries"]["ar"]
    assert a[0]["generated_queries"]["ar"] != a[0]["generated_queries"]["ja"]


def test_three_shards_merge_to_the_unsharded_bytes(tmp_path, corpus):
    run(corpus, tmp_path / "whole")
    for index in range(3):
        manifest = run(corpus, tmp_path / "parts", shard=(index, 3))
        assert manifest["shard"]["corpus_range"] == [index * 10 // 3, (index + 1) * 10 // 3]
    merged = merge(tmp_path / "parts", tmp_path / "merged.jsonl")
    assert (tmp_path / "merged.jsonl").read_bytes() == (tmp_path / "whole" / SHARD).read_bytes()
    assert read_shard_set(tmp_path / "parts") == read_shard_set(tmp_path / "whole")
    assert list(iter_generated(tmp_path / "merged.jsonl")) == read_shard_set(tmp_path / "whole")
    whole = json.loads((tmp_path / "whole" / "manifest-0-of-1.json").read_text())
    assert merged["counts"] == whole["counts"] and merged["shards"] == 3
    assert json.loads((tmp_path / "merged.jsonl.json").read_text())["sha256"] == merged["sha256"]
    assert generated_sha256(tmp_path / "parts") == generated_sha256(tmp_path / "merged.jsonl") == merged["sha256"]
    file, line, row = next(iter_generated(tmp_path / "parts", located=True))
    assert (file.name, line, row["docid"]) == ("shard-00000-of-00003.jsonl", 1, "demo-001")


def test_more_shards_than_passages(tmp_path, corpus):
    run(corpus, tmp_path / "whole")
    for index in range(12):
        run(corpus, tmp_path / "parts", shard=(index, 12))
    assert (tmp_path / "parts" / "shard-00000-of-00012.jsonl").read_bytes() == b""
    merge(tmp_path / "parts", tmp_path / "merged.jsonl")
    assert (tmp_path / "merged.jsonl").read_bytes() == (tmp_path / "whole" / SHARD).read_bytes()


def test_one_process_per_shard(tmp_path, corpus):
    import fcntl

    (tmp_path / "out").mkdir()
    with open(tmp_path / "out" / f"{SHARD}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(InputError, match="another process is generating this shard"):
            run(corpus, tmp_path / "out")
    run(corpus, tmp_path / "out")
    assert not (tmp_path / "out" / f"{SHARD}.lock").exists()


def test_incomplete_shard_set_is_refused(tmp_path, corpus):
    run(corpus, tmp_path / "parts", shard=(0, 3))
    run(corpus, tmp_path / "parts", shard=(2, 3))
    with pytest.raises(InputError, match=r"incomplete: missing shards \[1\]"):
        read_shard_set(tmp_path / "parts")
    with pytest.raises(InputError, match="different run.*3-way split"):
        run(corpus, tmp_path / "parts", shard=(0, 2))


def test_batch_size_does_not_change_the_output(tmp_path, corpus):
    run(corpus, tmp_path / "one", batch_size=1)
    run(corpus, tmp_path / "seven", batch_size=7)
    assert (tmp_path / "one" / SHARD).read_bytes() == (tmp_path / "seven" / SHARD).read_bytes()


def test_finished_run_is_not_redone(tmp_path, corpus):
    first = run(corpus, tmp_path / "out")
    again = run(corpus, tmp_path / "out", generator=fake(fail_on_call=0))
    assert again == first


def test_interrupted_run_resumes_at_the_batch_boundary(tmp_path, corpus):
    run(corpus, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        run(corpus, tmp_path / "out", generator=fake(fail_on_call=9))  # dies in the 4th batch of 3 requests
    partial = tmp_path / "out" / f"{SHARD}.partial"
    assert len(partial.read_text().splitlines()) == 1 + 4  # header + passages 1-4 (requests 0-8)
    assert json.loads((tmp_path / "out" / "manifest-0-of-1.json").read_text())["status"] == "incomplete"
    resumed = fake()
    run(corpus, tmp_path / "out", generator=resumed)
    # Passage 5 starts at request 8, inside batch 2 (requests 6-8): that batch is redone whole.
    assert resumed.requests[0] == ("demo-004", "ar")
    assert len(resumed.requests) == 20 - 6
    assert (tmp_path / "out" / SHARD).read_bytes() == (tmp_path / "whole" / SHARD).read_bytes()
    assert not partial.exists()


def test_resume_across_a_batch_that_splits_a_passage(tmp_path, corpus):
    run(corpus, tmp_path / "whole", batch_size=4, langs=["ar", "de", "ja"])
    with pytest.raises(KeyboardInterrupt):
        run(corpus, tmp_path / "out", batch_size=4, langs=["ar", "de", "ja"], generator=fake(fail_on_call=8))
    resumed = fake()
    run(corpus, tmp_path / "out", batch_size=4, langs=["ar", "de", "ja"], generator=resumed)
    # 2 passages (6 requests) were written; batch 1 (requests 4-7) is redone whole.
    assert resumed.requests[0] == ("demo-002", "de")
    assert (tmp_path / "out" / SHARD).read_bytes() == (tmp_path / "whole" / SHARD).read_bytes()


def test_changed_command_does_not_resume_someone_elses_work(tmp_path, corpus):
    with pytest.raises(KeyboardInterrupt):
        run(corpus, tmp_path / "out", seed=1, generator=fake(fail_on_call=6))
    with pytest.raises(InputError, match="unfinished run with other settings.*seed") as err:
        run(corpus, tmp_path / "out", seed=2)
    assert err.value.path.endswith(".partial")
    with pytest.raises(InputError, match="per_lang, seed"):
        run(corpus, tmp_path / "out", seed=2, per_lang=3)
    run(corpus, tmp_path / "out", seed=2, overwrite=True)
    run(corpus, tmp_path / "fresh", seed=2)
    assert (tmp_path / "out" / SHARD).read_bytes() == (tmp_path / "fresh" / SHARD).read_bytes()
    with pytest.raises(InputError, match="finished shard made with other settings.*langs"):
        run(corpus, tmp_path / "out", seed=2, langs=["ar"])
    other_corpus = write_jsonl(tmp_path / "other.jsonl", [{"id": "x", "contents": "y"}])
    with pytest.raises(InputError, match="corpus_sha256"):
        run(other_corpus, tmp_path / "out", seed=2)


def test_bad_input(tmp_path, corpus):
    with pytest.raises(InputError, match="unknown language code.*xx.*known: ar, bn, de"):
        run(corpus, tmp_path / "out", langs=["ar", "xx"])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "a", "contents": "x"}, {"id": "b", "title": "no text"}])
    with pytest.raises(InputError, match=r"bad.jsonl:2: missing field 'contents'"):
        run(bad, tmp_path / "out")
    with pytest.raises(InputError, match="shard must be"):
        run(corpus, tmp_path / "out", shard=(3, 3))
    with pytest.raises(InputError, match="per_lang"):
        run(corpus, tmp_path / "out", per_lang=0)
    assert not (tmp_path / "out").exists()


def _kill_when_rows_exist(code: str, partial, rows: int, timeout: float = 60.0) -> None:
    """Run ``code`` in a subprocess and SIGKILL it once ``partial`` holds ``rows`` passages."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=env)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if partial.exists() and len(partial.read_bytes().splitlines()) >= 1 + rows:
                os.kill(process.pid, signal.SIGKILL)
                break
            if process.poll() is not None:
                pytest.fail(f"run ended before it was killed: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.005)
        else:
            pytest.fail("no rows appeared in time")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL


def test_resume_after_kill_9(tmp_path, corpus):
    run(corpus, tmp_path / "whole")
    out = tmp_path / "out"
    code = FAKE_SOURCE + (
        "from xqg_pyserini.generate.run import generate_corpus\n"
        f"generate_corpus({str(corpus)!r}, FakeGenerator(delay=0.3), ['ar', 'ja'], 2, {str(out)!r},"
        " batch_size=3, progress=False)\n")
    _kill_when_rows_exist(code, out / f"{SHARD}.partial", rows=2)
    assert not (out / SHARD).exists()
    with open(out / f"{SHARD}.partial", "ab") as partial:  # as if killed in the middle of a write
        partial.write(b'{"docid": "demo-0')
    resumed = fake()
    run(corpus, out, generator=resumed)
    assert 0 < len(resumed.requests) < 20
    assert (out / SHARD).read_bytes() == (tmp_path / "whole" / SHARD).read_bytes()



def test_tiny_mt5_resume_after_kill_9(tmp_path):
    from tiny_models import build_random_mt5
    from xqg_pyserini.generate.hf_qg import HFQueryGenerator

    corpus = demo_subset(tmp_path, passages=12)["corpus"]
    texts = [json.loads(line)["contents"] for line in corpus.read_text("utf-8").splitlines()]
    model = str(build_random_mt5(tmp_path / "tiny-mt5", texts, vocab_size=800))
    out = tmp_path / "out"
    code = (
        "import time\n"
        "from xqg_pyserini.generate.hf_qg import HFQueryGenerator\n"
        "from xqg_pyserini.generate.run import generate_corpus\n"
        f"generator = HFQueryGenerator({model!r}, max_length=10)\n"
        "real = generator.generate\n"
        "def slowed(requests):\n"
        "    time.sleep(0.25)\n"
        "    return real(requests)\n"
        "generator.generate = slowed\n"
        f"generate_corpus({str(corpus)!r}, generator, ['ar', 'ja'], 2, {str(out)!r}, batch_size=4, progress=False)\n")
    _kill_when_rows_exist(code, out / f"{SHARD}.partial", rows=2)
    assert not (out / SHARD).exists()
    generator = HFQueryGenerator(model, max_length=10)
    run(corpus, out, generator=generator, batch_size=4)
    run(corpus, tmp_path / "whole", generator=generator, batch_size=4)
    run(corpus, tmp_path / "other-batches", generator=generator, batch_size=5)
    whole = (tmp_path / "whole" / SHARD).read_bytes()
    assert (out / SHARD).read_bytes() == whole == (tmp_path / "other-batches" / SHARD).read_bytes()
    rows = read_shard_set(out)
    assert len(rows) == 12 and all(len(r["generated_queries"][lang]) == 2 for r in rows for lang in ("ar", "ja"))
