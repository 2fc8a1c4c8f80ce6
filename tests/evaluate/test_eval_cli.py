"""`xqg eval` with R@kt, Fisher tests against a baseline, per-language columns and exports."""

import json
import random

import pytest

from helpers import write_jsonl
from xqg_pyserini.cli import main

LANGS = ("ar", "ja", "fi")


@pytest.fixture
def setup(tmp_path):
    rng = random.Random(5)
    words = [f"w{i}" for i in range(400)]
    corpus = [{"id": f"d{i}", "contents": " ".join(rng.choices(words, k=60)) + f" answer{i} ."} for i in range(60)]
    write_jsonl(tmp_path / "corpus.jsonl", corpus)
    answers, qrels, good, bad = [], [], [], []
    for n in range(90):
        lang, target = LANGS[n % 3], f"d{n % 60}"
        qid = f"{lang}-{n}"
        answers.append({"id": qid, "lang": lang, "answers": [f"answer{n % 60}"]})
        qrels.append(f"{qid} 0 {target} 1")
        others = [f"d{i}" for i in rng.sample(range(60), 30) if f"d{i}" != target][:20]
        good_rank = rng.choice([0, 1, 2]) if lang != "fi" else rng.choice([0, 30])
        ranking = others[:good_rank] + [target] + others[good_rank:]
        good += [f"{qid} Q0 {d} {r + 1} {100 - r} good" for r, d in enumerate(ranking[:20])]
        bad += [f"{qid} Q0 {d} {r + 1} {100 - r} bad" for r, d in enumerate(others[:20])]
    write_jsonl(tmp_path / "answers.jsonl", answers)
    (tmp_path / "qrels.txt").write_text("\n".join(qrels) + "\n")
    (tmp_path / "good.trec").write_text("\n".join(good) + "\n")
    (tmp_path / "bad.trec").write_text("\n".join(bad) + "\n")
    return tmp_path


def common(tmp):
    return ["eval", "--qrels", str(tmp / "qrels.txt"), "--answers", str(tmp / "answers.jsonl"),
            "--corpus", str(tmp / "corpus.jsonl"), "--runs", str(tmp / "bad.trec"), str(tmp / "good.trec"),
            "--baseline", str(tmp / "bad.trec"), "--permutations", "2000"]


def test_leaderboard_with_rkt_and_significance(setup, capsys):
    assert main(common(setup) + ["--metrics", "MRR@10 R@20 R@0.1kt R@2kt", "--format", "json"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board["baseline"] == "bad" and board["test"]["n_permutations"] == 2000
    good = next(row for row in board["rows"] if row["run"] == "good")
    assert set(good["values"]) == {"MRR@10", "R@20", "R@0.1kt", "R@2kt"}
    assert good["values"]["R@2kt"] > 80 and all(good["significant"].values())
    assert all(p < 0.01 for p in good["p_values"].values())
    assert main(common(setup) + ["--metrics", "MRR@10 R@2kt"]) == 0
    out = capsys.readouterr().out
    assert "| bad (baseline) |" in out and "†" in out and "Fisher randomization" in out
    good_line = next(line for line in out.splitlines() if line.startswith("| good"))
    assert "**" in good_line  # best value in bold


def test_per_language_columns_and_tex(setup, capsys):
    assert main(common(setup) + ["--metrics", "R@2kt", "--per-lang", "--format", "md"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    for lang in ("Ar", "Ja", "Fi", "Avg"):
        assert lang in header
    assert main(common(setup) + ["--metrics", "MRR@10", "--format", "tex"]) == 0
    tex = capsys.readouterr().out
    assert "\\begin{tabular}" in tex and "\\textbf{" in tex and "\\dagger" in tex


def test_prediction_json_round_trip_gives_the_same_rkt(setup, capsys):
    assert main(["predictions", "--run", str(setup / "good.trec"), "--corpus", str(setup / "corpus.jsonl"),
                 "--answers", str(setup / "answers.jsonl"), "--output", str(setup / "good.json")]) == 0
    predictions = json.loads((setup / "good.json").read_text())
    assert {"id", "lang", "ctxs"} <= set(predictions[0]) and isinstance(predictions[0]["ctxs"][0], str)
    capsys.readouterr()
    base = ["eval", "--answers", str(setup / "answers.jsonl"), "--corpus", str(setup / "corpus.jsonl"),
            "--metrics", "R@0.1kt R@2kt", "--format", "csv", "--runs"]
    assert main(base + [str(setup / "good.trec")]) == 0
    from_run = capsys.readouterr().out.splitlines()[1].split(",")[2:]
    assert main(base + [str(setup / "good.json")]) == 0
    from_predictions = capsys.readouterr().out.splitlines()[1].split(",")[2:]
    assert from_run == from_predictions


def test_eval_input_errors(setup, capsys):
    status = main(["eval", "--runs", str(setup / "good.trec"), "--metrics", "R@2kt",
                   "--corpus", str(setup / "corpus.jsonl")])
    assert status == 2 and "--answers is needed for R@2kt" in capsys.readouterr().err
    (setup / "ghost.trec").write_text("ar-0 Q0 nowhere 1 1.0 x\n")
    status = main(["eval", "--runs", str(setup / "ghost.trec"), "--metrics", "R@2kt",
                   "--answers", str(setup / "answers.jsonl"), "--corpus", str(setup / "corpus.jsonl")])
    assert status == 2 and "nowhere" in capsys.readouterr().err
    status = main(common(setup)[:-4] + ["--baseline", "missing.trec", "--metrics", "MRR@10"])
    assert status == 2 and "--baseline 'missing.trec' is not among the runs" in capsys.readouterr().err


def test_clustered_test_with_intervals_and_effects(setup, capsys):
    # qids "{lang}-{n}": one cluster per n; a clusters file that joins every 3 consecutive n gives fewer units
    lines = [f"{lang}-{n}\tq{n // 3}" for n in range(90) for lang in LANGS if n % 3 == LANGS.index(lang)]
    (setup / "clusters.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for rule in ("none", "question", str(setup / "clusters.tsv")):
        assert main(common(setup) + ["--metrics", "MRR@10", "--cluster-by", rule, "--bootstrap", "500",
                                     "--format", "json"]) == 0
        board = json.loads(capsys.readouterr().out)
        good = next(row for row in board["rows"] if row["run"] == "good")
        low, high = good["intervals"]["MRR@10"]
        assert low < good["differences"]["MRR@10"] < high and board["test"]["cluster_by"] == rule
    assert main(common(setup) + ["--metrics", "MRR@10 R@2kt", "--cluster-by", str(setup / "clusters.tsv"),
                                 "--correction", "holm", "--effects"]) == 0
    out = capsys.readouterr().out
    assert "| Δ MRR@10" in out and "clustered Fisher randomization test" in out and "within each table" in out
    assert main(common(setup) + ["--cluster-by", str(setup / "nope.tsv")]) == 2
    assert "nope.tsv: --cluster-by must be one of none, question or a qid<TAB>cluster file" in capsys.readouterr().err
