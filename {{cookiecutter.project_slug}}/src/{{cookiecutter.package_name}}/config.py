"""One typed configuration tree: YAML file + `key=value` overrides, validated.

The defaults below are the answers given to the template. Each field says what it does
in its `description`, once: `configs/default.yaml` is `documented_yaml()`, those words as
comments above each default (a test keeps the file equal to it). Every threshold a check
uses is a named setting here, so that a verdict can say which setting to change.
"""

from __future__ import annotations

import difflib
import json
import textwrap
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import UserError
from .rundir import write_whole

Task = Literal["classification", "binary", "regression"]
Precision = Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]



def yaml_on_off(value: Any) -> Any:
    """YAML 1.1 reads a bare on/off (`--set train.jit_compile=on`) as true/false: take it as meant
    (train.jit_compile, model.log_target)."""
    return ("on" if value else "off") if isinstance(value, bool) else value

class Section(BaseModel):
    """A config section: unknown keys and wrong types are errors, not silently kept. Every
    field says what it does in its `description`: configs/default.yaml is those words."""

    # frozen: a config is settled by making a new one (`with_values`), never changed in place,
    # so that what a stage was given and what it ran with cannot drift apart unseen.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(Section):
    """Where the examples come from and how they reach the model."""

    source: str = Field("{{ cookiecutter.__data_source }}", description=(
        "digits | breast_cancer | diabetes (bundled with scikit-learn, offline), tfds | image_folder | csv | "
        "npz, or my_module:load, a loader returning (x, y) numpy arrays or a tf.data.Dataset"))
    location: str = Field("{{ cookiecutter.dataset_location }}", description=(
        "tfds catalog name, or the path of the image folder, CSV or .npz file: local, or an s3:// or gs:// "
        "URL (README, Data in a bucket)"))
    label_column: str = Field("{{ cookiecutter.label_column }}", description="csv: the column that holds the label")
    group_column: str | None = Field(None, description=(
        "csv: rows that share this column's value (a patient, a customer, a session) go to one split "
        "together, so that val and test hold groups the model never saw; the column is not a feature. "
        "null: each row is split by its own content"))
    split_by: Literal["content", "row", "time"] = Field("content", description=(
        "D1: what decides the split. content: a hash of each example's own cells, bytes or values (exact "
        "duplicates share a split; adding or reordering examples never moves one). row: a hash of its place "
        "in the file or array, for a table whose few coarse columns repeat across records that are not copies "
        "(the same answers from different people): they spread over the splits as separate records, but "
        "inserting or reordering rows moves the split of those after them. time (csv): data.time_column "
        "orders the rows: train the earliest 70%, val the next 20%, test the latest 10%, rows of one time "
        "together, for records over time whose test should be the future (README, Tables)"))
    time_column: str | None = Field(None, description=(
        "csv: the column of each row's time (an ISO date, 2024-05-31 or 2024-05-31 13:45, or a number: a year, "
        "a Unix time); data.split_by=time splits by it. It stays a feature unless data.columns excludes it"))
    time_cuts: list[str] | None = Field(None, min_length=2, max_length=2, description=(
        "data.split_by=time: the first time of val and the first time of test, e.g. [2013-10-01, 2013-12-01]; "
        "null: the times at data.split's fractions of the rows (printed, and kept in the run's manifest). "
        "Pinned, rows added later land by their own time and no earlier row moves"))
    delimiter: str = Field("auto", description=(
        'csv: the delimiter ("," ";" "\\t" "|"); auto detects it from the first 64 KiB'))
    encoding: str = Field("auto", description=(
        "csv: utf-8, latin-1, ...; auto: UTF-8 with or without BOM, else Latin-1"))
    columns: dict[str, Literal["numeric", "categorical", "hashed", "datetime", "text", "exclude"]] = Field(
        {}, description=(
            "csv (D10): each column's role is decided on the training split (README, Tables); name one here to "
            "override it: {name: numeric | categorical | hashed | datetime | text | exclude}"))
    missing: Literal["impute", "drop"] = Field("impute", description=(
        'csv: impute missing numeric cells with the train median plus a "was missing" indicator (a missing '
        "categorical cell is its own category), or drop the rows that have one (D4)"))
    max_categories: int = Field(50, ge=1, description=(
        "csv: a text column is one-hot encoded over at most this many of its most frequent training values, "
        "plus one bucket for every other value"))
    hash_bins: int = Field(64, ge=2, description=(
        "csv: the buckets a text column with more values than max_categories is hashed into"))
    text: Literal["tfidf", "multi_hot", "off"] = Field("tfidf", description=(
        "csv (D10): a free-text column (a review, a title, a comment) becomes features through "
        "keras.layers.TextVectorization, its vocabulary from the training split alone: tfidf (counts of "
        "each word and word pair, weighted by inverse document frequency), multi_hot (present or not), or "
        "off (the column is left out)"))
    text_max_tokens: int = Field(2000, ge=1, description=(
        "csv: the words and word pairs kept per text column, the most frequent in the training split; each "
        "is one feature"))
    text_ngrams: int = Field(2, ge=1, le=3, description=(
        "csv: 1: single words; 2: words and pairs of adjacent words (bigrams); 3: and triples"))
    image_size: tuple[int, int] = Field((64, 64), description=(
        "images from files or tfds are resized to this (height, width)"))
    channels: Literal["auto", 1, 3] = Field("auto", description=(
        "image folders: 1 (grayscale) or 3 (RGB); auto: 1 when every image is grayscale"))
    split: tuple[float, float, float] = Field((0.7, 0.2, 0.1), description=(
        "D1: train / val / test shares of the content-hash buckets (an example's split depends on its "
        "content and the seed alone, so it never moves when other examples come or go)"))
    batch_size: Annotated[int, Field(ge=1)] | Literal["auto"] = Field("auto", description=(
        "examples per batch (per replica under a distribution strategy); auto: 32 for images, about 128 batches "
        "an epoch for tables (32 to 1,024: data/batching.py; train.learning_rate grows with it), settled when the "
        "data are prepared and written to the run's train_config.yaml"))
    shuffle_buffer: int = Field(10_000, ge=1, description=(
        "bounded shuffle of the training split; training reads a seeded permutation first, so batches mix "
        "classes even in a sorted source"))
    cache: Literal["auto", "memory", "disk", "off"] = Field("auto", description=(
        "the training split across the epochs of train and tune: memory (image folders: the files' bytes, "
        "decoded each epoch; other streams: the decoded examples), disk (decoded examples in the run folder, "
        "for a slow source) or off (read again each epoch); auto: memory when it fits in cache_memory_mb, "
        "else off; in-memory sources need no cache"))
    cache_memory_mb: int = Field(512, ge=0, description="auto caches in memory below this many MiB")
    drop_invalid: bool = Field(False, description=(
        "D4: every stage refuses invalid examples unless this is true; then it says how many it dropped"))
    augment: bool | Literal["digits", "photo"] = Field(False, description=(
        "O2: image augmentation in the training pipeline, never val/test, never tables; true or digits: small "
        "shifts, rotations, contrast; photo: mirror, zoom (crops), shifts, brightness, contrast, saturation; off "
        "by default: regularise one thing at a time"))
    augment_flip: bool = Field(False, description=(
        "mirror images left-right too: right for photos, wrong for digits and text"))
    human_labels: str | None = Field(None, description=(
        "B4: a second annotation of the test split (.npy, or .csv with one label a row): one label per test "
        "example in the order of the split, or per example in the source's order; null: none"))

    @field_validator("cache", mode="before")
    @classmethod
    def _cache_on_off(cls, value: Any) -> Any:
        """The boolean of earlier configs: true is auto, false is off."""
        return ("auto" if value else "off") if isinstance(value, bool) else value

    @field_validator("text", mode="before")
    @classmethod
    def _text_off(cls, value: Any) -> Any:
        """YAML reads a bare `off` as false (and `on` as true, the default)."""
        return ("tfidf" if value else "off") if isinstance(value, bool) else value

    @field_validator("time_cuts", mode="before")
    @classmethod
    def _cuts_as_text(cls, value: Any) -> Any:
        """YAML reads 2013-10-01 as a date and 2012 as a number: both are times here."""
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else value

    @model_validator(mode="after")
    def _split_sums_to_one(self) -> DataConfig:
        if abs(sum(self.split) - 1.0) > 1e-6 or min(self.split) <= 0:
            raise ValueError(f"data.split must be three positive fractions summing to 1, got {list(self.split)}")
        return self

    @model_validator(mode="after")
    def _time_split_needs_its_column(self) -> DataConfig:
        if self.split_by == "time" and not self.time_column:
            raise ValueError("data.split_by=time needs data.time_column, the column of each row's time")
        if self.split_by == "time" and self.group_column:
            raise ValueError("data.split_by=time splits by time, data.group_column by group: choose one (a group's "
                             "rows at several times would straddle the cut)")
        if self.time_cuts and self.split_by != "time":
            raise ValueError("data.time_cuts is for data.split_by=time")
        return self


class ModelConfig(Section):
    """The model (M4: don't be a hero)."""

    builder: str = Field("{{ cookiecutter.model }}", description=(
        "auto (cnn for images, tabular for tables) | mlp | tabular (tables: RealMLP's clipping and numeric "
        "embeddings) | cnn, a keras.applications "
        "backbone for images (resnet50 | efficientnetv2b0 | "
        "mobilenetv3small | convnext_tiny), or my_module:build for your own model, called as "
        "build(input_shape, spec, config) with models.ModelSpec and returning an uncompiled keras.Model"))
    hidden_units: int = Field(128, ge=1, description="mlp: units of each hidden layer")
    depth: int = Field(2, ge=1, description="mlp: hidden layers")
    filters: int = Field(32, ge=1, description="cnn: filters of the first block, doubling with each block")
    tabular_units: int = Field(256, ge=1, description=(
        "tabular: units of each hidden layer (RealMLP's 256), at most: halved while the model would hold more than "
        "check.max_params_per_example weights per training example, then without the numeric embedding"))
    tabular_depth: int = Field(3, ge=1, description="tabular: hidden layers (RealMLP's 3)")
    tabular_dropout: Annotated[float, Field(ge=0.0, lt=1.0)] | Literal["auto"] = Field("auto", description=(
        "tabular: dropout after each hidden layer; auto: 0.15 for classes (RealMLP's), none for regression (it "
        "held diamonds' price at 648 RMSE where 0 reached 544: BENCHMARKS.md)"))
    numeric_embedding: Literal["auto", "periodic", "piecewise", "off"] = Field("auto", description=(
        "tabular: an embedding of every input feature beside its value: periodic (RealMLP's PBLD), piecewise "
        "(linear over 48 quantile bins of the training split, rtdl's PLE) or off; auto: piecewise for "
        "regression (Computers' RMSE 162 to 151, diamonds' price 547 to 529), periodic for classes (where "
        "piecewise raised the log loss on four of six: BENCHMARKS.md)"))
    tabular_members: int = Field(1, ge=1, description=(
        "tabular: an ensemble of this many members in the manner of TabM-mini (the hidden layers shared, each "
        "member's inputs times its own learned signs and a head of its own, trained on the mean of the members' "
        "losses, predicting their mean); k members cost k times the compute; 1: one model (8 won on three of "
        "eight benchmark tables and lost on three: BENCHMARKS.md)"))
    tabular_l1: Annotated[float, Field(ge=0.0)] | Literal["auto"] = Field("auto", description=(
        "tabular: an L1 penalty on the first hidden layer's weights (times their absolute sum, added to the "
        "mean loss), which lets the model drop the columns that carry nothing; auto: 0.003 (times the "
        "target's variance for regression, whose loss is in its units) where the numeric columns outnumber "
        "the training rows (a wide, short table: 500 columns, 140 rows, 10 carrying the label: log loss 0.62 "
        "to 0.36, beating an L1 logistic regression's 0.45), else 0 (a bag of words is as wide, but its rare "
        "words lose every weight to the penalty). Above 0, a linear path with an L1 of its own at the lasso's "
        "scale, 0.1 x sqrt(2 ln(columns) / rows), sits beside the MLP (table_model.linear_path)"))
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description=(
        "O2: dropout after each hidden layer (mlp) or before the output layer (cnn, backbones); 0: none"))
    weights: str | None = Field(None, description=(
        "backbones: null for random initialisation, imagenet (downloaded once by Keras), or the path of a "
        "weights file of the backbone without its top; pretrained weights freeze the backbone, batch norms "
        "in inference mode, while the new head trains"))
    fine_tune_layers: int = Field(0, ge=0, description=(
        "backbones with pretrained weights: once the head has trained (train.epochs), unfreeze this many of the "
        "backbone's top layers with weights (batch norms stay frozen, in inference mode) and train on; 0: the "
        "head only"))
    fine_tune_epochs: int = Field(10, ge=1, description="backbones: epochs of that second phase")
    fine_tune_learning_rate: float = Field(1e-5, gt=0, description=(
        "backbones: the learning rate of that second phase (keras.io's guide: 1e-5), constant"))
    backbone_size: int | None = Field(None, ge=32, description=(
        "backbones: the side images are resized to inside the model; null: the data's own size, at least 32 "
        "(224 is the size the ImageNet weights were trained at)"))
    init_output_bias: bool = Field(True, description="M2: set the output bias from train statistics (log priors; "
                                   "target mean)")
    id_embedding: int = Field(8, ge=0, description=(
        "tables: the size of the learned vector of each level of an identifier-like column (D10 says which: a "
        "lecturer or store number whose levels explain the label where its order does not, or a many-valued "
        "text column, a name or a product, whose values explain it beyond their hash buckets); 0: no embedding, "
        "the number or the buckets alone"))
    log_target: Literal["auto", "on", "off"] = Field("off", description=(
        "regression: predict a positive target on a log scale, exp(z) - 1 (a log link; the loss stays MSE in "
        "the target's own units, what evaluate and the references score); auto: when the training split is "
        "positive and long-tailed (D13's rule). Off by default: on the four skewed benchmark tables it raised "
        "the mlp's test RMSE on all four (BENCHMARKS.md)"))

    @field_validator("log_target", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: Any) -> Any:
        return yaml_on_off(value)

    @field_validator("numeric_embedding", mode="before")
    @classmethod
    def _embedding_off(cls, value: Any) -> Any:
        """YAML reads a bare `off` as false."""
        return "off" if value is False else value

    @field_validator("tabular_dropout", mode="before")
    @classmethod
    def _auto_or_rate(cls, value: Any) -> Any:
        """One message for both halves of the union (pydantic gives one a branch)."""
        if value == "auto" or (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1):
            return value
        raise ValueError("must be auto or a rate in [0, 1)")

    @field_validator("tabular_l1", mode="before")
    @classmethod
    def _auto_or_strength(cls, value: Any) -> Any:
        """One message for both halves of the union (pydantic gives one a branch)."""
        if value == "auto" or (isinstance(value, int | float) and not isinstance(value, bool) and value >= 0):
            return value
        raise ValueError("must be auto or a strength >= 0")


class TrainConfig(Section):
    """The `train` stage: the budget, the optimizer, precision, scale-out and backups."""

    epochs: int = Field(20, ge=1, description="passes over the training split (raised to reach min_steps)")
    min_steps: int = Field(4000, ge=0, description=(
        "the budget in optimizer steps: epochs are raised until a run makes at least this many (small data "
        "needs more passes); 0: off"))
    min_steps_patience: int = Field(20, ge=1, description=(
        "the epochs min_steps adds (never train.epochs themselves) stop after this many epochs without a "
        "better val loss; best.keras keeps the best one"))
    optimizer: Literal["adam", "adamw", "sgd"] = Field("adam", description="O1: adam | adamw | sgd")
    learning_rate: float = Field(3e-4, gt=0, description=(
        "O1: Adam at 3e-4 is safe; the peak rate of a schedule. With data.batch_size auto it is the rate at 32, "
        "times sqrt(batch / 32) at the batch auto settles on (a table's), as train_config.yaml records"))
    schedule: Literal["constant", "cosine", "linear"] = Field("constant", description=(
        "O1: constant by default; cosine | linear decay over optimizer steps (never epochs), from "
        "learning_rate to learning_rate x schedule_final_fraction in schedule_decay_steps; O1 warns when the "
        "rate falls below 1% of its peak before half the run"))
    schedule_decay_steps: int | None = Field(None, ge=1, description="steps of the decay; null: the whole run")
    schedule_final_fraction: float = Field(0.0, ge=0, le=1, description=(
        "the rate at the end of the decay, as a fraction of learning_rate"))
    warmup_steps: int = Field(0, ge=0, description="cosine only: a linear ramp from 0 over these steps first")
    weight_decay: float = Field(0.0, ge=0, description=(
        "O2: decoupled weight decay; above 0 adam becomes AdamW (sgd has none); 0: none"))
    early_stopping: bool = Field(False, description="O2: stop when the val loss stops improving")
    early_stopping_patience: int = Field(5, ge=1, description="epochs without a better val loss before stopping")
    precision: Precision = Field("{{ cookiecutter.precision }}", description=(
        "auto | float32 | mixed_float16 | mixed_bfloat16; auto: mixed_float16 on GPUs with tensor cores, "
        "mixed_bfloat16 on TPUs, float32 otherwise"))
    jit_compile: Literal["auto", "on", "off"] = Field("auto", description="XLA: auto turns it on when a GPU is "
                                                      "visible")
    distribute: Literal["auto", "none", "mirrored", "multi_worker", "tpu"] = Field("auto", description=(
        "scale-out (distribute.py): auto picks a TPU, then a cluster named by TF_CONFIG or a Slurm job step "
        "(multi_worker), then mirrored over every GPU when there are several, else none; data.batch_size stays "
        "per replica and the learning rate is not scaled (README, Scaling out)"))
    backup_every_steps: int = Field(200, ge=1, description=(
        "O5: resume state is saved every this many steps: at most this much work is lost"))
    checkpoint_every_seconds: float = Field(60.0, ge=0, description=(
        "checkpoints/best.keras and last.keras are written at most this often (0: every epoch) and at the "
        "end; resuming needs only the backup"))
    export: bool = Field(True, description="write a SavedModel for serving into <run>/export")
    folds: int | Literal["auto"] = Field(1, description=(
        "k-fold cross-validation over train and val (test untouched): one model a fold, early-stopped on its "
        "fold, scored out of fold (cross_validation.json); the export averages the k models (a bag). Costs k "
        "runs: worth it below a few thousand rows, where one val split is mostly noise. 1: one split; auto: 5 "
        "for a table of at most 5,000 train and val rows, else 1 (train_config.yaml says which)"))
    deterministic: bool = Field(True, description=(
        "T14: TensorFlow op determinism (the same seed gives the same metrics to the last digit); it turns "
        "off automatic XLA: set false on GPUs when speed matters more"))
    clip_norm: float | None = Field(None, gt=0, description=(
        "T6: clip gradients to this global norm (the optimizer's global_clipnorm); null: no clipping; train "
        "reports the 90th percentile of the measured norms as a starting value"))

    @field_validator("jit_compile", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: Any) -> Any:
        return yaml_on_off(value)

    @field_validator("folds")
    @classmethod
    def _folds_in_range(cls, value: int | str) -> int | str:
        if value != "auto" and not 1 <= value <= 20:
            raise ValueError("must be auto or a number of folds from 1 (one split) to 20")
        return value

    @model_validator(mode="after")
    def _warmup_needs_cosine(self) -> TrainConfig:
        if self.warmup_steps and self.schedule != "cosine":
            raise ValueError(f"train.warmup_steps={self.warmup_steps} needs train.schedule=cosine "
                             f"(got {self.schedule})")
        return self


class CheckConfig(Section):
    """Thresholds and budgets of the `check` stage (M, B, T1-T5, T10, T14)."""

    init_loss_warn_nats: float = Field(0.5, description=(
        "M1: warn when the loss at init is this many nats above the expected value"))
    max_params_per_example: float = Field(1000.0, gt=0, description=(
        "M4: warn above this many trainable parameters per training example (pretrained weights exempt)"))
    overfit_examples: int = Field(8, ge=2, le=32, description="T1: examples in the batch to overfit")
    overfit_steps: int = Field(300, ge=1, description="T1: the step budget to overfit it")
    overfit_learning_rate: float = Field(1e-3, gt=0, description="T1: the learning rate of those steps")
    overfit_tolerance: float = Field(0.02, gt=0, lt=1, description=(
        "T1: pass when the loss has come this fraction of the way from its start to its floor"))
    independence_examples: int = Field(8, ge=4, description="T2: examples in the batch of the gradient test")
    independence_tolerance: float = Field(1e-6, gt=0, description=(
        "T2: another example's input gradient may be at most this fraction of the example's own"))
    batch_mixing_expected: bool = Field(False, description=(
        "T2: true when the model mixes a batch's examples by design (in-batch negatives, set attention): T2 "
        "is then skipped, and says so"))
    loss_trend_steps: int = Field(60, ge=4, description="T3: steps of the short run on the real pipeline")
    loss_trend_window: int = Field(5, ge=1, description="T3: steps averaged at the start and at the end")
    loss_trend_min_drop: float = Field(0.01, ge=0, lt=1, description="T3: warn below this relative drop")
    capacity_examples: int = Field(1024, ge=1, description=(
        "T3: the training examples the model and its 2x wider copy are compared on"))
    mode_gap_share: float = Field(0.1, gt=0, description=(
        "T4: fail when inference mode's loss on the same training examples exceeds training mode's by more "
        "than this share of the priors' loss (the loss of knowing nothing)..."))
    mode_gap_sigmas: float = Field(3.0, gt=0, description=(
        "T4: ...and by more than this many standard errors of the paired difference"))
    weight_steps: int = Field(5, ge=1, le=50, description=(
        "T5: steps on copied weights; every trainable variable must change"))
    expected_frozen: list[str] = Field([], description=(
        "T5: variable paths (or their prefixes: a layer, a nested model) meant to stay frozen"))
    baseline_steps: int = Field(200, ge=1, description="B2, B3: training steps of each baseline run")
    input_independent_pass_ratio: float = Field(0.9, gt=0, description=(
        "B2: pass when the val loss is at most this times the input-independent control's"))
    input_independent_fail_ratio: float = Field(0.99, gt=0, description="B2: fail at this ratio or above")
    control_leak_ratio: float = Field(0.9, gt=0, description=(
        "B2: warn when the control's val loss is below this times the priors' (B1): labels leak around the "
        "inputs"))
    simple_model_learning_rate: float = Field(1e-2, gt=0, description=(
        "B3: a linear model trains well at a larger rate than a deep one (images too large to flatten)"))
    reference_rows: int = Field(20_000, ge=50, description=(
        "B3: the training examples (a seeded sample) scikit-learn's linear model and gradient boosting fit on"))
    lr_find_min: float = Field(1e-7, gt=0, description="T10 (check --lr-find): the smallest rate swept")
    lr_find_max: float = Field(10.0, gt=0, description="T10: the largest rate swept")
    lr_find_steps: int = Field(200, ge=20, description="T10: steps of the sweep, one per rate, rates geometric")
    lr_find_min_drop: float = Field(0.2, gt=0, lt=1, description=(
        "T10: fail when the smoothed loss never falls this fraction below its start"))

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

    outlier_z: float = Field(10.0, gt=0, description=(
        "D6: warn when an example lies more than this many robust standard deviations (median/MAD) from the "
        "training median; long-tailed features are judged on a log scale"))
    outliers_shown: int = Field(8, ge=1, description="D6: the most extreme examples listed and shown")
    sample: int = Field(10_000, ge=100, description="D6: the training examples looked at (a seeded sample)")
    batches: int = Field(200, ge=2, description="D8, D9: the training batches looked at")
    split_sigmas: float = Field(3.0, gt=0, description=(
        "D1: warn when a split's share of a class (or of all examples) lies further than this many binomial "
        "standard deviations from data.split, for all the shares together (Bonferroni)"))
    leakage_fail: float = Field(0.95, gt=0, le=1, description=(
        "D11: fail when one column alone explains this share of the label at 95% confidence (classes: of the "
        "priors' errors; regression: R^2); a copy of the label with 1% flipped: 0.97"))
    leakage_warn: float = Field(0.9, gt=0, le=1, description=(
        "D11: warn at this share (honest breast_cancer's best column: 0.68 to 0.86 over eight seeds)"))
    label_issues_warn: float = Field(0.1, gt=0, lt=1, description=(
        "D12: warn when confident learning estimates more than this share of wrong labels (honest digits "
        "and breast_cancer: 0.000-0.003; 10% flipped labels: 0.12-0.14)"))
    label_sample: int = Field(5_000, ge=50, description=(
        "D12: the training examples (a seeded sample) scored out of fold by logistic regression"))
    label_folds: int = Field(5, ge=2, le=20, description="D12: the folds of that cross-validation")
    shuffle_unique_fraction: float = Field(0.5, gt=0, le=1, description=(
        "D8: fail when batches hold fewer distinct labels than this fraction of what shuffling gives"))
    single_label_chance: float = Field(1e-3, gt=0, lt=1, description=(
        "D8: a single-label batch fails when shuffled data would give one less often than this"))
    adjacent_same_margin: float = Field(0.05, ge=0, description=(
        "D8: fail when neighbours share a label this much more often than twice chance"))
    time_warn_ratio: float = Field(1.2, gt=1, description=(
        "D14: warn when a reference trained on the earliest 70% and tested on the latest 10% has a test loss "
        "this many times a random split's, at the low end of its 95% interval"))
    time_sample: int = Field(20_000, ge=200, description=(
        "D14: the rows (a seeded sample of every split) the two reference fits share"))


class EvaluateConfig(Section):
    """Error analysis of the `evaluate` stage (E checks), on val."""

    worst_shown: int = Field(16, ge=1, le=256, description=(
        "E2: the val examples with the highest loss, shown and written to worst_predictions.csv"))
    calibration_bins: int = Field(15, ge=2, description="E3: equal-width confidence bins")
    calibration_warn: float = Field(0.1, gt=0, lt=1, description=(
        "E3: warn above this expected calibration error (Guo et al. 2017 measured 0.04-0.16 for uncalibrated "
        "modern networks)"))


class TuneConfig(Section):
    """The `tune` stage (O3): KerasTuner's search and its space."""

    algorithm: Literal["random", "hyperband", "bayesian"] = Field("random", description=(
        "random | hyperband | bayesian"))
    max_trials: int = Field(10, ge=1, description="trials (hyperparameter sets) at most")
    executions_per_trial: int = Field(1, ge=1, description="trainings of each trial, averaged")
    epochs: int = Field(10, ge=1, description="epochs of each trial at most")
    early_stopping_patience: int = Field(3, ge=1, description=(
        "each trial stops after this many epochs without a better objective"))
    objective: str = Field("val_loss", description="the metric the search minimises, on the val split")
    learning_rate: tuple[float, float] = Field((1e-4, 1e-2), description="[low, high], sampled on a log scale")
    hidden_units: list[int] = Field([64, 128, 256], description=(
        "choices of model.hidden_units (model.tabular_units for the table model)"))
    depth: tuple[int, int] = Field((1, 3), description="[low, high] of model.depth (model.tabular_depth)")
    dropout: tuple[float, float] = Field((0.0, 0.5), description=(
        "[low, high] of model.dropout (model.tabular_dropout)"))
    weight_decay: list[float] = Field([0.0, 1e-4, 1e-3], description=(
        "choices of train.weight_decay (any above 0 trains with AdamW)"))
    batch_size: list[Annotated[int, Field(ge=1)] | Literal["auto"]] = Field(["auto"], description=(
        "choices of data.batch_size, per replica (auto: as data.batch_size auto settles it)"))
    max_consecutive_failed_trials: int = Field(3, ge=1, description=(
        "KerasTuner stops the search after this many failed trials in a row (a NaN fails a trial)"))
    folds: int = Field(1, ge=1, le=20, description=(
        "score each trial by k folds over train+val (as train.folds cuts them): a model a fold, each early-stopped "
        "on its own fold, the trial's score the mean of their best objectives; 1: the val split. For small "
        "tables, where one val split's score is mostly noise; k times the cost. The trial's saved model and its "
        "recipe checks are the first fold's"))

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
        if not self.batch_size:
            problems.append("tune.batch_size must list at least one batch size (or auto)")
        if self.folds > 1 and self.algorithm == "hyperband":
            problems.append("tune.folds trains each fold's model whole, hyperband in rounds: use tune.algorithm "
                            "random or bayesian with tune.folds")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class MonitorConfig(Section):
    """The checks that watch `train` (T6-T12, callbacks/): each has a switch and an interval.
    They measure on fixed samples; shorter intervals see more and cost more (figures: the
    template's BENCHMARKS.md)."""

    gradient_health: bool = Field(True, description="T6: per-layer gradient norms on one fixed training batch")
    gradient_every_steps: int = Field(500, ge=1, description="T6: measured this often, before the first step and "
                                      "at the end")
    gradient_vanishing_below: float = Field(1e-7, gt=0, description=(
        "T6: warn when a layer's norm per unit of the priors' loss is below this"))
    gradient_exploding_above: float = Field(1e3, gt=0, description="T6: warn when it is above this")
    activation_health: bool = Field(True, description=(
        "T7: per-layer output spread (judged after normalisation layers) and dead ReLUs"))
    activation_every_steps: int = Field(2000, ge=1, description="T7: measured this often and at the end")
    activation_examples: int = Field(1000, ge=10, description="T7: the fixed training examples measured")
    activation_std_range: tuple[float, float] = Field((0.5, 2.0), description=(
        "T7: warn when a normalisation layer's output std leaves [low, high]"))
    dead_relu_warn_above: float = Field(0.5, gt=0, le=1, description=(
        "T7: warn when a ReLU layer has more than this share of units that never fire"))
    update_ratio: bool = Field(True, description="T8: the update-to-weight ratio ||dW||/||W|| of one step, kernels "
                               "only")
    update_every_steps: int = Field(100, ge=1, description="T8: measured this often")
    update_ratio_warn_range: tuple[float, float] = Field((1e-4, 1e-2), description=(
        "T8: the median over layers warns outside [low, high]"))
    update_ratio_fail_range: tuple[float, float] = Field((1e-5, 1e-1), description="T8: and fails outside this")
    update_ratio_layer_factor: float = Field(10.0, gt=1, description=(
        "T8: warn when a layer is this factor off the median (each ratio over sqrt(fan_in / 2) under Adam)"))
    nan_diagnosis: bool = Field(True, description=(
        "T9: stop at the first non-finite loss, name the layer, save the batch"))
    prediction_dynamics: bool = Field(True, description="T11: predictions of a few frozen val examples through "
                                      "training")
    prediction_examples: int = Field(16, ge=2, description="T11: the frozen val examples")
    prediction_snapshots_per_epoch: int = Field(5, ge=1, description="T11: snapshots of their predictions an epoch")
    prediction_warmup_steps: int = Field(100, ge=0, description=(
        "T11: stall and thrash are judged after this step (the first steps move fast by design)"))
    prediction_stall_below: float = Field(1e-4, gt=0, description=(
        "T11: stall: every mean |change| of the outputs (logits) between snapshots below this"))
    prediction_thrash_above: float = Field(0.5, gt=0, description=(
        "T11: thrash: a mean change of the predicted probabilities between snapshots above this"))
    prediction_repeats: int = Field(3, ge=1, description=(
        "T11: collapse: this many last snapshots all one class; thrash: this many jumps"))
    first_layer: bool = Field(True, description="T12: the first layer's kernel at the start and the end")
    first_layer_min_change: float = Field(0.01, ge=0, description=(
        "T12: warn when ||W_end - W_start|| / ||W_start|| is below this"))
    mode_gap: bool = Field(True, description=(
        "T4: at the end of `fit`, the loss of 256 fixed training examples (at most check.capacity_examples) in "
        "training mode against inference mode"))

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> MonitorConfig:
        for name in ("activation_std_range", "update_ratio_warn_range", "update_ratio_fail_range"):
            low, high = getattr(self, name)
            if not 0 <= low < high:
                raise ValueError(f"monitor.{name} must be [low, high] with 0 <= low < high, got {[low, high]}")
        return self


class Config(Section):
    """The whole configuration, with its defaults."""

    name: str = Field("{{ cookiecutter.project_slug }}", description="the project's name (kept in every "
                      "config a run writes)")
    task: Task = Field("{{ cookiecutter.task }}", description="classification | binary | regression")
    seed: int = Field(42, description="seeds the split, the weights, the shuffles and every sample a check draws")
    data: DataConfig = Field(DataConfig(), description=DataConfig.__doc__)
    model: ModelConfig = Field(ModelConfig(), description=ModelConfig.__doc__)
    train: TrainConfig = Field(TrainConfig(), description=TrainConfig.__doc__)
    monitor: MonitorConfig = Field(MonitorConfig(), description=MonitorConfig.__doc__)
    inspect: InspectConfig = Field(InspectConfig(), description=InspectConfig.__doc__)
    check: CheckConfig = Field(CheckConfig(), description=CheckConfig.__doc__)
    evaluate: EvaluateConfig = Field(EvaluateConfig(), description=EvaluateConfig.__doc__)
    tune: TuneConfig = Field(TuneConfig(), description=TuneConfig.__doc__)


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


def dump_config(config: Config, path: Path, notes: list[str] = (), header: str = "") -> None:
    """`config` as YAML at `path`, then `notes` as comments under `header`: the file still loads
    as the config it was written from."""
    comments = f"\n{header}\n" + "".join(f"#   {line}\n" for line in notes) if notes else ""
    write_whole(path, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False) + comments)


YAML_HEADER = """\
# The whole configuration, with its defaults. Override one value on the command line:
#   {{ cookiecutter.project_slug }} train --set train.epochs=5 --set data.batch_size=64
# or copy this file and pass it: --config configs/my_experiment.yaml
# The comments are the fields' descriptions in src/{{ cookiecutter.package_name }}/config.py: edit them
# there, then rewrite this file: python -m {{ cookiecutter.package_name }}.config > configs/default.yaml
"""


def documented_yaml(config: Config | None = None, width: int = 100) -> str:
    """`config` (the defaults) as YAML, each key under its description as a comment."""
    config = config or Config()
    lines = [YAML_HEADER]
    _document(config, config.model_dump(mode="json"), "", width, lines)
    return "\n".join(lines) + "\n"


def _document(section: Section, values: dict[str, Any], indent: str, width: int, lines: list[str]) -> None:
    for name, field in type(section).model_fields.items():
        value = getattr(section, name)
        comment = textwrap.wrap(" ".join((field.description or "").split()), width - len(indent) - 2)
        if isinstance(value, Section):
            lines += ["", *(f"{indent}# {line}" for line in comment), f"{indent}{name}:"]
            _document(value, values[name], indent + "  ", width, lines)
        else:
            lines += [*(f"{indent}# {line}" for line in comment), f"{indent}{name}: {_yaml_value(values[name])}"]


def _yaml_value(value: Any) -> str:
    """One value in YAML's flow style; strings always quoted, so that any path reads back as text."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text.removesuffix("\n...").strip()


if __name__ == "__main__":  # python -m <package>.config > configs/default.yaml
    print(documented_yaml(), end="")
