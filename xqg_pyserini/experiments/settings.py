"""An experiment's settings once its config is validated (:mod:`xqg_pyserini.experiments.config`)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xqg_pyserini.evaluate.significance import SignificanceSettings
from xqg_pyserini.io.corpus import DEFAULT_PASSAGE_TEMPLATE

ARMS = ("plain", "qg", "pg", "qg+pg", "mt-qg", "mt-pg")
QG_ARMS = ("qg", "qg+pg", "mt-qg")  # arms fusing generated queries (folds; queries per language)
PG_ARMS = ("pg", "qg+pg", "mt-pg")  # arms fusing generated passages
COUNTS = ("as-is", "uniform")  # generated queries per passage and language: as the source has them, or n drawn
CONTROLS = ("none", "shuffle", "random")  # generated texts moved among covered passages / to random passages
ORDERS = ("reference", "all")
ALL = "all"
DEFAULT_METRICS = ("MRR@10", "R@100", "R@2kt", "R@5kt")


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
    passage_template: str = DEFAULT_PASSAGE_TEMPLATE

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
    counts: str = "as-is"  # "uniform": exactly per_lang queries per passage and language (drawn, seeded)
    orders: str = "reference"  # "all": the num_langs sweep in the reference order and every extra order
    controls: tuple[str, ...] = ("none",)
    langs: tuple[str, ...] | None = None  # an explicit target-language subset instead of num_langs
    unaugmented: tuple[str, ...] = ()  # () = the top-level setting
    renorm: tuple[bool, ...] = ()


@dataclass(frozen=True)
class AlignmentSettings:
    arm: str = "qg"
    alpha: float | None = None  # None: the reference value
    per_lang: int | None | str = "reference"
    num_langs: int | None | str = "reference"
    fusion: str | None = None  # None: the top-level fusion
    tags: tuple[str, ...] = ()  # or: grid points by tag, each analysed against plain

    def arms(self) -> set[str]:
        """The arms the analysis needs data for (tags name their arm first)."""
        return {tag.split("-a", 1)[0] for tag in self.tags} if self.tags else {self.arm}


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
    unaugmented: str = "keep"  # a passage with nothing to fuse: "keep" E(p) or "scale" it by 1-alpha
    renorm: bool = False  # L2-normalize fused vectors
    extra_orders: tuple[int, ...] = ()  # seeds of further random language orders (sweeps with orders: all)
    uniform_seed: int = 7  # draws of counts: uniform
    control_seed: int = 11  # permutations of the shuffle / random controls
    tune: list[str] = field(default_factory=list)  # sweeps whose settings are chosen on dev folds
    hits: int = 100
    compress_runs: bool = False  # write runs/{tag}.trec.gz
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
        """The QG oracle and its folds: for QG arms, and for tuning on dev folds."""
        return any(arm in QG_ARMS for arm in self.arms) or bool(self.tune) or (
            self.alignment is not None and bool(self.alignment.arms() & set(QG_ARMS)))

    @property
    def needs_machine(self) -> bool:
        return any(arm.startswith("mt-") for arm in self.arms) or (
            self.alignment is not None and any(a.startswith("mt-") for a in self.alignment.arms()))

    @property
    def needs_pg(self) -> bool:
        return any(arm in ("pg", "qg+pg") for arm in self.arms) or (
            self.alignment is not None and bool(self.alignment.arms() & set(PG_ARMS)))
