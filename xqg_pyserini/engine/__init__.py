"""Where the shards of ``xqg generate`` and ``xqg encode`` run: this process or a Ray cluster.

A job (:mod:`xqg_pyserini.engine.jobs`) says how to load its model and how to produce shard
``(I, N)`` through the stage's own library function; an engine only decides where that runs.
``local`` runs the one shard the command names (``--shard I/N``) here; ``ray``
(:mod:`xqg_pyserini.engine.ray_engine`) runs every pending shard of an N-way split on a
cluster, one model per worker. Both write the same files, so an N-way Ray run is the local
engine's ``--shard I/N`` run for each I.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from xqg_pyserini.errors import InputError

ENGINES = ("local", "ray")
RAY_EXTRA = 'pip install -e ".[ray]"'  # what --engine ray needs, named in its error
CLUSTER_FLAGS = ("address", "num_workers", "gpus_per_worker", "num_shards")


@dataclass(frozen=True)
class ClusterOptions:
    """``--engine ray``'s settings: where the cluster is, how many model-holding workers, the split."""

    address: str | None = None
    num_workers: int = 1
    gpus_per_worker: float = 0.0
    num_shards: int | None = None  # None: one shard per worker
    progress: bool = True
    # Restarts of a dead worker (its shard resumes from its own partial output); past them the job fails.
    max_restarts: int = 3

    @property
    def shards(self) -> int:
        return self.num_shards or self.num_workers


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engine (where the shards run)")
    group.add_argument("--engine", choices=ENGINES, default="local",
                       help="local: this process (one --shard); ray: every shard of --num-shards on a Ray "
                            f"cluster, one model per worker (needs {RAY_EXTRA}) (default: %(default)s)")
    group.add_argument("--address", default=None,
                       help="with --engine ray: auto, HOST:PORT or ray://HOST:PORT of the cluster (default: "
                            "$RAY_ADDRESS or the cluster started on this machine, else a new local Ray)")
    group.add_argument("--num-workers", type=int, default=None,
                       help="with --engine ray: workers (Ray actors), each loading the model once (default: 1)")
    group.add_argument("--gpus-per-worker", type=float, default=None,
                       help="with --engine ray: GPUs each worker reserves, fractions allowed; give the model "
                            "--device cuda too (default: 0)")
    group.add_argument("--num-shards", type=int, default=None,
                       help="with --engine ray: shards the work is split into, the files of --shard I/N "
                            "(default: --num-workers); a rerun skips complete shards")


def cluster_options(args: argparse.Namespace, shard_given: bool) -> ClusterOptions | None:
    """The Ray settings of ``--engine ray``; None for the local engine. Flags of the other engine are errors."""
    given = [f"--{name.replace('_', '-')}" for name in CLUSTER_FLAGS if getattr(args, name, None) is not None]
    if args.engine == "local":
        if given:
            raise InputError(f"{', '.join(given)}: only with --engine ray")
        return None
    if shard_given:
        raise InputError("--shard is for the local engine; with --engine ray give --num-shards N "
                         "(every shard I/N runs on the cluster)")
    options = ClusterOptions(address=args.address, num_workers=_at_least(args.num_workers, 1, "--num-workers", 1),
                             gpus_per_worker=_at_least(args.gpus_per_worker, 0, "--gpus-per-worker", 0.0),
                             num_shards=_at_least(args.num_shards, 1, "--num-shards", None),
                             progress=not getattr(args, "no_progress", False))
    return options


def _at_least(value: Any, low: float, flag: str, default: Any) -> Any:
    if value is None:
        return default
    if value < low:
        raise InputError(f"{flag} must be at least {low}, not {value}")
    return value


def run_shards(job: Any, cluster: ClusterOptions | None, shard: tuple[int, int] | None) -> list[dict[str, Any]]:
    """Run ``job``: its shard ``shard`` here (``cluster`` None), or all its pending shards on Ray.

    Returns one summary per shard, in shard order.
    """
    if cluster is None:
        from xqg_pyserini.engine.local import run_local

        return run_local(job, shard)
    from xqg_pyserini.engine.ray_engine import run_on_ray

    return run_on_ray(job, cluster)
