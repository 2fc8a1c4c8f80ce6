"""Bad input found by trying the CLI as a new user would: each a named error with exit status 2 and
nothing written, or accepted the way the user meant it; and `--help` that says what each flag does."""

import argparse
import json
import time

import pytest

from helpers import demo_subset, listing, run_cli as run, write_config, write_jsonl, xqg_generate
from xqg_pyserini.cli import build_parser, main


@pytest.fixture
def data(tmp_path):
    return demo_subset(tmp_path, passages=3)


def test_bytes_that_are_not_utf8_name_the_file_line_and_column(tmp_path, capsys, data):
    bad = b"\xff\xfeoops"
    (tmp_path / "corpus.jsonl").write_bytes(b'{"id": "a", "contents": "x"}\n{"id": "b", "contents": "' + bad + b'"}\n')
    (tmp_path / "topics.tsv").write_bytes(b"q1\tfine\nq2\t" + bad + b"\n")
    (tmp_path / "run.trec").write_bytes(b"q1 Q0 a 1 1.0 t\nq1 Q0 " + bad + b" 2 0.5 t\n")
    (tmp_path / "exp.yaml").write_bytes(b"name: x\ndescription: " + bad + b"\n")
    (tmp_path / "good.trec").write_text("de-001-1 Q0 demo-001 1 1.0 t\n", encoding="utf-8")
    before = listing(tmp_path)
    cases = [
        (["predictions", "--run", "good.trec", "--corpus", "corpus.jsonl", "--answers", "a.jsonl",
          "--output", "p.json"],
         "corpus.jsonl:2: not UTF-8 text (byte 0xff at column 26); save the file as UTF-8"),
        (["search", "--index", "idx", "--topics", "topics.tsv", "--output", "r.trec"],
         "topics.tsv:2: not UTF-8 text (byte 0xff at column 4)"),
        (["eval", "--qrels", data["qrels"], "--runs", "run.trec"],
         "run.trec:2: not UTF-8 text (byte 0xff at column 7)"),
        (["experiment", "exp.yaml"], "exp.yaml:2: not UTF-8 text (byte 0xff at column 14)"),
    ]
    for argv, needle in cases:
        status, err = run([tmp_path / a if str(a).endswith((".jsonl", ".tsv", ".trec", ".yaml", ".json")) else a
                           for a in argv], capsys)
        assert status == 2 and needle in err, err
    assert listing(tmp_path) == before


def test_json_errors_read_well(tmp_path, capsys, data):
    (tmp_path / "corpus.jsonl").write_text('{"id": "a", "contents": "tab\there"}\n', encoding="utf-8")
    (tmp_path / "good.trec").write_text("q Q0 a 1 1.0 t\n", encoding="utf-8")
    status, err = run(["predictions", "--run", tmp_path / "good.trec", "--corpus", tmp_path / "corpus.jsonl",
                       "--answers", tmp_path / "a.jsonl", "--output", tmp_path / "p.json"], capsys)
    assert status == 2 and "corpus.jsonl:1: malformed JSON (Invalid control character at column 29)" in err
    assert "at at" not in err


@pytest.mark.parametrize("line, needle", [
    ("de-001-1 Q0 demo-001 1 nan t", "run.trec:2: score 'nan' is not a finite number"),
    ("de-001-1 Q0 demo-001 1 -inf t", "run.trec:2: score '-inf' is not a finite number"),
    ("de-001-1 Q0 demo-001 first 0.5 t", "run.trec:2: rank 'first' is not an integer"),
])
def test_a_run_with_a_bad_score_or_rank_is_refused(tmp_path, capsys, data, line, needle):
    (tmp_path / "run.trec").write_text(f"de-001-1 Q0 demo-002 1 1.0 t\n{line}\n", encoding="utf-8")
    status, err = run(["eval", "--qrels", data["qrels"], "--runs", tmp_path / "run.trec"], capsys)
    assert status == 2 and needle in err


@pytest.mark.parametrize("weights", ["0.5 nan", "inf 1"])
def test_weights_must_be_finite_numbers(capsys, weights):
    with pytest.raises(SystemExit) as exit_info:
        main(["fuse", "--runs", "a.trec", "b.trec", "--weights", weights, "--output", "f.trec"])
    assert exit_info.value.code == 2 and "argument --weights: not a finite number" in capsys.readouterr().err


def test_a_bom_does_not_become_part_of_the_first_qid(tmp_path, capsys, data):
    topics = data["topics"].read_text("utf-8")
    qrels = data["qrels"].read_text("utf-8")
    data["topics"].write_text("\ufeff" + topics, encoding="utf-8")
    data["qrels"].write_text("\ufeff" + qrels, encoding="utf-8")
    first = topics.split("\t", 1)[0]
    (tmp_path / "run.trec").write_text(f"\ufeff{first} Q0 {qrels.split()[2]} 1 1.0 t\n", encoding="utf-8")
    from xqg_pyserini.io.qrels import read_qrels
    from xqg_pyserini.io.topics import read_topics

    assert next(iter(read_topics(data["topics"]))) == first and first in read_qrels(data["qrels"])
    assert main(["eval", "--qrels", str(data["qrels"]), "--runs", str(tmp_path / "run.trec"),
                 "--metrics", "R@1"]) == 0
    assert "| run" in capsys.readouterr().out


def test_an_encoder_path_that_does_not_exist_is_named(tmp_path, capsys, data):
    before = listing(tmp_path)
    status, err = run(["encode", "--kind", "passage", "--input", data["corpus"], "--encoder", "/nonexistent/model",
                       "--output", tmp_path / "out"], capsys)
    assert status == 2 and "/nonexistent/model: no such model directory" in err and "e5-small" in err
    assert listing(tmp_path) == before


def test_an_unknown_hub_id_offline_fails_at_once_with_the_known_names(tmp_path, capsys, data, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    status, err = run(["encode", "--kind", "passage", "--input", data["corpus"], "--encoder", "someone/unknown-model",
                       "--output", tmp_path / "out"], capsys)
    assert time.perf_counter() - started < 5
    assert status == 2 and "'someone/unknown-model' is not a local dir and not in the Hugging Face cache" in err
    assert "names that work offline: e5-small" in err and not (tmp_path / "out").exists()


def test_generate_file_keeps_everything_by_default_and_counts_what_it_drops(tmp_path, capsys, data):
    rows = [{"docid": f"demo-00{i}", "generated_queries": {"de": [f"q{i}-{k}" for k in range(7)], "ja": [f"j{i}"]}}
            for i in range(1, 4)]
    write_jsonl(tmp_path / "gen.jsonl", rows)
    flags = ["--generator", "file", "--model", tmp_path / "gen.jsonl"]
    assert xqg_generate(data["corpus"], tmp_path / "all", *flags) == 0  # no --langs, no --per-lang
    manifest = json.loads((tmp_path / "all" / "manifest-0-of-1.json").read_text("utf-8"))
    assert manifest["langs"] == ["de", "ja"] and manifest["per_lang"] == 7
    assert manifest["counts"]["kept"] == 3 * 8 and manifest["counts"]["over_limit"] == 0
    capsys.readouterr()
    assert xqg_generate(data["corpus"], tmp_path / "five", *flags, "--per-lang", "5", "--langs", "de") == 0
    assert "dropped: 6 beyond --per-lang 5" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "five" / "manifest-0-of-1.json").read_text("utf-8"))
    assert manifest["counts"]["kept"] == 15 and manifest["counts"]["over_limit"] == 6
    assert manifest["counts"]["generated"] == 21


def test_align_without_language_prefixes_is_one_group_with_a_readable_plot():
    from xqg_pyserini.evaluate.align import Alignment, language_groups, margins_figure

    lang_of, note = language_groups(["de-001-1", "zh-002-1"])
    assert (lang_of("de-001-1"), note) == ("de", None)
    lang_of, note = language_groups(["1048585", "de-001-1", "2"])
    assert {lang_of(q) for q in ("1048585", "de-001-1", "2")} == {"all"} and "qid '1048585'" in note
    alignments = {str(q): Alignment(1 + q % 3, 1 + q % 2, 0.5, 0.2, 0.1 * (q % 4), 0.3) for q in range(97)}
    for title in ("", "a-study-with-a-long-name: cosine margin, plain (grey) vs qg-alpha0.01-per_lang3-num_langs5"):
        figure = margins_figure(alignments, alignments, lang_of, title)
        figure.canvas.draw()
        box = figure.axes[0].title.get_window_extent(figure.canvas.get_renderer())
        assert 0 <= box.x0 and box.x1 <= figure.bbox.x1 and box.y1 <= figure.bbox.y1  # nothing clipped
        assert figure.get_figwidth() == 6  # one group: not 97 of them


def _actions(parser, path=("xqg",)):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction):
            yield " ".join(path), action


def test_every_flag_says_what_it_does_and_its_default():
    missing, no_default = [], []
    for command, action in _actions(build_parser()):
        name = "/".join(action.option_strings) or action.dest
        if not action.help:
            missing.append(f"{command} {name}")
        elif action.default not in (None, False, argparse.SUPPRESS) and not action.required \
                and "default" not in action.help:
            no_default.append(f"{command} {name}")
    assert missing == [] and no_default == []
    search = build_parser().parse_args(["search", "--index", "i", "--topics", "t", "--output", "o"])
    assert not hasattr(search, "passage_prefix")  # search and align encode queries only
    assert build_parser().description.startswith("Cross-lingual query generation")
