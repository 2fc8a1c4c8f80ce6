"""The experiment runner on a tiny dataset in the converters' layout (tests/helpers.py make_dataset)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import make_dataset, write_config
from xqg_pyserini.errors import InputError
from xqg_pyserini.experiments import job
from xqg_pyserini.experiments.config import load_config
from xqg_pyserini.experiments.runner import Experiment, run_experiment
from xqg_pyserini.io.runs import read_run


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, tiny_xlmr):
    """One cold run, shared by the checks below."""
    tmp = tmp_path_factory.mktemp("experiment")
    make_dataset(tmp / "data")
    config = write_config(tmp, tiny_xlmr)
    summary = run_experiment(config, progress=False)
    return tmp, config, summary


def _run_blocks(path: Path) -> list[str]:
    """qids in the order their blocks appear in a TREC file (a qid twice = two blocks)."""
    blocks = []
    for line in path.read_text(encoding="utf-8").splitlines():
        qid = line.split()[0]
        if not blocks or blocks[-1] != qid:
            blocks.append(qid)
    return blocks


def test_grid_runs_tags_and_merged_folds(experiment):
    tmp, config, summary = experiment
    out = tmp / "out"
    topics = [line.split("\t")[0] for line in (tmp / "data" / "topics.tsv").read_text("utf-8").splitlines()]
    # 6 target languages; at most 2 questions + 3 generated queries per passage and language -> n5.
    expected = {"plain", *(f"{arm}-a{a}-n5-L6" for arm in ("qg", "qg+pg") for a in (0, 0.1, 0.3)),
                *(f"pg-a{a}-L6" for a in (0, 0.1, 0.3)), *(f"qg-a0.1-n{n}-L6" for n in range(1, 6)),
                *(f"qg-a0.1-n5-L{m}" for m in (1, 3)), *(f"qg+pg-a0.1-n5-L{m}" for m in (1, 3)),
                *(f"pg-a0.1-L{m}" for m in (1, 3)), "qg-a0.3-n5-L6-mean", "pg-a0.3-L6-mean"}
    found = {p.name[:-len(".trec")] for p in (out / "runs").glob("*.trec")}
    assert found == expected
    for tag in expected:
        path = out / "runs" / f"{tag}.trec"
        assert {line.split()[5] for line in path.read_text("utf-8").splitlines()} == {tag}
        blocks = _run_blocks(path)
        assert len(blocks) == len(set(blocks)) == len(topics), tag  # each qid once, merged over folds
        assert set(blocks) == set(topics)
        record = json.loads((out / "runs" / f"{tag}.trec.json").read_text("utf-8"))
        assert record["tag"] == tag and record["folds"] == ([0, 1] if tag.startswith("qg") else None)
        assert (record["unaugmented"], record["renorm"]) == ((None, None) if tag == "plain" else ("keep", False))
    for name in ("summary.md", "leaderboard.md", "leaderboard.csv", "leaderboard.json", "per_language.md",
                 "per_language_all.md", "per_language_all.json",
                 "scores.json", "experiment.json", "alignment/per_language.csv", "alignment/margins.png"):
        assert (out / name).is_file(), name
    for axis in ("alpha", "per_lang", "num_langs", "languages"):
        png = out / "plots" / f"{axis}-MRR@10.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    text = summary.read_text("utf-8")
    assert summary == out / "summary.md"
    for part in ("xqg experiment", "## Leaderboard", "### sweep `alpha`", "### R@2kt", "Cosine alignment",
                 "plain (baseline)", "Fisher randomization test", "```yaml", str(tiny_xlmr_name(config)),
                 "plots/alpha-MRR@10.png", "indexes/plain", "## R@kt ceiling"):
        assert part in text, part
    board = json.loads((out / "leaderboard.json").read_text("utf-8"))
    assert board["baseline"] == "plain" and {r["run"] for r in board["rows"]} == expected
    assert all("p_values" in r for r in board["rows"] if r["run"] != "plain")


def tiny_xlmr_name(config: Path) -> str:
    return load_config(config).encoder.name


def test_alpha_zero_equals_plain(experiment):
    tmp, _, _ = experiment
    runs = tmp / "out" / "runs"
    plain = read_run(runs / "plain.trec")
    for tag in ("qg-a0-n5-L6", "pg-a0-L6", "qg+pg-a0-n5-L6"):
        other = read_run(runs / f"{tag}.trec")
        assert list(other) == list(plain)
        for qid in plain:
            assert [d for d, _ in other[qid]] == [d for d, _ in plain[qid]], (tag, qid)
            assert np.allclose([s for _, s in other[qid]], [s for _, s in plain[qid]], atol=2e-6)
    scores = json.loads((tmp / "out" / "scores.json").read_text("utf-8"))
    assert scores["qg-a0.3-n5-L6"]["mean"] != scores["plain"]["mean"]  # augmentation does change the ranking


def test_fold_never_sees_its_own_held_out_questions(experiment):
    tmp, config, _ = experiment
    exp = Experiment(load_config(config), tmp / "out", progress=False).prepare()
    topics = exp.data.topics
    point = exp.grid.points["qg+pg-a0.1-n5-L6"]
    assert exp.data.folds == [0, 1]
    for fold in exp.data.folds:
        held_out = exp.data.fold_topics(fold)
        others = [q for q in topics if q not in set(held_out)]
        assert held_out and others
        sources = exp.grid.fusion_inputs(point, fold).sources
        assert sources == (f"qg/fold-{fold}", "pg")
        inputs = exp.job.generated(sources[0]).concat(exp.job.generated(sources[1]))
        # What is fused is exactly these texts' vectors: the stores xqg index would read.
        from xqg_pyserini.io.embeddings import read_store

        stores = [read_store(path) for path in exp.job.index_inputs(point, fold)["generated"]]
        assert np.array_equal(np.concatenate([np.asarray(s.vectors) for s in stores]), inputs.vectors)
        assert [k for s in stores for k in s.generated_keys()] == inputs.keys
        used = set(inputs.texts)
        assert not used & {topics[q] for q in held_out}
        assert used & {topics[q] for q in others}  # the other folds' questions do augment
        # And by vector: no fused input row is the vector of a held-out question.
        held_vectors = exp.job.query_vectors[[exp.job.row_of_qid[q] for q in held_out]]
        gaps = np.abs(inputs.vectors[:, None, :] - held_vectors[None, :, :]).max(axis=2)
        assert gaps.min() > 0
    assert "fold leakage: 0 held-out topics" in (tmp / "out" / "summary.md").read_text("utf-8")


def test_grid_point_equals_build_index_and_search(experiment, tmp_path):
    from xqg_pyserini.index.build import build_index
    from xqg_pyserini.io.embeddings import read_store
    from xqg_pyserini.search.dense import search

    tmp, config, _ = experiment
    exp = Experiment(load_config(config), tmp / "out", progress=False).prepare()
    queries = read_store(exp.job.stores["queries"], kind="query")
    for tag in ("qg+pg-a0.3-n5-L6", "pg-a0.1-L3", "qg-a0.3-n5-L6-mean"):
        point = exp.grid.points[tag]
        merged = {}
        for fold in exp.grid.folds_of(point):
            target = tmp_path / tag / str(fold)
            build_index(output=target, **exp.job.index_inputs(point, fold))
            fold_topics = {q: exp.data.topics[q] for q in exp.grid.topics_of(fold)}
            merged.update(search(target, fold_topics, hits=exp.config.hits, progress=False, encoded=queries))
        ours = exp.job.search_point(point)
        written = read_run(tmp / "out" / "runs" / f"{tag}.trec")
        assert set(merged) == set(ours) == set(written)
        for qid in ours:
            assert [d for d, _ in merged[qid]] == [d for d, _ in ours[qid]], (tag, qid)
            assert [s for _, s in merged[qid]] == [s for _, s in ours[qid]]
            assert [d for d, _ in written[qid]] == [d for d, _ in ours[qid]]
    # The saved index of a final configuration is that same index.
    saved = tmp / "out" / "indexes" / "qg-a0.1-n5-L6"
    assert (saved / "fold-0" / "index").is_file() and (saved / "fold-1" / "xqg.json").is_file()
    assert (tmp / "out" / "indexes" / "plain" / "index").is_file()


def test_second_run_encodes_nothing(experiment, monkeypatch):
    tmp, config, _ = experiment
    cache = next((tmp / "out" / "cache").iterdir())
    stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("embeddings.npy")}
    assert {p.parent.name for p in stamps} >= {"query-texts", "passage-texts", "passages", "queries", "fold-0", "pg"}

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded on a warm cache")

    monkeypatch.setattr(job, "create_encoder", no_model)
    summary = run_experiment(config, output_dir=tmp / "out", progress=False, command="xqg experiment again")
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("embeddings.npy")} == stamps
    record = json.loads((tmp / "out" / "experiment.json").read_text("utf-8"))
    assert record["cache_stats"]["query"]["encoded"] == 0 and record["cache_stats"]["passage"]["encoded"] == 0
    assert "`xqg experiment again`" in summary.read_text("utf-8")


def test_shared_question_texts_are_encoded_once(experiment):
    """QG oracle texts that are topic texts share the topic vectors (content-keyed cache)."""
    tmp, config, _ = experiment
    exp = Experiment(load_config(config), tmp / "out", progress=False).prepare()
    texts = set(exp.data.topics.values()) | {t.text for ts in exp.data.qg.values() for t in ts}
    assert len(exp.job.query_cache) == len(texts)
    passages = {p.render("{title} {contents}") for p in exp.data.passages} | {t.text for t in exp.data.pg}
    assert len(exp.job.passage_cache) == len(passages)


# ----------------------------------------------------------------------------- config validation


@pytest.mark.parametrize("overrides, message", [
    ({"alphas": [0.1]}, "alphas: unknown key"),
    ({"hits": "many"}, "hits: must be an integer"),
    ({"grid": {"a": {"arms": ["qg", "xx"]}}}, "grid.a.arms[1]: unknown arm 'xx'"),
    ({"grid": {"a": {"arms": ["qg"], "alphas": [0.1, 2]}}}, "grid.a.alphas[1]: must be within [0, 1]"),
    ({"grid": {"a": {"arms": ["qg"], "per_lang": "1..x"}}}, "grid.a.per_lang: must be"),
    ({"grid": {"a": {"arms": ["qg"], "alpha": 0.1}}}, "grid.a.alpha: unknown key"),
    ({"encoder": {"name": "x", "pooling": "max"}}, "encoder.pooling: must be one of cls, mean"),
    ({"metrics": ["MRR@10", "NotAMetric"]}, "metrics: unknown metric 'NotAMetric'"),
    ({"select_metric": "R@5"}, "select_metric: 'R@5' is not among the metrics"),
    ({"significance": {"correction": "sidak"}}, "significance.correction: must be one of"),
    ({"grid": {"a": {"arms": ["qg"], "fusion": ["mean", "max"]}}}, "grid.a.fusion[1]: must be one of sum, mean"),
    ({"lang_order": {"seed": "x"}}, "lang_order.seed: must be an integer"),
    ({"alignment": {"arm": "plain"}}, "alignment.arm: must be one of qg, pg, qg+pg"),
])
def test_config_errors_name_the_key(tmp_path, overrides, message):
    config = write_config(tmp_path, Path("unused"), **overrides)
    with pytest.raises(InputError) as err:
        load_config(config)
    assert message in str(err.value) and str(config) in str(err.value)


def test_missing_data_files_are_named(tmp_path):
    data = make_dataset(tmp_path / "data")
    (data / "oracle" / "pg.jsonl").unlink()
    config = write_config(tmp_path, Path("unused"))
    with pytest.raises(InputError, match=r"oracle/pg\.jsonl: file not found \(needed for the pg arms\)"):
        Experiment(load_config(config), tmp_path / "out", progress=False).prepare()
    (data / "answers.jsonl").unlink()
    with pytest.raises(InputError, match=r"answers\.jsonl: file not found \(needed for the R@kt metrics\)"):
        Experiment(load_config(config), tmp_path / "out", progress=False).prepare()
    config = write_config(tmp_path, Path("unused"), topic_langs=["ar", "xx"], metrics=["MRR@10"])
    with pytest.raises(InputError, match=r"topics\.xx\.tsv: file not found \(needed for topic_langs\[1\] = xx\)"):
        Experiment(load_config(config), tmp_path / "out", progress=False).prepare()
    config = write_config(tmp_path, Path("unused"), metrics=["MRR@10"], target_langs=["ar", "ko"],
                          grid={"a": {"arms": ["qg"]}})
    with pytest.raises(InputError, match=r"target_langs\[1\]: no 'ko' texts in oracle/qg/fold-0\.jsonl"):
        Experiment(load_config(config), tmp_path / "out", progress=False).prepare()


def test_cli_reruns_from_cache_and_reports_bad_configs(experiment, tmp_path, capsys):
    from xqg_pyserini.cli import main

    tmp, config, summary = experiment
    board = summary.parent / "leaderboard.md"
    before = board.read_bytes()
    assert main(["experiment", str(config), "--no-progress"]) == 0
    assert f"summary: {summary}" in capsys.readouterr().out
    assert board.read_bytes() == before  # the same numbers and tests from the warm cache
    bad = write_config(tmp_path, Path("unused"), hits="many")
    assert main(["experiment", str(bad)]) == 2
    assert "hits: must be an integer" in capsys.readouterr().err
