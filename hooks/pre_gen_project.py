"""Refuse bad answers before cookiecutter writes a single file.

Cookiecutter checks nothing itself: `--no-input key=value` and extra_context
accept any string, even for choice variables, and a bad package name or an
impossible dataset/model pairing would only show up later as a broken project.
This hook prints one `error: ...` line per problem on stderr and exits 1;
cookiecutter then removes the half-made output folder.
"""

import keyword
import re
import sys

# Rendered by cookiecutter's Jinja; `tojson` gives a valid Python string
# literal even when an answer holds quotes or backslashes.
PROJECT_NAME = {{ cookiecutter.project_name | tojson }}
PROJECT_SLUG = {{ cookiecutter.project_slug | tojson }}
PACKAGE_NAME = {{ cookiecutter.package_name | tojson }}
AUTHOR = {{ cookiecutter.author | tojson }}
LICENSE = {{ cookiecutter.license | tojson }}
TASK = {{ cookiecutter.task | tojson }}
DATASET = {{ cookiecutter.dataset | tojson }}
DATASET_LOCATION = {{ cookiecutter.dataset_location | tojson }}
LABEL_COLUMN = {{ cookiecutter.label_column | tojson }}
MODEL = {{ cookiecutter.model | tojson }}
PRECISION = {{ cookiecutter.precision | tojson }}
CI = {{ cookiecutter.ci | tojson }}

# These lists mirror the choices in cookiecutter.json: keep them in step.
CHOICES = {
    "license": (LICENSE, ["MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"]),
    "task": (TASK, ["classification", "binary", "regression"]),
    "dataset": (DATASET, ["bundled", "tfds", "image_folder", "csv"]),
    "model": (MODEL, ["auto", "mlp", "tabular", "cnn", "resnet50"]),
    "precision": (PRECISION, ["auto", "float32", "mixed_float16", "mixed_bfloat16"]),
    "ci": (CI, ["github", "none"]),
}

# Names that would shadow a dependency (or a folder the tooling expects).
SHADOWED = {
    "tensorflow", "keras", "keras_tuner", "kerastuner", "tensorflow_datasets",
    "tfds", "numpy", "sklearn", "scikit_learn", "matplotlib", "yaml", "pyyaml",
    "pydantic", "tensorboard", "pytest", "ruff", "test", "tests", "src",
} | set(sys.stdlib_module_names)

PACKAGE_RE = re.compile(r"[a-z_][a-z0-9_]*")
SLUG_RE = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")
IMAGE_MODELS = {"cnn", "resnet50"}
TABLE_MODELS = {"tabular"}


def check_package_name():
    name = PACKAGE_NAME
    if not (name.isidentifier() and PACKAGE_RE.fullmatch(name)):
        yield (f"package_name {name!r} is not a valid package name; "
               "use lowercase letters, digits and _, not starting with a digit")
    elif keyword.iskeyword(name):
        yield f"package_name {name!r} is a Python keyword; pick another name"


def check_shadowing():
    for key, value in (("package_name", PACKAGE_NAME), ("project_slug", PROJECT_SLUG)):
        module = value.replace("-", "_")
        if module in SHADOWED:
            yield (f"{key} {value!r} would shadow the module {module!r} "
                   "(a dependency or the standard library); pick another name")


def check_slug():
    if not SLUG_RE.fullmatch(PROJECT_SLUG):
        yield (f"project_slug {PROJECT_SLUG!r} is not allowed; use lowercase letters, "
               "digits and -, starting with a letter and not ending with -")


def check_not_empty():
    for key, value in (("project_name", PROJECT_NAME), ("author", AUTHOR)):
        if not value.strip():
            yield f"{key} is empty; give a non-empty value"


def check_choices():
    for key, (value, allowed) in CHOICES.items():
        if value not in allowed:
            yield f"{key} {value!r} is not one of: {', '.join(allowed)}"


def check_dataset():
    if DATASET == "image_folder" and TASK == "regression":
        yield ("dataset 'image_folder' does not fit task 'regression' "
               "(one sub-folder per class means classes); use classification or binary")
    if DATASET in ("tfds", "image_folder", "csv") and not DATASET_LOCATION.strip():
        yield (f"dataset_location is empty but dataset {DATASET!r} needs one "
               "(a tfds catalog name, an image folder or a CSV path)")
    if DATASET == "bundled" and DATASET_LOCATION.strip():
        yield (f"dataset_location {DATASET_LOCATION!r} is given but dataset 'bundled' "
               "takes none; leave dataset_location empty")
    if DATASET == "csv" and not LABEL_COLUMN.strip():
        yield "label_column is empty but dataset 'csv' needs the name of its label column"


def data_is_images():
    """True/False for images/tabular data; None when it cannot be known offline."""
    if DATASET == "bundled":
        return TASK == "classification"  # digits; breast cancer and diabetes are tables
    return {"image_folder": True, "csv": False}.get(DATASET)


def check_model():
    if MODEL in IMAGE_MODELS and data_is_images() is False:
        yield (f"model {MODEL!r} needs images but dataset {DATASET!r} with task "
               f"{TASK!r} is tabular; use model auto, mlp or tabular")
    if MODEL in TABLE_MODELS and data_is_images() is True:
        yield (f"model {MODEL!r} needs a table but dataset {DATASET!r} with task "
               f"{TASK!r} is images; use model auto, cnn or resnet50")


CHECKS = [check_package_name, check_shadowing, check_slug, check_not_empty,
          check_choices, check_dataset, check_model]


def main():
    problems = [problem for check in CHECKS for problem in check()]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
