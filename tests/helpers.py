"""Small writers and readers of test inputs."""

from __future__ import annotations

import json
from pathlib import Path


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def demo_texts() -> list[str]:
    """The demo passages and topics: what the tiny models' tokenizers are trained on."""
    from xqg_pyserini.data import demo_dir

    demo = demo_dir()
    texts = [json.loads(line)["contents"] for line in (demo / "corpus.jsonl").read_text("utf-8").splitlines()]
    texts += [line.split("\t", 1)[1] for line in (demo / "topics.tsv").read_text("utf-8").splitlines()]
    return texts


def demo_subset(tmp: Path, passages: int = 8) -> dict[str, Path]:
    """The first ``passages`` demo passages with their topics, qrels and generated queries."""
    from xqg_pyserini.data import demo_dir

    demo = demo_dir()
    corpus = [json.loads(l) for l in (demo / "corpus.jsonl").read_text("utf-8").splitlines()][:passages]
    keep = {row["id"] for row in corpus}
    qrels = [l for l in (demo / "qrels.txt").read_text("utf-8").splitlines() if l.split()[2] in keep]
    qids = {l.split()[0] for l in qrels}
    topics = [l for l in (demo / "topics.tsv").read_text("utf-8").splitlines() if l.split("\t")[0] in qids]
    generated = [json.loads(l) for l in (demo / "generated.jsonl").read_text("utf-8").splitlines()]
    paths = {
        "corpus": write_jsonl(tmp / "corpus.jsonl", corpus),
        "generated": write_jsonl(tmp / "generated.jsonl", [g for g in generated if g["docid"] in keep]),
        "topics": tmp / "topics.tsv",
        "qrels": tmp / "qrels.txt",
    }
    paths["topics"].write_text("\n".join(topics) + "\n", encoding="utf-8")
    paths["qrels"].write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return paths


def xqg_generate(corpus: Path, out: Path, *flags) -> int:
    """``xqg generate`` of ``corpus`` into ``out`` (no progress bars); its exit status."""
    from xqg_pyserini.cli import main

    return main(["generate", "--corpus", str(corpus), "--output", str(out), "--no-progress", *map(str, flags)])
