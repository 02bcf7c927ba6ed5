"""T8's per-layer comparison on healthy dev image runs: each layer's update-to-weight ratio
beside its fan-in.

Under Adam every weight moves by about the learning rate a step, so ||dW|| / ||W|| is about
lr / rms(W), and He initialisation sets rms(W) to sqrt(2 / fan_in): a layer's ratio grows as
sqrt(fan_in) by construction. A 3x3 convolution on one channel (fan-in 9) then sits far below a
dense layer of fan-in thousands, and T8's "a layer more than 10x off the median" flags a
healthy grayscale model. This script runs the project's `train` on dev image sets and prints,
for every kernel, its fan-in, its median ratio, and the ratio over sqrt(fan_in / 2), with the
spread of each (the largest over the smallest, the output layer left out as T8 leaves it out
on the high side) and T8's status as the project judged it.

    python benchmarks/update_ratio_audit.py --project build/dev/recipe-net --work build/t8_audit
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from common import cats_dogs_png, digits_png, machine

HERE = Path(__file__).resolve().parent


def subset(folder: Path, per_class: int, out: Path) -> Path:
    """The first `per_class` images of each class of an image folder (a small-data twin)."""
    if out.exists():
        return out
    for label in sorted(p for p in folder.iterdir() if p.is_dir()):
        (out / label.name).mkdir(parents=True)
        for image in sorted(label.iterdir())[:per_class]:
            shutil.copy(image, out / label.name / image.name)
    return out


def dev_sets(work: Path) -> dict[str, list[str]]:
    digits, cats_dogs = digits_png(work / "digits_png"), cats_dogs_png(work / "cats_dogs_png")
    folder = ["task=classification", "data.source=image_folder"]
    return {
        "digits (bundled, 8x8 grayscale)": ["task=classification", "data.source=digits"],
        "digits_png (grayscale, read at 64x64)": [*folder, f"data.location={digits}"],
        "digits_png, 20 a class (grayscale, 64x64)": [*folder, f"data.location={subset(digits, 20, work / 'digits_png_20')}"],
        "cats_dogs_png (RGB, read at 64x64)": [*folder, f"data.location={cats_dogs}"],
        # A backbone from scratch, shortened (a full run takes about 9 minutes here): depthwise
        # kernels (fan-in: the window), batch norms, squeeze-and-excite.
        "cats_dogs_png, MobileNetV3Small from scratch, 600 steps": [
            *folder, f"data.location={cats_dogs}", "model.builder=mobilenetv3small", "train.min_steps=600",
            "train.epochs=1"],
    }


def fan_ins(run_dir: Path, package: str, python: str, env: dict) -> dict[str, int]:
    """Layer name -> the fan-in of its kernel as Keras' initialisers count it (every axis but the
    last; T8's `callbacks.updates.fan_in`), read from the run's best.keras."""
    code = ("import json, math, keras\n"
            f"from {package}.callbacks.common import kernels, layer_name\n"
            f"m = keras.models.load_model({str(run_dir / 'checkpoints' / 'best.keras')!r}, compile=False)\n"
            "print(json.dumps({layer_name(v): math.prod(v.shape[:-1]) for v in kernels(m)}))\n")
    found = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(found.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--only", default="", help="prefixes of the sets' names, separated by ';'")
    args = parser.parse_args()
    project = args.project.resolve()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    package = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    print(machine())
    for name, sets in dev_sets(work).items():
        if args.only and not any(name.startswith(prefix) for prefix in args.only.split(";")):
            continue
        for seed in range(args.seeds):
            run_dir = work / "runs" / f"{name.split()[0]}_{abs(hash(name)) % 10_000}_{seed}"
            shutil.rmtree(run_dir, ignore_errors=True)
            command = [sys.executable, "-m", package, "train", "--run-dir", str(run_dir), "--set", f"seed={seed}",
                       *[part for s in sets for part in ("--set", s)]]
            subprocess.run(command, cwd=project, env=env, capture_output=True, check=False)
            verdicts = json.loads((run_dir / "verdicts.json").read_text())
            t8 = next(v for v in verdicts if v["id"] == "T8")
            fans = fan_ins(run_dir, package, sys.executable, env)
            ratios = t8["measured"]["per_layer"]
            print(f"\n{name}, seed {seed}: T8 {t8['status']} ({t8.get('advice') or 'no advice'}); judged "
                  f"{t8['measured']['measurements']} measurements, "
                  f"{t8['measured'].get('not_judged_fitted', 0)} after the model fit its batches not")
            print(f"  {'layer':<44} {'fan-in':>7} {'ratio':>10} {'/ sqrt(fan_in/2)':>17}")
            scaled = {}
            for layer, ratio in ratios.items():
                scaled[layer] = ratio / math.sqrt(fans[layer] / 2)
                print(f"  {layer:<44} {fans[layer]:>7,} {ratio:>10.3g} {scaled[layer]:>17.3g}")
            for label, values in (("raw ratios", ratios), ("over sqrt(fan_in / 2)", scaled)):
                middle = statistics.median(values.values())
                flagged = [k for k, v in values.items() if v < middle / 10 or (v > middle * 10 and k != list(values)[-1])]
                print(f"  10x off the median ({middle:.3g}) on {label}: {', '.join(flagged) or 'none'}")
            body = [layer for layer in ratios if layer != list(ratios)[-1]]  # the output layer left out
            if len(body) > 1:
                raw = max(ratios[k] for k in body) / min(ratios[k] for k in body)
                even = max(scaled[k] for k in body) / min(scaled[k] for k in body)
                print(f"  spread without the output layer: raw {raw:.1f}x, over sqrt(fan_in / 2) {even:.1f}x")


if __name__ == "__main__":
    main()
