"""Shared helpers for the template's tests."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
PROJECT_TEMPLATE = TEMPLATE / "{{cookiecutter.project_slug}}"

# Compatible answers for each value of each choice: a value is generated with these.
NEEDS = {
    ("dataset", "tfds"): {"dataset_location": "mnist"},
    ("dataset", "image_folder"): {"dataset_location": "data/images"},
    ("dataset", "csv"): {"dataset_location": "data/table.csv", "model": "mlp"},
    ("model", "cnn"): {"task": "classification"},
    ("model", "resnet50"): {"task": "classification"},
    ("model", "tabular"): {"task": "binary"},
    ("task", "binary"): {"model": "mlp"},
    ("task", "regression"): {"model": "mlp"},
}

UNRENDERED = re.compile(r"\{\{\s*cookiecutter|\{%|\{#")  # a lone "%}" is plain text, as in f"{x:.0%}"
# GitHub Actions' own expressions look like Jinja but belong in the output.
GITHUB_EXPRESSION = re.compile(r"\$\{\{[^}]*\}\}")


def unrendered_lines(project: Path) -> list[str]:
    found = []
    for path in sorted(project.rglob("*")):
        if path.is_file():
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if UNRENDERED.search(GITHUB_EXPRESSION.sub("", line)) or "cookiecutter." in line:
                    found.append(f"{path.relative_to(project)}:{number}: {line.strip()}")
    return found
