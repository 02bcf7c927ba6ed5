"""The recipe's checks are declared once (recipe.py): the README's tables, the command
line's help, the verdicts' titles and the runs of `inspect` and `check` all read that list.
These tests keep every reader in step with it."""

import ast
import re
from pathlib import Path

import pytest

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }} import recipe
from {{ cookiecutter.package_name }}.cli import build_parser
from {{ cookiecutter.package_name }}.registry import RUNNERS, defined_in
from {{ cookiecutter.package_name }}.stages import ALL
from {{ cookiecutter.package_name }}.verdicts import verdict

PACKAGE = Path({{ cookiecutter.package_name }}.__file__).parent
README = Path(__file__).parents[1] / "README.md"


def test_every_check_has_a_known_stage_a_unique_id_there_and_words():
    stages = [stage.name for stage in ALL]
    keys = [(check.stage, check.id) for check in recipe.CHECKS]
    assert len(keys) == len(set(keys))
    for check in recipe.CHECKS:
        assert check.stage in stages, check
        assert re.fullmatch(r"[DMBTOEP]\d{1,2}", check.id), check
        assert check.title and len(check.verdict) > 30, check


def test_every_stage_runs_exactly_its_recipe_entries_through_the_registry():
    """Each recipe entry has one runner, registered where its check is defined; a newcomer finds
    the file of any ID under checks/, or in the list of checks/__init__.py for those that watch
    training or the search."""
    import importlib

    for stage in ("train", "evaluate", "tune"):  # the stage modules import what registers their checks
        importlib.import_module(f"{{ cookiecutter.package_name }}.{stage}")
    importlib.import_module("{{ cookiecutter.package_name }}.checks")
    assert set(RUNNERS) == {(c.stage, c.id) for c in recipe.CHECKS}
    elsewhere = {"O1": "schedule", "O2": "schedule", "O5": "resume", "O3": "tune", "O4": "evaluate"}
    listing = (PACKAGE / "checks" / "__init__.py").read_text()
    for stage, check_id in RUNNERS:
        module = defined_in(stage, check_id).removeprefix("{{ cookiecutter.package_name }}.")
        if module.startswith("checks."):
            assert f"{module.removeprefix('checks.')}.py (" in listing, (check_id, module)
        elif module.startswith("callbacks."):
            assert check_id.startswith("T"), (check_id, module)
        else:
            assert elsewhere[check_id] == module, (check_id, module)


def test_the_readme_tables_are_the_recipe_list():
    """Each stage's section of the README holds recipe.markdown_table(stage), word for word:
    change recipe.py and paste the new table (the assertion prints it)."""
    text = README.read_text()
    for stage in ALL:
        if not recipe.for_stage(stage.name):
            continue
        section = re.search(rf"^### \d\. [^\n]*: `{stage.name}`\n(.*?)(?=^### |\Z)", text, re.S | re.M)
        assert section, f"no README section for {stage.name}"
        table = "\n".join(line for line in section.group(1).splitlines() if line.startswith("|"))
        assert table == recipe.markdown_table(stage.name), f"README table of {stage.name} should be:\n" \
            + recipe.markdown_table(stage.name)


def test_verdicts_take_their_title_from_the_recipe():
    assert verdict("B1", "pass").title == "Dumb baseline"
    assert verdict("B1", "pass", stage="evaluate").title == "Model beats the dumb baseline"
    assert verdict("O4", "pass", title="Ensemble of the best 3 trials").title == "Ensemble of the best 3 trials"
    with pytest.raises(KeyError, match="Z9"):
        verdict("Z9", "pass")


def test_no_module_spells_a_title_by_building_a_verdict_itself():
    """Every verdict is built by `verdict`, which reads the title from recipe.py; a raw
    Verdict(...) call would carry a second copy of it."""
    builders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "verdicts.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Verdict":
                builders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert builders == []


def test_each_stage_help_lists_its_checks():
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "stage").choices
    text = choices["check"].format_help()
    for check in recipe.for_stage("check"):
        assert f"{check.id} " in text and check.title in text
    assert recipe.id_ranges("inspect") == "D1-D14"
    assert recipe.id_ranges("check") == "M1-M4, B1-B4, T1-T5, T10, T14"
