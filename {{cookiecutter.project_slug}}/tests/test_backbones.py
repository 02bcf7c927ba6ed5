"""keras.applications backbones through one builder: every family builds on the bundled digits
(gray 8 x 8, brought to RGB 0..255 at 32 x 32) with a well-initialised head; weights load from a
local file and freeze the backbone, which T5 then expects; `check` is green on a backbone
pretrained into such a file; an ImageNet download that fails, or a weights path that is not
there, is one clear line. Nothing here downloads anything."""

import keras
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.backbones import BACKBONE, FAMILIES
from {{ cookiecutter.package_name }}.callbacks.first_layer import first_weight_layer
from {{ cookiecutter.package_name }}.checks.model import check_loss_at_init, check_loss_input, output_offset
from {{ cookiecutter.package_name }}.checks.weights_learn import check_every_weight_learns
from {{ cookiecutter.package_name }}.config import with_values
from {{ cookiecutter.package_name }}.data.pipeline import train_datasets
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.models import build_model, compile_model, model_spec
from {{ cookiecutter.package_name }}.verdicts import read_verdicts


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_builds_with_its_own_preprocessing_and_a_healthy_head(family, config, prepared):
    planted = with_values(config, {"model.builder": family})
    model = build_model(planted, prepared, model_spec(planted, prepared))
    assert model.name == family and model.get_layer(BACKBONE).trainable
    x, _ = prepared.head("train", 4)
    assert model(x).shape == (4, prepared.num_classes)
    assert model.get_layer("resize").output.shape[1:3] == (32, 32)  # the digits' 8 x 8, at least 32
    assert check_loss_input(model, prepared).status == "pass"
    assert check_loss_at_init(model, prepared, output_offset(model), 0.5).status == "pass"


@pytest.mark.slow
def test_weights_from_a_local_file_freeze_the_backbone_and_t5_expects_it(config, prepared, tmp_path):
    fresh = with_values(config, {"model.builder": "mobilenetv3small"})
    saved = build_model(fresh, prepared).get_layer(BACKBONE)
    path = tmp_path / "mobilenet.weights.h5"
    saved.save_weights(path)
    loaded_config = with_values(fresh, {"model.weights": str(path), "check.weight_steps": 2})
    model = build_model(loaded_config, prepared)
    backbone = model.get_layer(BACKBONE)
    assert not backbone.trainable
    for mine, theirs in zip(backbone.weights, saved.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs))
    assert first_weight_layer(model).name == "output"  # T12 looks at the head, not the frozen backbone
    verdict = check_every_weight_learns(model, prepared, loaded_config)
    assert verdict.status == "pass", verdict.advice
    assert verdict.measured["trainable_variables"] == 2  # the head's kernel and bias
    frozen, total = (int(v.replace(",", "")) for v in verdict.measured["frozen_values"].split(" of "))
    assert 0 < total - frozen < frozen


def test_weights_that_cannot_be_had_are_one_clear_line(config, prepared, tmp_path, monkeypatch):
    import keras.src.utils.file_utils as file_utils

    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(file_utils, "get_file", offline)
    for weights, message in (("imagenet", "could not be downloaded .* model.weights: PATH"),
                             (str(tmp_path / "nowhere.h5"), "nowhere.h5 is not a file")):
        planted = with_values(config, {"model.builder": "mobilenetv3small", "model.weights": weights})
        with pytest.raises(UserError, match=message):
            build_model(planted, prepared)


@pytest.mark.slow
def test_fine_tuning_unfreezes_the_top_after_the_head_and_logs_each_epochs_phase(config, prepared, in_tmp):
    """keras.io's two phases in one `train`: an epoch of the head on the frozen backbone, then
    an epoch with its top 3 layers unfrozen at a low rate; the lower layers keep the file's
    weights, the top ones train, and history.csv says which phase each epoch was."""
    import csv

    from {{ cookiecutter.package_name }}.cli import main

    fresh = with_values(config, {"model.builder": "mobilenetv3small"})
    saved = build_model(fresh, prepared).get_layer(BACKBONE)
    saved.save_weights(in_tmp / "mobilenet.weights.h5")
    sets = ["model.builder=mobilenetv3small", f"model.weights={in_tmp / 'mobilenet.weights.h5'}",
            "model.fine_tune_layers=3", "model.fine_tune_epochs=1", "train.epochs=1", "train.min_steps=0",
            "train.export=false", "data.batch_size=128"]
    assert main(["train", "--run-dir", "runs/ft", *[p for s in sets for p in ("--set", s)]]) in (0, 1)
    with open("runs/ft/history.csv") as handle:
        assert [row["phase"] for row in csv.DictReader(handle)] == ["1", "2"]
    tuned = keras.models.load_model("runs/ft/checkpoints/last.keras").get_layer(BACKBONE)
    weighted = [layer for layer in saved.layers
                if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)]
    moved = [not np.array_equal(keras.ops.convert_to_numpy(tuned.get_layer(layer.name).weights[0]),
                                keras.ops.convert_to_numpy(layer.weights[0])) for layer in weighted]
    assert any(moved[-3:]) and not any(moved[:-3]), moved  # a random backbone leaves some gradients at 0
    assert [tuned.get_layer(layer.name).trainable for layer in weighted][-4:] == [False, True, True, True]
    from pathlib import Path

    from {{ cookiecutter.package_name }}.report.plots import loss_curves

    assert loss_curves(Path("runs/ft")) == "plots/loss_curves.png"  # with the line where fine-tuning began


@pytest.mark.slow
def test_check_is_green_on_a_backbone_pretrained_into_a_local_file(config, prepared, in_tmp):
    """Issue #27's done-when, offline: a MobileNetV3 trained on the digits' training split (10
    epochs), its batch-norm statistics recalibrated on 1,000 training images (its momentum of
    0.999 leaves them near their initial values after 200 steps: val at chance in inference mode,
    0.8 accuracy after), saved as a weights file; `check` with `model.weights` set to that file
    freezes it, trains the head, and every verdict passes."""
    from {{ cookiecutter.package_name }}.cli import main

    pretraining = with_values(config, {"model.builder": "mobilenetv3small", "data.batch_size": 64})
    keras.utils.set_random_seed(0)
    model = compile_model(build_model(pretraining, prepared), pretraining)
    model.fit(train_datasets(pretraining, prepared, for_fit=True)[0], epochs=10, verbose=0)
    backbone = model.get_layer(BACKBONE)
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0  # one pass in training mode sets the moving statistics to the batch's
    model(prepared.sample("train", 1000, 0)[0], training=True)
    backbone.save_weights(in_tmp / "digits.weights.h5")
    sets = ["model.builder=mobilenetv3small", f"model.weights={in_tmp / 'digits.weights.h5'}"]
    assert main(["check", "--run-dir", "runs/pretrained", *[p for s in sets for p in ("--set", s)]]) == 0
    verdicts = read_verdicts(in_tmp / "runs" / "pretrained")
    judged = {v.id: v.status for v in verdicts}
    assert judged and set(judged.values()) <= {"pass", "info", "skip"}, {v.id: v.advice for v in verdicts
                                                                if v.status not in ("pass", "info", "skip")}
    assert judged["T5"] == "pass" and judged["T1"] == "pass"


def test_a_backbone_from_scratch_sets_its_batch_norms_momentum_from_the_run(config, prepared):
    """model.weights null: every batch norm's moving average spans at most 2% of the planned run
    (MobileNetV3's own 0.999 spans 1,000 steps, far more than a short run on the digits has);
    with weights the backbone's momentum is the family's (its batch norms run in inference mode)."""
    from {{ cookiecutter.package_name }}.backbones import MOVING_WINDOW_SHARE, _planned_steps

    scratch = with_values(config, {"model.builder": "mobilenetv3small"})
    spec = model_spec(scratch, prepared)
    norms = [layer for layer in build_model(scratch, prepared, spec).get_layer(BACKBONE).layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    steps = _planned_steps(spec, scratch)
    assert norms and all(1 / (1 - layer.momentum) <= max(5, MOVING_WINDOW_SHARE * steps) + 1e-6 for layer in norms)
    assert steps > 100  # the digits' planned run: train.min_steps at least
