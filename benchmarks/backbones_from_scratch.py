"""Do keras.applications backbones learn from scratch, and does the exported model keep what
they learnt? Each family with `model.weights: null` (and the default CNN beside them) through
`train` and `evaluate` on the digits as 32x32 PNGs (or, with --photos, CIFAR-10's cats and dogs:
2,000 colour photos, common.cats_dogs_png), with val accuracy measured in training mode
(batch statistics) and in inference mode (moving statistics: what val, test, the export and
`predict` use). A gap between the two is a batch norm whose moving statistics lag (T4).

    python benchmarks/backbones_from_scratch.py [--project PATH] [--families mobilenetv3small,...]
                                                [--png-folder DIR] [--photos] [--work DIR]

Each run is the project's command line, as a user runs it; the accuracies are read back from
the run folder's best.keras.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import cats_dogs_png, digits_png, machine, package, project_from_args


def more(parser):
    parser.add_argument("--families", default="cnn,mobilenetv3small,efficientnetv2b0,resnet50,convnext_tiny")
    parser.add_argument("--png-folder", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "digits_png")
    parser.add_argument("--photos", action="store_true", help="CIFAR-10's cats and dogs instead of the digits")
    parser.add_argument("--work", type=Path, default=None, help="default: build/backbones (build/backbones_photos)")
    parser.add_argument("--extra", default="", help="comma-separated --set values for every run")
    parser.add_argument("--reuse", action="store_true", help="keep the runs a previous call finished")


args, project = project_from_args(__doc__, epochs=False, more=more)


name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src")}
build = Path(__file__).resolve().parents[1] / "build"
folder = cats_dogs_png(build / "cats_dogs_png") if args.photos else digits_png(args.png_folder)
args.work = args.work or build / ("backbones_photos" if args.photos else "backbones")
print(f"machine: {machine()}; {'cats and dogs' if args.photos else 'digits'} as 32x32 PNGs from {folder}")


def accuracy_in_both_modes(run_dir: Path, sets: list[str]) -> dict[str, float]:
    """Val accuracy of best.keras in training mode (batches of the run's size) and inference mode."""
    import keras

    package(project, "models")  # registers the project's layers (ResNet50's ChannelsReversed) for loading
    config = package(project, "config").load_config(run_dir / "train_config.yaml")  # batch size as settled
    prepared = package(project, "data").prepare(config, run_dir)
    model = keras.models.load_model(run_dir / "checkpoints" / "best.keras")
    batch = config.data.batch_size
    # Shuffled: the val rows come in folder order, one class after another, and a batch of one
    # class would give training mode batch statistics that no training batch had.
    x, y = prepared.take(np.random.default_rng(0).permutation(prepared.indices["val"]))
    found = {}
    for mode in (True, False):
        right = 0
        for i in range(0, len(x), batch):
            out = keras.ops.convert_to_numpy(model(x[i:i + batch], training=mode))
            right += int(np.sum(out.argmax(axis=1) == y[i:i + batch]))
        found["training_mode" if mode else "inference_mode"] = right / len(y)
    return found


print("| model | train s | val acc, training mode | val acc, inference mode | test acc | T4 at train | B3 |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for family in [f.strip() for f in args.families.split(",") if f.strip()]:
    run_dir = args.work / family
    timing = run_dir / "benchmark_seconds.json"
    if not (args.reuse and timing.exists()):
        subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    sets = ["task=classification", "data.source=image_folder", f"data.location={folder}", "data.image_size=[32, 32]",
            f"model.builder={family}", *[s for s in args.extra.split(",") if s]]
    seconds = json.loads(timing.read_text()) if timing.exists() else {}
    for stage in [] if seconds else ["train", "evaluate"]:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", name, stage, "--run-dir", str(run_dir),
                               *[p for s in sets for p in ("--set", s)]], env=env, cwd=project, capture_output=True,
                              text=True, check=False)
        seconds[stage] = time.perf_counter() - start
        if done.returncode not in (0, 1):
            print(f"| {family} | {stage} exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]} |")
            break
    else:
        timing.write_text(json.dumps(seconds))
        modes = accuracy_in_both_modes(run_dir, sets)
        record = json.loads((run_dir / "evaluation.json").read_text())
        verdicts = {(v["id"], v["stage"]): v["status"] for v in json.loads((run_dir / "verdicts.json").read_text())}
        print(f"| {family} | {seconds['train']:.0f} | {modes['training_mode']:.3f} | {modes['inference_mode']:.3f} | "
              f"{record['scores']['test']['accuracy']:.3f} | {verdicts.get(('T4', 'train'))} | "
              f"{verdicts.get(('B3', 'evaluate'))} |", flush=True)
