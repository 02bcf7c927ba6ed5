"""The stages on a streamed source (an image folder): the D checks fire on planted defects,
no stage holds more than a bounded sample, and a source that changed is scanned again."""

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from {{ cookiecutter.package_name }}.checks.context import Context
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare, streams
from {{ cookiecutter.package_name }}.registry import run_checks


def write_folder(root: Path, counts=(150, 150), side=8, seed=0) -> Path:
    """Grayscale PNGs, one folder per class; class k is brighter on its k-th half, so a model can learn."""
    rng = np.random.default_rng(seed)
    for label, count in enumerate(counts):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 100, (side, side), dtype=np.uint8)
            pixels[:, label * side // 2:(label + 1) * side // 2] += 100
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def inspected(config, run_dir: Path):
    return run_checks("inspect", Context(config, prepare(config, run_dir), run_dir))


def folder_config(root: Path, *more: str):
    return load_config(None, ["task=classification", "model.builder=auto", "data.source=image_folder",
                              f"data.location={root}", "data.image_size=[8, 8]", "data.batch_size=16", *more])


def test_d_checks_fire_on_planted_defects_in_an_image_folder(tmp_path):
    """Planted: one image copied into the other class (D3 conflicting labels), 10 of one class
    for 200 of the other (D5), six near-white images among dark ones (D6)."""
    root = write_folder(tmp_path / "img", counts=(200, 10))
    shutil.copy(root / "class_0" / "0.png", root / "class_1" / "copy_of_0.png")
    rng = np.random.default_rng(1)
    for i in range(6):
        Image.fromarray(rng.integers(250, 256, (8, 8), dtype=np.uint8)).save(root / "class_0" / f"white_{i}.png")
    config = folder_config(root)
    verdicts = {v.id: v for v in inspected(config, tmp_path / "run")}
    assert verdicts["D3"].status == "fail" and verdicts["D3"].measured["conflicting_label_groups"] == 1
    assert any("copy_of_0.png" in origin for origin in verdicts["D3"].measured["examples"][0])
    assert verdicts["D5"].status == "warn"
    assert verdicts["D6"].status == "warn" and "white_" in verdicts["D6"].measured["most_extreme"][0]["example"]
    assert {v.status for k, v in verdicts.items() if k not in ("D3", "D5", "D6")} <= {"pass", "warn", "skip"}


def test_a_healthy_image_folder_passes_inspect(tmp_path):
    config = folder_config(write_folder(tmp_path / "img"))
    verdicts = inspected(config, tmp_path / "run")
    assert {v.status for v in verdicts} <= {"pass", "skip"}, [(v.id, v.status, v.advice) for v in verdicts]


def test_no_stage_holds_more_than_a_bounded_sample(in_tmp, monkeypatch):
    """A spy on the one place a streamed source becomes an array: every stage, from inspect to
    evaluate, asks for at most the configured sample, never for a whole split."""
    root = write_folder(in_tmp / "img")
    held = []
    real = streams.stack_inputs

    def spy(dataset, count, shape):
        held.append(count)
        return real(dataset, count, shape)

    monkeypatch.setattr(streams, "stack_inputs", spy)
    sets = [f"data.location={root}", "data.source=image_folder", "data.image_size=[8, 8]", "data.batch_size=16",
            "inspect.sample=100", "check.capacity_examples=64", "monitor.activation_examples=64",
            "train.epochs=1", "train.min_steps=0",
            "model.filters=4", "check.baseline_steps=20", "check.overfit_steps=50",
            "check.loss_trend_steps=20", "check.reference_rows=100"]
    arguments = [part for s in sets for part in ("--set", s)]
    for stage in ("inspect", "check", "train", "evaluate"):
        assert main([stage, "--run-dir", "runs/s", *arguments]) in (0, 1), stage
    evaluation = json.loads(Path("runs/s/evaluation.json").read_text())
    assert evaluation["examples"]["val"] > 0
    # Every test score with its interval, and the model against each baseline on the same rows.
    loss = evaluation["intervals"]["test"]["loss"]
    assert loss["interval"][0] <= loss["value"] <= loss["interval"][1]
    assert loss["rows"] == evaluation["examples"]["test"]
    assert set(evaluation["test_compared_with"]) == {"priors", "linear", "boosting"}
    n_train = int((np.load("runs/s/data/manifest.npz")["splits"] == 0).sum())
    assert held and max(held) <= 100 < n_train, (max(held), n_train)


def test_a_changed_source_is_scanned_again_with_a_message(tmp_path, capsys):
    root = write_folder(tmp_path / "img", counts=(40, 40))
    config = folder_config(root)
    first = prepare(config, tmp_path / "run")
    manifest = tmp_path / "run" / "data" / "manifest.npz"
    written = manifest.stat().st_mtime_ns
    again = prepare(config, tmp_path / "run")
    assert manifest.stat().st_mtime_ns == written and np.array_equal(again.keys, first.keys)
    assert "scanning it again" not in capsys.readouterr().err
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(root / "class_0" / "new.png")
    grown = prepare(config, tmp_path / "run")
    assert "changed since this run's manifest" in capsys.readouterr().err
    assert len(grown.keys) == len(first.keys) + 1
    old = {int(k): int(s) for k, s in zip(first.keys, first.manifest.splits, strict=True)}
    assert all(old[int(k)] == int(s) for k, s in zip(grown.keys, grown.manifest.splits, strict=True) if int(k) in old)
