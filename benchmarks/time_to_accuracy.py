"""Does the default model beat the simple baselines out of the box, and what does the project's
`train` cost over a bare `model.fit` that reaches the same val loss?

    python benchmarks/time_to_accuracy.py [--project PATH] [--png-folder DIR]

For each dataset: the test score of the default `train` (then `evaluate`), scikit-learn
references fitted on the same training split and scored on the same test split (logistic or
linear regression on standardised inputs, and histogram gradient boosting), the wall time of the
`train` process, and the seconds a bare `model.fit` of the same architecture needs, epoch by
epoch, to reach the val loss `train` ended with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import digits_png, machine, package, project_from_args, stage_config


def more(parser):
    parser.add_argument("--png-folder", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "digits_png")


args, project = project_from_args(__doc__, epochs=False, more=more)
name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src")}


def stage(stage_name: str, run_dir: Path, sets: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", name, stage_name, "--run-dir", str(run_dir),
                    *[p for s in sets for p in ("--set", s)]], env=env, cwd=project, capture_output=True, check=False)
    return time.perf_counter() - start


def references(prepared) -> dict[str, float]:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, y_train = prepared.take(prepared.indices["train"])
    x_test, y_test = prepared.take(prepared.indices["test"])
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    if prepared.task == "regression":
        models = {"linear": make_pipeline(StandardScaler(), LinearRegression()),
                  "boosting": HistGradientBoostingRegressor(random_state=0)}
        return {k: float(np.mean((m.fit(x_train, y_train).predict(x_test) - y_test) ** 2)) for k, m in models.items()}
    models = {"logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
              "boosting": HistGradientBoostingClassifier(random_state=0)}
    return {k: float(np.mean(m.fit(x_train, y_train).predict(x_test) == y_test)) for k, m in models.items()}


def bare_fit_seconds(config, prepared, target_val_loss: float, limit_epochs: int) -> tuple[float, int]:
    """Seconds of epochs of a bare fit of the same model until its val loss reaches the target."""
    import keras

    pipeline = package(project, "data.pipeline")
    models = package(project, "models")
    keras.utils.set_random_seed(config.seed)
    model = models.compile_model(models.build_model(config, prepared), config)
    train, val = pipeline.train_datasets(config, prepared, for_fit=True)
    spent = 0.0
    for epoch in range(1, limit_epochs + 1):
        start = time.perf_counter()
        history = model.fit(train, validation_data=val, epochs=1, verbose=0)
        spent += time.perf_counter() - start
        if history.history["val_loss"][-1] <= target_val_loss:
            return spent, epoch
    return spent, limit_epochs


DATASETS = {
    "digits": ["task=classification", "data.source=digits", "model.builder=auto"],
    "digits as 32x32 PNGs": ["task=classification", "data.source=image_folder", "model.builder=auto",
                             f"data.location={digits_png(args.png_folder)}", "data.image_size=[32, 32]"],
    "breast_cancer": ["task=binary", "data.source=breast_cancer", "model.builder=auto"],
    "diabetes": ["task=regression", "data.source=diabetes", "model.builder=auto"],
}

print(f"machine: {machine()}")
config_mod, data_mod, schedule = package(project, "config"), package(project, "data"), package(project, "schedule")
for label, sets in DATASETS.items():
    run_dir = project / "runs" / f"time_to_accuracy_{label.split()[0]}"
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    stage("check", run_dir, sets)
    seconds = stage("train", run_dir, sets)
    stage("evaluate", run_dir, sets)
    scores = json.loads((run_dir / "evaluation.json").read_text())["scores"]
    verdicts = {(v["id"], v["stage"]): v["status"] for v in json.loads((run_dir / "verdicts.json").read_text())}
    config = config_mod.load_config(None, sets)
    prepared = data_mod.prepare(config, run_dir)
    config = stage_config(project, config, prepared)
    reference = references(prepared)
    epochs = schedule.planned_epochs(config, prepared.size("train"), config.data.batch_size)
    bare, bare_epochs = bare_fit_seconds(config, prepared, scores["val"]["loss"], epochs)
    metric = "mse" if config.task == "regression" else "accuracy"
    ours = scores["test"]["loss" if config.task == "regression" else "accuracy"]
    print(f"{label:22} test {metric} {ours:.4g} | sklearn {', '.join(f'{k} {v:.4g}' for k, v in reference.items())}"
          f" | train {seconds:.1f} s ({epochs} epochs) | bare fit to the same val loss {bare:.1f} s ({bare_epochs} "
          f"epochs) | B1 {verdicts.get(('B1', 'evaluate'))}, B2 {verdicts.get(('B2', 'check'))}, "
          f"B3 {verdicts.get(('B3', 'evaluate'))}", flush=True)
