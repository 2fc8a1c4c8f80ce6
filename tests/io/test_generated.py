"""Generated texts: a JSONL file and a shard set read (and hash) the same; broken shard sets are refused."""

import hashlib
import json

import pytest

from helpers import write_jsonl
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.generated import (PASSAGES_FIELD, QUERIES_FIELD, generated_files, generated_sha256,
                                       iter_generated, read_generated, select)
from xqg_pyserini.io.hashing import file_sha256

ROWS = [
    {"docid": "d1", QUERIES_FIELD: {"ar": ["a1", "a2"], "ja": ["j1"]}},
    {"docid": "d2", QUERIES_FIELD: {"ar": ["b1"]}},
    {"docid": "d3", QUERIES_FIELD: {"ja": ["k1", "k2", "k3"]}},
]


def write_shard_set(folder, shards, *, count=None, status="complete", fingerprints=None):
    """Shard files and manifests as ``xqg generate`` leaves them: shard i holds ``shards[i]``."""
    folder.mkdir(parents=True, exist_ok=True)
    count = len(shards) if count is None else count
    for index, rows in enumerate(shards):
        name = f"shard-{index:05d}-of-{count:05d}.jsonl"
        write_jsonl(folder / name, rows)
        manifest = {"status": status, "file": name,
                    "run_fingerprint": (fingerprints or ["same"] * len(shards))[index]}
        (folder / f"manifest-{index}-of-{count}.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_a_shard_set_reads_and_hashes_like_its_merged_file(tmp_path):
    merged = write_jsonl(tmp_path / "merged.jsonl", ROWS)
    shards = write_shard_set(tmp_path / "set", [ROWS[:1], [], ROWS[1:]])
    assert read_generated(shards) == read_generated(merged)
    assert list(iter_generated(shards)) == list(iter_generated(merged)) == ROWS
    assert generated_sha256(shards) == generated_sha256(merged) == hashlib.sha256(merged.read_bytes()).hexdigest()
    assert [p.name for p in generated_files(shards)] == [f"shard-0000{i}-of-00003.jsonl" for i in range(3)]
    assert file_sha256(*generated_files(shards)) == file_sha256(merged)
    located = [(path.name, line) for path, line, _ in iter_generated(shards, located=True)]
    assert located == [("shard-00000-of-00003.jsonl", 1), ("shard-00002-of-00003.jsonl", 1),
                       ("shard-00002-of-00003.jsonl", 2)]


def test_errors_in_a_shard_name_the_shard_file_and_line(tmp_path):
    shards = write_shard_set(tmp_path / "set", [ROWS[:1], [ROWS[1], {"docid": "d1", QUERIES_FIELD: {"ar": ["x"]}}]])
    with pytest.raises(InputError, match=r"shard-00001-of-00002.jsonl:2: duplicate docid 'd1' "
                                         r"\(first in shard-00000-of-00002.jsonl line 1\)"):
        read_generated(shards)


@pytest.mark.parametrize("make, needle", [
    (lambda d: write_shard_set(d, [ROWS[:1]], count=2), r"incomplete: missing shards \[1\], unfinished shards -"),
    (lambda d: write_shard_set(d, [ROWS[:1], ROWS[1:]], status="incomplete"),
     r"missing shards -, unfinished shards \[0, 1\] of 2"),
    (lambda d: (write_shard_set(d, [ROWS[:1], ROWS[1:2]]), write_shard_set(d, [[], [], ROWS[2:]], count=3)),
     r"shards of different splits \(2, 3-way\) are mixed here"),
    (lambda d: write_shard_set(d, [ROWS[:1], ROWS[1:]], fingerprints=["a", "b"]), "different settings"),
    (lambda d: (write_shard_set(d, [ROWS[:1], ROWS[1:]]), (d / "shard-00001-of-00002.jsonl").unlink()),
     "shard file shard-00001-of-00002.jsonl is missing"),
    (lambda d: d.mkdir(), r"no generation manifests \(manifest-I-of-N.json\) here"),
    (lambda d: (write_shard_set(d, [ROWS]), (d / "manifest-0-of-1.json").write_text("{", encoding="utf-8")),
     r"manifest-0-of-1.json:1: malformed JSON"),
])
def test_broken_shard_sets_are_refused(tmp_path, make, needle):
    make(tmp_path / "set")
    with pytest.raises(InputError, match=needle):
        read_generated(tmp_path / "set")


def test_select_keeps_the_first_texts_per_language(tmp_path):
    texts = read_generated(write_jsonl(tmp_path / "g.jsonl", ROWS))
    assert [t.text for t in select(texts)] == [t.text for t in texts]
    assert [t.text for t in select(texts, langs=["ja"])] == ["j1", "k1", "k2", "k3"]
    assert [t.text for t in select(texts, per_lang=1)] == ["a1", "j1", "b1", "k1"]
    assert [(t.docid, t.rank) for t in select(texts, langs=["ja", "ar"], per_lang=2)] == \
        [("d1", 0), ("d1", 1), ("d1", 0), ("d2", 0), ("d3", 0), ("d3", 1)]
    assert select(texts, langs=["de"]) == []


def test_each_field_is_read_on_its_own(tmp_path):
    path = write_jsonl(tmp_path / "g.jsonl", [{"docid": "d1", QUERIES_FIELD: {"de": ["q"]},
                                               PASSAGES_FIELD: {"de": ["Ein Vulkan."]}}])
    assert [t.text for t in read_generated(path)] == ["q"]
    assert [t.text for t in read_generated(path, field=PASSAGES_FIELD)] == ["Ein Vulkan."]
    write_jsonl(path, [{"docid": "d1", QUERIES_FIELD: {"de": ["q"]}}])
    with pytest.raises(InputError, match=r"g.jsonl:1: field 'generated_passages' must be an object"):
        read_generated(path, field=PASSAGES_FIELD)
    write_jsonl(path, [{"docid": "d1", QUERIES_FIELD: {"de": ["q", " "]}}])
    with pytest.raises(InputError, match=r"g.jsonl:1: generated_queries\['de'\]\[1\] is empty"):
        read_generated(path)

