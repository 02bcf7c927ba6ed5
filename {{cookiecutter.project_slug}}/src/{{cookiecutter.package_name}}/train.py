"""One training run: seed, precision, fit with checkpoints and resume, export for serving."""

from __future__ import annotations

import subprocess
from pathlib import Path

import keras
import numpy as np

from .callbacks import recipe_callbacks, recipe_verdicts
from .config import Config, dump_config, load_config
from .data import Prepared
from .data.pipeline import make_dataset
from .errors import UserError
from .models import build_model, compile_model
from .verdicts import Verdict

BEST_MODEL = "checkpoints/best.keras"
LAST_MODEL = "checkpoints/last.keras"


def resolve_precision(requested: str) -> str:
    """auto: mixed_float16 on GPUs with tensor cores, mixed_bfloat16 on TPUs, else float32."""
    if requested != "auto":
        return requested
    import tensorflow as tf

    if tf.config.list_logical_devices("TPU"):
        return "mixed_bfloat16"
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        if capability >= (7, 0):
            return "mixed_float16"
    return "float32"


def jit_setting(config: Config) -> bool | str:
    return {"auto": "auto", "on": True, "off": False}[config.train.jit_compile]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Python, NumPy and the backend's generators from one seed; with `deterministic`, also
    TensorFlow's op determinism (T14), which turns off automatic XLA and costs speed on GPUs."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def train_datasets(config: Config, prepared: Prepared):
    x_train, y_train = prepared.split("train")
    x_val, y_val = prepared.split("val")
    train = make_dataset(x_train, y_train, config.data.batch_size, training=True, seed=config.seed,
                         shuffle_buffer=config.data.shuffle_buffer, cache=config.data.cache,
                         augment=config.data.augment, augment_flip=config.data.augment_flip)
    val = make_dataset(x_val, y_val, config.data.batch_size, training=False, seed=config.seed)
    return train, val


def _refuse_foreign_resume(config: Config, run_dir: Path) -> None:
    """A backup left by a run with another config would resume the wrong experiment."""
    snapshot = run_dir / "train_config.yaml"
    if (run_dir / "backup").exists() and snapshot.exists():
        previous = load_config(snapshot)
        if previous != config:
            raise UserError(
                f"{run_dir} holds an unfinished run with a different config ({snapshot}); "
                "resume with that config, or choose a new --run-dir"
            )


def callbacks_for(config: Config, run_dir: Path, prepared: Prepared) -> list[keras.callbacks.Callback]:
    """Keras' own (resume, checkpoints, logs), then the recipe checks that watch training (T6-T12,
    `monitor:`), last, so that they see the weights EarlyStopping restores."""
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    callbacks = [
        # Resume (O5): SIGKILL at any point loses at most backup_every_steps steps.
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), save_freq=config.train.backup_every_steps),
        keras.callbacks.ModelCheckpoint(str(run_dir / BEST_MODEL), monitor="val_loss", save_best_only=True),
        keras.callbacks.ModelCheckpoint(str(run_dir / LAST_MODEL)),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False),
    ]
    if config.train.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.train.early_stopping_patience, restore_best_weights=True))
    return callbacks + recipe_callbacks(config, prepared, run_dir)  # T9 (or TerminateOnNaN) among them


def train(config: Config, prepared: Prepared, run_dir: Path) -> list[Verdict]:
    _refuse_foreign_resume(config, run_dir)
    seed_everything(config.seed, config.train.deterministic)
    precision = resolve_precision(config.train.precision)
    keras.mixed_precision.set_global_policy(precision)
    dump_config(config, run_dir / "train_config.yaml")
    prepared.stats.save(run_dir / "stats.json")
    _record_git_commit(run_dir)

    model = compile_model(build_model(config, prepared), config, jit_compile=jit_setting(config))
    train_ds, val_ds = train_datasets(config, prepared)
    callbacks = callbacks_for(config, run_dir, prepared)
    history = model.fit(train_ds, validation_data=val_ds, epochs=config.train.epochs,
                        callbacks=callbacks, shuffle=False, verbose=2)
    # shuffle=False: the pipeline already reshuffles each epoch from the seed.
    if config.train.export:
        model.export(str(run_dir / "export"), verbose=False)
    return [training_loss_verdict(history.history.get("loss", []))] + recipe_verdicts(callbacks)


def training_loss_verdict(losses: list[float]) -> Verdict:
    """T3 (during the real run): the training loss came down from the first epoch to the last."""
    if len(losses) < 2:
        return Verdict("T3", "Training loss goes down", "skip",
                       advice="fewer than two epochs ran in this call (resumed at the end, or epochs=1)")
    first, last = float(losses[0]), float(losses[-1])
    ok = np.isfinite(last) and last < first
    return Verdict("T3", "Training loss goes down", "pass" if ok else "fail",
                   measured={"first_epoch": round(first, 4), "last_epoch": round(last, 4)},
                   expected="last < first",
                   advice="" if ok else "The training loss did not go down: run `check` (T1 overfit one "
                   "batch) and try a smaller learning rate.")


def _record_git_commit(run_dir: Path) -> None:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return
    if commit.returncode == 0:
        (run_dir / "git_commit.txt").write_text(commit.stdout)
