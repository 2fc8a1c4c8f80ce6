import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import demo_subset, write_jsonl
from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import GENERATORS, Request
from xqg_pyserini.generate.file import FileGenerator
from xqg_pyserini.generate.run import generate_corpus, read_shard_set


# Generations for demo-001..004 plus one docid the corpus lacks; demo-002 has no Japanese,
# demo-004 none at all; demo-001's Arabic has a duplicate and an empty text.
GENERATIONS = {
    "demo-001": {"ar": ["س1", "س1", " ", "س2", "س3"], "ja": ["質問1", "質問2"]},
    "demo-002": {"ar": ["س4"]},
    "demo-003": {"ar": ["س5", "س6"], "ja": ["質問3", "質問4", "質問5"]},
    "not-in-corpus": {"ar": ["x"]},
}
EXPECTED = {  # --per-lang 2: the first 2 after cleaning (duplicates and empty texts dropped)
    "demo-001": {"ar": ["س1", "س2"], "ja": ["質問1", "質問2"]},
    "demo-002": {"ar": ["س4"], "ja": []},
    "demo-003": {"ar": ["س5", "س6"], "ja": ["質問3", "質問4"]},
    "demo-004": {"ar": [], "ja": []},
}


@pytest.fixture
def corpus(tmp_path):
    return demo_subset(tmp_path, passages=4)["corpus"]


def jsonl(path):
    return write_jsonl(path, [{"docid": d, "title": "t", "generated_queries": q} for d, q in GENERATIONS.items()])


def tsv(path):
    lines = [f"{d}\t{lang}\t{text}" for d, by_lang in GENERATIONS.items() for lang, texts in by_lang.items()
             for text in texts]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def parquet_struct(path):
    # What the Hugging Face parquet conversion makes of a {lang: [...]} column: a struct, nulls for absent languages.
    table = pa.table({"docid": list(GENERATIONS),
                      "generated_queries": [{"ar": q.get("ar"), "ja": q.get("ja")} for q in GENERATIONS.values()]})
    pq.write_table(table, path)
    return path


def parquet_map(path):
    kind = pa.map_(pa.string(), pa.list_(pa.string()))
    column = pa.array([list(q.items()) for q in GENERATIONS.values()], type=kind)
    pq.write_table(pa.table({"docid": list(GENERATIONS), "generated_queries": column}), path)
    return path


def parquet_long(path):
    rows = [(d, lang, text) for d, by_lang in GENERATIONS.items() for lang, texts in by_lang.items() for text in texts]
    pq.write_table(pa.table({"docid": [r[0] for r in rows], "lang": [r[1] for r in rows],
                             "query": [r[2] for r in rows]}), path)
    return path


@pytest.mark.parametrize("write, name", [
    (jsonl, "gen.jsonl"), (tsv, "gen.tsv"), (parquet_struct, "gen.parquet"), (parquet_map, "map.parquet"),
    (parquet_long, "long.parquet"),
])
def test_import_through_the_runner(tmp_path, corpus, write, name):
    source = write(tmp_path / name)
    generator = GENERATORS.create("file", path=source)
    with pytest.warns(UserWarning, match="1 of 4 docids .* not in the corpus"):
        manifest = generate_corpus(corpus, generator, ["ar", "ja"], 2, tmp_path / "out", progress=False)
    rows = read_shard_set(tmp_path / "out")
    assert {r["docid"]: r["generated_queries"] for r in rows} == EXPECTED
    report = manifest["generator_report"]
    assert report["docids_not_in_corpus"] == 1 and report["docids_not_in_corpus_examples"] == ["not-in-corpus"]
    counts = manifest["counts"]
    assert counts["requests_without_output"] == 3  # demo-002 ja, demo-004 ar and ja
    assert counts["duplicates_removed"] == 1 and counts["empty_dropped"] == 1
    assert counts["over_limit"] == 2  # demo-001 ar's third distinct text, demo-003 ja's third
    assert counts["kept"] == 9 and counts["generated"] == 5 + 2 + 1 + 2 + 3
    assert manifest["generator"]["name"] == "file" and len(manifest["generator"]["sha256"]) == 64


def test_every_text_in_file_order(tmp_path):
    generator = FileGenerator(jsonl(tmp_path / "gen.jsonl"))
    asked = [Request("demo-001", "", "", "ar", 4, 0), Request("demo-001", "", "", "ko", 4, 0),
             Request("elsewhere", "", "", "ar", 1, 0)]
    assert generator.generate(asked) == [["س1", "س1", " ", "س2", "س3"], [], []]  # the runner keeps n
    assert generator.input_langs == ["ar", "ja"] and generator.max_per_lang == 5


def test_a_directory_of_files(tmp_path, corpus):
    data = tmp_path / "data"
    data.mkdir()
    items = list(GENERATIONS.items())
    write_jsonl(data / "shard_0.jsonl", [{"docid": d, "generated_queries": q} for d, q in items[:2]])
    write_jsonl(data / "shard_1.jsonl", [{"docid": d, "generated_queries": q} for d, q in items[2:]])
    (data / "dataset_infos.json").write_text('{\n"not": "rows"\n}\n')
    generator = FileGenerator(data)
    assert len(generator.files) == 2 and generator.texts == GENERATIONS


def test_a_shard_set_can_be_imported(tmp_path, corpus):
    with pytest.warns(UserWarning):
        generate_corpus(corpus, FileGenerator(jsonl(tmp_path / "gen.jsonl")), ["ar", "ja"], 2, tmp_path / "first",
                        progress=False)
    again = generate_corpus(corpus, FileGenerator(tmp_path / "first"), ["ar", "ja"], 2, tmp_path / "second",
                            progress=False)
    assert read_shard_set(tmp_path / "second") == read_shard_set(tmp_path / "first")
    assert again["generator_report"]["docids_not_in_corpus"] == 0


def test_passages_output(tmp_path, corpus):
    write_jsonl(tmp_path / "mt.jsonl", [{"docid": "demo-001", "generated_passages": {"de": ["Ein Vulkan."]}}])
    generator = FileGenerator(tmp_path / "mt.jsonl", output="passages")
    generate_corpus(corpus, generator, ["de"], 1, tmp_path / "out", progress=False)
    assert read_shard_set(tmp_path / "out")[0] == {"docid": "demo-001", "generated_passages": {"de": ["Ein Vulkan."]}}


@pytest.mark.parametrize("name, content, needle", [
    ("bad.tsv", "demo-001\tar\tq\ndemo-002\tar\n", "bad.tsv:2: expected docid<TAB>lang<TAB>query"),
    ("dup.jsonl", '{"docid": "a", "generated_queries": {}}\n{"docid": "a", "generated_queries": {}}\n',
     "dup.jsonl:2: duplicate docid 'a'"),
    ("shape.jsonl", '{"docid": "a", "generated_queries": {"ar": "q"}}\n',
     "shape.jsonl:1: generated_queries['ar'] must be a list of strings"),
    ("gen.csv", "a,b\n", "unknown generations format '.csv'"),
])
def test_bad_files(tmp_path, name, content, needle):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        FileGenerator(tmp_path / name)
    assert needle in str(err.value)


def test_parquet_without_the_columns(tmp_path):
    pq.write_table(pa.table({"id": ["a"], "queries": ["q"]}), tmp_path / "x.parquet")
    with pytest.raises(InputError, match="expected columns docid \\+ generated_queries.*found id, queries"):
        FileGenerator(tmp_path / "x.parquet")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        FileGenerator(tmp_path / "nope.jsonl")
    assert json.dumps(FileGenerator(jsonl(tmp_path / "g.jsonl")).config())  # serializable for the manifest
