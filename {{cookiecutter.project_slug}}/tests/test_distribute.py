"""Scale-out (distribute.py) on one CPU machine: MirroredStrategy over two logical CPU devices,
MultiWorkerMirroredStrategy with two worker processes on 127.0.0.1, and the clear errors.

The strategies need a fresh process each: logical devices and collective ops must be set up
before TensorFlow's runtime starts, which the test process has long done."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import distribute, multi_worker
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.errors import UserError

pytestmark = pytest.mark.slow

TIMEOUT_S = 180
PACKAGE = distribute.__name__.rpartition(".")[0]
SRC = str(Path(distribute.__file__).resolve().parents[2])
CLUSTER_VARIABLES = ("TF_CONFIG", "SLURM_JOB_ID", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS",
                     "SLURM_STEP_NODELIST", "SLURM_STEP_TASKS_PER_NODE", "TPU_NAME", "TPU_CONFIG",
                     "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS")

MIRRORED = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from PACKAGE.config import load_config
from PACKAGE.distribute import global_batch_size, strategy_for

config = load_config(None, ["train.distribute=mirrored", "data.batch_size=8"])
strategy = strategy_for(config)
keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = x @ np.array([[1.0], [-2.0], [0.5], [1.0]], "float32")
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch_size(config, strategy))
history = model.fit(data, epochs=6, verbose=0)
print("RESULT " + json.dumps({"replicas": strategy.num_replicas_in_sync,
                              "copies": len(strategy.experimental_local_results(model.weights[0].value)),
                              "global_batch": global_batch_size(config, strategy), "loss": history.history["loss"]}))
""".replace("PACKAGE", PACKAGE)

SHARDS = (slice(0, 48), slice(48, 78))  # worker 0: 6 batches of 8; worker 1: 3 of 8 and 1 of 6
VAL = slice(96, 120)
EPOCHS = 4

# One worker of two. Worker 0 reads 48 examples and worker 1 only 30, so worker 1 runs out first
# and its replica sees empty batches; worker 1 also starts from other weights, as after a resume
# that found the backup on the chief only. Both must still end with the same weights.
WORKER = """
import json, sys
from pathlib import Path
import numpy as np
import tensorflow as tf
import keras
from PACKAGE.config import load_config
from PACKAGE.distribute import is_chief, strategy_for
from PACKAGE.multi_worker import discard_worker_run_dir, fit_multi_worker, worker_run_dir

out = Path(sys.argv[1])
strategy = strategy_for(load_config(None, ["train.distribute=multi_worker"]))
task = strategy.cluster_resolver.task_id
keras.utils.set_random_seed(0)
data = np.load(out / "data.npz")
x, y = data["x"], data["y"]
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.02), "mse")
np.savez(out / f"initial_{task}.npz", *[v.numpy() for v in model.weights])
if task == 1:
    for variable in model.trainable_variables:
        variable.assign(variable + 0.5)

def train_ds_fn(context):
    part = SHARDS[context.input_pipeline_id]
    return tf.data.Dataset.from_tensor_slices((x[part], y[part])).batch(context.get_per_replica_batch_size(16))

run_dir = out / "run"
write_dir = worker_run_dir(run_dir, strategy)
write_dir.mkdir(parents=True, exist_ok=True)
callbacks = [keras.callbacks.CSVLogger(str(write_dir / "history.csv")),
             keras.callbacks.ModelCheckpoint(str(write_dir / "last.keras"))]
val = tf.data.Dataset.from_tensor_slices((x[VAL], y[VAL])).batch(8)
history = fit_multi_worker(model, train_ds_fn, val, EPOCHS, callbacks, strategy, verbose=0)
np.savez(out / f"weights_{task}.npz", *[v.numpy() for v in model.weights])
discard_worker_run_dir(write_dir, run_dir)
print("RESULT " + json.dumps({"task": task, "chief": is_chief(strategy), "wrote_to_run_dir": write_dir == run_dir,
                              "loss": history.history["loss"], "val_loss": history.history["val_loss"]}))
""".replace("PACKAGE", PACKAGE).replace("SHARDS", repr(SHARDS)).replace("VAL", repr(VAL)).replace("EPOCHS", str(EPOCHS))


def _environment(**extra):
    env = {k: v for k, v in os.environ.items() if k not in CLUSTER_VARIABLES}
    env.update(CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(
        [SRC] + [p for p in [os.environ.get("PYTHONPATH")] if p]), **extra)
    return env


def _run_all(commands: list[tuple[list[str], dict]]) -> list[str]:
    """Start every process, wait for all within the time limit, kill them all on any failure."""
    processes = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for args, env in commands]
    outputs = []
    try:
        for process in processes:
            output, _ = process.communicate(timeout=TIMEOUT_S)
            outputs.append(output)
            assert process.returncode == 0, f"process failed ({process.returncode}):\n{output[-4000:]}"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return outputs


def _result(output: str) -> dict:
    return json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[len("RESULT "):])


def test_mirrored_fit_over_two_logical_cpus():
    (output,) = _run_all([([sys.executable, "-c", MIRRORED], _environment())])
    result = _result(output)
    assert result["replicas"] == 2 and result["copies"] == 2
    assert result["global_batch"] == 16  # data.batch_size is per replica
    losses = result["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0], losses


def _one_process_reference(x, y, initial):
    """The same training on one device: each step's global batch is worker 0's batch joined with
    worker 1's while worker 1 has one; the loss is the mean over that whole batch."""
    import keras
    import tensorflow as tf

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.set_weights(initial)
    optimizer = keras.optimizers.SGD(0.02)
    epoch_losses = []
    for _ in range(EPOCHS):
        losses = []
        for start in range(0, 48, 8):
            parts = [(x[shard][start:start + 8], y[shard][start:start + 8]) for shard in SHARDS]
            batch_x = np.concatenate([px for px, _ in parts])
            batch_y = np.concatenate([py for _, py in parts])
            with tf.GradientTape() as tape:
                loss = keras.ops.mean(keras.losses.mean_squared_error(batch_y, model(batch_x)))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables,
                                          strict=True))
            losses.append(float(loss))
        epoch_losses.append(float(np.mean(losses)))
    return [w.numpy() for w in model.weights], epoch_losses


def test_two_workers_end_with_identical_weights(tmp_path, free_ports):
    x = np.random.default_rng(0).normal(size=(120, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [1.0]], "float32")
    np.savez(tmp_path / "data.npz", x=x, y=y)
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    commands = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        commands.append(([sys.executable, "-c", WORKER, str(tmp_path)], _environment(TF_CONFIG=json.dumps(tf_config))))
    outputs = _run_all(commands)
    results = [_result(output) for output in outputs]
    assert [(r["task"], r["chief"], r["wrote_to_run_dir"]) for r in results] == [(0, True, True), (1, False, False)]
    assert results[0]["loss"] == results[1]["loss"]  # the logs are global: callbacks decide alike
    losses, val_losses = results[0]["loss"], results[0]["val_loss"]
    assert np.all(np.isfinite(losses + val_losses))
    assert losses[-1] < 0.7 * losses[0] and val_losses[-1] < val_losses[0], (losses, val_losses)
    chief, other = np.load(tmp_path / "weights_0.npz"), np.load(tmp_path / "weights_1.npz")
    assert len(chief.files) == 4
    for name in chief.files:
        np.testing.assert_array_equal(chief[name], other[name])
    # The loss is averaged over the global batch, short last batches and the idle worker included.
    initial = np.load(tmp_path / "initial_0.npz")
    expected_weights, expected_losses = _one_process_reference(x, y, [initial[n] for n in initial.files])
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    for name, expected in zip(chief.files, expected_weights, strict=True):
        np.testing.assert_allclose(chief[name], expected, rtol=1e-5, atol=1e-6)
    history_csv = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert history_csv[0].split(",") == ["epoch", "loss", "val_loss"] and len(history_csv) == 5
    assert (tmp_path / "run" / "last.keras").is_file()


@pytest.fixture()
def no_cluster(monkeypatch):
    for name in CLUSTER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _strategy(*choice):
    return distribute.strategy_for(load_config(None, [f"train.distribute={c}" for c in choice]))


def test_multi_worker_without_a_cluster_says_how_to_name_one(no_cluster):
    with pytest.raises(UserError, match="multi_worker needs a cluster: set TF_CONFIG .* srun"):
        _strategy("multi_worker")


def test_bad_tf_config_is_named(no_cluster):
    no_cluster.setenv("TF_CONFIG", "{'cluster': }")
    with pytest.raises(UserError, match="TF_CONFIG is not valid JSON"):
        _strategy("multi_worker")
    no_cluster.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}}))
    with pytest.raises(UserError, match="names no task of this process"):
        _strategy("multi_worker")


def test_slurm_batch_script_without_srun_is_refused(no_cluster):
    no_cluster.setenv("SLURM_JOB_ID", "7")
    no_cluster.setenv("SLURM_NTASKS", "2")
    with pytest.raises(UserError, match="srun"):
        _strategy("multi_worker")


def test_tpu_without_a_tpu_is_refused(no_cluster):
    if Path("/dev/accel0").exists():
        pytest.skip("this machine has TPU chips")
    with pytest.raises(UserError, match="no TPU was found"):
        _strategy("tpu")


def test_auto_reads_the_cluster_from_the_environment(no_cluster):
    assert distribute._detect() in ("none", "mirrored")  # no cluster: one machine
    no_cluster.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                               "task": {"type": "worker", "index": 1}}))
    assert distribute._detect() == "multi_worker"
    no_cluster.delenv("TF_CONFIG")
    no_cluster.setenv("SLURM_JOB_ID", "7")
    no_cluster.setenv("SLURM_NTASKS", "3")
    assert distribute._detect() == "multi_worker"


def test_slurm_step_on_nodes_without_gpus(no_cluster):
    """Two tasks on each of two CPU nodes: the resolver lists four workers and this task's rank."""
    for name, value in {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4", "SLURM_PROCID": "3", "SLURM_STEP_NUM_TASKS": "4",
                        "SLURM_STEP_NODELIST": "node[1-2]", "SLURM_STEP_TASKS_PER_NODE": "2(x2)",
                        "CUDA_VISIBLE_DEVICES": "", "RECIPE_PORT_BASE": "9000"}.items():
        no_cluster.setenv(name, value)
    resolver = distribute._cluster_resolver()
    assert resolver.cluster_spec().as_dict() == {"worker": ["node1:9000", "node1:9001", "node2:9000", "node2:9001"]}
    assert (resolver.task_type, resolver.task_id) == ("worker", 3)
    assert resolver.num_accelerators() == {}


@pytest.mark.parametrize("loss", ["mse", "sparse_ce", "binary_ce"])
def test_unreduced_loss_sums_to_keras_mean(loss):
    """The loop's per-example loss: its sum over the batch is Keras' own (weighted) mean x the batch."""
    import keras

    rng = np.random.default_rng(0)
    weight = rng.uniform(0.5, 2.0, size=6).astype("float32")
    cases = {  # the compiled loss, Keras' reduced loss, labels, outputs
        "mse": ("mse", keras.losses.MeanSquaredError(), rng.normal(size=6), rng.normal(size=(6, 1))),
        "sparse_ce": (keras.losses.SparseCategoricalCrossentropy(from_logits=True),) * 2
        + (rng.integers(0, 3, 6), rng.normal(size=(6, 3))),
        "binary_ce": (keras.losses.BinaryCrossentropy(from_logits=True),) * 2
        + (rng.integers(0, 2, (6, 1)), rng.normal(size=(6, 1))),
    }
    compiled, reduced, y, y_pred = cases[loss]
    per_example = np.asarray(multi_worker._per_example(compiled)(y, y_pred.astype("float32"), sample_weight=weight))
    assert per_example.shape == (6,)
    expected = float(reduced(y, y_pred.astype("float32"), sample_weight=weight))
    np.testing.assert_allclose(per_example.sum() / 6, expected, rtol=1e-6)
