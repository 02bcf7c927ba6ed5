"""What the checks of `train` are a function of, once `fit` has returned. A leaf, so that the
modules that register them (schedule.py, resume.py, checks/, callbacks/) can all name it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import Config
from .verdicts import Verdict, verdict


@dataclass
class TrainContext:
    """One training run, measured.

    Args:
        config: The run's config.
        total_steps: The optimizer steps the run was planned for.
        rate: The learning rate or schedule its optimizer was given (schedule.Rate).
        epoch_losses: Every epoch's training loss, those before a resume included.
        watched: The verdicts the run's callbacks gave at its end (T4, T6-T12, O5), by ID.
        earlier: The verdicts given so far (registry.run_checks).
    """

    config: Config
    total_steps: int
    rate: object
    epoch_losses: list[float]
    watched: dict[str, Verdict] = field(default_factory=dict)
    earlier: list[Verdict] = field(default_factory=list)

    def watched_verdict(self, check_id: str, switch: str) -> Verdict:
        """The verdict a callback gave, or a skip that names the setting that switched it off."""
        if check_id in self.watched:
            return self.watched[check_id]
        return verdict(check_id, "skip", advice=f"not watched in this run ({switch} is off)")
