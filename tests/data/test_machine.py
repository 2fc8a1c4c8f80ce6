"""``xqg data mt``: machine-translated PG and QG folds beside the human oracle (real Apertium; fails without it)."""

import json
import shutil

import pytest

from helpers import make_dataset, write_jsonl
from xqg_pyserini.cli import main
from xqg_pyserini.data.machine import read_machine_oracle
from xqg_pyserini.generate.apertium import ApertiumTranslator

# English questions of the first six demo passages (the tiny dataset has no English topics).
ENGLISH = {
    "001-1": "How far from Naples is Mount Vesuvius?", "001-2": "Which Roman towns were buried in 79 AD?",
    "002-1": "What grows on the slopes of Etna?", "002-2": "When did Etna become a World Heritage Site?",
    "003-1": "In which year did Bach die?", "003-2": "What does the Well-Tempered Clavier contain?",
    "004-1": "How old was Chopin when he died?", "004-2": "Which dances inspired the mazurkas of Chopin?",
    "005-1": "Is Python 3 compatible with Python 2?", "005-2": "What nationality is the creator of Python?",
    "006-1": "Who created the Rust language?", "006-2": "Which languages does Rust want to match in speed?",
}
PASSAGES = 6


@pytest.fixture(scope="module", autouse=True)
def apertium_installed():
    assert shutil.which("apertium"), "these tests need Apertium: apt-get install apertium-eng-spa"


@pytest.fixture
def dataset(tmp_path):
    """The tiny dataset cut to six passages, with English topics: one passage's two questions (in different
    folds) share a text, and one question is relevant to two passages."""
    root = make_dataset(tmp_path / "data")
    corpus = [json.loads(line) for line in (root / "corpus.jsonl").read_text().splitlines()][:PASSAGES]
    write_jsonl(root / "corpus.jsonl", corpus)
    fold_of = json.loads((root / "oracle" / "qg" / "folds.json").read_text())["fold_of"]
    english = dict(ENGLISH)
    twin = next(n for n in range(1, PASSAGES + 1) if fold_of[f"{n:03d}-1"] != fold_of[f"{n:03d}-2"])
    english[f"{twin:03d}-2"] = english[f"{twin:03d}-1"]
    (root / "topics.en.tsv").write_text("".join(f"en-{q}\t{t}\n" for q, t in english.items()), encoding="utf-8")
    qrels = [f"en-{q} 0 demo-{q[:3]} 1" for q in english] + ["en-005-1 0 demo-006 1"]
    (root / "qrels.en.txt").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return root, english, fold_of, twin


def xqg_mt(root, *flags):
    return main(["data", "mt", "--data", str(root), "--langs", "es", "--no-progress", *flags])


def test_xqg_data_mt_writes_pg_and_the_qg_folds_with_the_oracle_exclusions(dataset, capsys):
    root, english, fold_of, twin = dataset
    assert xqg_mt(root) == 0
    assert "6 passages and 11 distinct English questions translated into es; 2 QG folds" in capsys.readouterr().out
    mt = root / "mt"
    corpus = [json.loads(line) for line in (root / "corpus.jsonl").read_text().splitlines()]
    pg = [json.loads(line) for line in (mt / "pg.jsonl").read_text().splitlines()]
    assert [row["docid"] for row in pg] == [p["id"] for p in corpus]
    assert "Golfo de Nápoles" in pg[0]["generated_passages"]["es"][0]

    translator = ApertiumTranslator()
    translation = dict(zip(english, translator.translate(list(english.values()), "es")))
    relevant = {q: [f"demo-{q[:3]}"] + (["demo-006"] if q == "005-1" else []) for q in english}
    for fold in (0, 1):
        rows = {row["docid"]: row["generated_queries"]["es"]
                for row in map(json.loads, (mt / "qg" / f"fold-{fold}.jsonl").read_text().splitlines())}
        for question, docids in relevant.items():
            for docid in docids:
                held_out = fold_of[question] == fold
                # a fold-f question never augments its passage in fold f's file; the others always do,
                # unless their text equals a held-out question's (the twin pair)
                expected = not held_out and not docid == f"demo-{twin:03d}"
                assert (translation[question] in rows.get(docid, [])) == expected, (fold, question, docid)
    manifest = json.loads((mt / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["generator"]["name"] == "apertium"
    assert manifest["counts"]["questions"] == 12 and manifest["counts"]["distinct_questions"] == 11
    assert manifest["counts"]["passages_translated"] == {"es": 6} and manifest["command"].startswith("xqg data mt")
    assert sorted(manifest["files"]) == ["README.md", "pg.jsonl", "qg/fold-0.jsonl", "qg/fold-1.jsonl"]
    assert "MACHINE translations" in (mt / "README.md").read_text()

    pg_texts, qg_texts = read_machine_oracle(root)
    assert len(pg_texts) == 6 and pg_texts[0].lang == "es" and sorted(qg_texts) == [0, 1]
    assert sum(len(texts) for texts in qg_texts.values()) == sum(f["texts"] for f in manifest["counts"]["folds"])


def test_a_rerun_does_nothing_and_other_files_are_never_overwritten(dataset, capsys):
    root = dataset[0]
    assert xqg_mt(root) == 0
    before = {p: p.stat().st_mtime_ns for p in (root / "mt").rglob("*") if p.is_file()}
    capsys.readouterr()
    assert xqg_mt(root) == 0
    assert "is up to date (nothing to do)" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (root / "mt").rglob("*") if p.is_file()} == before

    assert xqg_mt(root, "--apertium-join") == 2  # other settings: refused without --overwrite
    assert "other settings (differs in generator.batch_size, generator.mode)" in capsys.readouterr().err
    (root / "mt" / "pg.jsonl").write_text("my own notes\n")
    assert xqg_mt(root, "--overwrite") == 2
    assert "pg.jsonl: was not written by xqg data mt" in capsys.readouterr().err
    assert (root / "mt" / "pg.jsonl").read_text() == "my own notes\n"


def test_bad_inputs_fail_before_any_output(dataset, capsys):
    root = dataset[0]
    assert xqg_mt(root, "--generator", "hf-qg") == 2
    assert "xqg data mt needs a translator (hf-mt, apertium)" in capsys.readouterr().err
    assert main(["data", "mt", "--data", str(root), "--langs", "fr", "--no-progress"]) == 2
    assert "eng-fra is not installed" in capsys.readouterr().err and not (root / "mt").exists()
    (root / "mt").mkdir()
    (root / "mt" / "manifest.json").write_text("{}")
    assert xqg_mt(root) == 2 and "is not an xqg data mt manifest" in capsys.readouterr().err
    assert [p.name for p in (root / "mt").iterdir()] == ["manifest.json"]
    (root / "topics.en.tsv").unlink()
    assert xqg_mt(root) == 2 and "topics.en.tsv: not found" in capsys.readouterr().err
