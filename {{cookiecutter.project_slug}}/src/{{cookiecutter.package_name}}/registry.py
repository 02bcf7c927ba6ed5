"""Which function gives each recipe verdict, registered where that function is defined.

A check module marks the function that runs one recipe entry (recipe.py) with
`@registers(stage, id)`, in the manner of `keras_export`; a stage builds its context and calls
`run_checks(stage, context)`, which runs every entry of the stage in the recipe's order. A
runner only picks its arguments out of the context; the check functions keep plain
arguments, so that a test calls one with exactly what it plants.

Where each ID lives: `defined_in(stage, id)`, or `python -c "from <package> import registry"`
after importing the stage's modules. The inspect and check runners are in `checks/`, train's
in `schedule.py` (O1, O2), `resume.py` (O5), `checks/loss_trend.py` (T3) and `callbacks/`, tune's
in `tune.py` (O3).

This module imports nothing of the project but the recipe, so that every layer may register.
"""

from __future__ import annotations

from collections.abc import Callable

from . import recipe

Runner = Callable[..., object]  # (context) -> Verdict; the context's type is the stage's own
RUNNERS: dict[tuple[str, str], Runner] = {}


def registers(stage: str, check_id: str) -> Callable[[Runner], Runner]:
    """Marks `runner(context) -> Verdict` as the way `stage` gives verdict `check_id`.

    Args:
        stage: A stage of stages.py that lists `check_id` in recipe.py.
        check_id: The recipe ID (D1, T3, ...).

    Returns:
        A decorator that records the runner and returns it unchanged.
    """
    recipe.entry(check_id, stage)  # a runner for an entry the recipe does not declare is a mistake

    def register(runner: Runner) -> Runner:
        if (stage, check_id) in RUNNERS and RUNNERS[(stage, check_id)] is not runner:
            raise ValueError(f"{stage} {check_id} is registered twice: {RUNNERS[(stage, check_id)].__module__} and "
                             f"{runner.__module__}")
        RUNNERS[(stage, check_id)] = runner
        return runner

    return register


def defined_in(stage: str, check_id: str) -> str:
    """The module that registered the runner of `check_id` at `stage`."""
    return RUNNERS[(stage, check_id)].__module__


def run_checks(stage: str, context) -> list:
    """Every recipe check of `stage`, in the recipe's order.

    Args:
        stage: The stage's name.
        context: What its runners pick their arguments from (checks/context.py for `inspect`
            and `check`; each other stage defines its own), with an `earlier` list that each
            verdict joins as it is given.

    Returns:
        The verdicts, one per recipe entry of the stage.
    """
    missing = [c.id for c in recipe.for_stage(stage) if (stage, c.id) not in RUNNERS]
    if missing:  # a module that registers them was not imported
        raise LookupError(f"no runner registered for {stage} {', '.join(missing)}")
    found = []
    for check in recipe.for_stage(stage):
        found.append(RUNNERS[(stage, check.id)](context))
        context.earlier.append(found[-1])  # a later check may defer to an earlier one (T4 first)
    return found
