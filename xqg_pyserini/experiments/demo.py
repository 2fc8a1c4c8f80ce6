"""``xqg demo``: encode -> plain index -> augmented index -> search both -> evaluate.

Runs on the bundled demo collection and leaves every intermediate file under the
output dir, so each step can be re-run by hand with the printed commands.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from xqg_pyserini.data import DEMO_FILES, demo_dir
from xqg_pyserini.encode.base import create_encoder
from xqg_pyserini.encode.run import encode_file
from xqg_pyserini.evaluate.measures import check_qids, score_run
from xqg_pyserini.evaluate.tables import render
from xqg_pyserini.index.build import build_index
from xqg_pyserini.io.atomic import atomic_file, check_work_dir
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.topics import read_topics
from xqg_pyserini.search.dense import search_to_file

METRICS = ["MRR@10", "R@1", "R@5", "R@20", "nDCG@10"]
RESULTS = "results.md"  # written last: marks a demo output dir
ENTRIES = ("data", "emb", "indexes", "runs")  # what a demo stopped before the end leaves


def _lang(qid: str) -> str:
    return qid.split("-", 1)[0]


def run_demo(output: Path, encoder: str = "e5-small", alpha: float = 0.01, **encoder_flags) -> str:
    """Run the demo; returns (and prints, and writes to ``results.md``) the result tables."""
    started = time.time()
    check_work_dir(output, markers=(RESULTS,), entries=ENTRIES, what="demo output")
    data = output / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        shutil.copyfile(demo_dir() / name, data / name)
    topics = read_topics(data / "topics.tsv")
    qrels = read_qrels(data / "qrels.txt")
    check_qids({qid: [] for qid in topics}, qrels, str(data / "topics.tsv"))

    print(f"[1/5] loading encoder {encoder}")
    model = create_encoder(encoder, **{k: v for k, v in encoder_flags.items() if v is not None})
    print("[2/5] encoding passages, generated queries and test queries")
    encode_file(data / "corpus.jsonl", "passage", model, output / "emb" / "passages")
    encode_file(data / "generated.jsonl", "generated", model, output / "emb" / "generated")
    queries = encode_file(data / "topics.tsv", "query", model, output / "emb" / "queries")
    print("[3/5] building the plain and the augmented index")
    indexes = {
        "plain": build_index(output / "emb" / "passages", output / "indexes" / "plain", alpha=0.0),
        f"xqg-alpha{alpha:g}": build_index(output / "emb" / "passages", output / "indexes" / f"xqg-alpha{alpha:g}",
                                           generated=output / "emb" / "generated", alpha=alpha),
    }
    print("[4/5] searching both indexes")
    runs = {}
    for name in indexes:
        runs[name] = search_to_file(output / "indexes" / name, data / "topics.tsv", topics, None,
                                    output / "runs" / f"{name}.trec", hits=100, encoded=queries)
    print("[5/5] evaluating")
    scores = [score_run(name, run, qrels, METRICS) for name, run in runs.items()]
    langs = sorted({_lang(qid) for qid in topics})
    by_lang = [type(s)(name=s.name, per_query={}, mean={
        lang: _mean([v for q, v in s.per_query["MRR@10"].items() if _lang(q) == lang]) for lang in langs
    }) for s in scores]
    augmented = indexes[f"xqg-alpha{alpha:g}"]
    text = "\n".join([
        f"# xqg demo: plain vs xQG-augmented ({encoder}, alpha={alpha:g}, fusion=sum)",
        "",
        f"{len(topics)} queries in {len(langs)} languages over {augmented['passages']['count']} English passages; "
        f"{augmented['queries_used']} generated queries in {len(augmented['langs'])} languages fused.",
        "",
        render(scores, METRICS),
        "MRR@10 per query language:",
        "",
        render(by_lang, langs),
        f"Files under {output}/ (took {time.time() - started:.0f}s).",
        "",
    ])
    with atomic_file(output / RESULTS) as out:
        out.write(text)
    print("\n" + text)
    return text


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
