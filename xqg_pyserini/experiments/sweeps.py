"""The ``grid:`` of an experiment config: named sweeps, each the product of its arms and axes.

A sweep's keys (all but ``arms`` optional; unset axes take the config's ``reference``)::

    arms: [qg, pg, qg+pg, mt-qg, mt-pg, plain]
    alphas: [0.001, 0.01, 0.1]           # floats in [0, 1]
    per_lang: [1, 3, 5] | "1..all"       # generated queries per passage and language (QG arms)
    num_langs: [1, 5, all] | "1..all"    # the first m target languages of the language order
    langs: [es]                          # or an explicit language subset (instead of num_langs)
    fusion: [sum, mean]
    counts: as-is | uniform              # uniform: exactly per_lang queries per passage and language
    orders: reference | all              # all: also every order of the config's extra_orders
    control: [none, shuffle, random]     # shuffle: texts moved among the covered passages;
                                         # random: attached to random passages (coverage controls)
    unaugmented: [keep, scale]           # default: the config's
    renorm: [false, true]                # default: the config's
"""

from __future__ import annotations

import re
from typing import Any

from xqg_pyserini.experiments.checks import Checker, show
from xqg_pyserini.experiments.settings import ARMS, CONTROLS, COUNTS, ORDERS, Sweep
from xqg_pyserini.index.fusion import FUSIONS, UNAUGMENTED

_SWEEP = {"arms": "the arms to run (qg, pg, qg+pg, mt-qg, mt-pg, plain)", "alphas": "", "per_lang": "",
          "num_langs": "", "langs": "an explicit target-language subset", "fusion": "", "counts": "as-is or uniform",
          "orders": "reference or all", "control": "none, shuffle, random", "unaugmented": "", "renorm": ""}
_LANG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def parse_sweeps(c: Checker, raw: Any) -> list[Sweep]:
    if isinstance(raw, list):
        raise c.fail("grid", "must be a mapping of sweep name -> {arms, alphas, per_lang, num_langs}")
    if not isinstance(raw, dict) or not raw:
        raise c.fail("grid", f"must be a non-empty mapping of named sweeps, got {show(raw)}")
    return [_sweep(c, name, spec) for name, spec in raw.items()]


def _sweep(c: Checker, name: Any, spec: Any) -> Sweep:
    key = f"grid.{name}"
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9._+-]+$", name):
        raise c.fail(key, "sweep names use letters, digits and . _ + - only")
    c.mapping(spec, key, _SWEEP, required=("arms",))
    arms = c.string_list(spec["arms"], f"{key}.arms", optional=False)
    for i, arm in enumerate(arms):
        if arm not in ARMS:
            raise c.fail(f"{key}.arms[{i}]", f"unknown arm {arm!r}; arms: {', '.join(ARMS)}")
    alphas = tuple(_choices(c, spec, "alphas", key, lambda v, where: c.number(v, where, 0.0, 1.0)))
    per_lang, per_lang_open = ((), None) if spec.get("per_lang") is None else c.axis(spec["per_lang"],
                                                                                       f"{key}.per_lang")
    num_langs, num_open = ((), None) if spec.get("num_langs") is None else c.axis(spec["num_langs"],
                                                                                    f"{key}.num_langs")
    langs = c.string_list(spec.get("langs"), f"{key}.langs", pattern=_LANG)
    if langs is not None and spec.get("num_langs") is not None:
        raise c.fail(f"{key}.langs", "give langs or num_langs, not both")
    word = lambda choices: (lambda v, where: c.string(v, where, choices=choices))
    counts = c.string(spec.get("counts", "as-is"), f"{key}.counts", choices=COUNTS)
    if counts == "uniform" and not set(arms) & {"qg", "qg+pg", "mt-qg"}:
        raise c.fail(f"{key}.counts", "uniform counts apply to arms that fuse generated queries (qg, qg+pg, mt-qg)")
    return Sweep(name=name, arms=tuple(arms), alphas=alphas, per_lang=per_lang, num_langs=num_langs,
                 fusions=tuple(_choices(c, spec, "fusion", key, word(FUSIONS))),
                 per_lang_range_to_all=per_lang_open, num_langs_range_to_all=num_open, counts=counts,
                 orders=c.string(spec.get("orders", "reference"), f"{key}.orders", choices=ORDERS),
                 controls=tuple(_choices(c, spec, "control", key, word(CONTROLS))) or ("none",),
                 langs=tuple(langs) if langs is not None else None,
                 unaugmented=tuple(_choices(c, spec, "unaugmented", key, word(UNAUGMENTED))),
                 renorm=tuple(_choices(c, spec, "renorm", key, lambda v, where: c.boolean(v, where))))


def _choices(c: Checker, spec: dict, name: str, key: str, parse) -> list:
    """A value or a list of values, each parsed, duplicates dropped, in order; [] when absent."""
    if spec.get(name) is None:
        return []
    listed = spec[name] if isinstance(spec[name], list) else [spec[name]]
    if not listed:
        raise c.fail(f"{key}.{name}", "must not be empty")
    values = []
    for i, value in enumerate(listed):
        parsed = parse(value, f"{key}.{name}[{i}]" if isinstance(spec[name], list) else f"{key}.{name}")
        if parsed not in values:
            values.append(parsed)
    return values
