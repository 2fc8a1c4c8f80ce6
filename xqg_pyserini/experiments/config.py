"""Experiment configs (``xqg experiment CONFIG.yaml``): the YAML schema and its validation.

Every error names the offending key (``grid.alpha.alphas[2]``) or file and is an
:class:`~xqg_pyserini.errors.InputError` on the config file. Relative paths in a config are
relative to the config file's directory. The schema, with defaults::

    name: xquad-alignment              # required: names the study in tables and the summary
    description: "..."                 # optional free text for the summary
    data: ../data/xquad                # required: dataset dir in the converters' layout
    output: ../experiments/xquad       # optional; run_experiment(output_dir=...) overrides it
    cache: null                        # embedding cache dir; default OUTPUT/cache (share one across outputs)
    encoder:                           # as the CLI's encoder flags; unset flags take the model preset
      name: e5-small                   # model name, HF id or local dir
      class: hf
      pooling: null                    # cls | mean
      l2_norm: null
      query_prefix: null
      passage_prefix: null
      max_length: null
      batch_size: 64
      device: cpu
      dtype: float32
      tokenizer: null
      passage_template: "{title} {contents}"
    topic_langs: null                  # topic languages to evaluate; default: every topics.{lang}.tsv
    target_langs: null                 # generated languages to fuse; default: all in the oracle files
    lang_order: null                   # order for the num_langs sweep: a list, {seed: N} (shuffled), or null (as given/sorted)
    fusion: sum                        # sum | mean
    unaugmented: keep                  # a passage with nothing to fuse: keep E(p), or scale it by 1-alpha
    renorm: false                      # L2-normalize the fused vectors (cosine encoders)
    extra_orders: {seeds: [1, 2, 3]}   # more random language orders, for sweeps with `orders: all`
    uniform: {seed: 7}                 # the draws of sweeps with `counts: uniform`
    controls: {seed: 11}               # the permutations of `control: shuffle | random` sweeps
    tune: []                           # sweeps whose settings are chosen on dev folds (see experiments/tuning.py)
    hits: 100
    compress_runs: false               # true: runs/TAG.trec.gz (13k topics x 100 hits is ~80 MB a run)
    threads: 1                         # FAISS search threads
    metrics: [MRR@10, R@100, R@2kt, R@5kt]
    select_metric: null                # picks the best configuration; default: the first metric
    reference: {alpha: 0.01, per_lang: all, num_langs: all}   # fixed values of axes a sweep leaves out
    grid:                              # named sweeps; each the product of its arms and axes (experiments/sweeps.py)
      alpha:     {arms: [qg, pg, qg+pg], alphas: [0.001, 0.003, 0.01, 0.03, 0.1]}
      per_lang:  {arms: [qg, qg+pg], per_lang: "1..5"}
      num_langs: {arms: [qg, pg, qg+pg], num_langs: "1..all", orders: all}
      mean:      {arms: [qg, pg], alphas: [0.01, 0.1, 0.3], fusion: mean}   # a sweep may set its own fusion(s)
      paper:     {arms: [qg], counts: uniform, per_lang: [1, 3, 5], num_langs: [7, all], fusion: [sum, mean]}
    significance:                      # tests against plain; Holm/Bonferroni within each table
      {permutations: 10000, seed: 42, correction: none, level: 0.05, cluster_by: none, bootstrap: 10000, confidence: 0.95}
    plots: {metrics: null}             # metrics to plot; default: every metric
    alignment: null                    # or {arm: qg, alpha:, per_lang:, num_langs:, fusion:} (unset: reference values)
    save_indexes: false                # write Pyserini indexes of the final configurations

Axis values: ``alphas`` are floats in [0, 1]; ``per_lang`` ints >= 1 or ``all``; ``num_langs``
ints >= 1 or ``all``; either of the last two may be a range string ``"1..5"`` or ``"1..all"``.
A sweep's ``fusion`` (``sum``/``mean`` or a list of both) defaults to the top-level one; tags of
points whose fusion is not the top-level one end in ``-{fusion}``. ``plain`` (the baseline,
alpha 0) is always run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from xqg_pyserini.encode.base import DTYPES
from xqg_pyserini.errors import InputError
from xqg_pyserini.experiments.checks import Checker
from xqg_pyserini.experiments.sweeps import parse_sweeps
from xqg_pyserini.index.fusion import FUSIONS, UNAUGMENTED
from xqg_pyserini.experiments.settings import (  # noqa: F401 (ExperimentConfig and the settings: the API)
    ALL, ARMS, DEFAULT_METRICS, AlignmentSettings, EncoderSettings, ExperimentConfig, Reference,
    Sweep)  # noqa: F401
from xqg_pyserini.evaluate.significance import CLUSTER_RULES, CORRECTIONS, SignificanceSettings

_LANG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# An experiment output dir: experiment.json (written last) marks a finished one; one that stopped
# earlier holds only what the runner writes (job.py: cache/, runs/, indexes/; report.py: the rest).
OUTPUT_MARKER = "experiment.json"
OUTPUT_ENTRIES = ("cache", "runs", "indexes", "plots", "alignment", "leaderboard.*", "per_language*",
                  "scores.json", "summary.md")

# --------------------------------------------------------------------------- the schema

_TOP = {
    "name": "a name for the study",
    "description": "free text for the summary",
    "data": "the dataset dir (corpus.jsonl, topics.{lang}.tsv, qrels.{lang}.txt, answers.jsonl, oracle/)",
    "output": "output dir",
    "cache": "embedding cache dir (default: OUTPUT/cache)",
    "encoder": "encoder settings",
    "topic_langs": "topic languages to evaluate",
    "target_langs": "generated languages to fuse",
    "lang_order": "order of target languages for num_langs",
    "fusion": "sum or mean",
    "unaugmented": "keep or scale: a passage with nothing to fuse",
    "renorm": "L2-normalize fused vectors",
    "extra_orders": "{seeds: [...]}: more random language orders, for sweeps with orders: all",
    "uniform": "{seed: N}: the draws of sweeps with counts: uniform",
    "controls": "{seed: N}: the permutations of control sweeps",
    "tune": "sweeps whose alpha/fusion/... are chosen on dev folds and reported on held-out topics",
    "hits": "passages retrieved per query",
    "compress_runs": "write runs gzip-compressed (runs/TAG.trec.gz)",
    "threads": "FAISS search threads",
    "metrics": "ir-measures names and R@kt",
    "select_metric": "metric choosing the best configuration",
    "reference": "fixed axis values",
    "grid": "named sweeps",
    "significance": "Fisher randomization test settings",
    "plots": "plot settings",
    "alignment": "cosine alignment analysis",
    "save_indexes": "write Pyserini indexes of the final configurations",
}
_ENCODER = {"name": "", "class": "", "pooling": "", "l2_norm": "", "query_prefix": "", "passage_prefix": "",
            "max_length": "", "batch_size": "", "device": "", "dtype": "", "tokenizer": "", "passage_template": ""}
_REFERENCE = {"alpha": "", "per_lang": "", "num_langs": ""}
_SIGNIFICANCE = {"permutations": "", "seed": "", "correction": "", "level": "",
                 "cluster_by": "none, question, or a qid<TAB>cluster file", "bootstrap": "resamples (0: none)",
                 "confidence": "interval coverage"}
_PLOTS = {"metrics": ""}
_ALIGNMENT = {"arm": "", "alpha": "", "per_lang": "", "num_langs": "", "fusion": "", "tags": "grid points by tag"}
_LANG_ORDER = {"seed": ""}


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment config; InputError names the key at fault."""
    import yaml

    from xqg_pyserini.io.text import read_text

    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", path=path)
    text = read_text(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(err, 'problem', None) or err}", path=path,
                         line=mark.line + 1 if mark is not None else None) from None
    return parse_config(raw, path, text)


def parse_config(raw: Any, path: str | Path, text: str = "") -> ExperimentConfig:
    """Validate an already loaded config mapping (``path`` anchors relative paths and errors)."""
    from xqg_pyserini.evaluate.measures import parse_measures

    path = Path(path)
    c = Checker(path)
    if raw is None:
        raise c.fail("", "the config is empty")
    c.mapping(raw, "", _TOP, required=("name", "data", "grid"))
    name = c.string(raw["name"], "name")
    if not re.match(r"^[A-Za-z0-9._+-]+$", name):
        raise c.fail("name", f"use letters, digits and . _ + - only, got {name!r}")
    config = ExperimentConfig(path=path, text=text, raw=raw, name=name, data=c.file_path(raw["data"], "data"))
    if raw.get("output") is not None:
        config.output = c.file_path(raw["output"], "output")
    if raw.get("cache") is not None:
        config.cache = c.file_path(raw["cache"], "cache")
    config.description = c.string(raw.get("description"), "description", optional=True, allow_empty=True) or ""
    config.encoder = _encoder(c, raw.get("encoder"))
    config.topic_langs = c.string_list(raw.get("topic_langs"), "topic_langs", pattern=_LANG)
    config.target_langs = c.string_list(raw.get("target_langs"), "target_langs", pattern=_LANG)
    order = raw.get("lang_order")
    if isinstance(order, dict):
        c.mapping(order, "lang_order", _LANG_ORDER, required=("seed",))
        config.lang_order_seed = c.integer(order["seed"], "lang_order.seed")
    elif order is not None:
        config.lang_order = c.string_list(order, "lang_order", pattern=_LANG)
        if config.target_langs is not None and set(config.lang_order) != set(config.target_langs):
            raise c.fail("lang_order", "must list exactly the target_langs (in the order wanted)")
    config.fusion = c.string(raw.get("fusion", "sum"), "fusion", choices=FUSIONS)
    config.unaugmented = c.string(raw.get("unaugmented", "keep"), "unaugmented", choices=UNAUGMENTED)
    config.renorm = bool(c.boolean(raw.get("renorm", False), "renorm"))
    config.extra_orders = _seeds(c, raw.get("extra_orders"), "extra_orders", many=True)
    config.uniform_seed = _seeds(c, raw.get("uniform"), "uniform", many=False) or config.uniform_seed
    config.control_seed = _seeds(c, raw.get("controls"), "controls", many=False) or config.control_seed
    config.hits = c.integer(raw.get("hits", 100), "hits", minimum=1)
    config.compress_runs = bool(c.boolean(raw.get("compress_runs", False), "compress_runs"))
    config.threads = c.integer(raw.get("threads", 1), "threads", minimum=1)

    metrics = c.string_list(raw.get("metrics", list(DEFAULT_METRICS)), "metrics", optional=False)
    try:
        parse_measures(metrics)
    except InputError as err:
        raise c.fail("metrics", err.message) from None
    config.metrics = metrics
    config.select_metric = c.string(raw.get("select_metric", metrics[0]), "select_metric")
    if config.select_metric not in metrics:
        raise c.fail("select_metric", f"{config.select_metric!r} is not among the metrics ({', '.join(metrics)})")

    config.reference = _reference(c, raw.get("reference"))
    config.grid = parse_sweeps(c, raw["grid"])
    config.significance = _significance(c, raw.get("significance"))
    config.tune = c.string_list(raw.get("tune"), "tune") or []
    for i, name in enumerate(config.tune):
        if name not in [sweep.name for sweep in config.grid]:
            raise c.fail(f"tune[{i}]", f"{name!r} is not a sweep of the grid")
    plots = c.mapping(raw.get("plots") or {}, "plots", _PLOTS)
    config.plot_metrics = c.string_list(plots.get("metrics"), "plots.metrics") or list(metrics)
    for i, metric in enumerate(config.plot_metrics):
        if metric not in metrics:
            raise c.fail(f"plots.metrics[{i}]", f"{metric!r} is not among the metrics ({', '.join(metrics)})")
    if raw.get("alignment") not in (None, False):
        config.alignment = _alignment(c, raw["alignment"])
    config.save_indexes = bool(c.boolean(raw.get("save_indexes", False), "save_indexes"))
    return config


def _encoder(c: Checker, raw: Any) -> EncoderSettings:
    if raw is None:
        return EncoderSettings()
    if isinstance(raw, str):
        return EncoderSettings(name=c.string(raw, "encoder"))
    c.mapping(raw, "encoder", _ENCODER)
    s = lambda key, **kw: c.string(raw.get(key), f"encoder.{key}", optional=True, **kw)
    defaults = EncoderSettings()
    return EncoderSettings(
        name=s("name") or defaults.name,
        encoder_class=s("class") or defaults.encoder_class,
        pooling=s("pooling", choices=("cls", "mean")),
        l2_norm=c.boolean(raw.get("l2_norm"), "encoder.l2_norm", optional=True),
        query_prefix=s("query_prefix", allow_empty=True),
        passage_prefix=s("passage_prefix", allow_empty=True),
        max_length=c.integer(raw.get("max_length"), "encoder.max_length", minimum=1, optional=True),
        batch_size=c.integer(raw.get("batch_size", defaults.batch_size), "encoder.batch_size", minimum=1),
        device=s("device") or defaults.device,
        dtype=s("dtype", choices=DTYPES) or defaults.dtype,
        tokenizer=s("tokenizer"),
        passage_template=_template(c, raw.get("passage_template", defaults.passage_template)),
    )


def _template(c: Checker, value: Any) -> str:
    template = c.string(value, "encoder.passage_template")
    try:
        template.format(title="", contents="", text="")
    except (KeyError, IndexError, ValueError) as err:
        raise c.fail("encoder.passage_template", f"bad template {template!r} (fields: title, contents): {err}"
                     ) from None
    return template


def _reference(c: Checker, raw: Any) -> Reference:
    raw = c.mapping(raw if raw is not None else {}, "reference", _REFERENCE)
    return Reference(alpha=c.number(raw.get("alpha", 0.01), "reference.alpha", 0.0, 1.0),
                     per_lang=c.count_or_all(raw.get("per_lang", ALL), "reference.per_lang"),
                     num_langs=c.count_or_all(raw.get("num_langs", ALL), "reference.num_langs"))


def _seeds(c: Checker, raw: Any, key: str, many: bool):
    """``{seeds: [..]}`` (many) or ``{seed: N}``; None/() when absent."""
    if raw is None:
        return () if many else None
    name = "seeds" if many else "seed"
    c.mapping(raw, key, {name: "random seed(s)"}, required=(name,))
    if not many:
        return c.integer(raw[name], f"{key}.seed", minimum=0)
    values = raw[name] if isinstance(raw[name], list) else [raw[name]]
    return tuple(dict.fromkeys(c.integer(v, f"{key}.seeds[{i}]", minimum=0) for i, v in enumerate(values)))


def _significance(c: Checker, raw: Any) -> SignificanceSettings:
    raw = c.mapping(raw if raw is not None else {}, "significance", _SIGNIFICANCE)
    d = SignificanceSettings()
    return SignificanceSettings(
        permutations=c.integer(raw.get("permutations", d.permutations), "significance.permutations", minimum=1),
        seed=c.integer(raw.get("seed", d.seed), "significance.seed", minimum=0),
        correction=c.string(raw.get("correction", d.correction), "significance.correction", choices=CORRECTIONS),
        level=c.number(raw.get("level", d.level), "significance.level", 0.0, 1.0),
        cluster_by=_cluster_by(c, raw.get("cluster_by", d.cluster_by)),
        bootstrap=c.integer(raw.get("bootstrap", d.bootstrap), "significance.bootstrap", minimum=0),
        confidence=c.number(raw.get("confidence", d.confidence), "significance.confidence", 0.5, 0.999),
    )


def _cluster_by(c: Checker, value: Any) -> str:
    text = c.string(value, "significance.cluster_by")
    return text if text in CLUSTER_RULES else str(c.file_path(text, "significance.cluster_by"))


def _alignment(c: Checker, raw: Any) -> AlignmentSettings:
    if raw is True:
        return AlignmentSettings()
    c.mapping(raw, "alignment", _ALIGNMENT)
    if raw.get("tags") is not None:
        others = [key for key in raw if key != "tags"]
        if others:
            raise c.fail(f"alignment.{others[0]}", "give tags, or arm/alpha/per_lang/num_langs/fusion, not both")
        return AlignmentSettings(tags=tuple(c.string_list(raw["tags"], "alignment.tags", optional=False)))
    arm = c.string(raw.get("arm", "qg"), "alignment.arm", choices=tuple(a for a in ARMS if a != "plain"))
    return AlignmentSettings(
        arm=arm,
        alpha=c.number(raw.get("alpha"), "alignment.alpha", 0.0, 1.0, optional=True),
        per_lang="reference" if "per_lang" not in raw else c.count_or_all(raw["per_lang"], "alignment.per_lang"),
        num_langs="reference" if "num_langs" not in raw else c.count_or_all(raw["num_langs"],
                                                                            "alignment.num_langs"),
        fusion=c.string(raw.get("fusion"), "alignment.fusion", choices=FUSIONS, optional=True),
    )


def resolved(config: ExperimentConfig) -> dict[str, Any]:
    """The config with defaults filled in, as plain data (for the summary and provenance)."""
    def axis(values, open_start):
        shown = ["all" if v is None else v for v in values]
        return shown + ([f"{open_start}..all"] if open_start is not None else [])

    return {
        "name": config.name, "description": config.description, "data": str(config.data),
        "output": str(config.output) if config.output else None,
        "cache": str(config.cache) if config.cache else None,
        "encoder": {"name": config.encoder.name, "class": config.encoder.encoder_class, **config.encoder.flags(),
                    "passage_template": config.encoder.passage_template},
        "topic_langs": config.topic_langs, "target_langs": config.target_langs,
        "lang_order": config.lang_order if config.lang_order_seed is None else {"seed": config.lang_order_seed},
        "fusion": config.fusion, "unaugmented": config.unaugmented, "renorm": config.renorm,
        "extra_orders": list(config.extra_orders), "uniform_seed": config.uniform_seed,
        "control_seed": config.control_seed, "tune": config.tune, "hits": config.hits,
        "compress_runs": config.compress_runs, "threads": config.threads,
        "metrics": config.metrics, "select_metric": config.select_metric,
        "reference": {"alpha": config.reference.alpha, "per_lang": config.reference.per_lang or "all",
                      "num_langs": config.reference.num_langs or "all"},
        "grid": {s.name: {"arms": list(s.arms), "alphas": list(s.alphas) or ["reference"],
                          "per_lang": axis(s.per_lang, s.per_lang_range_to_all) or ["reference"],
                          "num_langs": axis(s.num_langs, s.num_langs_range_to_all) or ["reference"],
                          "fusion": list(s.fusions) or [config.fusion],
                          **({"langs": list(s.langs)} if s.langs else {}),
                          "counts": s.counts, "orders": s.orders, "control": list(s.controls),
                          "unaugmented": list(s.unaugmented) or [config.unaugmented],
                          "renorm": list(s.renorm) or [config.renorm]}
                 for s in config.grid},
        "significance": vars(config.significance).copy(),
        "plots": {"metrics": config.plot_metrics},
        "alignment": None if config.alignment is None else vars(config.alignment).copy(),
        "save_indexes": config.save_indexes,
    }
