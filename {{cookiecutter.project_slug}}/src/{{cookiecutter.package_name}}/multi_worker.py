"""The training loop for several machines (MultiWorkerMirroredStrategy), where Keras 3's own
`fit` fails (keras-team/keras#20585), and where each worker writes: only the chief's files
are kept."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf

from .distribute import Strategy, is_chief, is_multi_worker
from .errors import UserError


def worker_run_dir(run_dir: Path, strategy: Strategy) -> Path:
    """Where this process writes: the run folder for the chief; a fresh temporary folder for the
    other workers. Every worker must still save (a save may take part in collective ops), but
    only the chief's files are kept: the standard MultiWorkerMirroredStrategy pattern.
    `discard_worker_run_dir` removes the temporary folder at the end."""
    if is_chief(strategy):
        return run_dir
    task_id = strategy.cluster_resolver.task_id
    return Path(tempfile.mkdtemp(prefix=f"{run_dir.name}-worker{task_id}-"))


def discard_worker_run_dir(path: Path, run_dir: Path) -> None:
    if path != run_dir:
        shutil.rmtree(path, ignore_errors=True)


def weights_digest(model: keras.Model) -> str:
    """A SHA-256 of the model's weights, byte for byte, in their order: each worker prints it
    after training, so that a reader (or a test) sees that the workers ended with the same model
    although only the chief's files are kept."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(keras.ops.convert_to_numpy(weight).tobytes())
    return digest.hexdigest()


def fit_multi_worker(
    model: keras.Model,
    train_ds_fn: Callable[[tf.distribute.InputContext], tf.data.Dataset],
    val_ds: tf.data.Dataset | None,
    epochs: int,
    callbacks: list[keras.callbacks.Callback],
    strategy: Strategy,
    steps_per_epoch: int | None = None,
    initial_epoch: int = 0,
    verbose: int = 2,
) -> keras.callbacks.History:
    """`model.fit` for MultiWorkerMirroredStrategy, where Keras 3's own `fit` fails; it works
    under any strategy. Written by hand because neither Keras nor TensorFlow ships one.

    `model` must have been built and compiled inside `strategy.scope()`: its optimizer and
    loss are used as they are (mixed precision's loss scaling included). `train_ds_fn(context)`
    returns this worker's share of the training data, batched per replica
    (`context.input_pipeline_id` of `context.num_input_pipelines`), for one epoch.
    `val_ds` is batched and is split over the workers. `steps_per_epoch` only informs the
    callbacks (progress bar); an epoch ends when the data do.

    The loss of a step is the mean over the GLOBAL batch: each replica divides its sum by the
    number of examples in all replicas together (an all-reduce), so that the summed gradients
    equal those of one big batch, also when the last batches are short or a worker's share ran
    out early (its replicas then see empty batches). Logs hold {"loss"} per batch and
    {"loss", "val_loss"} per epoch (no other metrics), the same on every worker, so callbacks
    that stop training (EarlyStopping, TerminateOnNaN) decide alike everywhere.

    Resume: a backup is often found by the chief alone (the others write to temporary
    folders), so after `on_train_begin` every worker takes the chief's weights, optimizer state
    and start epoch (`initial_epoch`, from the chief's backup): otherwise the workers
    would diverge silently, or wait for each other forever."""
    optimizer = model.optimizer
    with strategy.scope():
        if not optimizer.built:  # the slots must exist everywhere before the chief's are copied
            optimizer.build(model.trainable_variables)
    per_example_loss = _per_example(model.loss)
    callback_list = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=verbose > 0 and is_chief(strategy), model=model,
        verbose=verbose, epochs=epochs, steps=steps_per_epoch)
    train_data = strategy.distribute_datasets_from_function(train_ds_fn)
    val_data = strategy.experimental_distribute_dataset(_shard_by_data(val_ds)) if val_ds is not None else None

    def loss_sum(batch, training):
        x, y, weight = keras.utils.unpack_x_y_sample_weight(batch)
        losses = per_example_loss(y, keras.ops.cast(model(x, training=training), "float32"), sample_weight=weight)
        return tf.reduce_sum(tf.cast(losses, tf.float32)), tf.cast(tf.size(losses), tf.float32)

    def penalties():
        return tf.add_n([tf.cast(p, tf.float32) for p in model.losses]) if model.losses else 0.0

    def replica_train_step(batch):
        context = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            total, count = loss_sum(batch, training=True)
            # Divide by the global count: the optimizer SUMS the replicas' gradients.
            loss = tf.math.divide_no_nan(total, context.all_reduce("sum", count))
            loss += tf.nn.scale_regularization_loss(penalties())
            scaled = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    @tf.function(reduce_retracing=True)
    def train_step(batch):
        return strategy.reduce("sum", strategy.run(replica_train_step, args=(batch,)), axis=None)

    @tf.function(reduce_retracing=True)
    def val_step(batch):
        total, count = strategy.run(loss_sum, args=(batch, False))
        return strategy.reduce("sum", total, axis=None), strategy.reduce("sum", count, axis=None)

    model.stop_training = False
    callback_list.on_train_begin()
    start_epoch = _sync_from_chief(model, strategy, initial_epoch)
    logs: dict[str, float] = {}
    for epoch in range(start_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        losses = []
        for step, batch in enumerate(train_data):
            callback_list.on_train_batch_begin(step)
            losses.append(train_step(batch))
            callback_list.on_train_batch_end(step, {"loss": float(losses[-1])})
            if model.stop_training:
                break
        logs = {"loss": float(tf.reduce_mean(losses))} if losses else {}
        if val_data is not None:
            total = count = 0.0
            for batch in val_data:
                batch_total, batch_count = val_step(batch)
                total, count = total + float(batch_total), count + float(batch_count)
            logs["val_loss"] = total / max(count, 1.0) + float(penalties())
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return next(c for c in callback_list.callbacks if isinstance(c, keras.callbacks.History))


def _per_example(loss) -> keras.losses.Loss:
    """The compiled loss without its reduction (Keras' dtype, mask and sample-weight handling
    kept): the loop averages over the global batch itself."""
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        return type(loss).from_config({**loss.get_config(), "reduction": None})
    if callable(loss):
        return _Unreduced(loss)
    raise UserError("fit_multi_worker needs a model compiled with one loss for one output "
                    f"(model.compile(optimizer, loss)), not {type(loss).__name__}")


class _Unreduced(keras.losses.Loss):
    """A loss function (y_true, y_pred) -> per-example values, as a Loss that keeps them."""

    def __init__(self, fn: Callable):
        super().__init__(name=getattr(fn, "__name__", "loss"), reduction=None)
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


def _shard_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Each worker reads the whole val set and keeps its share of the batches: its source is an
    array, not files, so file-based sharding cannot apply."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _sync_from_chief(model: keras.Model, strategy: Strategy, epoch: int) -> int:
    """Every worker takes the chief's weights, optimizer state and epoch; returns the epoch.
    Replica 0 of the whole cluster lives on the chief; the others contribute zeros to a sum."""
    if not is_multi_worker(strategy):
        return epoch
    variables = list({id(v): v for v in model.variables + model.optimizer.variables}.values())
    epoch_var = tf.constant(float(epoch), tf.float64)

    def from_first_replica():
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group, 0)
        # float64 holds every float32 weight and integer counter exactly; one dtype, one all-reduce.
        values = [tf.cast(v.value, tf.float64) for v in variables] + [epoch_var]
        return context.all_reduce("sum", [tf.where(first, value, tf.zeros_like(value)) for value in values])

    with strategy.scope():
        reduced = strategy.run(tf.function(from_first_replica))
        local = [strategy.experimental_local_results(value)[0] for value in reduced]
        for variable, value in zip(variables, local[:-1], strict=True):
            variable.assign(tf.cast(value, variable.dtype))
    return int(local[-1])
