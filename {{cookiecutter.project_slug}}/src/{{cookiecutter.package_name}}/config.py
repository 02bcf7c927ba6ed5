"""One typed configuration tree: YAML file + `key=value` overrides, validated.

The defaults below are the answers given to the template; `configs/default.yaml`
spells them out for reading and editing (a test keeps the two equal). Every
threshold a check uses is a named setting here, so that a verdict can say which
setting to change.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import UserError

Task = Literal["classification", "binary", "regression"]
Precision = Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]


class Section(BaseModel):
    """A config section: unknown keys and wrong types are errors, not silently kept."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Section):
    # digits | breast_cancer | diabetes (bundled with scikit-learn, offline),
    # tfds | image_folder | csv | npz, or `my_module:load` for your own loader.
    source: str = "{{ cookiecutter.__data_source }}"
    # tfds catalog name, or path of the image folder / CSV / .npz file.
    location: str = "{{ cookiecutter.dataset_location }}"
    label_column: str = "{{ cookiecutter.label_column }}"
    # CSV: the delimiter ("," ";" "\t" "|") and the encoding (utf-8, latin-1, ...); auto detects
    # them from the first 64 KiB (UTF-8 with or without BOM, else Latin-1).
    delimiter: str = "auto"
    encoding: str = "auto"
    # CSV (D10): each column's role is decided on the training split (README, "Tables"); set one
    # here to override it: {name: numeric | categorical | hashed | datetime | exclude}.
    columns: dict[str, Literal["numeric", "categorical", "hashed", "datetime", "exclude"]] = {}
    # CSV: impute missing numeric cells with the train median (plus a "was missing" indicator;
    # a missing categorical cell is its own category), or drop the rows that have one (D4).
    missing: Literal["impute", "drop"] = "impute"
    # CSV: a text column is one-hot encoded over its most frequent training values, this many at
    # most, plus one bucket for every other value; beyond that it is hashed into hash_bins.
    max_categories: int = Field(50, ge=1)
    hash_bins: int = Field(64, ge=2)
    # Images are resized to this (height, width) when they come from files or tfds.
    image_size: tuple[int, int] = (64, 64)
    # Image folders: 1 (grayscale) or 3 (RGB) channels; auto: 1 when every image is grayscale.
    channels: Literal["auto", 1, 3] = "auto"
    # D1: train/val/test shares of the hash buckets (an example's split depends on its content
    # and the seed alone, so it never moves when other examples come or go).
    split: tuple[float, float, float] = (0.7, 0.2, 0.1)
    batch_size: int = Field(32, ge=1)
    shuffle_buffer: int = Field(10_000, ge=1)
    # The training split across the epochs of `train` and `tune`: auto keeps it in memory when it
    # fits in cache_memory_mb (image folders: the files' bytes, decoded each epoch; other streams:
    # the decoded examples), else reads it again each epoch; disk caches decoded examples in the
    # run folder (for a slow source); in-memory sources need no cache.
    cache: Literal["auto", "memory", "disk", "off"] = "auto"
    cache_memory_mb: int = Field(512, ge=0)
    # D4: training refuses invalid examples unless this is true; then it says how many it dropped.
    drop_invalid: bool = False
    # O2: image augmentation in the training pipeline (small shifts, rotations, contrast;
    # never val/test, never tables). Off by default: regularise one thing at a time.
    augment: bool = False
    # Mirror images left-right too: right for photos, wrong for digits and text.
    augment_flip: bool = False
    # B4: a second annotation of the test split (.npy, or .csv with one label a row): one label
    # per test example in the order of the split, or per example in the source's order.
    human_labels: str | None = None

    @field_validator("cache", mode="before")
    @classmethod
    def _cache_on_off(cls, value: Any) -> Any:
        """The boolean of earlier configs: true is auto, false is off."""
        return ("auto" if value else "off") if isinstance(value, bool) else value

    @model_validator(mode="after")
    def _split_sums_to_one(self) -> DataConfig:
        if abs(sum(self.split) - 1.0) > 1e-6 or min(self.split) <= 0:
            raise ValueError(f"data.split must be three positive fractions summing to 1, got {list(self.split)}")
        return self


class ModelConfig(Section):
    # auto | mlp | cnn | resnet50, or `my_module:build` for your own model
    # (called as build(input_shape, spec, config): models.ModelSpec, returns an uncompiled keras.Model).
    builder: str = "{{ cookiecutter.model }}"
    hidden_units: int = Field(128, ge=1)
    depth: int = Field(2, ge=1)
    filters: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    # ResNet50 weights: null for random initialisation, or a path to an ImageNet .h5 file.
    weights: str | None = None
    # M2: set the output bias from train statistics (log priors; target mean).
    init_output_bias: bool = True


class TrainConfig(Section):
    epochs: int = Field(20, ge=1)
    # The budget in optimizer steps: epochs are raised until a run makes at least this many
    # (small data needs more passes; 0 turns it off). On the digits the reference CNN reaches
    # 94.7% test accuracy in 800 steps (20 epochs) and 97.6% in 4,000 (100).
    min_steps: int = Field(4000, ge=0)
    # The epochs min_steps adds (never train.epochs themselves) stop after this many epochs
    # without a better val loss; best.keras keeps the best one. Breast_cancer's best val loss
    # comes at epoch 25 of the 308 its 4,000 steps would take.
    min_steps_patience: int = Field(20, ge=1)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    learning_rate: float = Field(3e-4, gt=0)
    # O1: constant by default. cosine | linear decay over optimizer steps (never epochs), from
    # learning_rate to learning_rate x schedule_final_fraction in schedule_decay_steps (null: the
    # whole run); warmup_steps (cosine only) ramps up from 0 first. O1 warns when the rate falls
    # below 1% of its peak before half the run.
    schedule: Literal["constant", "cosine", "linear"] = "constant"
    schedule_decay_steps: int | None = Field(None, ge=1)
    schedule_final_fraction: float = Field(0.0, ge=0, le=1)
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    early_stopping: bool = False
    early_stopping_patience: int = Field(5, ge=1)
    precision: Precision = "{{ cookiecutter.precision }}"
    # XLA: auto turns it on when a GPU is visible.
    jit_compile: Literal["auto", "on", "off"] = "auto"
    # Scale-out (distribute.py): auto picks a TPU, then a cluster named by TF_CONFIG or a Slurm
    # job step (multi_worker), then mirrored over every GPU when there are several, else none.
    # data.batch_size stays per replica; the learning rate is not scaled (README, "Scaling out").
    distribute: Literal["auto", "none", "mirrored", "multi_worker", "tpu"] = "auto"
    # Resume state is saved every this many steps (O5): at most this much work is lost.
    backup_every_steps: int = Field(200, ge=1)
    # checkpoints/best.keras and last.keras are written at most this often (0: every epoch) and
    # at the end: a .keras file costs ~50 ms however small the model; resuming needs only the backup.
    checkpoint_every_seconds: float = Field(60.0, ge=0)
    export: bool = True
    # T14: TensorFlow op determinism: the same seed gives the same metrics to the last digit.
    # It turns off automatic XLA; set false on GPUs when speed matters more.
    deterministic: bool = True
    # T6: clip gradients to this global norm (the optimizer's global_clipnorm); null: no clipping.
    # `train` reports the 90th percentile of the measured norms as a starting value.
    clip_norm: float | None = Field(None, gt=0)

    @field_validator("jit_compile", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare on/off (`--set train.jit_compile=on`) as true/false: take it as meant."""
        return ("on" if value else "off") if isinstance(value, bool) else value

    @model_validator(mode="after")
    def _warmup_needs_cosine(self) -> TrainConfig:
        if self.warmup_steps and self.schedule != "cosine":
            raise ValueError(f"train.warmup_steps={self.warmup_steps} needs train.schedule=cosine "
                             f"(got {self.schedule})")
        return self


class CheckConfig(Section):
    # M1: warn when the loss at init is this many nats above the expected value.
    init_loss_warn_nats: float = 0.5
    # M4: warn above this many trainable parameters per training example (pretrained weights exempt).
    max_params_per_example: float = Field(1000.0, gt=0)
    # T1: examples in the batch to overfit, and the step budget.
    overfit_examples: int = Field(8, ge=2, le=32)
    overfit_steps: int = Field(300, ge=1)
    overfit_learning_rate: float = Field(1e-3, gt=0)
    # T1: pass when the loss has come this fraction of the way from its start to its floor.
    overfit_tolerance: float = Field(0.02, gt=0, lt=1)
    # T2: examples in the batch; another example's input gradient may be at most this
    # fraction of the example's own.
    independence_examples: int = Field(8, ge=4)
    independence_tolerance: float = Field(1e-6, gt=0)
    # T2: true when the model mixes a batch's examples by design (in-batch negatives, set
    # attention): T2 is then skipped, and says so.
    batch_mixing_expected: bool = False
    # T3: steps of the short run, steps averaged at each end, the smallest drop that passes,
    # and the training examples the smaller and the 2x wider model are compared on.
    loss_trend_steps: int = Field(60, ge=4)
    loss_trend_window: int = Field(5, ge=1)
    loss_trend_min_drop: float = Field(0.01, ge=0, lt=1)
    capacity_examples: int = Field(1024, ge=1)
    # T5: steps on copied weights; every trainable variable must change.
    weight_steps: int = Field(5, ge=1, le=50)
    # T5: variable paths (or their prefixes: a layer, a nested model) meant to stay frozen.
    expected_frozen: list[str] = []
    # B2, B3: training steps of the baseline runs (200: 5 epochs of digits, 20 of diabetes).
    baseline_steps: int = Field(200, ge=1)
    # B2: pass when the val loss <= pass_ratio x the input-independent control's, fail at
    # >= fail_ratio; warn when the control's is below leak_ratio x the priors' (B1).
    input_independent_pass_ratio: float = Field(0.9, gt=0)
    input_independent_fail_ratio: float = Field(0.99, gt=0)
    control_leak_ratio: float = Field(0.9, gt=0)
    # B3: a linear model trains well at a larger rate than a deep one.
    simple_model_learning_rate: float = Field(1e-2, gt=0)
    # T10 (`check --lr-find`): the swept rates (geometric, one step each), and the smallest
    # fall of the smoothed loss below its start that counts as learning.
    lr_find_min: float = Field(1e-7, gt=0)
    lr_find_max: float = Field(10.0, gt=0)
    lr_find_steps: int = Field(200, ge=20)
    lr_find_min_drop: float = Field(0.2, gt=0, lt=1)

    @model_validator(mode="after")
    def _windows_fit(self) -> CheckConfig:
        if 2 * self.loss_trend_window > self.loss_trend_steps:
            raise ValueError(f"check.loss_trend_window ({self.loss_trend_window}) must fit twice into "
                             f"check.loss_trend_steps ({self.loss_trend_steps})")
        if self.input_independent_pass_ratio > self.input_independent_fail_ratio:
            raise ValueError("check.input_independent_pass_ratio must not exceed input_independent_fail_ratio")
        if self.lr_find_min >= self.lr_find_max:
            raise ValueError(f"check.lr_find_min ({self.lr_find_min:g}) must be below check.lr_find_max "
                             f"({self.lr_find_max:g})")
        return self


class InspectConfig(Section):
    """Thresholds of the `inspect` stage (D checks)."""

    # D6: warn when an example lies more than this many robust standard deviations
    # (median/MAD) from the training median; long-tailed features are judged on a log scale.
    outlier_z: float = Field(10.0, gt=0)
    # D6: the most extreme examples listed and shown.
    outliers_shown: int = Field(8, ge=1)
    # D6 looks at a seeded sample of this many training examples; D8 and D9 at this many batches.
    sample: int = Field(10_000, ge=100)
    batches: int = Field(200, ge=2)
    # D1: warn when a split's share of a class (or of all examples) lies further than this many
    # binomial standard deviations from data.split.
    split_sigmas: float = Field(3.0, gt=0)
    # D11: fail (warn) when one column alone explains this share of the label on val (classes:
    # of the priors' errors; regression: R^2). Honest breast_cancer's best column explains 0.68 to
    # 0.86 over eight seeds, so 0.9 warns and 0.95 fails; a copy of the label with 1% flipped: 0.97.
    leakage_fail: float = Field(0.95, gt=0, le=1)
    leakage_warn: float = Field(0.9, gt=0, le=1)
    # D12: warn when confident learning estimates more than this share of wrong labels (honest
    # digits and breast_cancer: 0.000-0.003; 10% flipped labels: 0.12-0.14). `inspect` scores a
    # seeded sample of label_sample training examples by label_folds-fold logistic regression.
    label_issues_warn: float = Field(0.1, gt=0, lt=1)
    label_sample: int = Field(5_000, ge=50)
    label_folds: int = Field(5, ge=2, le=20)
    # D8: fail when batches hold fewer distinct labels than this fraction of what shuffling gives.
    shuffle_unique_fraction: float = Field(0.5, gt=0, le=1)
    # D8: a single-label batch fails when shuffled data would give one less often than this.
    single_label_chance: float = Field(1e-3, gt=0, lt=1)
    # D8: fail when neighbours share a label this much more often than twice chance.
    adjacent_same_margin: float = Field(0.05, ge=0)


class EvaluateConfig(Section):
    """Error analysis of the `evaluate` stage (E checks), on val."""

    # E2: the val examples with the highest loss, shown and written to worst_predictions.csv.
    worst_shown: int = Field(16, ge=1, le=256)
    # E3: equal-width confidence bins, and the expected calibration error above which it warns
    # (Guo et al. 2017 measured 0.04-0.16 for uncalibrated modern networks).
    calibration_bins: int = Field(15, ge=2)
    calibration_warn: float = Field(0.1, gt=0, lt=1)


class TuneConfig(Section):
    algorithm: Literal["random", "hyperband", "bayesian"] = "random"
    max_trials: int = Field(10, ge=1)
    executions_per_trial: int = Field(1, ge=1)
    epochs: int = Field(10, ge=1)
    # Early stopping inside each trial: stop after this many epochs without a better objective.
    early_stopping_patience: int = Field(3, ge=1)
    objective: str = "val_loss"
    # The search space: [low, high] ranges (learning rate on a log scale) and a list of widths.
    learning_rate: tuple[float, float] = (1e-4, 1e-2)
    hidden_units: list[int] = [64, 128, 256]
    depth: tuple[int, int] = (1, 3)
    dropout: tuple[float, float] = (0.0, 0.5)
    # Choices: weight decay (any above 0 trains with AdamW) and the per-replica batch size.
    weight_decay: list[float] = [0.0, 1e-4, 1e-3]
    batch_size: list[int] = [32]
    # KerasTuner stops the search after this many failed trials in a row (a NaN fails a trial).
    max_consecutive_failed_trials: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _space_is_possible(self) -> TuneConfig:
        problems = []
        if not 0 < self.learning_rate[0] <= self.learning_rate[1]:
            problems.append(f"tune.learning_rate must be 0 < low <= high, got {list(self.learning_rate)}")
        if not self.hidden_units or min(self.hidden_units) < 1:
            problems.append(f"tune.hidden_units must list positive widths, got {self.hidden_units}")
        if not 1 <= self.depth[0] <= self.depth[1]:
            problems.append(f"tune.depth must be 1 <= low <= high, got {list(self.depth)}")
        if not 0 <= self.dropout[0] <= self.dropout[1] < 1:
            problems.append(f"tune.dropout must be 0 <= low <= high < 1, got {list(self.dropout)}")
        if not self.weight_decay or min(self.weight_decay) < 0:
            problems.append(f"tune.weight_decay must list decays >= 0, got {self.weight_decay}")
        if not self.batch_size or min(self.batch_size) < 1:
            problems.append(f"tune.batch_size must list positive batch sizes, got {self.batch_size}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class MonitorConfig(Section):
    """The checks that watch `train` (T6-T12, callbacks.py): each has a switch and an interval.

    They measure on fixed samples at intervals chosen so that together they cost under 5% of
    the fit time of the default project (benchmarks/callback_overhead.py in the template): a
    measurement of T6 costs about 5 training steps, one of T7 about 10, T11's snapshot a
    tenth of a step. Shorter intervals see more and cost more."""

    # T6 gradient health: per-layer gradient norms on one fixed training batch.
    gradient_health: bool = True
    gradient_every_steps: int = Field(500, ge=1)
    gradient_vanishing_below: float = Field(1e-7, gt=0)
    gradient_exploding_above: float = Field(1e3, gt=0)
    # T7 activation health: per-layer output std (judged after normalisation layers) and dead ReLUs.
    activation_health: bool = True
    activation_every_steps: int = Field(2000, ge=1)
    activation_examples: int = Field(1000, ge=10)
    activation_std_range: tuple[float, float] = (0.5, 2.0)
    dead_relu_warn_above: float = Field(0.5, gt=0, le=1)
    # T8 update-to-weight ratio ||dW||/||W|| of one step, kernels only. The median over layers:
    # warn outside the first range, fail outside the second; a layer this factor off the median: warn.
    update_ratio: bool = True
    update_every_steps: int = Field(100, ge=1)
    update_ratio_warn_range: tuple[float, float] = (1e-4, 1e-2)
    update_ratio_fail_range: tuple[float, float] = (1e-5, 1e-1)
    update_ratio_layer_factor: float = Field(10.0, gt=1)
    # T9 NaN and Inf: stop at the first non-finite loss, name the layer, save the batch.
    nan_diagnosis: bool = True
    # T11 prediction dynamics on a few frozen val examples.
    prediction_dynamics: bool = True
    prediction_examples: int = Field(16, ge=2)
    prediction_snapshots_per_epoch: int = Field(5, ge=1)
    # Stall and thrash are judged after this many steps (the first steps move fast by design).
    prediction_warmup_steps: int = Field(100, ge=0)
    prediction_stall_below: float = Field(1e-4, gt=0)
    prediction_thrash_above: float = Field(0.5, gt=0)
    # Collapse: this many last snapshots all one class; thrash: this many jumps.
    prediction_repeats: int = Field(3, ge=1)
    # T12 first-layer weights: warn when ||W_end - W_start|| / ||W_start|| is below this.
    first_layer: bool = True
    first_layer_min_change: float = Field(0.01, ge=0)

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> MonitorConfig:
        for name in ("activation_std_range", "update_ratio_warn_range", "update_ratio_fail_range"):
            low, high = getattr(self, name)
            if not 0 <= low < high:
                raise ValueError(f"monitor.{name} must be [low, high] with 0 <= low < high, got {[low, high]}")
        return self


class Config(Section):
    name: str = "{{ cookiecutter.project_slug }}"
    task: Task = "{{ cookiecutter.task }}"
    seed: int = 42
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    monitor: MonitorConfig = MonitorConfig()
    inspect: InspectConfig = InspectConfig()
    check: CheckConfig = CheckConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    tune: TuneConfig = TuneConfig()


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> Config:
    """Read YAML (if any), apply `section.key=value` overrides, validate the whole tree."""
    tree: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"config file not found: {path}")
        try:
            tree = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise UserError(f"config file {path} is not valid YAML: {err}") from None
        if not isinstance(tree, dict):
            raise UserError(f"config file {path} must hold a mapping of keys, not {type(tree).__name__}")
    for item in overrides:
        _apply_override(tree, item)
    source = str(path) if path else "the defaults"
    if overrides:  # a typo is as likely in a --set as in the file
        source += " with --set " + " ".join(overrides)
    return validate_config(tree, source=source)


def validate_config(tree: dict[str, Any], source: str = "config") -> Config:
    try:
        return Config.model_validate(tree)
    except ValidationError as err:
        raise UserError(_explain(err, source)) from None


def with_values(config: Config, values: dict[str, Any]) -> Config:
    """A validated copy of `config` with dotted keys set: {"model.depth": 3}."""
    tree = config.model_dump(mode="python")
    for key, value in values.items():
        _set_dotted(tree, key, value)
    return validate_config(tree)


def _apply_override(tree: dict[str, Any], item: str) -> None:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise UserError(f"override {item!r} must look like section.key=value")
    # YAML parses the value, so `3e-4`, `true`, `[64, 64]` and `null` mean what they say.
    _set_dotted(tree, key, yaml.safe_load(raw) if raw.strip() else "")


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    node = tree
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UserError(f"config key {key!r}: {part!r} is a value, not a section")
    node[leaf] = value


def _explain(err: ValidationError, source: str) -> str:
    """One line per problem, naming the key and, for unknown keys, the valid ones."""
    lines = [f"invalid config ({source}):"]
    for problem in err.errors():
        where = ".".join(str(p) for p in problem["loc"] if not isinstance(p, int)) or "(top level)"
        if problem["type"] == "extra_forbidden":
            section = _section_at(problem["loc"][:-1])
            valid = sorted(section.model_fields) if section else []
            close = difflib.get_close_matches(str(problem["loc"][-1]), valid, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            lines.append(f"  unknown key {where!r}; {hint}valid keys here: {', '.join(valid) or '?'}")
        else:
            lines.append(f"  {where}: {problem['msg']} (got {problem.get('input')!r})")
    return "\n".join(lines)


def _section_at(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        model = field.annotation
    return model


def dump_config(config: Config, path: Path) -> None:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
