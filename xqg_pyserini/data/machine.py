"""``xqg data mt``: machine-translated generations beside a converted dataset's human oracle.

Inside a converted dataset dir (``xqg data xquad|mlqa``), a translator (``apertium`` by default)
writes ``mt/``:

* PG: every corpus passage's ``contents`` (not its title) machine-translated into each language.
* QG: for every fold ``f`` of ``oracle/qg/folds.json``, each passage's ENGLISH questions
  (``topics.en.tsv`` + ``qrels.en.txt``; question id = qid without ``en-``) machine-translated,
  left out as the human QG oracle leaves them out (``data.oracle.qg_fold_rows``, the one
  implementation): questions of fold ``f``, and any whose translation equals, up to case and
  surrounding space, a translation of one of the passage's fold-``f`` questions (equal English
  texts translate alike, as each distinct English text is translated once).

Both go through ``generate_corpus``, so an interrupted run resumes: the passages (without titles)
and the distinct questions are two small corpora under ``mt/work/``, each with its shard set. The
final files are written atomically, after the manifest has claimed them (their sha256): a file in
``mt/`` that the manifest does not claim is never overwritten. A rerun whose settings (translator
config, languages, input hashes) and files are unchanged does nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Sequence

from xqg_pyserini.data.oracle import pg_rows, qg_fold_rows, qg_stats
from xqg_pyserini.errors import InputError
from xqg_pyserini.io.atomic import atomic_file
from xqg_pyserini.io.generated import PASSAGES_FIELD, QUERIES_FIELD, GeneratedText, iter_generated, read_generated
from xqg_pyserini.io.hashing import file_sha256

MT_DIR = "mt"
MANIFEST = "manifest.json"
README = "README.md"
PG_FILE = "pg.jsonl"
QG_FILE = "qg/fold-{fold}.jsonl"
WORK_PG, WORK_QG = "work/pg", "work/qg"  # the two shard sets
PASSAGES_CORPUS, QUESTIONS_CORPUS = "work/passages.jsonl", "work/questions.jsonl"
KIND = "xqg-machine-oracle"
INPUTS = {"corpus": "corpus.jsonl", "topics_en": "topics.en.tsv", "qrels_en": "qrels.en.txt",
          "folds": "oracle/qg/folds.json"}

MT_LAYOUT = """\
| file | contents |
|---|---|
| `pg.jsonl` | `{"docid", "generated_passages": {lang: [the machine translation of the passage contents]}}`, \
corpus order |
| `qg/fold-{f}.jsonl` | `{"docid", "generated_queries": {lang: [...]}}`: machine translations of the passage's \
English questions whose question id is not in fold f (as `oracle/qg/fold-{f}.jsonl`) |
| `manifest.json` | translator config and versions, languages, input hashes, counts, file hashes, command |
| `work/` | the translation runs (`xqg generate` shard sets of the passages and of the distinct English \
questions); resumable, not needed to read the results |
"""


def build_machine_oracle(root: str | Path, generator: Any, langs: Sequence[str], *, batch_size: int = 16,
                         progress: bool = True, overwrite: bool = False,
                         command: str | None = None) -> dict[str, Any]:
    """Write ``root/mt/`` (see the module docstring); returns its manifest (``up_to_date``: nothing was done)."""
    from xqg_pyserini.generate.base import check_langs

    root = Path(root)
    inputs = {name: root / rel for name, rel in INPUTS.items()}
    for path in inputs.values():
        if not path.is_file():
            raise InputError("not found: xqg data mt needs a dataset converted by xqg data xquad|mlqa "
                             "(with English topics and the QG folds)", path=path)
    langs = check_langs(list(langs), getattr(generator, "languages", None))
    if len(set(langs)) != len(langs):
        raise InputError(f"--langs: repeated language code in {','.join(langs)}")
    require = getattr(generator, "require", None)
    if callable(require):
        require(langs)
    mt = root / MT_DIR
    if mt.exists() and not mt.is_dir():
        raise InputError("exists and is not a directory", path=mt)
    settings = {"generator": generator.config(), "langs": langs,
                "inputs": {name: file_sha256(path) for name, path in inputs.items()}}
    fingerprint = _fingerprint(settings)
    previous = _read_manifest(mt)
    if previous is not None and previous.get("fingerprint") != fingerprint and not overwrite:
        raise InputError(f"holds machine translations made with other settings ({_differences(previous, settings)}); "
                         "rerun with --overwrite to replace them", path=mt / MANIFEST)
    if previous is not None and previous.get("fingerprint") == fingerprint and _intact(mt, previous):
        return {**previous, "up_to_date": True}
    existing = [PG_FILE, README, *(f"qg/{p.name}" for p in sorted((mt / "qg").glob("fold-*.jsonl")))]
    _check_owned(mt, previous, [*existing, *(previous or {}).get("files", {})])  # before any work

    english, questions_of, fold_of, k = _english_questions(inputs)
    docids = [row["id"] for row in _corpus_rows(inputs["corpus"])]
    started = time.monotonic()
    passage_texts = _translate_passages(mt, inputs["corpus"], generator, langs, batch_size, progress, overwrite)
    pg_seconds = time.monotonic() - started
    translated = _translate_questions(mt, english, generator, langs, batch_size, progress, overwrite)
    qg_seconds = time.monotonic() - started - pg_seconds

    outputs: dict[str, str] = {PG_FILE: _jsonl(pg_rows(docids, passage_texts))}
    texts = {lang: {qid: by_lang[lang] for qid, by_lang in translated.items() if by_lang.get(lang)}
             for lang in langs}
    fold_counts = []
    for fold in range(k):
        rows = qg_fold_rows(docids, questions_of, texts, fold_of, fold)
        outputs[QG_FILE.format(fold=fold)] = _jsonl(rows)
        stats = qg_stats(rows)
        fold_counts.append({"fold": fold, "rows": stats["passages"], "texts": stats["queries"],
                            "by_language": stats["by_language"]})
    counts = {
        "passages": len(docids),
        "passages_translated": {lang: sum(1 for by_lang in passage_texts.values() if by_lang.get(lang))
                                for lang in langs},
        "questions": len(english), "distinct_questions": len(set(english.values())),
        "questions_translated": {lang: len(texts[lang]) for lang in langs},
        "folds": fold_counts,
    }
    record = {"kind": KIND, "status": "incomplete", "fingerprint": fingerprint, "settings": settings,
              "langs": langs, "generator": settings["generator"], "counts": counts,
              "seconds": {"pg": round(pg_seconds, 1), "qg": round(qg_seconds, 1)}, "batch_size": batch_size,
              "work": {"pg": WORK_PG, "qg": WORK_QG}, "command": command}
    return _publish(mt, previous, outputs, record)


# --- inputs ---------------------------------------------------------------------------

def _corpus_rows(path: Path) -> list[dict]:
    from xqg_pyserini.io.corpus import read_corpus

    return [{"id": p.docid, "contents": p.contents} for p in read_corpus(path)]


def _english_questions(inputs: dict[str, Path]) -> tuple[dict[str, str], dict[str, list[str]], dict[str, int], int]:
    """question id -> English text, docid -> question ids (topics order), question id -> fold, k."""
    from xqg_pyserini.io.jsonl import read_json_object
    from xqg_pyserini.io.qrels import read_qrels
    from xqg_pyserini.io.topics import read_topics

    topics, qrels = read_topics(inputs["topics_en"]), read_qrels(inputs["qrels_en"])
    folds = read_json_object(inputs["folds"], required=("k", "fold_of"))
    fold_of, k = folds["fold_of"], folds["k"]
    if not isinstance(k, int) or not isinstance(fold_of, dict):
        raise InputError("expected {'k': int, 'fold_of': {question id: fold}}", path=inputs["folds"])
    english: dict[str, str] = {}
    questions_of: dict[str, list[str]] = {}
    for qid, text in topics.items():
        if not qid.startswith("en-"):
            raise InputError(f"English qid {qid!r} does not start with 'en-'", path=inputs["topics_en"])
        question = qid[len("en-"):]
        if qid not in qrels:
            continue  # judged nowhere: no passage to augment
        if question not in fold_of:
            raise InputError(f"question {question!r} (topic {qid}) has no fold", path=inputs["folds"])
        english[question] = text
        for docid in qrels[qid]:
            questions_of.setdefault(docid, []).append(question)
    if not english:
        raise InputError("no English question with a qrels entry", path=inputs["qrels_en"])
    return english, questions_of, fold_of, k


# --- translation runs -----------------------------------------------------------------

def _translate_passages(mt: Path, corpus: Path, generator: Any, langs: list[str], batch_size: int,
                        progress: bool, overwrite: bool) -> dict[str, dict[str, list[str]]]:
    """docid -> lang -> [translation of the contents] (titles are not translated)."""
    _write_if_changed(mt / PASSAGES_CORPUS, _jsonl(_corpus_rows(corpus)))
    return _run(mt / PASSAGES_CORPUS, mt / WORK_PG, generator, langs, batch_size, progress, overwrite)


def _translate_questions(mt: Path, english: dict[str, str], generator: Any, langs: list[str], batch_size: int,
                         progress: bool, overwrite: bool) -> dict[str, dict[str, str]]:
    """question id -> lang -> translation; each distinct English text is translated once."""
    first_of: dict[str, str] = {}  # text -> the first question id with it (the corpus row's id)
    for question, text in english.items():
        first_of.setdefault(text, question)
    rows = [{"id": question, "contents": text} for text, question in first_of.items()]
    _write_if_changed(mt / QUESTIONS_CORPUS, _jsonl(rows))
    by_first = _run(mt / QUESTIONS_CORPUS, mt / WORK_QG, generator, langs, batch_size, progress, overwrite)
    return {question: {lang: texts[0] for lang, texts in by_first.get(first_of[text], {}).items() if texts}
            for question, text in english.items()}


def _run(corpus: Path, work: Path, generator: Any, langs: list[str], batch_size: int, progress: bool,
         overwrite: bool) -> dict[str, dict[str, list[str]]]:
    from xqg_pyserini.generate.run import generate_corpus

    manifest = generate_corpus(corpus, generator, langs, 1, work, batch_size=batch_size, progress=progress,
                               overwrite=overwrite)
    field = manifest["output"]
    return {row["docid"]: row[field] for row in iter_generated(work)}


# --- outputs --------------------------------------------------------------------------

def _jsonl(rows: Sequence[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fingerprint(settings: dict[str, Any]) -> str:
    return _sha(json.dumps(settings, sort_keys=True, ensure_ascii=False))


def _differences(previous: dict[str, Any], settings: dict[str, Any]) -> str:
    old = previous.get("settings") or {}
    changed = []
    for key, value in settings.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            changed += [f"{key}.{name}" for name in sorted(set(value) | set(before))
                        if value.get(name) != before.get(name)]
        elif before != value:
            changed.append(key)
    return "differs in " + ", ".join(changed) if changed else "different settings"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        with atomic_file(path) as out:
            out.write(text)


def _read_manifest(mt: Path) -> dict[str, Any] | None:
    """Our manifest, None when there is none; an InputError for someone else's file there."""
    path = mt / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise InputError(f"is not an xqg data mt manifest; move {MT_DIR}/ away", path=path)
    return manifest


def _claimed(manifest: dict[str, Any] | None, rel: str) -> set[str]:
    """The sha256s of ``rel`` that ``manifest`` wrote (a half-published run: its new and its old files)."""
    if manifest is None:
        return set()
    return {files[rel] for files in (manifest.get("files") or {}, manifest.get("previous_files") or {})
            if rel in files}


def _check_owned(mt: Path, previous: dict[str, Any] | None, rels: Sequence[str]) -> None:
    """InputError for a file among ``rels`` that exists and that no manifest of ours wrote."""
    for rel in dict.fromkeys(rels):
        path = mt / rel
        if path.exists() and (not path.is_file() or file_sha256(path) not in _claimed(previous, rel)):
            raise InputError(f"was not written by xqg data mt (or was changed since); move it away to write {MT_DIR}/",
                             path=path)


def _intact(mt: Path, manifest: dict[str, Any]) -> bool:
    files = manifest.get("files") or {}
    return manifest.get("status") == "complete" and bool(files) and all(
        (mt / rel).is_file() and file_sha256(mt / rel) == sha for rel, sha in files.items())


def _publish(mt: Path, previous: dict[str, Any] | None, outputs: dict[str, str],
             record: dict[str, Any]) -> dict[str, Any]:
    """Claim the files in the manifest, write them atomically, then mark the manifest complete."""
    from xqg_pyserini.provenance import write_provenance

    outputs = {**outputs, README: render_mt_readme(record)}
    stale = [rel for rel in (previous or {}).get("files", {}) if rel not in outputs]
    _check_owned(mt, previous, [*outputs, *stale])
    record = {**record, "files": {rel: _sha(text) for rel, text in outputs.items()},
              "previous_files": (previous or {}).get("files") or {}}
    write_provenance(mt / MANIFEST, record)
    for rel, text in outputs.items():
        with atomic_file(mt / rel) as out:
            out.write(text)
    for rel in stale:
        (mt / rel).unlink(missing_ok=True)
    del record["previous_files"]
    write_provenance(mt / MANIFEST, {**record, "status": "complete"})
    return {**json.loads((mt / MANIFEST).read_text(encoding="utf-8")), "up_to_date": False}


def render_mt_readme(record: dict[str, Any]) -> str:
    config = record["generator"]
    name = config.get("name") or config.get("generator") or "the translator"
    counts = record["counts"]
    folds = "\n".join(f"| {c['fold']} | {c['rows']} | {c['texts']} |" for c in counts["folds"])
    translated = ", ".join(f"{lang}: {n}" for lang, n in counts["passages_translated"].items())
    questions = ", ".join(f"{lang}: {n}" for lang, n in counts["questions_translated"].items())
    rule_based = " (Apertium: rule-based, no neural model)" if name == "apertium" else ""
    return f"""# Machine translations (not human)

Made by `xqg data mt` with `{name}`{rule_based} into {', '.join(record['langs'])}: a machine-generation arm
beside the human oracle in `../oracle/`. These texts are MACHINE translations of the English side of the
dataset, never the human translations: `pg.jsonl` translates each passage's English contents (PG),
`qg/fold-{{f}}.jsonl` translates the passage's English questions (QG), with the human QG oracle's fold
exclusions (the questions of fold f, and questions equal to one of them, are left out of fold f's file).

{MT_LAYOUT}
Counts: {counts['passages']} passages, translated per language: {translated}; {counts['questions']} English
questions ({counts['distinct_questions']} distinct texts), translated per language: {questions}.

| fold | rows | texts |
|---|---|---|
{folds}

Translator config (also in `manifest.json`, with the package versions):

```json
{json.dumps(config, indent=2, ensure_ascii=False)}
```

Command:

```bash
{record.get('command') or '(library call)'}
```
"""


# --- reading --------------------------------------------------------------------------

def read_machine_oracle(root: str | Path) -> tuple[list[GeneratedText] | None, dict[int, list[GeneratedText]]]:
    """The machine PG texts (None when there is no ``pg.jsonl``) and the QG texts of each fold.

    ``root``: a dataset dir holding ``mt/``, or the ``mt/`` dir itself. The manifest must be complete.
    """
    root = Path(root)
    mt = root / MT_DIR if (root / MT_DIR / MANIFEST).exists() else root
    manifest = _read_manifest(mt)
    if manifest is None:
        raise InputError(f"no machine translations here (run xqg data mt --data {root})", path=mt / MANIFEST)
    if manifest.get("status") != "complete":
        raise InputError("xqg data mt did not finish here; rerun its command", path=mt / MANIFEST)
    pg = read_generated(mt / PG_FILE, PASSAGES_FIELD) if (mt / PG_FILE).is_file() else None
    qg = {}
    for entry in manifest["counts"]["folds"]:
        fold = entry["fold"]
        qg[fold] = read_generated(mt / QG_FILE.format(fold=fold), QUERIES_FIELD) if entry["texts"] else []
    return pg, qg
