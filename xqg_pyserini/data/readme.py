"""The ``README.md`` of a converted (or combined) dataset, rendered from its stats."""

from __future__ import annotations

from xqg_pyserini.data.layout import OUTPUT_LAYOUT, Converted


def render_readme(conv: Converted, *, command: str, description: str, parallel: bool) -> str:
    s = conv.stats
    langs = ", ".join(s["languages"])
    files = "\n".join(f"- `{f['name']}` (sha256 `{f['sha256']}`)" for f in s["files"].values())
    split = ("the English contexts as they are (one passage per context, docid "
             f"`{conv.name}-a{{article}}-p{{paragraph}}`)" if s["passage_words"] is None else
             f"~{s['passage_words']}-word pieces of the English contexts (docid `{{context id}}-{{j}}`): "
             f"each context's words cut into round(W/{s['passage_words']}) pieces differing by at most one word; "
             f"an answer touching two pieces makes both relevant "
             f"({s['splits']['answers_spanning_splits']['count']} such answers)")
    pg_note = ("the same-position paragraph in language L, verified by question ids (a context whose "
               "questions sit in several L paragraphs lists them all)" if parallel else
               "the L contexts of the passage's questions: MLQA's L contexts are comparable Wikipedia "
               "paragraphs, parallel around the answer sentence, not translations; only part of the "
               "English contexts have one (coverage per language in `stats.json`)")
    if s["passage_words"] is not None:
        pg_note += "; every split of a context gets the whole context's translation"
    return f"""# {conv.name}: cross-lingual retrieval set with oracle generations

{description}

Converted by `xqg-pyserini` from `{s['source']}`:

{files}

Source license: **{s['license']}** (see the source's LICENSE; this directory is a derived work
under the same terms).

Command:

```bash
{command}
```

## Contents

Passages: {split}; {s['passages']} passages from {s['contexts']} contexts.
Topic languages: {langs} (en is the control); {s['totals']['topics']} topics in all. Topics
are the questions of each language, qid `{{lang}}-{{question id}}`; qrels point at the
passage(s) holding the English answer; `answers.jsonl` has the English answer texts of every
qid (the corpus is English, as in XOR-Retrieve). Missing or inconsistent ids are counted in
`stats.json` (`inconsistencies`, `coverage`, `warnings`), never dropped silently.

{OUTPUT_LAYOUT}
## Oracles

- **QG oracle**, {s['oracle']['qg']['k']}-fold cross-fitting (seed {s['oracle']['qg']['seed']}): question ids
  are shuffled and dealt into folds (`oracle/qg/folds.json`). `oracle/qg/fold-f.jsonl` holds,
  for each passage and non-English language, the passage's questions in that language whose
  id is not in fold f. The runner builds one index per fold from `fold-f.jsonl`, searches it
  with the topics (any language) whose question id is in fold f, and merges the per-fold runs
  into one run: every qid is searched exactly once, and never against a passage augmented
  with its own question or any translation of it. The generated queries are the topic texts
  verbatim, so their embeddings can be reused from the encoded topics.
- **PG oracle** (`oracle/pg.jsonl`): {pg_note}.
"""


def render_combined_readme(stats: dict, command: str) -> str:
    """``stats``: the combined set's (``combine`` builds them), with each part's under ``datasets``."""
    names = stats["combined"]
    parts = [stats["datasets"][name] for name in names]
    sources = "\n".join(f"- `{name}`: converted from `{p['source']}`, license **{p['license']}**, "
                        f"{p['passages']} passages (passage_words={p['passage_words']})"
                        for p, name in zip(parts, names))
    return f"""# {stats['dataset']}: combined cross-lingual retrieval set

The union of {len(names)} converted datasets, so that retrieval searches all their English
passages together (docids keep their dataset prefix and never collide):

{sources}

Each part keeps its source's license; the combination is bound by all of them.

Command:

```bash
{command}
```

{stats['passages']} passages; topic languages {', '.join(stats['languages'])}; {stats['totals']['topics']} topics.
Each part's `stats.json` is under `datasets` in `stats.json`.

{OUTPUT_LAYOUT}
QG folds: each dataset's own `fold_of` ({stats['oracle']['qg']['k']} folds), joined; fold-f files are the
concatenations of the parts' fold-f files, so the per-fold protocol is unchanged.
"""
