"""`python -m {{ cookiecutter.package_name }}`: the same CLI as the console script."""

from .cli import main

raise SystemExit(main())
