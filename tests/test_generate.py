"""Every value of every choice generates, holds exactly what it asks for, and is fully rendered."""

from __future__ import annotations

import json
import os
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import NEEDS, PROJECT_TEMPLATE, TEMPLATE, unrendered_lines

CHOICES = {k: v for k, v in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()
           if isinstance(v, list)}
CASES = [(key, value) for key, values in CHOICES.items() for value in values]


def expected_files(answers: dict[str, str], package: str) -> set[str]:
    """The template's own files, renamed as the answers name them, minus what the answers
    leave out. Derived from the template so that a new module needs no test edit, while a
    file the hook loses or leaves behind still fails."""
    files = set()
    for path in PROJECT_TEMPLATE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            files.add(str(path.relative_to(PROJECT_TEMPLATE)).replace("{{cookiecutter.package_name}}", package))
    if answers.get("ci") == "none":
        files = {f for f in files if not f.startswith(".github/")}
    if answers.get("license") == "Proprietary":
        files.discard("LICENSE")
    return files


@pytest.mark.parametrize(("license_id", "first_line"), [("MIT", "MIT License"), ("Apache-2.0", "Apache License"),
                                                         ("BSD-3-Clause", "BSD 3-Clause License")])
def test_the_license_answer_writes_its_text_and_an_spdx_expression(cookies, license_id, first_line):
    project = Path(cookies.bake(extra_context={"license": license_id, "author": "Ada Lovelace"}).project_path)
    text = (project / "LICENSE").read_text()
    assert text.strip().splitlines()[0].strip() == first_line and "Ada Lovelace" in text
    meta = (project / "pyproject.toml").read_text()
    assert f'license = "{license_id}"' in meta and 'license-files = ["LICENSE"]' in meta


@pytest.mark.parametrize(("key", "value"), CASES, ids=[f"{k}={v}" for k, v in CASES])
def test_every_choice_generates_exactly_its_files(cookies, key, value):
    answers = {key: value, **NEEDS.get((key, value), {})}
    result = cookies.bake(extra_context=answers)
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    actual = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert actual == expected_files(answers, "recipe_net")
    assert unrendered_lines(project) == []
    for path in project.rglob("*.py"):
        py_compile.compile(str(path), doraise=True)
    for path in [*project.rglob("*.yaml"), *project.rglob("*.yml")]:
        yaml.safe_load(path.read_text())


def test_answers_reach_the_generated_config(cookies):
    result = cookies.bake(extra_context={
        "project_name": "Cat Detector", "task": "binary", "dataset": "csv",
        "dataset_location": "data/cats.csv", "label_column": "is_cat", "model": "mlp",
        "precision": "mixed_bfloat16",
    })
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    assert project.name == "cat-detector"
    config = yaml.safe_load((project / "configs" / "default.yaml").read_text())
    assert config["task"] == "binary"
    assert config["data"] == config["data"] | {"source": "csv", "location": "data/cats.csv", "label_column": "is_cat"}
    assert config["model"]["builder"] == "mlp"
    assert config["train"]["precision"] == "mixed_bfloat16"
    pyproject = (project / "pyproject.toml").read_text()
    assert 'cat-detector = "cat_detector.cli:main"' in pyproject
    assert (project / "src" / "cat_detector" / "cli.py").is_file()


@pytest.mark.parametrize(("task", "source"), [("classification", "digits"), ("binary", "breast_cancer"),
                                              ("regression", "diabetes")])
def test_bundled_dataset_follows_the_task(cookies, task, source):
    result = cookies.bake(extra_context={"task": task, "model": "auto"})
    config = yaml.safe_load((Path(result.project_path) / "configs" / "default.yaml").read_text())
    assert config["data"]["source"] == source


def test_generated_code_passes_its_own_linter(cookies):
    """The generated CI runs `make lint`; a fresh project must pass it."""
    result = cookies.bake()
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests"], cwd=result.project_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    """One pre-commit cache for the three projects: the hook environments are built once."""
    return tmp_path_factory.mktemp("pre-commit")


@pytest.mark.parametrize("answers", [{}, {"task": "regression", "ci": "none", "license": "Proprietary"},
                                     {"dataset": "image_folder", "dataset_location": "photos", "model": "cnn"}],
                         ids=["default", "regression-no-ci", "image-folder"])
def test_pre_commit_passes_from_a_plain_shell_on_a_fresh_project(cookies, answers, pre_commit_home):
    """Every hook is local and installs its tools from the package registry into pre-commit's
    cache (a temporary folder here, so that the test leaves nothing in the user's home). PATH
    holds no virtual environment: the shell of a user who has not activated one, where hooks
    of `language: system` failed with "Executable ruff not found"."""
    project = Path(cookies.bake(extra_context=answers).project_path)
    for command in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=project, check=True)
    venv_bin = str(Path(sys.executable).parent)
    plain_path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p and p != venv_bin
                                 and not Path(p, "ruff").exists())
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env |= {"PRE_COMMIT_HOME": str(pre_commit_home), "PATH": plain_path}
    done = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=project, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ruff check (the project's own ruff)" in done.stdout and "Passed" in done.stdout


def test_the_workflow_is_valid_github_actions(cookies):
    """Validated offline against the GitHub workflow schema that check-jsonschema vendors; the
    actions are the majors whose action.yml runs on Node 24; the matrix spans the Pythons the
    project declares."""
    project = Path(cookies.bake().project_path)
    workflow = project / ".github" / "workflows" / "ci.yml"
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(workflow)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    spec = yaml.safe_load(workflow.read_text())
    job = spec["jobs"]["test"]
    uses = {step["uses"] for step in job["steps"] if "uses" in step}
    assert uses == {"actions/checkout@v5", "actions/setup-python@v6", "actions/upload-artifact@v6"}
    assert spec["permissions"] == {"contents": "read"} and spec["concurrency"]["cancel-in-progress"] is True
    assert job["timeout-minutes"] > 0 and job["strategy"]["matrix"]["python-version"] == ["3.10", "3.13"]
    assert 'requires-python = ">=3.10,<3.14"' in (project / "pyproject.toml").read_text()
