"""The apertium generator on the real Apertium (apt-get install apertium-eng-spa; .ci/run installs it).

These tests fail, not skip, without it: the machine-translation arm is part of what the suite checks.
"""

import json
import re
import shutil

import pytest

from helpers import demo_subset, xqg_generate
from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.apertium import SEPARATOR, ApertiumTranslator, sanitize
from xqg_pyserini.generate.base import GENERATORS, Request


@pytest.fixture(scope="module", autouse=True)
def apertium_installed():
    assert shutil.which("apertium"), "these tests need Apertium: apt-get install apertium-eng-spa"


def requests(texts, lang="es", n=1):
    return [Request(docid=f"d{i}", title="A title that is never translated", text=text, lang=lang, n=n, seed=i)
            for i, text in enumerate(texts)]


def test_translates_english_into_spanish_one_output_per_request():
    generator = GENERATORS.create("apertium")
    texts = ["Where is the library?", "The house is red.", "Which team won the game?"]
    outputs = generator.generate(requests(texts, n=3))
    assert [len(o) for o in outputs] == [1, 1, 1]  # deterministic: one translation whatever n
    assert "biblioteca" in outputs[0][0] and "casa" in outputs[1][0] and "equipo" in outputs[2][0]
    assert not any("title" in o[0].lower() or "título" in o[0].lower() for o in outputs)
    assert generator.generate(requests(texts)) == outputs
    assert generator.output == "passages" and GENERATORS.create("apertium", output="queries").output == "queries"


def test_a_translation_does_not_depend_on_the_texts_beside_it():
    # Within one apertium process, "known" changes how "caused" is tagged in a later text (see the module
    # docstring); one process per text keeps each translation a function of its text.
    generator = ApertiumTranslator()
    alone = generator.translate(["What caused Luther to write hymns?"], "es")
    after = generator.translate(["What is the country known for?", "What caused Luther to write hymns?"], "es")
    assert after[1] == alone[0]


SPECIAL = ["^", "$", "[", "]", "\\", "/", "<", ">", "{", "}", "@", "*", "#", "~", "|"]


def special_texts():
    texts = [f"The value {c} is {100 + i} here." for i, c in enumerate(SPECIAL)]
    texts += ["a ^b$ [c] \\d /e <f> {g} @h *i #j ~k |l 200", "^$[]\\/<>{}@*#~| 201", "[[[ 202", "]]] 203",
              "<!-- 204", "line one\nline two\tand a tab 205", "\r\n\x00\x0b\u2028 206 \x85", ".", "", "   \n\t ",
              " ".join(["The river flows to the sea."] * 2000) + " 207"]
    return texts


@pytest.mark.parametrize("join", [False, True])
def test_special_characters_keep_each_output_with_its_input(join):
    generator = ApertiumTranslator(join=join, batch_size=64)
    texts = special_texts()
    outputs = generator.generate(requests(texts))
    assert len(outputs) == len(texts)
    for text, output in zip(texts, outputs):
        numbers = re.findall(r"\d+", text.replace("2000", ""))
        if not sanitize(text):
            assert output == []  # nothing to translate: no output
            continue
        assert len(output) == 1 and "\n" not in output[0] and "  " not in output[0]
        assert re.findall(r"\d+", output[0]) == numbers, (text[:60], output[0][:60])
    assert outputs[-1][0].count("río") == 2000


def test_a_joined_batch_whose_lines_do_not_match_is_translated_text_by_text(monkeypatch):
    generator = ApertiumTranslator(join=True)
    texts = ["The first dog 1.", "The second cat 2.", "The third bird 3."]
    expected = ApertiumTranslator().translate(texts, "es")
    real_run, calls = generator._run, []

    def one_line_too_many(stdin, pair):
        calls.append(stdin.count(SEPARATOR) + 1)
        out = real_run(stdin, pair)
        return out + "extra\n\n" if SEPARATOR in stdin else out

    monkeypatch.setattr(generator, "_run", one_line_too_many)
    assert generator.translate(texts, "es") == expected
    assert calls == [3, 1, 1, 1]  # the joined call, then one per text


def test_config_records_the_binary_version_pair_and_flags():
    config = ApertiumTranslator().config()
    assert config["name"] == "apertium" and config["binary"] == shutil.which("apertium")
    assert config["pairs"] == {"es": "eng-spa"} and config["flags"] == ["-u"]
    assert config["version"].startswith("Apertium") and config["packages"]["eng-spa"].startswith("apertium-eng-spa")
    assert "batch_size" not in config and ApertiumTranslator(join=True).config()["batch_size"] == 16
    assert ApertiumTranslator(mark_unknown=True).config()["flags"] == []


def test_a_missing_binary_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="'apertium' not found on PATH.*apt-get install apertium-eng-spa"):
        ApertiumTranslator()
    with pytest.raises(InputError, match="/nowhere/apertium' not found;.*apt-get install apertium-eng-spa"):
        ApertiumTranslator(binary="/nowhere/apertium")


def test_a_missing_pair_lists_the_installed_ones():
    with pytest.raises(InputError, match=r"pair\(s\) eng-xxx not installed; installed: .*eng-spa"):
        ApertiumTranslator(pairs="es=eng-xxx")
    with pytest.raises(InputError, match="--langs fr: the Apertium pair eng-fra is not installed; installed pairs: "
                                         ".*eng-spa.*apt-get install apertium-eng-spa"):
        ApertiumTranslator(langs=["fr"])
    with pytest.raises(InputError, match="no Apertium pair for 'xx' from 'en'"):
        ApertiumTranslator().translate(["Hello."], "xx")
    with pytest.raises(InputError, match="--apertium-pairs must look like"):
        ApertiumTranslator(pairs="es:eng-spa")
    with pytest.raises(InputError, match="--source-lang: unknown source language 'xx'"):
        ApertiumTranslator(source_lang="xx")


def test_a_failing_apertium_names_the_pair_and_its_stderr(tmp_path):
    fake = tmp_path / "apertium"
    fake.write_text('#!/bin/sh\nif [ "$1" = "-l" ]; then echo "  eng-spa"; exit 0; fi\n'
                    'echo "the pair data is broken" >&2\nexit 3\n')
    fake.chmod(0o755)
    generator = ApertiumTranslator(binary=str(fake))
    with pytest.raises(RuntimeError, match="apertium eng-spa: .* exited with status 3: the pair data is broken"):
        generator.translate(["Hello."], "es")


def test_xqg_generate_writes_a_shard_set(tmp_path):
    demo = demo_subset(tmp_path, passages=2)
    assert xqg_generate(demo["corpus"], tmp_path / "pg", "--generator", "apertium", "--langs", "es",
                        "--per-lang", "1") == 0
    rows = [json.loads(line) for line in (tmp_path / "pg" / "shard-00000-of-00001.jsonl").read_text().splitlines()]
    corpus = [json.loads(line) for line in demo["corpus"].read_text().splitlines()]
    assert [row["docid"] for row in rows] == [p["id"] for p in corpus]
    assert all(len(row["generated_passages"]["es"]) == 1 for row in rows)
    assert "Golfo de Nápoles" in rows[0]["generated_passages"]["es"][0]  # "... on the Gulf of Naples ..."
    manifest = json.loads((tmp_path / "pg" / "manifest-0-of-1.json").read_text())
    assert manifest["status"] == "complete" and manifest["generator"]["name"] == "apertium"
    assert xqg_generate(demo["corpus"], tmp_path / "qg", "--generator", "apertium", "--langs", "es",
                        "--apertium-output", "queries", "--apertium-join") == 0
    first = json.loads((tmp_path / "qg" / "shard-00000-of-00001.jsonl").read_text().splitlines()[0])
    assert list(first) == ["docid", "generated_queries"]


@pytest.mark.parametrize("argv, needle", [
    (["--langs", "fr"], "--langs: unknown language code(s) fr; known: es"),
    (["--langs", "es", "--apertium-binary", "/nowhere/apertium"], "apt-get install apertium-eng-spa"),
    (["--langs", "es", "--apertium-pairs", "es=eng-xxx"], "eng-xxx not installed"),
    (["--langs", "es", "--apertium-workers", "0"], "--apertium-workers must be at least 1"),
])
def test_bad_apertium_flags_fail_before_any_output(tmp_path, capsys, argv, needle):
    demo = demo_subset(tmp_path, passages=1)
    assert xqg_generate(demo["corpus"], tmp_path / "out", "--generator", "apertium", *argv) == 2
    assert needle in capsys.readouterr().err and not (tmp_path / "out").exists()
