"""``--engine ray``: every pending shard of an N-way split on a Ray cluster, one model per worker.

The work is a Ray Dataset whose rows are the shards (index, count, corpus rows, first and last
id), mapped by :class:`ShardWorker`, a class-based ``map_batches`` actor: it loads the job's
model once and writes each shard it is given with the stage's own library function, into the
shard files of ``--output``. Workers write those files themselves, so ``--output`` (and the
input) must be one path every node sees: a shared filesystem.

Resume and failures: a complete shard is not sent to the cluster (the driver reads its manifest
or meta). A worker that dies is restarted up to ``max_restarts`` times and its shard retried; the
shard resumes from its own partial output (a ``.partial`` file or chunk dir) and finished shards
are never rewritten. Past the restarts the job fails; rerunning the command resumes it.
"""

from __future__ import annotations

import socket
import warnings
from typing import Any

from xqg_pyserini.engine import RAY_EXTRA, ClusterOptions
from xqg_pyserini.engine.jobs import ShardPlan
from xqg_pyserini.errors import InputError

CONNECT_TIMEOUT_S = 5.0  # an unreachable --address fails within this, not after Ray's own retries


def import_ray() -> Any:
    """The ``ray`` module with Ray Data; an InputError naming the extra when it is not installed."""
    try:
        import ray
        import ray.data  # noqa: F401 (Ray Data's own dependencies: pandas, pyarrow)
    except ImportError as err:
        raise InputError(f"--engine ray needs Ray, not installed here ({err}); install the extra: "
                         f"{RAY_EXTRA}") from None
    return ray


def check_address(address: str | None) -> None:
    """``HOST:PORT`` or ``ray://HOST:PORT`` must accept a TCP connection; ``auto``/None are left to Ray."""
    if address in (None, "auto", "local"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InputError(f"--address {address!r}: give auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise InputError(f"--address {address}: no Ray cluster reachable at {host}:{port} "
                         f"({err.strerror or err}); start one with `ray start --head` or fix the address") from None


def connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` (checked by :func:`check_address`; or the one already joined).

    True when this call started Ray (and so shuts it down after the job).
    """
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, log_to_driver=True)
    except ConnectionError as err:
        raise InputError(f"--address {address or '(none)'}: {err}") from None
    return True


class ShardWorker:
    """A Ray Data ``map_batches`` actor: the job's model, loaded once, writes the shards of each batch."""

    def __init__(self, job: Any):
        self.job = job
        self.model = job.load()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        import json

        summaries = [self._run(int(index), int(count)) for index, count in zip(batch["shard"], batch["shards"])]
        return {"shard": [int(index) for index in batch["shard"]], "summary": [json.dumps(s) for s in summaries]}

    def _run(self, index: int, count: int) -> dict[str, Any]:
        try:
            return self.job.run_shard(self.model, (index, count))
        except InputError as err:  # returned as data: Ray drops the chained cause of what a worker raises
            return {"input_error": {"message": err.message, "path": err.path, "line": err.line, "docid": err.docid}}


def run_on_ray(job: Any, cluster: ClusterOptions) -> list[dict[str, Any]]:
    """Run every pending shard of ``job``'s ``cluster.shards``-way split; one summary per shard, in order.

    Input errors are raised before any cluster work (the driver checks the input in ``job.plan``).
    When every shard looks complete, shard 0 still goes to one worker: the generator's config is
    only known once it is loaded, and that shard's run checks it against every manifest.
    """
    ray = import_ray()
    check_address(cluster.address)  # even when already joined to a cluster: a wrong flag is an error
    plans = job.plan(cluster.shards)
    pending = [plan for plan in plans if plan.done is None] or ([plans[0]] if _verify_on_worker(job) else [])
    results: dict[int, dict[str, Any]] = {plan.index: plan.done for plan in plans if plan.done is not None}
    if pending:
        started = connect(ray, cluster.address)
        try:
            results.update(_map_shards(ray, job, pending, cluster))
        finally:
            if started:
                ray.shutdown()
    return [results[plan.index] for plan in plans]


def _verify_on_worker(job: Any) -> bool:
    from xqg_pyserini.engine.jobs import GenerateJob

    return isinstance(job, GenerateJob)


def _map_shards(ray: Any, job: Any, pending: list[ShardPlan], cluster: ClusterOptions) -> dict[int, dict[str, Any]]:
    import json

    from ray.data import ActorPoolStrategy, DataContext

    DataContext.get_current().enable_progress_bars = cluster.progress
    dataset = ray.data.from_items([plan.row() for plan in pending], override_num_blocks=len(pending))
    gpus = {"num_gpus": cluster.gpus_per_worker} if cluster.gpus_per_worker else {}
    with warnings.catch_warnings():
        # Ray 2.60 deprecates these remote args in map_batches but names no replacement for actors' restarts.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        mapped = dataset.map_batches(ShardWorker, fn_constructor_args=(job,), batch_size=1,
                                     compute=ActorPoolStrategy(size=min(cluster.num_workers, len(pending))),
                                     max_restarts=cluster.max_restarts, max_task_retries=cluster.max_restarts,
                                     **gpus)
    try:
        rows = mapped.take_all()
    except Exception as err:  # a worker died past its restarts, or a bug in a worker
        raise RuntimeError(f"the Ray job failed ({type(err).__name__}: {_first_line(err)}); complete shards are "
                           "kept: rerun the same command to resume") from err
    summaries = {int(row["shard"]): json.loads(row["summary"]) for row in rows}
    for index in sorted(summaries):
        error = summaries[index].get("input_error")
        if error is not None:
            raise InputError(error["message"], path=error["path"], line=error["line"], docid=error["docid"])
    return summaries


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else ""
