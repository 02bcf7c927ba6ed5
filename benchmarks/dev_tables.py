"""The dev set of tables: every table that has informed a default of the model (issue #35's
protocol; BENCHMARKS.md "Evidence: a dev set and a held-out set"). Public tables shipped with
packages, and four synthetic wide ones written once under the work folder.

    dev_tables(work) -> {name: (make_csv, label column, task, what makes it a test)}

make_csv() returns the CSV's path. tables.py and paired_projects.py score them; heldout_tables.py
holds the held-out set.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from public_tables import PublicTables


def dev_tables(work: Path) -> dict:
    """The dev tables, their files under `work` (written on first use)."""
    public = PublicTables(work)

    def synthetic_table(name: str, header: list[str], make) -> Path:
        """The CSV `name` under `work`, written once from make() -> (x, labels): x rounded to 4
        places, one label cell a row."""
        path = work / name
        if not path.exists():
            x, labels = make()
            with path.open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                writer.writerows([*np.round(row, 4), label] for row, label in zip(x, labels, strict=True))
        return path

    def wide_and_short() -> Path:
        """Issue #26's wide, short table: 200 rows x 500 columns, 10 of which carry the label."""
        def make():
            rng = np.random.default_rng(0)
            x = rng.normal(size=(200, 500))
            return x, (x[:, :10].sum(axis=1) + rng.normal(scale=1.0, size=200) > 0).astype(int)
        return synthetic_table("wide_200x500.csv", [*(f"x{j}" for j in range(500)), "label"], make)

    def wide_2000() -> Path:
        """Issue #37's wide table: 2,000 rows x 2,000 columns, 10 of which carry the label, built as
        `wide_and_short` (its 200 x 500 sibling) is; 1,400 training rows, 2,000 columns."""
        def make():
            rng = np.random.default_rng(3)
            x = rng.normal(size=(2000, 2000))
            return x, (x[:, :10].sum(axis=1) + rng.normal(scale=1.0, size=2000) > 0).astype(int)
        return synthetic_table("wide_2000x2000.csv", [*(f"x{j}" for j in range(2000)), "label"], make)

    def wide_correlated() -> Path:
        """A second wide, short table, built unlike the first (so that the first does not choose the
        default alone): 300 rows x 1,000 columns in 50 correlated blocks of 20 (each column its
        block's factor plus noise), the label a logistic draw from 5 of the factors."""
        def make():
            rng = np.random.default_rng(1)
            factors = rng.normal(size=(300, 50))
            x = np.repeat(factors, 20, axis=1) + rng.normal(scale=1.0, size=(300, 1000))
            logit = factors[:, :5] @ np.array([1.5, -1.0, 1.0, 0.8, -0.6])
            return x, (rng.random(300) < 1 / (1 + np.exp(-logit))).astype(int)
        return synthetic_table("wide_300x1000.csv", [*(f"g{j // 20}_{j % 20}" for j in range(1000)), "label"], make)

    def wide_regression() -> Path:
        """A wide, short regression table: 150 rows x 800 columns, the target a sum over 15 of them
        with weights from 0.5 to 2, plus noise of a quarter of its spread."""
        def make():
            rng = np.random.default_rng(2)
            x = rng.normal(size=(150, 800))
            signal = x[:, :15] @ (rng.uniform(0.5, 2.0, 15) * rng.choice([-1, 1], 15))
            y = signal + rng.normal(scale=0.25 * signal.std(), size=150)
            return x, [round(float(t), 4) for t in y]
        return synthetic_table("wide_150x800_regression.csv", [*(f"x{j}" for j in range(800)), "target"], make)

    # name: (csv, label column, task, what makes it a test). Every table here has informed a choice.
    DEV = {
        "iris": (lambda: public.sklearn_csv("iris"), "label", "classification", "150 rows"),
        "Cars93 Price": (lambda: public.r_csv("MASS/Cars93"), "Price", "regression",
                         "93 rows, Manufacturer of 32 levels, Min/Max.Price near copies"),
        "breast_cancer": (lambda: public.sklearn_csv("breast_cancer"), "label", "binary", "569 rows"),
        "wide 200x500": (wide_and_short, "label", "binary", "500 columns for 140 training rows"),
        "wide 2000x2000": (wide_2000, "label", "binary", "2,000 columns for 1,400 training rows"),
        "wide 300x1000 correlated": (wide_correlated, "label", "binary",
                                     "1,000 columns in 50 correlated blocks, for 210 training rows"),
        "wide 150x800 regression": (wide_regression, "target", "regression", "800 columns for 105 training rows"),
        "Boston medv": (lambda: public.r_csv("MASS/Boston"), "medv", "regression", "506 rows, a capped target"),
        "Housing price": (lambda: public.r_csv("Ecdat/Housing"), "price", "regression", "546 rows, skewed positive target"),
        "Computers price": (lambda: public.r_csv("Ecdat/Computers"), "price", "regression", "6,259 rows"),
        "BudgetFood wfood": (lambda: public.r_csv("Ecdat/BudgetFood"), "wfood", "regression", "23,972 rows"),
        "diamonds cut=Fair": (lambda: public.derived(public.r_csv("ggplot2/diamonds"), "fair.csv", "cut",
                                              lambda row: int(row["cut"] == "Fair")), "label", "binary",
                              "53,940 rows, 3% positives"),
        "diamonds price": (lambda: public.r_csv("ggplot2/diamonds"), "price", "regression",
                           "53,940 rows, skewed positive target"),
        "InstEval y": (lambda: public.r_csv("lme4/InstEval"), "y", "regression",
                       "73,421 ratings; student and lecturer as integer IDs (2,972 and 1,128 levels)"),
        "MNIST 5k digit": (public.mnist_5k, "digit", "classification", "5,000 rows x 784 pixel columns"),
        "flights late": (public.flights_late, "late", "binary",
                         "336,776 flights; dest of 105 levels, flight number as an integer ID, tail numbers"),
    }
    return DEV
