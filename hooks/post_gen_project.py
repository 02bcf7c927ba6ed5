"""Tidy the generated project and tell the user what to run next.

Runs inside the new project folder after cookiecutter has written it.
"""

import shutil
from pathlib import Path

CI = {{ cookiecutter.ci | tojson }}
SLUG = {{ cookiecutter.project_slug | tojson }}
LICENSE = {{ cookiecutter.license | tojson }}

if CI == "none":
    shutil.rmtree(Path(".github"), ignore_errors=True)
if LICENSE == "Proprietary":  # no licence text to grant: the file would be empty
    Path("LICENSE").unlink()

print(f"""
Created {SLUG}. Next steps:

    cd {SLUG}
    make install   # creates .venv and installs the project with its dev extras
    make demo      # runs every recipe stage on the data, into runs/demo
    make test      # the project's own tests
""")
