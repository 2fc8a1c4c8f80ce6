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
    hits: 100
    threads: 1                         # FAISS search threads
    metrics: [MRR@10, R@100, R@2kt, R@5kt]
    select_metric: null                # picks the best configuration; default: the first metric
    reference: {alpha: 0.01, per_lang: all, num_langs: all}   # fixed values of axes a sweep leaves out
    grid:                              # named sweeps; each the product of its arms and axes
      alpha:     {arms: [qg, pg, qg+pg], alphas: [0.001, 0.003, 0.01, 0.03, 0.1]}
      per_lang:  {arms: [qg, qg+pg], per_lang: "1..5"}
      num_langs: {arms: [qg, pg, qg+pg], num_langs: "1..all"}
      mean:      {arms: [qg, pg], alphas: [0.01, 0.1, 0.3], fusion: mean}   # a sweep may set its own fusion(s)
    significance: {permutations: 10000, seed: 42, correction: none, level: 0.05}
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

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xqg_pyserini.errors import InputError
from xqg_pyserini.evaluate.significance import CORRECTIONS, SignificanceSettings

ARMS = ("plain", "qg", "pg", "qg+pg")
ALL = "all"
DEFAULT_METRICS = ("MRR@10", "R@100", "R@2kt", "R@5kt")
FUSIONS = ("sum", "mean")
DTYPES = ("float32", "float16", "bfloat16")
_RANGE = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+|all)\s*$")
_LANG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class EncoderSettings:
    name: str = "e5-small"
    encoder_class: str = "hf"
    pooling: str | None = None
    l2_norm: bool | None = None
    query_prefix: str | None = None
    passage_prefix: str | None = None
    max_length: int | None = None
    batch_size: int = 64
    device: str = "cpu"
    dtype: str = "float32"
    tokenizer: str | None = None
    passage_template: str = "{title} {contents}"

    def flags(self) -> dict[str, Any]:
        """Keyword flags for :func:`~xqg_pyserini.encode.base.create_encoder` (unset ones left out)."""
        flags = dict(pooling=self.pooling, l2_norm=self.l2_norm, query_prefix=self.query_prefix,
                     passage_prefix=self.passage_prefix, max_length=self.max_length, batch_size=self.batch_size,
                     device=self.device, dtype=self.dtype, tokenizer=self.tokenizer)
        return {key: value for key, value in flags.items() if value is not None}

    def vector_settings(self) -> dict[str, Any]:
        """What determines the vectors (batch size and device do not): the cache key."""
        from xqg_pyserini.encode.base import preset_for

        settings = {"name": self.name, "class": self.encoder_class, **preset_for(self.name)}
        settings.update({k: v for k, v in dict(
            pooling=self.pooling, l2_norm=self.l2_norm, query_prefix=self.query_prefix,
            passage_prefix=self.passage_prefix, max_length=self.max_length, dtype=self.dtype,
            tokenizer=self.tokenizer).items() if v is not None})
        return settings

    def cache_name(self) -> str:
        """A dir name for this encoder's cache: readable slug plus a hash of the vector settings."""
        digest = hashlib.sha256(json.dumps(self.vector_settings(), sort_keys=True).encode()).hexdigest()[:10]
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(self.name).name or self.name).strip("_")[:40] or "encoder"
        return f"{slug}-{digest}"


@dataclass(frozen=True)
class Reference:
    alpha: float = 0.01
    per_lang: int | None = None  # None: all
    num_langs: int | None = None  # None: all


@dataclass(frozen=True)
class Sweep:
    """One named sweep: the product of its arms and axis values (None = all)."""

    name: str
    arms: tuple[str, ...]
    alphas: tuple[float, ...]
    per_lang: tuple[int | None, ...]
    num_langs: tuple[int | None, ...]
    fusions: tuple[str, ...] = ()  # () = the top-level fusion
    per_lang_range_to_all: int | None = None  # "N..all": every value from N up to the data's maximum
    num_langs_range_to_all: int | None = None


@dataclass(frozen=True)
class AlignmentSettings:
    arm: str = "qg"
    alpha: float | None = None  # None: the reference value
    per_lang: int | None | str = "reference"
    num_langs: int | None | str = "reference"
    fusion: str | None = None  # None: the top-level fusion


@dataclass
class ExperimentConfig:
    path: Path
    text: str  # the YAML as written
    raw: dict[str, Any]
    name: str
    data: Path
    output: Path | None = None
    cache: Path | None = None
    description: str = ""
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    topic_langs: list[str] | None = None
    target_langs: list[str] | None = None
    lang_order: list[str] | None = None
    lang_order_seed: int | None = None
    fusion: str = "sum"
    hits: int = 100
    threads: int = 1
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    select_metric: str = ""
    reference: Reference = field(default_factory=Reference)
    grid: list[Sweep] = field(default_factory=list)
    significance: SignificanceSettings = field(default_factory=SignificanceSettings)
    plot_metrics: list[str] = field(default_factory=list)
    alignment: AlignmentSettings | None = None
    save_indexes: bool = False

    @property
    def arms(self) -> list[str]:
        """Every arm of the grid, plain first."""
        arms = ["plain"]
        for sweep in self.grid:
            arms += [arm for arm in sweep.arms if arm not in arms]
        return arms

    @property
    def needs_qg(self) -> bool:
        return any(arm in ("qg", "qg+pg") for arm in self.arms) or (
            self.alignment is not None and self.alignment.arm in ("qg", "qg+pg"))

    @property
    def needs_pg(self) -> bool:
        return any(arm in ("pg", "qg+pg") for arm in self.arms) or (
            self.alignment is not None and self.alignment.arm in ("pg", "qg+pg"))


# --------------------------------------------------------------------------- validation helpers


class _Checker:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, message: str) -> InputError:
        return InputError(f"{key}: {message}" if key else message, path=self.path)

    def mapping(self, value: Any, key: str, allowed: dict[str, str], required: tuple[str, ...] = ()) -> dict:
        """Check a mapping's keys: unknown keys name the allowed ones; required keys must be present."""
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {_type(value)}")
        for name in value:
            if not isinstance(name, str) or name not in allowed:
                where = f"{key}.{name}" if key else str(name)
                raise self.fail(where, f"unknown key; allowed keys{' in ' + key if key else ''}: "
                                       f"{', '.join(allowed)}")
        for name in required:
            if value.get(name) is None:
                raise self.fail(f"{key}.{name}" if key else name, f"is required ({allowed[name]})")
        return value

    def string(self, value: Any, key: str, choices: tuple[str, ...] | None = None, optional: bool = False,
               allow_empty: bool = False) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.fail(key, f"must be a non-empty string, got {_show(value)}")
        if choices is not None and value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def boolean(self, value: Any, key: str, optional: bool = False) -> bool | None:
        if value is None and optional:
            return None
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {_show(value)}")
        return value

    def integer(self, value: Any, key: str, minimum: int | None = None, optional: bool = False) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, got {_show(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def number(self, value: Any, key: str, low: float, high: float, optional: bool = False) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, got {_show(value)}")
        if not low <= value <= high:
            raise self.fail(key, f"must be within [{low:g}, {high:g}], got {value}")
        return float(value)

    def string_list(self, value: Any, key: str, optional: bool = True, pattern: re.Pattern | None = None
                    ) -> list[str] | None:
        if value is None and optional:
            return None
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"must be a non-empty list of strings, got {_show(value)}")
        out = []
        for i, item in enumerate(value):
            text = self.string(item, f"{key}[{i}]")
            if pattern is not None and not pattern.match(text):
                raise self.fail(f"{key}[{i}]", f"{text!r} is not a language code")
            if text in out:
                raise self.fail(f"{key}[{i}]", f"{text!r} is listed twice")
            out.append(text)
        return out

    def count_or_all(self, value: Any, key: str) -> int | None:
        """An int >= 1, or ``all`` (None)."""
        if value == ALL or value is None:
            return None
        return self.integer(value, key, minimum=1)

    def axis(self, value: Any, key: str) -> tuple[tuple[int | None, ...], int | None]:
        """A per_lang/num_langs axis: a value, a list of values, or a range ``"a..b"``/``"a..all"``.

        Returns the explicit values and, for ``"a..all"``, the start of the open range.
        """
        if isinstance(value, str) and value != ALL:
            match = _RANGE.match(value)
            if not match:
                raise self.fail(key, f"must be an integer >= 1, 'all', a list of those, or a range like "
                                     f"'1..5' or '1..all'; got {value!r}")
            start = int(match.group(1))
            if start < 1:
                raise self.fail(key, f"a range starts at 1 or more, got {value!r}")
            if match.group(2) == ALL:
                return (), start
            stop = int(match.group(2))
            if stop < start:
                raise self.fail(key, f"empty range {value!r}")
            return tuple(range(start, stop + 1)), None
        values = value if isinstance(value, list) else [value]
        if not values:
            raise self.fail(key, "must not be empty")
        out: list[int | None] = []
        for i, item in enumerate(values):
            parsed = self.count_or_all(item, f"{key}[{i}]" if isinstance(value, list) else key)
            if parsed not in out:
                out.append(parsed)
        return tuple(out), None

    def file_path(self, value: Any, key: str) -> Path:
        text = self.string(value, key)
        path = Path(text).expanduser()
        return path if path.is_absolute() else (self.path.parent / path).resolve()


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _show(value: Any) -> str:
    return f"{_type(value)} {value!r}" if value is not None else "null"


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
    "hits": "passages retrieved per query",
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
_SWEEP = {"arms": "the arms to run (qg, pg, qg+pg, plain)", "alphas": "", "per_lang": "", "num_langs": "",
          "fusion": ""}
_SIGNIFICANCE = {"permutations": "", "seed": "", "correction": "", "level": ""}
_PLOTS = {"metrics": ""}
_ALIGNMENT = {"arm": "", "alpha": "", "per_lang": "", "num_langs": "", "fusion": ""}
_LANG_ORDER = {"seed": ""}


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment config; InputError names the key at fault."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", path=path)
    text = path.read_text(encoding="utf-8")
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
    c = _Checker(path)
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
    config.hits = c.integer(raw.get("hits", 100), "hits", minimum=1)
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
    config.grid = _grid(c, raw["grid"])
    config.significance = _significance(c, raw.get("significance"))
    plots = c.mapping(raw.get("plots") or {}, "plots", _PLOTS)
    config.plot_metrics = c.string_list(plots.get("metrics"), "plots.metrics") or list(metrics)
    for i, metric in enumerate(config.plot_metrics):
        if metric not in metrics:
            raise c.fail(f"plots.metrics[{i}]", f"{metric!r} is not among the metrics ({', '.join(metrics)})")
    if raw.get("alignment") not in (None, False):
        config.alignment = _alignment(c, raw["alignment"])
    config.save_indexes = bool(c.boolean(raw.get("save_indexes", False), "save_indexes"))
    return config


def _encoder(c: _Checker, raw: Any) -> EncoderSettings:
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


def _template(c: _Checker, value: Any) -> str:
    template = c.string(value, "encoder.passage_template")
    try:
        template.format(title="", contents="", text="")
    except (KeyError, IndexError, ValueError) as err:
        raise c.fail("encoder.passage_template", f"bad template {template!r} (fields: title, contents): {err}"
                     ) from None
    return template


def _reference(c: _Checker, raw: Any) -> Reference:
    raw = c.mapping(raw if raw is not None else {}, "reference", _REFERENCE)
    return Reference(alpha=c.number(raw.get("alpha", 0.01), "reference.alpha", 0.0, 1.0),
                     per_lang=c.count_or_all(raw.get("per_lang", ALL), "reference.per_lang"),
                     num_langs=c.count_or_all(raw.get("num_langs", ALL), "reference.num_langs"))


def _grid(c: _Checker, raw: Any) -> list[Sweep]:
    if isinstance(raw, list):
        raise c.fail("grid", "must be a mapping of sweep name -> {arms, alphas, per_lang, num_langs}")
    if not isinstance(raw, dict) or not raw:
        raise c.fail("grid", f"must be a non-empty mapping of named sweeps, got {_show(raw)}")
    sweeps = []
    for name, spec in raw.items():
        key = f"grid.{name}"
        if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9._+-]+$", name):
            raise c.fail(key, "sweep names use letters, digits and . _ + - only")
        c.mapping(spec, key, _SWEEP, required=("arms",))
        arms = c.string_list(spec["arms"], f"{key}.arms", optional=False)
        for i, arm in enumerate(arms):
            if arm not in ARMS:
                raise c.fail(f"{key}.arms[{i}]", f"unknown arm {arm!r}; arms: {', '.join(ARMS)}")
        alphas: tuple[float, ...] = ()
        if spec.get("alphas") is not None:
            values = spec["alphas"] if isinstance(spec["alphas"], list) else [spec["alphas"]]
            if not values:
                raise c.fail(f"{key}.alphas", "must not be empty")
            items = []
            for i, value in enumerate(values):
                where = f"{key}.alphas[{i}]" if isinstance(spec["alphas"], list) else f"{key}.alphas"
                alpha = c.number(value, where, 0.0, 1.0)
                if alpha not in items:
                    items.append(alpha)
            alphas = tuple(items)
        per_lang, per_lang_open = ((), None) if spec.get("per_lang") is None else c.axis(spec["per_lang"],
                                                                                           f"{key}.per_lang")
        num_langs, num_open = ((), None) if spec.get("num_langs") is None else c.axis(spec["num_langs"],
                                                                                        f"{key}.num_langs")
        fusions: tuple[str, ...] = ()
        if spec.get("fusion") is not None:
            listed = spec["fusion"] if isinstance(spec["fusion"], list) else [spec["fusion"]]
            if not listed:
                raise c.fail(f"{key}.fusion", "must not be empty")
            fusions = tuple(dict.fromkeys(
                c.string(v, f"{key}.fusion[{i}]" if isinstance(spec["fusion"], list) else f"{key}.fusion",
                         choices=FUSIONS) for i, v in enumerate(listed)))
        sweeps.append(Sweep(name=name, arms=tuple(arms), alphas=alphas, per_lang=per_lang, num_langs=num_langs,
                            fusions=fusions, per_lang_range_to_all=per_lang_open, num_langs_range_to_all=num_open))
    return sweeps


def _significance(c: _Checker, raw: Any) -> SignificanceSettings:
    raw = c.mapping(raw if raw is not None else {}, "significance", _SIGNIFICANCE)
    d = SignificanceSettings()
    return SignificanceSettings(
        permutations=c.integer(raw.get("permutations", d.permutations), "significance.permutations", minimum=1),
        seed=c.integer(raw.get("seed", d.seed), "significance.seed", minimum=0),
        correction=c.string(raw.get("correction", d.correction), "significance.correction", choices=CORRECTIONS),
        level=c.number(raw.get("level", d.level), "significance.level", 0.0, 1.0),
    )


def _alignment(c: _Checker, raw: Any) -> AlignmentSettings:
    if raw is True:
        return AlignmentSettings()
    c.mapping(raw, "alignment", _ALIGNMENT)
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
        "fusion": config.fusion, "hits": config.hits, "threads": config.threads, "metrics": config.metrics,
        "select_metric": config.select_metric,
        "reference": {"alpha": config.reference.alpha, "per_lang": config.reference.per_lang or "all",
                      "num_langs": config.reference.num_langs or "all"},
        "grid": {s.name: {"arms": list(s.arms), "alphas": list(s.alphas) or ["reference"],
                          "per_lang": axis(s.per_lang, s.per_lang_range_to_all) or ["reference"],
                          "num_langs": axis(s.num_langs, s.num_langs_range_to_all) or ["reference"],
                          "fusion": list(s.fusions) or [config.fusion]}
                 for s in config.grid},
        "significance": vars(config.significance).copy(),
        "plots": {"metrics": config.plot_metrics},
        "alignment": None if config.alignment is None else vars(config.alignment).copy(),
        "save_indexes": config.save_indexes,
    }
