"""train.folds: k-fold cross-validation over train and val, and the bag of fold models it exports.

On a table of a few hundred rows one split keeps 15 test rows and 30 val rows that choose the
epoch, and every score it gives is mostly noise. With `train.folds: k` the train and val splits
are pooled and cut into k folds by their hash buckets (data/split.py `folds_of`: a fold is a pure
function of the example and the seed, duplicates and groups share one, the test split is never
inside one). Fold i's model trains on the other k-1 folds, early-stopped on fold i (its own val
split, with statistics from its own training rows), and predicts fold i: those out-of-fold
outputs, one per pooled row, give the cross-validated score with its bootstrap interval and the
spread of the folds' scores. The export is the bag, one model averaging the k fold models'
probabilities (or values), which is what RealMLP's defaults ship and what makes a small table's
model steadier than any one of its folds; `evaluate` and `predict` use it as any model, and
`evaluate` scores val by the out-of-fold outputs, since the bag has trained on every val row.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np

from .bootstrap import CONFIDENCE, bootstrap_scores
from .data import Prepared, train_stats
from .data.split import folds_of
from .errors import UserError
from .models import score_predictions
from .rundir import RunFiles, write_whole, writing_whole

FOLD_ROWS = "fold_rows.npz"  # in a fold's folder: the manifest rows it held out and its outputs on them
# train.folds auto: AUTO_FOLDS folds for a table of at most AUTO_MAX_ROWS train and val rows. There a
# fit costs train.min_steps steps whatever the rows (about 15-30 s on 2 cores), so k fits cost k
# times that; on the dev tables of 93 to 569 rows the bag lowered the test loss on most splits
# (BENCHMARKS.md). Above it one val split holds a thousand rows or more, and the bag's gain no
# longer pays for five runs of a longer fit.
AUTO_FOLDS = 5
AUTO_MAX_ROWS = 5_000


def folds_for(config, prepared: Prepared) -> tuple[int, str]:
    """train.folds as a number, and why: the value given, or what `auto` chose for these data."""
    if config.train.folds != "auto":
        return int(config.train.folds), "set"
    pooled = prepared.size("train") + prepared.size("val")
    if prepared.manifest.header.get("split_by") == "time":
        return 1, "split by time: folds that respect time are not built yet"
    if prepared.kind != "tabular":
        return 1, f"{prepared.kind} data: one split (bagging is for small tables)"
    if pooled > AUTO_MAX_ROWS:
        return 1, f"{pooled:,} train and val rows, more than {AUTO_MAX_ROWS:,}: one val split is large enough"
    return AUTO_FOLDS, f"a table of {pooled:,} train and val rows, at most {AUTO_MAX_ROWS:,}: a bag of {AUTO_FOLDS}"


def fold_ids(prepared: Prepared, fractions, k: int) -> np.ndarray:
    """The fold (0..k-1) of every manifest row of train and val, -1 for test (`folds_of`)."""
    if prepared.manifest.header.get("split_by") == "time":
        raise UserError("train.folds with data.split_by=time: folds that respect time (train on the past, validate "
                        "on the next period) are not built yet; use train.folds=1, or split by content")
    if prepared.manifest.buckets is None:
        raise UserError("this run's manifest was written before train.folds existed: delete its data/ folder "
                        "(or choose a new --run-dir) to scan again")
    return folds_of(prepared.manifest.buckets, fractions, k)


def fold_prepared(prepared: Prepared, folds: np.ndarray, fold: int, config, k: int) -> Prepared:
    """The data of one fold's run: train is the other folds, val is this one, test is unchanged;
    the statistics (normalisation, priors) come from this fold's training rows alone."""
    train_rows, val_rows = np.flatnonzero((folds >= 0) & (folds != fold)), np.flatnonzero(folds == fold)
    if len(val_rows) == 0 or len(train_rows) < config.data.batch_size:
        raise UserError(f"train.folds={k}: fold {fold + 1} holds {len(val_rows)} rows and trains on "
                        f"{len(train_rows)}, too few for data.batch_size={config.data.batch_size}; use fewer folds")
    indices = {"train": train_rows, "val": val_rows, "test": prepared.indices["test"]}
    stats = train_stats(prepared.source, prepared.manifest, config, rows=train_rows)
    return replace(prepared, indices=indices, stats=stats)


@keras.saving.register_keras_serializable(package="recipe")
class BagMean(keras.layers.Layer):
    """The mean of the fold models' predictions, given back in the form each model gives:
    values for regression; for classes, the log of the mean probability, so that the project's
    losses (from logits) score the bag like any of its members. For one logit, the log-odds of
    the mean probability."""

    def __init__(self, task: str, **kwargs):
        super().__init__(**kwargs)
        self.task = task

    def call(self, outputs):
        stacked = keras.ops.stack([keras.ops.cast(o, "float32") for o in outputs], axis=0)
        log_members = math.log(len(outputs))
        if self.task == "regression":
            return keras.ops.mean(stacked, axis=0)
        if self.task == "binary":
            positive = keras.ops.logsumexp(keras.ops.log_sigmoid(stacked), axis=0) - log_members
            negative = keras.ops.logsumexp(keras.ops.log_sigmoid(-stacked), axis=0) - log_members
            return positive - negative
        return keras.ops.logsumexp(keras.ops.log_softmax(stacked, axis=-1), axis=0) - log_members

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return super().get_config() | {"task": self.task}


def bag_model(members: list[keras.Model], task: str) -> keras.Model:
    """One Keras model that feeds its input to every fold model and averages them (`BagMean`).

    Args:
        members: The fold models, each as its best epoch left it.
        task: "classification", "binary" or "regression".

    Returns:
        A model with the members' input and output, saved and exported like any other.
    """
    for number, member in enumerate(members, start=1):
        member.name = f"fold_{number}"  # nested models need distinct names to be saved
    shape = members[0].inputs[0].shape[1:]
    inputs = keras.Input(shape, dtype=members[0].inputs[0].dtype, name="inputs")
    return keras.Model(inputs, BagMean(task, name="bag_mean", dtype="float32")([member(inputs) for member in members]),
                       name="bag")


def save_fold_outputs(fold_dir: Path, rows: np.ndarray, outputs: np.ndarray) -> None:
    """The fold's held-out rows and its outputs on them, written last: a fold folder holding
    this file is finished, and a resumed run keeps it."""
    with writing_whole(fold_dir / FOLD_ROWS) as partial, partial.open("wb") as handle:
        np.savez(handle, rows=rows, outputs=np.asarray(outputs, "float32"))


def fold_finished(fold_dir: Path) -> bool:
    return (fold_dir / FOLD_ROWS).is_file()


def load_fold_outputs(fold_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(fold_dir / FOLD_ROWS) as saved:
        return saved["rows"], saved["outputs"]


def write_cross_validation(run_dir: Path, prepared: Prepared, fold_dirs: list[Path], seed: int) -> dict:
    """Gather the folds' held-out outputs into one out-of-fold output per train and val row,
    score it (with its bootstrap interval, and each fold's score for the spread), and write
    out_of_fold.npz and cross_validation.json.

    Returns:
        The record written to cross_validation.json.
    """
    parts = [load_fold_outputs(fold_dir) for fold_dir in fold_dirs]
    rows = np.concatenate([r for r, _ in parts])
    outputs = np.concatenate([o for _, o in parts])
    order = np.argsort(rows)
    rows, outputs = rows[order], outputs[order]
    labels = prepared.manifest.labels[rows]
    each = [score_predictions(prepared.task, prepared.manifest.labels[r], o) for r, o in parts]
    record = {
        "folds": len(fold_dirs), "rows": len(rows), "confidence": CONFIDENCE,
        "scores": score_predictions(prepared.task, labels, outputs),
        "intervals": {name: found.as_record() for name, found in
                      bootstrap_scores(prepared.task, labels, outputs, seed).items()},
        "each_fold": each,
        "fold_spread": {name: float(np.std([s[name] for s in each], ddof=1)) for name in each[0]},
    }
    with writing_whole(run_dir / RunFiles.OUT_OF_FOLD) as partial, partial.open("wb") as handle:
        np.savez(handle, rows=rows, outputs=outputs)
    write_whole(run_dir / RunFiles.CROSS_VALIDATION, json.dumps(record, indent=2))
    return record


def out_of_fold_outputs(run_dir: Path, rows: np.ndarray) -> np.ndarray | None:
    """The out-of-fold outputs of some manifest rows (`evaluate`: the val split's), or None when
    the run did not cross-validate."""
    path = run_dir / RunFiles.OUT_OF_FOLD
    if not path.is_file():
        return None
    with np.load(path) as saved:
        saved_rows, outputs = saved["rows"], saved["outputs"]
    where = np.searchsorted(saved_rows, rows)
    if len(saved_rows) == 0 or np.any(where >= len(saved_rows)) or np.any(saved_rows[np.minimum(
            where, len(saved_rows) - 1)] != rows):
        raise UserError(f"{path} does not cover this run's val split: the data changed since `train`; train again")
    return outputs[where]


def cross_validation_line(record: dict) -> str:
    """cross_validation.json for the terminal."""
    cells = [f"{name} {found['value']:.4g} ({found['interval'][0]:.4g} to {found['interval'][1]:.4g}; folds "
             f"{min(s[name] for s in record['each_fold']):.4g} to {max(s[name] for s in record['each_fold']):.4g})"
             for name, found in record["intervals"].items() if name in record["each_fold"][0]]
    return (f"{record['folds']}-fold cross-validation, out of fold ({record['rows']:,} train and val rows, "
            f"{record['confidence']:.0%} bootstrap intervals): " + ", ".join(cells))
