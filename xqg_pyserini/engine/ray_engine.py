"""``--engine ray``: every pending shard of an N-way split on a Ray cluster, one model per worker.

The input is read as a Ray Dataset (:func:`input_rows`, a Datasource with one read task per
pending shard, each reading its rows with the stage's own reader): one row per passage
(generate: docid, title, contents) or per text (encode: id, text), with its shard and input
position. Each shard is one block (block splitting is off for the job), and the blocks are
mapped by :class:`ShardWorker`, a class-based ``map_batches`` actor (``batch_size=None``: a
batch is a whole block): it loads the job's model once and writes each shard in its batch, from
that shard's rows put back in input order and checked complete, with the stage's own library
function, into the shard files of ``--output``. A shard is never cut because the stage's output
depends on how its rows are cut into batches (encoding pads per batch); whole shards give the
local engine's batches and so its bytes. A worker holds one shard's input rows at a time:
``--num-shards`` bounds that. Read tasks reserve no CPU (reading text is light, and a model
actor on every CPU must not starve them). Workers write the files themselves, so ``--output``
(and the input) must be one path every node sees: a shared filesystem.

Resume and failures: a complete shard is not sent to the cluster (the driver reads its manifest
or meta). A worker that dies is restarted up to ``max_restarts`` times and its shard retried; the
shard resumes from its own partial output (a ``.partial`` file or chunk dir) and finished shards
are never rewritten. Past the restarts the job fails; rerunning the command resumes it.
"""

from __future__ import annotations

import functools
import json
import socket
import warnings
from typing import Any, Iterator

from xqg_pyserini.engine import RAY_EXTRA, ClusterOptions
from xqg_pyserini.engine.jobs import JobPlan, ShardPlan
from xqg_pyserini.errors import InputError

CONNECT_TIMEOUT_S = 5.0  # an unreachable --address fails within this, not after Ray's own retries
EMPTY_SHARD = -1  # the position of the one placeholder row of an empty shard


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


def _read_shard(job: Any, plan: ShardPlan) -> Iterator[Any]:
    """A read task: the rows of one shard as one pyarrow table, each row with its shard and input position."""
    import pyarrow as pa

    rows = list(job.read_rows(plan.start, plan.stop))
    if not rows:  # an empty shard still writes its (empty) files: one placeholder row makes it a batch
        yield pa.table({"shard": [plan.index], "position": [EMPTY_SHARD], **{name: [""] for name in job.COLUMNS}})
        return
    yield pa.table({"shard": [plan.index] * len(rows), "position": list(range(plan.start, plan.stop)),
                    **{name: [row[name] for row in rows] for name in job.COLUMNS}})


def input_rows(job: Any, pending: list[ShardPlan]) -> Any:
    """The input rows of the ``pending`` shards as a Ray Datasource (one read task per shard)."""
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class InputRows(Datasource):
        def estimate_inmemory_data_size(self) -> int | None:
            return None

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[ReadTask]:
            return [ReadTask(functools.partial(_read_shard, job, plan),
                             BlockMetadata(num_rows=max(1, plan.stop - plan.start), size_bytes=None,
                                           exec_stats=None))
                    for plan in pending]

    return InputRows()


class ShardWorker:
    """A Ray Data ``map_batches`` actor: the job's model, loaded once, writes each shard of the rows it is given."""

    def __init__(self, job: Any, plan: JobPlan):
        self.job, self.plan = job, plan
        self.model = job.load()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        import numpy as np

        shard_of, positions = np.asarray(batch["shard"]), np.asarray(batch["position"])
        indices, summaries = [], []
        for index in sorted(set(shard_of.tolist())):
            shard = self.plan.shards[index]
            rows = np.flatnonzero((shard_of == index) & (positions != EMPTY_SHARD))
            rows = rows[np.argsort(positions[rows], kind="stable")]
            if not np.array_equal(positions[rows], np.arange(shard.start, shard.stop)):
                raise RuntimeError(f"shard {index}/{shard.count}: a batch holds {len(rows)} of its rows, not all "
                                   f"{shard.stop - shard.start} (rows {shard.start}..{shard.stop - 1})")
            given = self.job.shard_input({name: np.asarray(batch[name])[rows] for name in self.job.COLUMNS},
                                         self.plan)
            indices.append(index)
            summaries.append(json.dumps(self._run(index, shard.count, given)))
        return {"shard": indices, "summary": summaries}

    def _run(self, index: int, count: int, given: Any) -> dict[str, Any]:
        try:
            return self.job.run_shard(self.model, (index, count), given=given)
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
    job_plan = job.plan(cluster.shards)
    plans = job_plan.shards
    pending = [plan for plan in plans if plan.done is None] or ([plans[0]] if _verify_on_worker(job) else [])
    results: dict[int, dict[str, Any]] = {plan.index: plan.done for plan in plans if plan.done is not None}
    if pending:
        started = connect(ray, cluster.address)
        try:
            results.update(_map_shards(ray, job, job_plan, pending, cluster))
        finally:
            if started:
                ray.shutdown()
    return [results[plan.index] for plan in plans]


def _verify_on_worker(job: Any) -> bool:
    from xqg_pyserini.engine.jobs import GenerateJob

    return isinstance(job, GenerateJob)


def _map_shards(ray: Any, job: Any, job_plan: JobPlan, pending: list[ShardPlan],
                cluster: ClusterOptions) -> dict[int, dict[str, Any]]:
    from ray.data import DataContext

    context = DataContext.get_current()
    saved = context.enable_progress_bars, context.target_max_block_size
    context.enable_progress_bars = cluster.progress
    # One block per shard, never split by size: a batch (a whole block) then holds whole shards.
    context.target_max_block_size = None
    try:
        return _run_dataset(ray, job, job_plan, pending, cluster)
    finally:
        context.enable_progress_bars, context.target_max_block_size = saved


def _run_dataset(ray: Any, job: Any, job_plan: JobPlan, pending: list[ShardPlan],
                 cluster: ClusterOptions) -> dict[int, dict[str, Any]]:
    from ray.data import ActorPoolStrategy

    # Reading text is light: read tasks take no CPU the model actors could be waiting for.
    dataset = ray.data.read_datasource(input_rows(job, pending), override_num_blocks=len(pending), num_cpus=0)
    gpus = {"num_gpus": cluster.gpus_per_worker} if cluster.gpus_per_worker else {}
    with warnings.catch_warnings():
        # Ray 2.60 deprecates these remote args in map_batches but names no replacement for actors' restarts.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        mapped = dataset.map_batches(ShardWorker, fn_constructor_args=(job, job_plan), batch_size=None,
                                     batch_format="numpy",
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
