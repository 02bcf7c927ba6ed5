"""Bad answers are refused by hooks/pre_gen_project.py, and nothing is left behind.

Each case runs the real `cookiecutter` command in a subprocess.

Cookiecutter 2.7 itself refuses an unknown value for a choice variable given as
`key=value` (a ValueError traceback, before any hook runs), so the hook's choice
check is reached through a replay file, which cookiecutter takes as-is.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TEMPLATE_DIR = Path(__file__).resolve().parents[1]

DEFAULTS = {
    "project_name": "Recipe Net",
    "project_slug": "recipe-net",
    "package_name": "recipe_net",
    "description": "A test project.",
    "author": "Your Name",
    "license": "MIT",
    "task": "classification",
    "dataset": "bundled",
    "dataset_location": "",
    "label_column": "label",
    "model": "auto",
    "precision": "auto",
    "ci": "github",
    "__data_source": "digits",
}


@pytest.fixture(scope="session")
def env(tmp_path_factory):
    """Keep cookiecutter's config, replay files and rendered hooks out of $HOME and /tmp."""
    home = tmp_path_factory.mktemp("cookiecutter-home")
    config = home / "config.yaml"
    config.write_text(
        f"cookiecutters_dir: {json.dumps(str(home / 'templates'))}\n"
        f"replay_dir: {json.dumps(str(home / 'replay'))}\n"
    )
    (home / "tmp").mkdir()
    return {**os.environ, "COOKIECUTTER_CONFIG": str(config), "TMPDIR": str(home / "tmp")}


def cookiecutter(env, out, option, *answers):
    cmd = [
        sys.executable,
        "-m",
        "cookiecutter",
        *option,
        str(TEMPLATE_DIR),
        "-o",
        str(out),
        *answers,
    ]
    return subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=120)


def generate(env, out, **answers):
    return cookiecutter(env, out, ["--no-input"], *(f"{k}={v}" for k, v in answers.items()))


def assert_refused(result, out, key):
    assert result.returncode != 0, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert any(key in line for line in errors), result.stderr
    assert list(out.iterdir()) == [], "a half-generated project was left behind"


BAD_ANSWERS = {
    "keyword package": ("package_name", {"package_name": "class"}),
    "dash in package": ("package_name", {"package_name": "my-package"}),
    "digit first package": ("package_name", {"package_name": "9lives"}),
    "uppercase package": ("package_name", {"package_name": "RecipeNet"}),
    "shadows tensorflow": ("package_name", {"package_name": "tensorflow"}),
    "shadows keras via name": ("project_slug", {"project_name": "Keras"}),
    "shadows stdlib json": ("package_name", {"package_name": "json"}),
    "bad slug": ("project_slug", {"project_slug": "My Project!"}),
    "slug ends with dash": ("project_slug", {"project_slug": "recipe-", "package_name": "recipe"}),
    "empty project name": (
        "project_name",
        {"project_name": "", "project_slug": "recipe-net", "package_name": "recipe_net"},
    ),
    "empty author": ("author", {"author": ""}),
    "image folder for regression": (
        "dataset",
        {"task": "regression", "dataset": "image_folder", "dataset_location": "data/images"},
    ),
    "csv without location": ("dataset_location", {"dataset": "csv"}),
    "tfds without location": ("dataset_location", {"dataset": "tfds"}),
    "bundled with location": ("dataset_location", {"dataset_location": "data/x.csv"}),
    "csv without label column": (
        "label_column",
        {"dataset": "csv", "dataset_location": "data/x.csv", "label_column": ""},
    ),
    "cnn on bundled binary": ("model", {"task": "binary", "model": "cnn"}),
    "resnet50 on bundled regression": ("model", {"task": "regression", "model": "resnet50"}),
    "resnet50 on csv": (
        "model",
        {"dataset": "csv", "dataset_location": "data/x.csv", "model": "resnet50"},
    ),
    "tabular on bundled digits": ("model", {"task": "classification", "model": "tabular"}),
}


@pytest.mark.parametrize(("key", "answers"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_bad_answer_is_refused(env, tmp_path, key, answers):
    assert_refused(generate(env, tmp_path, **answers), tmp_path, key)


UNKNOWN_CHOICES = ["license", "task", "dataset", "model", "precision", "ci"]


@pytest.mark.parametrize("key", UNKNOWN_CHOICES)
def test_unknown_choice_is_refused_by_the_hook(env, tmp_path, tmp_path_factory, key):
    replay = tmp_path_factory.mktemp("replay") / "answers.json"
    replay.write_text(json.dumps({"cookiecutter": {**DEFAULTS, key: "nonsense"}}))
    result = cookiecutter(env, tmp_path, ["--replay-file", str(replay)])
    assert_refused(result, tmp_path, key)
    assert "nonsense" in result.stderr


@pytest.mark.parametrize("key", UNKNOWN_CHOICES)
def test_unknown_choice_on_the_command_line_is_refused(env, tmp_path, key):
    result = generate(env, tmp_path, **{key: "nonsense"})
    assert result.returncode != 0
    assert f"choice variable {key}" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_defaults_generate(env, tmp_path):
    result = generate(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "make demo" in result.stdout
    assert (tmp_path / "recipe-net" / "src" / "recipe_net").is_dir()


@pytest.mark.parametrize(
    "answers",
    [
        {"dataset": "tfds", "dataset_location": "mnist", "model": "resnet50"},
        {
            "task": "binary",
            "dataset": "image_folder",
            "dataset_location": "data/img",
            "model": "cnn",
        },
        {"dataset": "csv", "dataset_location": "data/x.csv", "model": "mlp"},
        {"task": "regression", "model": "mlp"},
    ],
    ids=["tfds any model", "image folder binary", "csv mlp", "bundled regression"],
)
def test_good_combinations_generate(env, tmp_path, answers):
    result = generate(env, tmp_path, **answers)
    assert result.returncode == 0, result.stderr


def test_ci_choice_decides_github_folder(env, tmp_path):
    with_ci = generate(env, tmp_path / "github", ci="github")
    assert with_ci.returncode == 0, with_ci.stderr
    assert (tmp_path / "github" / "recipe-net" / ".github" / "workflows" / "ci.yml").is_file()

    without_ci = generate(env, tmp_path / "none", ci="none")
    assert without_ci.returncode == 0, without_ci.stderr
    assert (tmp_path / "none" / "recipe-net" / "Makefile").is_file()
    assert not (tmp_path / "none" / "recipe-net" / ".github").exists()
