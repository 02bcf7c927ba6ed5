"""Template updates with cruft: a project created from a git clone of the template takes a
later change of the template with `cruft update`, the post-generation hook run again.

The template is copied into a fresh git repository (the files git tracks here, and new ones
it does not ignore), so that the test commits a change to it without touching this checkout.
The project is made with `ci=none`: its hook deletes `.github/`, and an update that changes
the workflow must not bring that folder back, which it would if the hook did not run again.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = "{{cookiecutter.project_slug}}/README.md"
WORKFLOW = "{{cookiecutter.project_slug}}/.github/workflows/ci.yml"
ADDED = "A line the template gained after the project was made."


def git(folder: Path, *arguments: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *arguments],
                          cwd=folder, capture_output=True, text=True, check=True)
    return done.stdout


def cruft(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cruft", *arguments], cwd=folder, capture_output=True, text=True)


@pytest.fixture()
def template_repository(tmp_path) -> Path:
    files = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    repository = tmp_path / "template"
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (repository / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repository / name)
    git(repository, "init", "-q")
    git(repository, "add", "-A")
    git(repository, "commit", "-qm", "the template")
    return repository


def test_cruft_update_applies_a_template_change_with_the_hooks_run_again(template_repository, tmp_path):
    if importlib.util.find_spec("cruft") is None:
        pytest.skip("cruft is not installed (requirements-dev.txt installs it: pip install cruft)")
    made = cruft(tmp_path, "create", str(template_repository), "--no-input", "--output-dir", "projects",
                 "--extra-context", json.dumps({"ci": "none"}))
    assert made.returncode == 0, made.stderr
    project = tmp_path / "projects" / "recipe-net"
    assert (project / ".cruft.json").is_file() and not (project / ".github").exists()
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated")
    assert cruft(project, "check").returncode == 0

    with (template_repository / README).open("a") as handle:
        handle.write(f"\n{ADDED}\n")
    workflow = template_repository / WORKFLOW
    workflow.write_text(workflow.read_text() + "# a change to a file the project's hook deletes\n")
    git(template_repository, "commit", "-qam", "a change to the template")

    assert cruft(project, "check").returncode == 1  # the project is behind its template
    updated = cruft(project, "update", "--skip-apply-ask")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert ADDED in (project / "README.md").read_text()
    assert not (project / ".github").exists()  # the hook ran again on the new template
    assert json.loads((project / ".cruft.json").read_text())["commit"] == git(template_repository, "rev-parse",
                                                                               "HEAD").strip()
    assert cruft(project, "check").returncode == 0
