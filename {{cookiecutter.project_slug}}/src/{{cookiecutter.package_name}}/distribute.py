"""Training from a laptop to many machines: the tf.distribute strategy. Several machines
train with the loop of multi_worker.py.

`train.distribute` picks the strategy (`strategy_for`):

- one device: TensorFlow's default strategy, plain `model.fit`;
- `mirrored`: every GPU of one machine (`MirroredStrategy`); `model.fit` inside
  `strategy.scope()` works with Keras 3;
- `multi_worker`: several machines (`MultiWorkerMirroredStrategy`), from `TF_CONFIG` or from
  a Slurm job step (`srun`). Keras 3's `model.fit` fails under this strategy
  (keras-team/keras#20585, still open; with Keras 3.15 `fit` stops at its first step with
  "Attempt to convert a value (PerReplica...) with an unsupported type"), so
  `multi_worker.fit_multi_worker` trains with `strategy.run` instead, and drives the same
  Keras callbacks;
- `tpu`: a Cloud TPU (`TPUStrategy`); written from TensorFlow's documentation, not tested here.

Batch size and learning rate. `data.batch_size` is the batch of ONE replica (one GPU): the
global batch that one optimizer step sees is `data.batch_size x num_replicas_in_sync`
(`global_batch_size`). So each GPU keeps the memory footprint and the speed it had alone, and
going from 1 to 8 GPUs makes each step average over 8x more examples. The learning rate is
NOT scaled automatically. SGD's linear scaling rule (rate x replicas, with a warm-up; Goyal et
al. 2017) is a rule for SGD; Adam, the default here, normalises each update by the gradient's
own scale and needs much less (often none, at most about sqrt(replicas)), and a rate that
changes silently with the number of machines would make runs impossible to compare. The user
decides: after scaling out, re-run `check --lr-find` (T10) on the new global batch, or try
rate x sqrt(replicas) for Adam, rate x replicas for SGD.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import tensorflow as tf

from .config import Config
from .errors import UserError

Strategy = tf.distribute.Strategy


def strategy_for(config: Config) -> Strategy:
    """The strategy `train.distribute` asks for. Call it before TensorFlow runs anything in the
    process (before the data are loaded): MultiWorkerMirroredStrategy must configure
    TensorFlow's runtime before the runtime starts."""
    choice = config.train.distribute
    if choice == "auto":
        choice = _detect()
    if choice == "none":
        return tf.distribute.get_strategy()
    if choice == "mirrored":
        return _mirrored()
    if choice == "multi_worker":
        return _multi_worker(_cluster_resolver())
    return _tpu(_tpu_resolver())


def global_batch_size(config: Config, strategy: Strategy) -> int:
    """`data.batch_size` per replica x the replicas: the examples one optimizer step averages."""
    return config.data.batch_size * strategy.num_replicas_in_sync


def is_multi_worker(strategy: Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: Strategy) -> bool:
    """The one worker that writes files: the `chief` task, or worker 0 when the cluster has no
    chief. Every other strategy runs in one process, which is its own chief."""
    resolver = strategy.cluster_resolver if is_multi_worker(strategy) else None
    if resolver is None or resolver.task_type is None:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


# -- choosing the strategy --------------------------------------------------------------------


def _detect() -> str:
    """auto: a TPU, then a cluster of several workers, then several GPUs, else one device."""
    if _tpu_resolver(required=False) is not None:
        return "tpu"
    if _tf_config_workers() > 1 or _slurm_tasks() > 1:
        return "multi_worker"
    # Physical devices only: listing them leaves TensorFlow's runtime unstarted.
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "none"


def _mirrored() -> Strategy:
    """Every GPU of this machine; without GPUs, every CPU device (one, unless logical CPU devices
    were configured, as the tests do)."""
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def _multi_worker(resolver) -> Strategy:
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    except RuntimeError as err:
        if "program startup" not in str(err):
            raise
        raise UserError("train.distribute=multi_worker: TensorFlow ran before the strategy was created; "
                        "call strategy_for(config) first thing in the process (a custom data loader or "
                        "model module that runs TensorFlow at import time also counts)") from None


def _tf_config() -> dict | None:
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        tf_config = json.loads(raw)
    except json.JSONDecodeError as err:
        raise UserError(f"TF_CONFIG is not valid JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(tf_config, dict) or not isinstance(tf_config.get("cluster"), dict):
        raise UserError('TF_CONFIG must hold {"cluster": {"worker": ["host:port", ...]}, '
                        '"task": {"type": "worker", "index": i}}')
    return tf_config


def _tf_config_workers() -> int:
    tf_config = _tf_config()
    if tf_config is None:
        return 0
    cluster = tf_config["cluster"]
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


def _slurm_tasks() -> int:
    """The tasks of this srun step; outside a step, the tasks of the job (Slurm sets both)."""
    if "SLURM_JOB_ID" not in os.environ:
        return 0
    try:
        return int(os.environ.get("SLURM_STEP_NUM_TASKS") or os.environ.get("SLURM_NTASKS") or 1)
    except ValueError:
        return 0


def _cluster_resolver():
    """TF_CONFIG when it is set (it is explicit), else the Slurm job step's environment."""
    tf_config = _tf_config()
    if tf_config is not None:
        task = tf_config.get("task", {})
        if task.get("type") not in ("chief", "worker") or not isinstance(task.get("index"), int):
            raise UserError('TF_CONFIG names no task of this process: add "task": {"type": "worker", "index": i}')
        return tf.distribute.cluster_resolver.TFConfigClusterResolver()
    if "SLURM_JOB_ID" in os.environ:
        return _slurm_resolver()
    raise UserError("train.distribute=multi_worker needs a cluster: set TF_CONFIG on each machine, or launch "
                    "one task per machine with srun in a Slurm job (scripts/train_slurm.sbatch)")


def _slurm_resolver():
    """SlurmClusterResolver for this `srun` step. It finds the hosts and this task's rank in
    Slurm's variables; the GPUs per node are counted here, so that nodes without GPUs work too
    (the resolver's own count calls nvidia-smi and fails without it). With one task per node,
    the task keeps every GPU Slurm gave it; with several, the resolver splits them by index.
    Workers listen on ports RECIPE_PORT_BASE (default 8888) and up: give two jobs that may
    share a node different bases."""
    if "SLURM_STEP_NUM_TASKS" not in os.environ or "SLURM_PROCID" not in os.environ:
        raise UserError("train.distribute=multi_worker under Slurm: run the training inside a job step, "
                        "`srun recipe-net train ...` (scripts/train_slurm.sbatch), not directly in the batch script")
    from tensorflow.python.distribute.cluster_resolver.slurm_cluster_resolver import expand_tasks_per_node

    tasks_per_node = max(expand_tasks_per_node(os.environ.get("SLURM_STEP_TASKS_PER_NODE", "1")))
    gpus = _gpus_per_node()
    if gpus and gpus < tasks_per_node:
        raise UserError(f"Slurm starts {tasks_per_node} tasks per node on nodes with {gpus} GPUs: "
                        "start one task per node (srun --ntasks-per-node=1); it uses all the node's GPUs")
    port_base = int(os.environ.get("RECIPE_PORT_BASE", "8888"))
    Resolver = tf.distribute.cluster_resolver.SlurmClusterResolver
    if gpus:
        return Resolver(port_base=port_base, gpus_per_node=gpus, gpus_per_task=gpus // tasks_per_node,
                        auto_set_gpu=tasks_per_node > 1)
    # No GPUs: the resolver insists on at least one per task; take its cluster and claim none.
    slurm = Resolver(port_base=port_base, gpus_per_node=tasks_per_node, gpus_per_task=1, auto_set_gpu=False)
    return tf.distribute.cluster_resolver.SimpleClusterResolver(
        slurm.cluster_spec(), task_type=slurm.task_type, task_id=slurm.task_id, rpc_layer="grpc")


def _gpus_per_node() -> int:
    """GPUs of this node, without starting TensorFlow: CUDA_VISIBLE_DEVICES, else nvidia-smi."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        listed = subprocess.run(["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return len(listed.stdout.splitlines()) if listed.returncode == 0 else 0


def _tpu_resolver(required: bool = True):
    """A Cloud TPU named by the environment (TPU_NAME, TPU_CONFIG, GKE's endpoints), or the
    chips of a TPU VM (/dev/accel0). No network is touched when none is named."""
    named = any(os.environ.get(name) for name in ("TPU_NAME", "TPU_CONFIG", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS"))
    if not named and not Path("/dev/accel0").exists():
        if required:
            raise UserError("train.distribute=tpu but no TPU was found: set TPU_NAME (a Cloud TPU node), or run "
                            "on a TPU VM")
        return None
    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu=None if named else "local")
    except (ValueError, RuntimeError, OSError) as err:
        if required:
            raise UserError(f"train.distribute=tpu: the TPU could not be resolved: {err}") from None
        return None


def _tpu(resolver) -> Strategy:
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


# -- pieces of the loop -----------------------------------------------------------------------
