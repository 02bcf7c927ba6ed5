"""O1 (the learning rate over a run), O2 (regularisers) and precision: verdicts on planted
configs, and each precision policy applied and trained on the CPU."""

import keras
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.config import with_values
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.models import build_model, compile_model
from {{ cookiecutter.package_name }}.precision import Hardware, resolve_precision
from {{ cookiecutter.package_name }}.schedule import check_regularisation, check_schedule, learning_rate

RUN_STEPS = 1000


def test_o1_passes_adam_at_a_constant_rate(config):
    verdict = check_schedule(config, RUN_STEPS)
    assert verdict.status == "pass"
    assert learning_rate(config, RUN_STEPS) == pytest.approx(3e-4)


def test_o1_passes_a_cosine_decay_over_the_whole_run(config):
    cosine = with_values(config, {"train.schedule": "cosine", "train.warmup_steps": 100})
    verdict = check_schedule(cosine, RUN_STEPS)
    assert verdict.status == "pass", verdict.advice
    assert verdict.measured["peak_rate"] == pytest.approx(3e-4, rel=1e-3)


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_o1_warns_on_a_decay_counted_in_epochs_not_steps(config, schedule):
    """Planted: decay_steps=20 meant as 20 epochs, in a run of 1000 steps."""
    planted = with_values(config, {"train.schedule": schedule, "train.schedule_decay_steps": 20})
    verdict = check_schedule(planted, RUN_STEPS)
    assert verdict.status == "warn"
    assert "below 1% of its peak at step" in verdict.advice
    assert verdict.measured["below_1pct_from_step"] <= 20


def test_warmup_needs_a_schedule_that_supports_it(config):
    with pytest.raises(UserError, match="train.warmup_steps"):
        with_values(config, {"train.schedule": "linear", "train.warmup_steps": 10})


def test_o2_warns_when_several_regularisers_are_switched_on_at_once(config):
    assert check_regularisation(config).status == "pass"
    one = with_values(config, {"model.dropout": 0.2})
    assert check_regularisation(one).status == "pass"
    assert check_regularisation(one).measured["switched_on"] == ["model.dropout"]
    two = with_values(config, {"model.dropout": 0.2, "train.weight_decay": 1e-4})
    verdict = check_regularisation(two)
    assert verdict.status == "warn" and "one at a time" in verdict.advice


CPU, OLD_GPU, V100, A100 = Hardware(), Hardware(gpus=((6, 1),)), Hardware(gpus=((7, 0),)), Hardware(gpus=((8, 0),))


@pytest.mark.parametrize(("hardware", "expected"), [
    (CPU, "float32"), (OLD_GPU, "float32"), (V100, "mixed_float16"),
    (Hardware(gpus=((8, 0), (6, 1))), "float32"), (Hardware(tpu=True), "mixed_bfloat16"),
])
def test_auto_precision_follows_the_hardware(hardware, expected):
    assert resolve_precision("auto", hardware) == expected


@pytest.mark.parametrize(("requested", "hardware", "message"), [
    ("mixed_float16", CPU, "needs a GPU of compute capability >= 5.3"),
    ("mixed_bfloat16", V100, "needs a TPU or a GPU of compute capability >= 8.0"),
])
def test_a_precision_the_hardware_cannot_do_is_refused(requested, hardware, message):
    with pytest.raises(UserError, match=message):
        resolve_precision(requested, hardware)


def test_explicit_precisions_the_hardware_can_do_are_kept():
    assert resolve_precision("mixed_bfloat16", A100) == "mixed_bfloat16"
    assert resolve_precision("mixed_bfloat16", CPU) == "mixed_bfloat16"  # oneDNN has bfloat16 kernels
    assert resolve_precision("float32", V100) == "float32"


@pytest.fixture()
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    yield request.param
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"], indirect=True)
def test_each_policy_is_applied_and_trains(small_config, prepared, policy):
    """The project's model under each policy: hidden layers compute in the policy's dtype,
    the output stays float32, the loss is scaled under float16 only, and a few steps of
    training lower the loss (on the CPU, where float16 is emulated: slow, but it runs)."""
    model = compile_model(build_model(small_config, prepared), small_config, learning_rate=1e-3)
    compute = {"float32": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}[policy]
    with_kernel = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]
    hidden, output = with_kernel[0], with_kernel[-1]
    assert hidden.compute_dtype == compute
    assert hidden.kernel.dtype == "float32"  # mixed: variables stay float32
    assert output.compute_dtype == "float32"
    x, y = prepared.head("train", 256)
    assert model(x[:4]).dtype == "float32"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
