import json
from pathlib import Path

from {{ cookiecutter.package_name }}.cli import main

FIELDS = {"id", "title", "status", "measured", "expected", "advice", "plots", "stage"}


def test_inspect_writes_verdicts(in_tmp):
    assert main(["inspect", "--run-dir", "runs/a"]) == 0
    records = json.loads(Path("runs/a/verdicts.json").read_text())
    assert {r["id"] for r in records} >= {"D1", "D2", "D3", "D4", "D5"}
    assert all(set(r) == FIELDS for r in records)
    assert all(r["status"] != "fail" for r in records)


def test_bad_override_exits_2_and_writes_nothing(in_tmp, capsys):
    assert main(["inspect", "--run-dir", "runs/b", "--set", "data.batch_sise=3"]) == 2
    assert "data.batch_sise" in capsys.readouterr().err
    assert not Path("runs/b").exists()


def test_a_run_dir_that_is_a_file_exits_2_and_says_so(in_tmp, capsys):
    Path("afile").write_text("mine")
    assert main(["inspect", "--run-dir", "afile"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert Path("afile").read_text() == "mine"


def test_unknown_source_exits_2_and_leaves_no_run_folder(in_tmp, capsys):
    assert main(["inspect", "--run-dir", "runs/c", "--set", "data.source=nowhere"]) == 2
    assert "data.source" in capsys.readouterr().err
    assert not Path("runs/c").exists()


def test_evaluate_without_a_trained_model_says_so(in_tmp, capsys):
    assert main(["evaluate", "--run-dir", "runs/d"]) == 2
    assert "train" in capsys.readouterr().err
