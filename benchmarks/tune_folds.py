"""Does scoring each trial by folds (`tune.folds`) pick configurations that score better on the
test split than scoring it on the one val split? On the held-out small tables (no choice about
tune.folds was made on them), over several seeds (the seed moves the split and the search):

    tune (tune.folds 1, then k) -> train --config best_config.yaml -> evaluate

each as a user runs them, and the test loss of the chosen configuration's training printed side
by side, with the ratio folds / split per table and seed and their geometric mean (a ratio below
1: folds chose better). Budgets are small (--trials, tune.epochs 10), the search the default one.

    python benchmarks/tune_folds.py --project /abs/path/to/project [--trials 5] [--folds 3] \\
        [--seeds 1,2] [--tables "Sacramento price,hepatic_injury class"]
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from common import machine, project_from_args

SMALL = ["Sacramento price", "pd_speech class", "hepatic_injury class", "permeability_qsar"]


def more(parser):
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--tables", default=",".join(SMALL))
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "tune_folds")


args, project = project_from_args(__doc__, epochs=False, more=more)
args.work.mkdir(parents=True, exist_ok=True)
name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
sys.argv = [sys.argv[0]]
from heldout_tables import HELDOUT


def stage(*command: str) -> None:
    done = subprocess.run([sys.executable, "-m", name, *command], cwd=project, capture_output=True, text=True,
                          check=False, env=os.environ | {"PYTHONPATH": str(project / "src")})  # this project's code
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command[:3])}: exit {done.returncode}\n{done.stderr[-2000:]}")


def chosen_test_loss(path: Path, label: str, task: str, seed: int, folds: int) -> tuple[float, float]:
    """(test loss of `train` with the search's best configuration, seconds of the whole)."""
    start = time.perf_counter()
    run_dir = args.work / "runs" / f"{path.stem}_{seed}_{folds}"
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    sets = [f"task={task}", "data.source=csv", f"data.location={path}", f"data.label_column={label}",
            "data.drop_invalid=true", f"seed={seed}", f"tune.max_trials={args.trials}", f"tune.folds={folds}"]
    stage("tune", "--run-dir", str(run_dir / "search"), *[p for s in sets for p in ("--set", s)])
    best = run_dir / "search" / "best_config.yaml"
    stage("train", "--config", str(best), "--run-dir", str(run_dir / "best"))
    stage("evaluate", "--config", str(best), "--run-dir", str(run_dir / "best"))
    scores = json.loads((run_dir / "best" / "evaluation.json").read_text())["scores"]["test"]
    loss = scores["loss"] if task != "regression" else math.sqrt(scores.get("mse", scores["loss"]))
    return float(loss), time.perf_counter() - start


print(f"machine: {machine()}; {args.trials} trials, tune.folds {args.folds} against 1, seeds {args.seeds}")
print(f"{'table':24} {'seed':>4} {'split: test':>11} {'folds: test':>11} {'ratio':>6} {'s split':>8} {'s folds':>8}")
ratios = []
for table in [t.strip() for t in args.tables.split(",") if t.strip()]:
    make, label, task, _ = HELDOUT[table]
    path = make(args.work)
    for seed in [int(s) for s in args.seeds.split(",")]:
        split, split_s = chosen_test_loss(path, label, task, seed, 1)
        folds, folds_s = chosen_test_loss(path, label, task, seed, args.folds)
        ratios.append(folds / split)
        print(f"{table:24} {seed:>4} {split:>11.4g} {folds:>11.4g} {folds / split:>6.3f} {split_s:>8.0f} "
              f"{folds_s:>8.0f}", flush=True)
better = sum(r < 1 for r in ratios)
mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
print(f"\nfolds / split, test loss (RMSE for regression): geometric mean {mean:.3f}; folds better on {better} of "
      f"{len(ratios)}")
