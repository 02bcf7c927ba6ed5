"""Write some of a run's test examples as new data, in the form `predict` takes, into the run's
`new_data/`, and print the path to give `predict`: the demo's stand-in for the files a user
brings later.

    python scripts/new_data.py RUN [COUNT]

A CSV-trained run gets a CSV of the file's own cells (label column included: predict ignores
columns the model does not use); an image-folder run a folder of copies of the image files; a
run on arrays a CSV of the feature columns (tables) or an .npz holding x (images).
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np

from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.rundir import RunFiles


def main(run: Path, count: int) -> Path:
    config = load_config(run / RunFiles.TRAIN_CONFIG, [])
    prepared = prepare(config, run)
    rows = prepared.indices["test"][:count]
    folder = run / RunFiles.NEW_DATA
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    if config.data.source == "csv":
        cells = prepared.raw_rows(rows)
        path = folder / "rows.csv"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(cells[0]))
            writer.writeheader()
            writer.writerows(cells)
        return path
    if config.data.source == "image_folder":
        for row in rows:
            origin = Path(prepared.origin(int(row)))
            shutil.copy(origin, folder / f"{origin.parent.name}_{origin.name}")
        return folder
    x, _ = prepared.take(rows)
    if prepared.kind == "tabular":
        names = prepared.feature_names or [f"feature {j}" for j in range(x.shape[1])]
        path = folder / "rows.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerows(x.tolist())
        return path
    path = folder / "x.npz"
    np.savez(path, x=x)
    return path


if __name__ == "__main__":
    print(main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 20))
