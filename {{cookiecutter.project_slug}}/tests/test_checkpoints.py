"""best.keras and last.keras: written at most every checkpoint_every_seconds and at the end,
whole (no partial file left), best.keras holding the epoch with the lowest val loss, and a
resumed run replacing it only with a better one."""

import json

import keras
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.checkpoints import Checkpoints
from {{ cookiecutter.package_name }}.resume import ResumePoint, restore
from {{ cookiecutter.package_name }}.rundir import RunFiles

VAL_LOSSES = [0.9, 0.5, 0.7, 0.6]  # the best is epoch 1


class Scripted(keras.callbacks.Callback):
    """Feeds the next callbacks a planted val loss each epoch and records, at each epoch's end,
    which checkpoint files exist and the weights of that epoch."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir, self.files_seen, self.weights = run_dir, [], []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = VAL_LOSSES[epoch]
        self.weights.append(self.model.get_weights())

    def on_epoch_begin(self, epoch, logs=None):
        self.files_seen.append(sorted(p.name for p in (self.run_dir / "checkpoints").glob("*")))


def tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    return model


def fit(model, callbacks):
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    model.fit(x, x.sum(axis=1), batch_size=8, epochs=len(VAL_LOSSES), callbacks=callbacks, verbose=0)


def test_checkpoints_wait_for_their_interval_then_hold_the_best_and_the_last_epoch(tmp_path):
    model, scripted = tiny_model(), Scripted(tmp_path)
    checkpoints = Checkpoints(tmp_path, every_seconds=3600)
    fit(model, [scripted, checkpoints])
    assert scripted.files_seen == [[]] * len(VAL_LOSSES)  # nothing written during the run
    assert checkpoints.writes == 1
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.json", "best.keras", "last.keras"]
    record = json.loads((tmp_path / RunFiles.BEST_RECORD).read_text())
    assert record == {"epoch": 1, "monitor": "val_loss", "value": 0.5}
    best = keras.saving.load_model(tmp_path / RunFiles.BEST_MODEL)
    last = keras.saving.load_model(tmp_path / RunFiles.LAST_MODEL)
    for saved, expected in ((best, scripted.weights[1]), (last, scripted.weights[-1])):
        for got, want in zip(saved.get_weights(), expected, strict=True):
            np.testing.assert_array_equal(got, want)
    assert not np.allclose(best.get_weights()[0], last.get_weights()[0])  # the two are not the same model


def test_an_interval_of_zero_writes_every_epoch(tmp_path):
    scripted = Scripted(tmp_path)
    fit(tiny_model(), [scripted, Checkpoints(tmp_path, every_seconds=0)])
    assert scripted.files_seen[1:] == [["best.json", "best.keras", "last.keras"]] * (len(VAL_LOSSES) - 1)


def test_a_resumed_run_replaces_best_only_with_a_better_val_loss(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / RunFiles.BEST_RECORD).write_text(json.dumps({"epoch": 3, "monitor": "val_loss", "value": 0.55}))
    checkpoints = Checkpoints(tmp_path, every_seconds=3600)
    fit(tiny_model(), [Scripted(tmp_path), checkpoints])
    assert json.loads((tmp_path / RunFiles.BEST_RECORD).read_text())["value"] == 0.5  # 0.5 beats 0.55

    (tmp_path / RunFiles.BEST_RECORD).write_text(json.dumps({"epoch": 3, "monitor": "val_loss", "value": 0.1}))
    stamp = (tmp_path / RunFiles.BEST_MODEL).stat().st_mtime_ns
    fit(tiny_model(), [Scripted(tmp_path), Checkpoints(tmp_path, every_seconds=3600)])
    assert (tmp_path / RunFiles.BEST_MODEL).stat().st_mtime_ns == stamp  # nothing beat 0.1: left alone
    assert json.loads((tmp_path / RunFiles.BEST_RECORD).read_text())["value"] == 0.1


def test_a_backup_restores_weights_and_optimizer_state(tmp_path):
    trained = tiny_model()
    point = ResumePoint(tmp_path / "backup", every_steps=1000)
    fit(trained, [point])
    point.on_epoch_end(3)  # the last epoch's backup again: the end of training removed the folder
    fresh = tiny_model()
    backup = restore(fresh, tmp_path / "backup")
    assert backup.epoch == 4 and backup.global_step == 16
    assert int(fresh.optimizer.iterations.numpy()) == 16
    for got, want in zip(fresh.variables + fresh.optimizer.variables,
                         trained.variables + trained.optimizer.variables, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_a_backup_from_another_model_is_refused_with_a_clear_error(tmp_path):
    from {{ cookiecutter.package_name }}.errors import UserError

    point = ResumePoint(tmp_path / "backup", every_steps=1000)
    point.set_model(tiny_model())
    point.on_epoch_end(0)
    wider = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    wider.compile(keras.optimizers.Adam(), "mse")
    with pytest.raises(UserError, match="does not fit this model"):
        restore(wider, tmp_path / "backup")


def test_a_backup_exists_before_the_first_step_and_is_removed_at_the_end(tmp_path):
    class Probe(keras.callbacks.Callback):
        seen = None

        def on_train_batch_begin(self, batch, logs=None):
            if self.seen is None:  # the first step
                self.seen = (tmp_path / "backup" / "latest.json").exists()

    probe = Probe()
    fit(tiny_model(), [ResumePoint(tmp_path / "backup", every_steps=1000), probe])
    assert probe.seen  # a kill at any moment leaves something to resume from
    assert not (tmp_path / "backup").exists()  # a finished run leaves nothing to resume
