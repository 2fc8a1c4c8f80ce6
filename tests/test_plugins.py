"""Plug-ins declare their own flags: third-party generators and encoders through fake entry points."""

import argparse
import json
import subprocess
import sys

import pytest

import xqg_pyserini.registry as registry
from helpers import demo_subset, xqg_generate
from xqg_pyserini.cli import build_parser, main
from xqg_pyserini.encode.cli import make_encoder
from xqg_pyserini.options import Option, OptionConflict, merge_options


class EchoGenerator:
    """A third-party generator: ``level`` numbered copies of ``tag`` per request."""

    output = "queries"
    summary = "echoes a tag"
    made: list[dict] = []

    @classmethod
    def options(cls):
        return [Option("--echo-level", type=int, keyword="level", help="copies per request (default 1)"),
                Option("--model", keyword="tag", help="the text to echo"),
                Option("--temperature", type=float, help="ignored")]

    def __init__(self, tag="echo", level=1, temperature=None):
        EchoGenerator.made.append({"tag": tag, "level": level, "temperature": temperature})
        self.tag, self.level = tag, level

    def generate(self, requests):
        return [[f"{self.tag} {r.lang} {i}" for i in range(self.level)] for r in requests]

    def config(self):
        return {"name": "echo", "tag": self.tag, "level": self.level}


class PlainGenerator(EchoGenerator):
    """A plug-in that declares nothing: it receives --model when given, as before options existed."""

    options = None

    def __init__(self, **options):
        PlainGenerator.received = options
        super().__init__(tag=options.get("model", "plain"))


class ClashingGenerator(EchoGenerator):
    @classmethod
    def options(cls):
        return [Option("--device", type=int, help="a GPU number")]  # built-ins take a device name


class FancyEncoder:
    """A third-party encoder class with a flag of its own and one shared with ``hf``."""

    def __init__(self, model, **options):
        self.model, self.options = model, options

    @classmethod
    def options(cls):
        return [Option("--pooling", choices=("cls", "mean"), from_record=True),
                Option("--window", type=int, help="tokens per window")]


class EntryPoint:
    def __init__(self, name, target):
        self.name, self.target = name, target

    def load(self):
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


@pytest.fixture
def plugins(monkeypatch):
    found = {"xqg_pyserini.generators": [EntryPoint("echo", EchoGenerator), EntryPoint("plain", PlainGenerator)],
             "xqg_pyserini.encoders": [EntryPoint("fancy", FancyEncoder)]}
    monkeypatch.setattr(registry, "entry_points", lambda group: found.get(group, []))
    EchoGenerator.made.clear()
    return found



def help_of(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_a_plugin_generator_receives_its_own_option(tmp_path, plugins, capsys):
    demo = demo_subset(tmp_path, passages=2)
    assert xqg_generate(demo["corpus"], tmp_path / "out", "--generator", "echo", "--model", "hi", "--echo-level", "2",
                    "--langs", "de,fr") == 0
    assert EchoGenerator.made == [{"tag": "hi", "level": 2, "temperature": None}]  # unset flags stay unset
    rows = [json.loads(line) for line in (tmp_path / "out" / "shard-00000-of-00001.jsonl").read_text().splitlines()]
    assert rows[0]["generated_queries"] == {"de": ["hi de 0", "hi de 1"], "fr": ["hi fr 0", "hi fr 1"]}
    text = help_of("generate", capsys)
    assert "echo (echoes a tag): --echo-level ECHO_LEVEL copies per request (default 1)" in text
    assert "openai: default 0.7; echo: ignored" in text  # one --temperature, its help naming every user
    assert text.count("--device DEVICE cpu") == 1 and "registered generator: hf-qg, hf-mt, openai, file, " in text


def test_a_plugin_without_declarations_gets_model_only_when_given(tmp_path, plugins):
    demo = demo_subset(tmp_path, passages=1)
    assert xqg_generate(demo["corpus"], tmp_path / "a", "--generator", "plain", "--langs", "de",
                        "--temperature", "2") == 0
    assert PlainGenerator.received == {}
    assert xqg_generate(demo["corpus"], tmp_path / "b", "--generator", "plain", "--langs", "de", "--model", "m") == 0
    assert PlainGenerator.received == {"model": "m"}


def test_broken_and_clashing_plugins_are_left_out(tmp_path, plugins, capsys):
    plugins["xqg_pyserini.generators"] += [EntryPoint("broken", ImportError("no module named fancy_gpu")),
                                           EntryPoint("clash", ClashingGenerator)]
    with pytest.warns(UserWarning) as caught:
        parser = build_parser()
    messages = [str(w.message) for w in caught]
    assert any("'broken' is left out: ImportError: no module named fancy_gpu" in m for m in messages)
    assert any("'clash' is left out" in m and "--device" in m for m in messages)
    assert parser.parse_args(["generate", "--output", "o", "--device", "cuda:1"]).device == "cuda:1"
    demo = demo_subset(tmp_path, passages=1)
    with pytest.warns(UserWarning):
        assert xqg_generate(demo["corpus"], tmp_path / "out", "--generator", "clash", "--langs", "de") == 1
    assert "generator plug-in 'clash' cannot be used" in capsys.readouterr().err


def test_a_plugin_encoder_gets_its_options_and_the_recorded_ones(plugins, capsys):
    args = build_parser().parse_args(["search", "--index", "i", "--topics", "t", "--output", "o",
                                      "--encoder", "m", "--encoder-class", "fancy", "--window", "3"])
    encoder = make_encoder(args)
    assert isinstance(encoder, FancyEncoder) and (encoder.model, encoder.options) == ("m", {"window": 3})
    args = build_parser().parse_args(["search", "--index", "i", "--topics", "t", "--output", "o"])
    recorded = {"encoder": "m", "encoder_class": "fancy", "pooling": "mean", "query_prefix": "q:"}
    encoder = make_encoder(args, recorded)  # query_prefix: not a fancy option, so not passed
    assert (encoder.model, encoder.options) == ("m", {"pooling": "mean"})
    assert "--window WINDOW tokens per window" in help_of("encode", capsys)


def test_identical_declarations_merge_and_different_ones_clash():
    shared = Option("--top-p", type=float, help="default 1.0")
    merged = merge_options({"a": [shared], "b": [Option("--top-p", type=float, help="default 1.0")],
                            "c": [Option("--top-p", type=float, help="server default")]})
    assert [(m.option.flag, m.owners, m.help) for m in merged] == \
        [("--top-p", ("a", "b", "c"), "a, b: default 1.0; c: server default")]
    with pytest.raises(OptionConflict, match="b declares --top-p unlike a"):
        merge_options({"a": [shared], "b": [Option("--top-p", type=int)]})
    parser = argparse.ArgumentParser()
    merged[0].option.add_to(parser, help=merged[0].help)
    assert parser.parse_args(["--top-p", "0.5"]).top_p == 0.5 and parser.parse_args([]).top_p is None


def test_building_the_parser_imports_no_model_library():
    code = ("import sys; from xqg_pyserini.cli import build_parser; build_parser(); "
            "print(sorted({'torch', 'transformers', 'faiss', 'pyserini'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_an_encoder_plugin_without_declarations_gets_the_standard_flags(plugins):
    class Bare:
        def __init__(self, model, **options):
            self.model, self.options = model, options

    plugins["xqg_pyserini.encoders"].append(EntryPoint("bare", Bare))
    args = build_parser().parse_args(["search", "--index", "i", "--topics", "t", "--output", "o", "--encoder", "m",
                                      "--encoder-class", "bare", "--batch-size", "4", "--no-l2-norm"])
    assert make_encoder(args).options == {"batch_size": 4, "l2_norm": False}
