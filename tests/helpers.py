"""Small writers and readers of test inputs."""

from __future__ import annotations

import json
import random
import re
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


# --------------------------------------------------------------------------- experiment datasets
# A tiny dataset in the converters' layout, built from the demo collection. Stand-ins (this is
# not real oracle data): the QG oracle of fold f is, per passage and language, the demo questions
# of that passage NOT in fold f followed by the demo's hand-written generated queries; the PG
# "translation" of a passage into a language is that language's hand-written generated queries
# joined into one text; answers (for R@kt) are the first word of the passage.

K = 2  # folds


def make_dataset(root: Path, k: int = K, seed: int = 7) -> Path:
    """The demo collection in the dataset layout: corpus, per-language topics/qrels, answers, oracle/."""
    from xqg_pyserini.data import demo_dir

    demo = demo_dir()
    root.mkdir(parents=True, exist_ok=True)
    corpus = [json.loads(line) for line in (demo / "corpus.jsonl").read_text("utf-8").splitlines()]
    write_jsonl(root / "corpus.jsonl", corpus)
    topics = dict(line.split("\t", 1) for line in (demo / "topics.tsv").read_text("utf-8").splitlines())
    qrels_lines = (demo / "qrels.txt").read_text("utf-8").splitlines()
    passage_of = {line.split()[0]: line.split()[2] for line in qrels_lines}
    langs = sorted({qid.split("-", 1)[0] for qid in topics})
    for lang in langs:
        (root / f"topics.{lang}.tsv").write_text(
            "".join(f"{q}\t{t}\n" for q, t in topics.items() if q.startswith(f"{lang}-")), encoding="utf-8")
        (root / f"qrels.{lang}.txt").write_text(
            "".join(f"{l}\n" for l in qrels_lines if l.startswith(f"{lang}-")), encoding="utf-8")
    (root / "topics.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in topics.items()), encoding="utf-8")
    (root / "qrels.txt").write_text("".join(f"{l}\n" for l in qrels_lines), encoding="utf-8")
    first_word = {row["id"]: re.sub(r"\W+$", "", row["contents"].split()[0]) for row in corpus}
    write_jsonl(root / "answers.jsonl", [{"id": q, "lang": q.split("-", 1)[0], "answers": [first_word[passage_of[q]]]}
                                         for q in topics])

    questions = sorted({q.split("-", 1)[1] for q in topics})  # "{NNN}-{i}"
    random.Random(seed).shuffle(questions)
    fold_of = {question: i % k for i, question in enumerate(questions)}
    oracle = root / "oracle" / "qg"
    oracle.mkdir(parents=True)
    (oracle / "folds.json").write_text(json.dumps({"k": k, "seed": seed, "fold_of": fold_of}), encoding="utf-8")
    generated = {row["docid"]: row["generated_queries"]
                 for row in map(json.loads, (demo / "generated.jsonl").read_text("utf-8").splitlines())}
    for fold in range(k):
        rows = []
        for passage in corpus:
            docid = passage["id"]
            by_lang = {}
            for lang in langs:
                usable = [t for q, t in topics.items() if q.startswith(f"{lang}-") and passage_of[q] == docid
                          and fold_of[q.split("-", 1)[1]] != fold]
                by_lang[lang] = usable + generated[docid][lang]
            rows.append({"docid": docid, "generated_queries": by_lang})
        write_jsonl(oracle / f"fold-{fold}.jsonl", rows)
    write_jsonl(root / "oracle" / "pg.jsonl", [
        {"docid": docid, "generated_passages": {lang: [" ".join(queries)] for lang, queries in by_lang.items()}}
        for docid, by_lang in generated.items()])
    return root


def write_config(tmp: Path, model: Path, **overrides) -> Path:
    config = {
        "name": "tiny",
        "description": "runner test on the demo collection",
        "data": "data",
        "output": "out",
        "encoder": {"name": str(model), "pooling": "mean", "l2_norm": True, "batch_size": 128},
        "metrics": ["MRR@10", "R@20", "R@2kt"],
        "hits": 30,
        "reference": {"alpha": 0.1},
        "grid": {
            "alpha": {"arms": ["qg", "pg", "qg+pg"], "alphas": [0, 0.1, 0.3]},
            "per_lang": {"arms": ["qg"], "per_lang": "1..all"},
            "num_langs": {"arms": ["qg", "pg", "qg+pg"], "num_langs": [1, 3, "all"]},
            "mean": {"arms": ["qg", "pg"], "alphas": [0.3], "fusion": ["mean", "sum"]},
        },
        "lang_order": {"seed": 3},
        "significance": {"permutations": 200, "seed": 1},
        "alignment": {"arm": "qg"},
        "save_indexes": True,
    }
    config.update(overrides)
    import yaml

    path = tmp / "experiment.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def listing(root: Path) -> dict:
    """Every path under ``root`` with its bytes (None for dirs): compared before and after a failed
    command, it shows that nothing was left behind or destroyed."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def run_cli(argv, capsys) -> tuple[int, str]:
    """``xqg ARGV`` in-process: (exit status, what it wrote to stderr)."""
    from xqg_pyserini.cli import main

    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err
