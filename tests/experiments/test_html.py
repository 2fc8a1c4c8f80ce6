"""``xqg report``: one self-contained HTML page of an experiment, checked in headless Chromium."""

import re
import shutil
import subprocess

import pytest

from helpers import make_dataset, write_config
from xqg_pyserini.cli import main
from xqg_pyserini.experiments.html import render_report

CHROMIUM = ("chromium", "chromium-browser")  # Debian's package, and its name elsewhere


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, tiny_xlmr):
    """A tiny real experiment, plus an ``xqg eval --plot`` of its runs saved in its dir."""
    tmp = tmp_path_factory.mktemp("html")
    make_dataset(tmp / "data")
    config = write_config(tmp, tiny_xlmr, metrics=["MRR@10", "R@2kt"], hits=20, alignment=None,
                          save_indexes=False, grid={"alpha": {"arms": ["qg", "pg"], "alphas": [0.1, 0.3]}},
                          significance={"permutations": 200, "seed": 1, "bootstrap": 200})
    out = tmp / "out"
    assert main(["experiment", str(config), "--output", str(out), "--data", str(tmp / "data"), "--no-progress"]) == 0
    runs = out / "runs"
    assert main(["eval", "--qrels", str(tmp / "data" / "qrels.txt"), "--runs", str(runs / "plain.trec"),
                 str(next(runs.glob("qg-a0.1-*.trec"))), "--baseline", "plain", "--metrics", "MRR@10",
                 "--permutations", "200", "--bootstrap", "200", "--plot", str(out / "eval-effects.png")]) == 0
    return out


def _chromium() -> str:
    found = next((shutil.which(name) for name in CHROMIUM if shutil.which(name)), None)
    if found is None:  # a failure, not a skip: .ci/run installs Debian's chromium
        pytest.fail("headless Chromium not found (apt-get install -y chromium)")
    return found


def _dump_dom(page, profile) -> str:
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_page_loads_in_chromium_with_its_tables_and_inlined_plots(experiment, tmp_path, capsys):
    page = tmp_path / "page" / "report.html"
    assert main(["report", str(experiment), "--output", str(page)]) == 0
    assert "self-contained" in capsys.readouterr().out
    source = page.read_text(encoding="utf-8")
    # Self-contained: no file or network reference left in the source.
    assert not re.search(r'(src|href)="(?!data:)', source)
    pngs = sorted(experiment.rglob("*.png"))
    assert len(pngs) >= 3 and (experiment / "eval-effects.png") in pngs

    dom = _dump_dom(page, tmp_path / "profile")  # what the browser built from the file
    assert "<title>Experiment tiny</title>" in dom
    tables = re.findall(r"<table>.*?</table>", dom, flags=re.S)
    summary = (experiment / "summary.md").read_text(encoding="utf-8")
    summary_tables = len(re.findall(r"^\|[-|: ]+\|$", summary, flags=re.M))  # one separator row per table
    assert summary_tables >= 3 and len(tables) > summary_tables  # the summary's, then the full tables
    leaderboard = next(t for t in tables if "plain (baseline)" in t and "qg-a0.3" in t)
    assert "<th>MRR@10</th>" in leaderboard.replace(' style="text-align: right;"', "")
    images = re.findall(r'<img [^>]*src="([^"]*)"', dom)
    assert len(images) == len(pngs) and all(src.startswith("data:image/png;base64,") for src in images)
    assert "eval-effects.png" in dom  # the plot the summary does not show, under "Other plots"


def test_bad_dirs_are_named(tmp_path, experiment, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "summary.md" in capsys.readouterr().err and not (tmp_path / "report.html").exists()
    copy = tmp_path / "copy"
    shutil.copytree(experiment, copy)
    missing = next(copy.glob("plots/*.png"))
    missing.unlink()
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert missing.name in err and "missing" in err and not (copy / "report.html").exists()
    (copy / "summary.md").write_text("# x\n\n![outside](../../elsewhere.png)\n", encoding="utf-8")
    with pytest.raises(Exception, match="outside the experiment dir"):
        render_report(copy)
