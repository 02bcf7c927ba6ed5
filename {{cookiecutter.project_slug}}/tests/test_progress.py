"""Long work says how far it is: the scan of a source, each trial of a search; every stage
says how long it took."""

import copy

import numpy as np
from PIL import Image

from {{ cookiecutter.package_name }} import progress
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.progress import ProgressLine
from {{ cookiecutter.package_name }}.tune import TrialProgress


def test_a_progress_line_gives_counts_time_and_time_left():
    line = ProgressLine("scanning", 200, "files", every=0)
    assert line.line(50, 10.0) == "scanning: 50 of 200 files (25%), 10 s so far, about 30 s left"
    assert ProgressLine("reading", None, "examples").line(1200, 4.0) == "reading: 1,200 examples, 4 s so far"


def test_short_work_prints_nothing(capsys):
    ProgressLine("scanning", 10, "files").update(5)  # within the first EVERY seconds
    assert capsys.readouterr().out == ""


def test_the_image_scan_reports_its_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(progress, "EVERY", 0.0)
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(20):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    prepare(load_config(None, ["task=binary", "data.source=image_folder", f"data.location={tmp_path}"]))
    assert "scanning the image folder: 40 of 40 files (100%)" in capsys.readouterr().out


def test_the_search_reports_each_trial_run(capsys):
    tracker = TrialProgress(trials=4, objective="val_loss")
    assert copy.deepcopy([tracker])[0] is tracker  # KerasTuner copies the callbacks of each trial
    tracker.on_train_end({"val_loss": 0.51234})
    tracker.on_train_end({"val_loss": 0.4})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("tune: 1 of at most 4 trial runs done, val_loss 0.5123 at its last epoch;")
    assert out[1].startswith("tune: 2 of at most 4") and "s left" in out[1]


def test_every_stage_says_how_long_it_took(in_tmp, capsys):
    assert main(["inspect", "--run-dir", "runs/timed"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("inspect took ")
