"""Install the generated project's dependencies into the current environment.

They are declared once, in the template's pyproject.toml; this renders it with the
default answers and installs what it lists (with the dev extra), so that the template's
tests and `make demo` share one install of TensorFlow.
"""

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]

with tempfile.TemporaryDirectory() as out:
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=out))
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
requirements = meta["dependencies"] + meta["optional-dependencies"]["dev"]
subprocess.run([sys.executable, "-m", "pip", "install", "-q", *requirements], check=True)
