"""P2 on real image folders: each folder's own test split fed through `predict` must stay quiet,
and another folder's images (another kind of picture, resized to the model's input) must be
flagged as far from training.

For each folder (the digits as PNGs, dev; the held-out image folders of heldout_media.py): the
default `train` (the CNN, `model.weights` null), then `predict` on a folder holding copies of the
test split's files, then on every file of the next folder in the list. Prints P2's status, the
share of images scoring above 1 (1% expected on healthy images) and the median `ood_score`.

    python benchmarks/heldout_media.py --work build/audit_heldout        # the held-out folders, once
    python benchmarks/image_ood_audit.py --project /abs/path/to/project \\
        --media /abs/path/to/build/audit_heldout/heldout_media
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import digits_png, machine, package, project_from_args

FOLDERS = ["digits_png", "lfw_faces", "skimage_textures", "arcade_sprites"]


def more(parser):
    parser.add_argument("--media", type=Path, required=True, help="heldout_media.py's folder")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "image_ood")
    parser.add_argument("--extra", default="", help="comma-separated --set values for every train")


args, project = project_from_args(__doc__, epochs=False, more=more)
args.work.mkdir(parents=True, exist_ok=True)
name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
folders = {"digits_png": digits_png(args.work / "digits_png"),
           **{f: args.media / f for f in FOLDERS[1:]}}


def stage(*command: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", name, *command], cwd=project, capture_output=True, text=True,
                          check=False, env=os.environ | {"PYTHONPATH": str(project / "src")})  # this project's code
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command[:2])}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return done


def p2_of(run_dir: Path, images: Path, out: Path) -> tuple[str, float, float]:
    stage("predict", "--run", str(run_dir), "--out", str(out), str(images))
    p2 = next(v for v in json.loads((run_dir / "verdicts.json").read_text())
              if v["stage"] == "predict" and v["id"] == "P2")
    with out.open(newline="") as handle:
        scores = [float(row["ood_score"]) for row in csv.DictReader(handle)]
    return p2["status"], float(np.mean(np.array(scores) > 1)), float(np.median(scores))


print(f"machine: {machine()}; the default train on each folder, then predict")
print(f"{'trained on':18} {'test split: P2':>14} {'> 1':>6} {'median':>7}   {'fed':18} {'P2':>5} {'> 1':>6} "
      f"{'median':>7} {'train s':>8}")
for index, folder in enumerate(FOLDERS):
    start = time.perf_counter()
    run_dir = args.work / "runs" / folder
    shutil.rmtree(run_dir, ignore_errors=True)
    sets = ["task=classification", "data.source=image_folder", f"data.location={folders[folder]}",
            *[s for s in args.extra.split(",") if s]]
    stage("train", "--run-dir", str(run_dir), *[p for s in sets for p in ("--set", s)])
    seconds = time.perf_counter() - start
    prepared = package(project, "data").prepare(package(project, "config").load_config(None, sets), run_dir)
    test_copy = args.work / "test" / folder
    shutil.rmtree(test_copy, ignore_errors=True)
    test_copy.mkdir(parents=True)
    for row in prepared.indices["test"]:
        origin = Path(prepared.origin(int(row)))
        shutil.copyfile(origin, test_copy / f"{origin.parent.name}_{origin.name}")
    own = p2_of(run_dir, test_copy, args.work / f"{folder}_test.csv")
    other = FOLDERS[(index + 1) % len(FOLDERS)]
    fed = p2_of(run_dir, folders[other], args.work / f"{folder}_{other}.csv")
    print(f"{folder:18} {own[0]:>14} {own[1]:>6.3f} {own[2]:>7.2f}   {other:18} {fed[0]:>5} {fed[1]:>6.3f} "
          f"{fed[2]:>7.2f} {seconds:>8.0f}", flush=True)
