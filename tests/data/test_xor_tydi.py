"""``xqg data xor-tydi`` and the reproduction path of docs/REPRODUCE.md, end to end on a synthetic corpus
in XOR-TyDi's file formats (DPR passage TSV, dev jsonl, released generations) with tiny models."""

import csv
import json
import random
import re
import shlex
from pathlib import Path

import pytest
import yaml

from helpers import write_jsonl
from tiny_models import build_random_mt5, build_tiny_bert
from xqg_pyserini.cli import build_parser, main
from xqg_pyserini.data.xor_tydi import iter_dpr_passages
from xqg_pyserini.generate.run import shard_range
from xqg_pyserini.io.answers import read_answers
from xqg_pyserini.io.corpus import read_corpus
from xqg_pyserini.io.generated import read_generated
from xqg_pyserini.io.runs import read_run
from xqg_pyserini.io.topics import read_topics

REPO = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((REPO / "configs" / "xor-tydi.yaml").read_text(encoding="utf-8"))
PAGE = (REPO / "docs" / "REPRODUCE.md").read_text(encoding="utf-8")
PASSAGES, LANGS, PER_LANG = 24, ("ar", "ja", "te"), 5
WORDS = ["river", "mountain", "city", "king", "war", "song", "island", "bridge", "temple", "empire", "forest",
         "castle", "poet", "ship", "desert", "harbor", "league", "planet", "glacier", "railway"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: one thread (tests/conftest.py)


def _synthetic(root: Path) -> dict[str, Path]:
    """A DPR TSV (csv quoting: tabs and quotes inside fields), a dev jsonl, a release dir."""
    rng = random.Random(11)
    root.mkdir(parents=True, exist_ok=True)
    passages = []
    for k in range(PASSAGES):
        text = " ".join(rng.choices(WORDS, k=30)) + f" answer{k} is here."
        if k == 3:
            text = 'He said "yes"\tthen left, answer3 too.'
        passages.append((str(k + 1), text, f"Title {k}"))
    with open(root / "psgs_w100.tsv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "text", "title"])
        writer.writerows(passages)
    dev = []
    for n in range(18):
        k = rng.randrange(PASSAGES)
        dev.append({"id": str(rng.randrange(-10**18, 10**18)), "lang": LANGS[n % 3],
                    "question": f"what {rng.choice(WORDS)}\t{rng.choice(WORDS)} answer{k}?",
                    "answers": [f"answer{k}"]})
    write_jsonl(root / "xor_dev_retrieve_eng_span_v1_1.jsonl", dev)
    release = root / "release" / "data"
    release.mkdir(parents=True)
    rows = [{"docid": pid, "generated_queries": {lang: [f"{lang} {' '.join(rng.choices(WORDS, k=4))}"
                                                        for _ in range(PER_LANG)] for lang in LANGS}}
            for pid, _, _ in passages]
    write_jsonl(release / "shard_0.jsonl", rows[:10])
    write_jsonl(release / "shard_1.jsonl", rows[10:])
    return {"tsv": root / "psgs_w100.tsv", "dev": root / "xor_dev_retrieve_eng_span_v1_1.jsonl", "release": release,
            "passages": passages, "dev_rows": dev, "rows": rows}


@pytest.fixture(scope="module")
def xor(tmp_path_factory):
    root = tmp_path_factory.mktemp("xor")
    src = _synthetic(root / "src")
    assert main(["data", "xor-tydi", "--corpus", str(src["tsv"]), "--dev", str(src["dev"]), "--output",
                 str(root / "xor"), "--shards", "2", "--generated", str(src["release"])]) == 0
    return root, src


def test_conversion(xor):
    root, src = xor
    out = root / "xor"
    corpus = read_corpus(out / "corpus.jsonl")
    assert [(p.docid, p.contents, p.title) for p in corpus] == src["passages"]  # quotes and tabs survive
    topics = read_topics(out / "topics.tsv")
    assert list(topics) == [row["id"] for lang in LANGS for row in src["dev_rows"] if row["lang"] == lang]
    for lang in LANGS:
        assert set(read_topics(out / f"topics.{lang}.tsv")) == {r["id"] for r in src["dev_rows"] if r["lang"] == lang}
    first = src["dev_rows"][0]
    assert topics[first["id"]] == " ".join(first["question"].split())  # qid kept as given, tab folded
    answers = read_answers(out / "answers.jsonl")
    assert {q: (a.lang, a.answers) for q, a in answers.items()} == {
        r["id"]: (r["lang"], tuple(r["answers"])) for r in src["dev_rows"]}
    assert (out / "clusters.tsv").read_text().splitlines()[0] == f"{first['id']}\t{first['id']}"
    lines = (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    for i in range(2):
        shard = (out / "shards" / f"corpus-{i:05d}-of-00002.jsonl").read_text(encoding="utf-8").splitlines()
        assert shard == [lines[p] for p in shard_range(PASSAGES, i, 2)]  # xqg generate --shard i/2's passages
        part = read_generated(out / "generated" / f"shard-{i:05d}-of-00002.jsonl")
        assert {t.docid for t in part} == {corpus[p].docid for p in shard_range(PASSAGES, i, 2)}
    released = [(r["docid"], lang, t) for r in src["rows"] for lang, texts in r["generated_queries"].items()
                for t in texts]
    assert sorted((t.docid, t.lang, t.text) for t in read_generated(out / "generated")) == sorted(released)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["passages"] == PASSAGES and stats["topics"] == {"ar": 6, "ja": 6, "te": 6}
    assert stats["generated"]["passages_without"] == 0 and "REPRODUCE.md" in (out / "README.md").read_text()


def test_bad_inputs_are_named_and_leave_nothing(tmp_path, xor, capsys):
    root, src = xor
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\ttext\ttitle\n1\tfine\tT\n2\tonly two fields\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"bad.tsv:3: expected 3 tab-separated fields"):
        list(iter_dpr_passages(bad))
    flags = ["data", "xor-tydi", "--dev", str(src["dev"]), "--output", str(tmp_path / "out")]
    assert main([*flags, "--corpus", str(bad)]) == 2
    assert "bad.tsv:3" in capsys.readouterr().err and not (tmp_path / "out").exists()
    (tmp_path / "noheader.tsv").write_text("1\ttext\ttitle\n", encoding="utf-8")
    assert main([*flags, "--corpus", str(tmp_path / "noheader.tsv")]) == 2
    assert "header" in capsys.readouterr().err
    stray = write_jsonl(tmp_path / "stray.jsonl", [{"docid": "999", "generated_queries": {"ar": ["?"]}}])
    assert main([*flags, "--corpus", str(src["tsv"]), "--generated", str(stray)]) == 2
    assert "999" in capsys.readouterr().err and not (tmp_path / "out").exists()
    twice = write_jsonl(tmp_path / "dev.jsonl", [src["dev_rows"][0], src["dev_rows"][0]])
    assert main(["data", "xor-tydi", "--corpus", str(src["tsv"]), "--dev", str(twice), "--output",
                 str(tmp_path / "out")]) == 2
    assert "duplicate id" in capsys.readouterr().err


def _encoder_flags(model: Path) -> list[str]:
    enc = CONFIG["encoder"]
    return ["--encoder", str(model), "--pooling", enc["pooling"], "--l2-norm" if enc["l2_norm"] else "--no-l2-norm",
            "--batch-size", "16"]


def test_reproduction_path_end_to_end(xor, tmp_path, capsys):
    """REPRODUCE.md's stages with configs/xor-tydi.yaml's settings: slices merged equal one whole index."""
    root, src = xor
    out = root / "xor"
    texts = [p[1] for p in src["passages"]] + [r["question"] for r in src["dev_rows"]]
    (tmp_path / "mbert").mkdir()
    mbert = build_tiny_bert(tmp_path / "mbert", texts, initializer_range=0.3)  # few tied scores
    mt5 = build_random_mt5(tmp_path / "mt5", texts, vocab_size=400)
    enc, q_len, p_len = _encoder_flags(mbert), CONFIG["encoder"]["query_max_length"], CONFIG["encoder"]["passage_max_length"]
    alpha, hits = CONFIG["fusion"]["alpha"], "10"
    # Our own generations, one slice at a time (the variant of the page).
    for i in range(2):
        assert main(["generate", "--corpus", str(out / "corpus.jsonl"), "--generator", "hf-qg", "--model", str(mt5),
                     "--langs", ",".join(CONFIG["generation"]["langs"][:2]), "--per-lang", "2", "--max-length", "8",
                     "--shard", f"{i}/2", "--device", "cpu", "--output", str(tmp_path / "gen"), "--no-progress"]) == 0
    emb, idx, runs = tmp_path / "emb", tmp_path / "idx", tmp_path / "runs"
    assert main(["encode", "--input", str(out / "topics.tsv"), "--kind", "query", *enc, "--max-length", str(q_len),
                 "--output", str(emb / "topics")]) == 0
    for i in range(2):
        s = f"{i:05d}-of-00002"
        assert main(["encode", "--input", str(out / "shards" / f"corpus-{s}.jsonl"), "--kind", "passage", *enc,
                     "--max-length", str(p_len), "--output", str(emb / f"p-{s}")]) == 0
        assert main(["encode", "--input", str(out / "generated" / f"shard-{s}.jsonl"), "--kind", "generated", *enc,
                     "--max-length", str(q_len), "--output", str(emb / f"g-{s}")]) == 0
        assert main(["index", "--passages", str(emb / f"p-{s}"), "--alpha", "0", "--output", str(idx / f"mbert-{s}")]) == 0
        assert main(["index", "--passages", str(emb / f"p-{s}"), "--generated", str(emb / f"g-{s}"), "--alpha",
                     str(alpha), "--fusion", CONFIG["fusion"]["fusion"], "--output", str(idx / f"mbert-xqg-{s}")]) == 0
        for arm in ("mbert", "mbert-xqg"):
            assert main(["search", "--index", str(idx / f"{arm}-{s}"), "--topics", str(out / "topics.tsv"),
                         "--encoded-queries", str(emb / "topics"), "--hits", hits,
                         "--output", str(runs / f"{arm}-{s}.trec")]) == 0
    for arm in ("mbert", "mbert-xqg"):
        assert main(["fuse", "--method", "combmax", "--norm", "none", "--hits", hits, "--runs",
                     *map(str, sorted(runs.glob(f"{arm}-0*.trec"))), "--output", str(runs / f"{arm}.trec")]) == 0

    # The same on one index of the whole corpus (and our own generations as a third run).
    assert main(["encode", "--input", str(out / "corpus.jsonl"), "--kind", "passage", *enc, "--max-length",
                 str(p_len), "--output", str(emb / "p")]) == 0
    for name, generated in (("release", out / "generated"), ("ours", tmp_path / "gen")):
        assert main(["encode", "--input", str(generated), "--kind", "generated", *enc, "--max-length", str(q_len),
                     "--output", str(emb / f"g-{name}")]) == 0
    whole = {"mbert": [], "mbert-xqg": [emb / "g-release"], "mbert-xqg-ours": [emb / "g-ours"]}
    for arm, stores in whole.items():
        flags = [f for store in stores for f in ("--generated", str(store))]
        assert main(["index", "--passages", str(emb / "p"), *flags, "--alpha", str(alpha if stores else 0),
                     "--output", str(idx / arm)]) == 0
        assert main(["search", "--index", str(idx / arm), "--topics", str(out / "topics.tsv"), *enc,
                     "--max-length", str(q_len), "--hits", hits, "--output", str(runs / f"whole-{arm}.trec")]) == 0
    for arm in ("mbert", "mbert-xqg"):
        merged, single = read_run(runs / f"{arm}.trec"), read_run(runs / f"whole-{arm}.trec")
        assert merged.keys() == single.keys()
        for qid in single:
            assert merged[qid] == [(d, pytest.approx(s, rel=1e-6)) for d, s in single[qid]]
    assert read_run(runs / "mbert.trec") != read_run(runs / "mbert-xqg.trec")  # alpha = 0.01 moves rankings

    # A run that ranks the passage holding each answer first: R@kt must be 100 in every language.
    corpus = {p.docid: p.contents for p in read_corpus(out / "corpus.jsonl")}
    oracle = [f"{r['id']} Q0 {next(d for d, t in corpus.items() if r['answers'][0] in t)} 1 1.0 oracle"
              for r in src["dev_rows"]]
    (runs / "oracle.trec").write_text("\n".join(oracle) + "\n")
    capsys.readouterr()
    metrics = " ".join(CONFIG["evaluation"]["metrics"])
    assert main(["eval", "--runs", str(runs / "mbert.trec"), str(runs / "mbert-xqg.trec"),
                 str(runs / "whole-mbert-xqg-ours.trec"), str(runs / "oracle.trec"), "--baseline", str(runs / "mbert.trec"),
                 "--answers", str(out / "answers.jsonl"), "--corpus", str(out / "corpus.jsonl"), "--metrics", metrics,
                 "--per-lang", "--permutations", "200", "--bootstrap", "200", "--cluster-by", str(out / "clusters.tsv"),
                 "--format", "csv", "--plot", str(tmp_path / "table1.png")]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    columns = [f"{m} {lang.capitalize()}" for m in CONFIG["evaluation"]["metrics"] for lang in (*LANGS, "Avg")]
    assert [r["run"] for r in rows] == ["mbert", "mbert-xqg", "whole-mbert-xqg-ours", "oracle"]
    oracle_row = rows[-1]
    for column in columns:
        assert float(oracle_row[column]) == 100.0
        assert all(0 <= float(r[column]) <= 100 for r in rows)
    assert (tmp_path / "table1.png").stat().st_size > 10_000


def _page_commands() -> list[str]:
    """Every ``xqg`` command in REPRODUCE.md's shell blocks, continuation lines joined."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", PAGE, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("xqg "):
                commands.append(line)
    return commands


def test_every_command_on_the_page_parses():
    values = {"$N": "72", "$i": "3", "$s": "00003-of-00072", "${N}": "72"}
    env = re.search(r'^ENC="(.*)"$', PAGE, flags=re.M).group(1)
    commands = _page_commands()
    assert len(commands) >= 14
    seen = set()
    for command in commands:
        for name, value in values.items():
            command = command.replace(name, value)
        argv = shlex.split(command.replace("$ENC", env))[1:]
        assert not [a for a in argv if "$" in a], command
        args = build_parser().parse_args(argv)  # exits (a failed test) on a stale flag
        seen.add(args.command)
        if "--encoder" in argv:  # the page's encoder settings are the config's
            enc = CONFIG["encoder"]
            assert args.encoder == enc["name"] and args.pooling == enc["pooling"] and args.l2_norm == enc["l2_norm"]
        if args.command == "index" and args.generated:
            assert args.alpha == CONFIG["fusion"]["alpha"] and args.fusion == CONFIG["fusion"]["fusion"]
        if args.command == "eval":
            assert args.metrics.split() == CONFIG["evaluation"]["metrics"]
    assert {"data", "encode", "index", "search", "fuse", "eval", "predictions", "generate", "filter"} <= seen


def test_the_page_shows_the_configs_reference_numbers():
    for metric in ("R@2kt", "R@5kt"):
        section = PAGE.split(f"\n{metric}\n", 1)[1].strip().split("\n\n", 1)[0]
        for run, by_lang in CONFIG["reference"][metric].items():
            row = next(line for line in section.splitlines() if line.startswith(f"| {run} | ielab/xQG4xDR README"))
            cells = [c.strip() for c in row.strip("|").split("|")][2:]
            assert cells == [f"{by_lang[lang]:.2f}" for lang in ("ar", "bn", "fi", "ja", "ko", "ru", "te", "Avg")]


def test_the_tsv_is_streamed(tmp_path, xor):
    """Converting a TSV much larger than the memory it may use: the peak does not grow with the file."""
    import tracemalloc

    root, src = xor
    tsv = tmp_path / "big.tsv"
    with open(tsv, "w", encoding="utf-8") as out:
        out.write("id\ttext\ttitle\n")
        for k in range(60_000):
            out.write(f"{k}\t{'passage text of some hundred bytes, repeated to fill the line. ' * 2}{k}\tT{k}\n")
    assert tsv.stat().st_size > 7_000_000
    tracemalloc.start()
    try:
        assert main(["data", "xor-tydi", "--corpus", str(tsv), "--dev", str(src["dev"]), "--output",
                     str(tmp_path / "out"), "--shards", "3"]) == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak
    assert sum(1 for _ in open(tmp_path / "out" / "corpus.jsonl", encoding="utf-8")) == 60_000
