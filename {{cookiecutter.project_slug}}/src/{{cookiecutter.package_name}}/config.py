"""One typed configuration tree: YAML file + `key=value` overrides, validated.

The defaults below are the answers given to the template; `configs/default.yaml`
spells them out for reading and editing (a test keeps the two equal). Every
threshold a check uses is a named setting here, so that a verdict can say which
setting to change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
    # Images are resized to this (height, width) when they come from files or tfds.
    image_size: tuple[int, int] = (64, 64)
    split: tuple[float, float, float] = (0.7, 0.2, 0.1)
    batch_size: int = Field(32, ge=1)
    shuffle_buffer: int = Field(10_000, ge=1)
    cache: bool = True
    # D4: training refuses invalid examples unless this is true; then it says how many it dropped.
    drop_invalid: bool = False
    augment: bool = False

    @model_validator(mode="after")
    def _split_sums_to_one(self) -> DataConfig:
        if abs(sum(self.split) - 1.0) > 1e-6 or min(self.split) <= 0:
            raise ValueError(f"data.split must be three positive fractions summing to 1, got {list(self.split)}")
        return self


class ModelConfig(Section):
    # auto | mlp | cnn | resnet50, or `my_module:build` for your own model
    # (called as build(input_shape, output, config), returns an uncompiled keras.Model).
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
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    learning_rate: float = Field(3e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    early_stopping: bool = False
    early_stopping_patience: int = Field(5, ge=1)
    precision: Precision = "{{ cookiecutter.precision }}"
    # XLA: auto turns it on when a GPU is visible.
    jit_compile: Literal["auto", "on", "off"] = "auto"
    # Resume state is saved every this many steps (O5): at most this much work is lost.
    backup_every_steps: int = Field(200, ge=1)
    export: bool = True


class CheckConfig(Section):
    # M1: warn when the loss at init is this many nats above the expected value.
    init_loss_warn_nats: float = 0.5
    # T1: examples in the batch to overfit, and the step budget.
    overfit_examples: int = Field(8, ge=2, le=32)
    overfit_steps: int = Field(300, ge=1)
    overfit_learning_rate: float = Field(1e-3, gt=0)
    # T1: pass when the loss has come this fraction of the way from its start to its floor.
    overfit_tolerance: float = Field(0.02, gt=0, lt=1)


class TuneConfig(Section):
    algorithm: Literal["random", "hyperband", "bayesian"] = "random"
    max_trials: int = Field(10, ge=1)
    executions_per_trial: int = Field(1, ge=1)
    epochs: int = Field(10, ge=1)
    objective: str = "val_loss"
    learning_rate: tuple[float, float] = (1e-4, 1e-2)
    hidden_units: list[int] = [64, 128, 256]
    depth: tuple[int, int] = (1, 3)
    dropout: tuple[float, float] = (0.0, 0.5)


class Config(Section):
    name: str = "{{ cookiecutter.project_slug }}"
    task: Task = "{{ cookiecutter.task }}"
    seed: int = 42
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    check: CheckConfig = CheckConfig()
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
    return validate_config(tree, source=str(path) if path else "the defaults")


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
            valid = ", ".join(sorted(section.model_fields)) if section else "?"
            lines.append(f"  unknown key {where!r}; valid keys here: {valid}")
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
