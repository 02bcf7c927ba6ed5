"""`{{ cookiecutter.project_slug }} inspect | check | train | evaluate | tune | report | predict`.

Each stage reads the config, writes into one run folder and exits 1 when a verdict
fails, 2 on a mistake the user can fix (with one line that says what and where).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .config import Config, load_config
from .errors import UserError
from .recipe import for_stage, id_ranges
from .rundir import RunFiles, latest_run_dir, new_run_dir_path, open_run_dir
from .stages import HELP
from .storage import is_url
from .verdicts import Verdict, any_failed, write_verdicts

DEFAULT_CONFIG = Path("configs/default.yaml")

STAGES = HELP  # stage name -> its help line (stages.py)


def _inspect(config: Config, run_dir: Path) -> list[Verdict]:
    from .checks.context import Context  # the checks package: every runner registered
    from .data import prepare
    from .registry import run_checks

    return run_checks("inspect", Context(config, prepare(config, run_dir), run_dir))


def _check(config: Config, run_dir: Path, lr_find: bool = False) -> list[Verdict]:
    from .checks.context import Context  # the checks package: every runner registered
    from .data import prepare
    from .registry import run_checks
    from .runtime import seed_everything

    prepared = prepare(config, run_dir)
    seed_everything(config.seed)
    return run_checks("check", Context(config, prepared, run_dir, lr_find=lr_find))


def _train(config: Config, run_dir: Path) -> list[Verdict] | None:
    from .distribute import is_chief, strategy_for

    strategy = strategy_for(config)  # first: multi_worker must set TensorFlow up before anything runs
    from .data import prepare
    from .train import train

    verdicts = train(config, prepare(config, run_dir), run_dir, strategy)
    return verdicts if is_chief(strategy) else None  # the other workers: the chief writes the verdicts


def _evaluate(config: Config, run_dir: Path, ensemble: int = 0) -> list[Verdict]:
    from .data import prepare
    from .evaluate import evaluate, score_lines

    verdicts = evaluate(prepare(config, run_dir), run_dir, config, ensemble)
    print("\n".join(score_lines(json.loads((run_dir / RunFiles.EVALUATION).read_text()))))
    return verdicts


def _tune(config: Config, run_dir: Path) -> list[Verdict] | None:
    from .data import prepare
    from .tune import tune

    return tune(config, prepare(config, run_dir), run_dir)


def _report(config: Config, run_dir: Path) -> list[Verdict]:
    from .report import write_report

    report = write_report(run_dir)
    print(report.table)
    print(f"\nreport: {report.page}")
    print(f"tensorboard: tensorboard --logdir {report.tensorboard.parent}  (the report is in its Text and Images tabs)")
    return report.verdicts


RUNNERS: dict[str, Callable[..., list[Verdict] | None]] = {
    "inspect": _inspect, "check": _check, "train": _train,
    "evaluate": _evaluate, "tune": _tune, "report": _report,
}
# Stages that read what an earlier stage left: by default they use the newest run folder.
READS_EARLIER_RUN = {"evaluate": RunFiles.BEST_MODEL, "report": RunFiles.VERDICTS,
                     "predict": f"{RunFiles.EXPORT}/predict.json"}


def _stage_help(name: str, help_text: str) -> str:
    ids = id_ranges(name)
    return f"{ids}: {help_text}" if ids else help_text


def _stage_description(name: str, help_text: str) -> str:
    """The stage's purpose, then every check it gives a verdict on (recipe.py)."""
    checks = for_stage(name)
    if not checks:
        return help_text
    width = max(len(c.id) for c in checks)
    return "\n".join([help_text[0].upper() + help_text[1:] + ".", "", "verdicts:",
                      *(f"  {c.id:<{width}}  {c.title}" for c in checks)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="{{ cookiecutter.project_slug }}", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, help_text in STAGES.items():
        stage = sub.add_parser(name, help=_stage_help(name, help_text), description=_stage_description(name, help_text),
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        stage.add_argument("--config", type=Path, default=None,
                           help=f"YAML config (default: {DEFAULT_CONFIG} if present, else built-in defaults)")
        stage.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                           help="override one config value, e.g. --set train.epochs=3 (repeatable)")
        default_dir = (f"the newest run folder under runs/ with {READS_EARLIER_RUN[name]}"
                       if name in READS_EARLIER_RUN else "a new folder under runs/")
        stage.add_argument("--run-dir", "--run", default=None,
                           help=f"run folder, a path or an s3:// or gs:// URL (default: {default_dir})")
        stage.add_argument("--verbose", action="store_true",
                           help="keep TensorFlow's start-up log lines (hidden by default)")
        if name == "evaluate":
            stage.add_argument("--ensemble", type=int, default=0, metavar="K",
                               help="O4: also average the best K trials of the run's `tune` search and report "
                               "the gain over the best single trial on val")
        if name == "predict":
            stage.add_argument("input", metavar="INPUT",
                               help="a CSV file, an image folder or file, or an .npz with an array x; a path "
                               "or an s3:// or gs:// URL")
            stage.add_argument("--out", default=None,
                               help="where to write the predictions, a path or a URL (default: RUN/predictions.csv)")
            stage.add_argument("--strict", action="store_true",
                               help="P1: new rows unlike the training rows fail (exit 1) instead of warning")
        if name == "check":
            stage.add_argument("--lr-find", action="store_true",
                               help="T10: also sweep the learning rate over check.lr_find_steps steps and "
                               "suggest one (the model's weights are put back afterwards)")
    return parser


def run_stage(stage: str, config: Config, run_dir: Path, **options) -> int:
    started = time.monotonic()
    with open_run_dir(run_dir):
        verdicts = RUNNERS[stage](config, run_dir, **options)
        if verdicts is None:  # a worker of a distributed search or training: the chief reports
            print(f"worker done; the chief writes the verdicts into {run_dir}")
            return 0
        if stage != "report":
            path = write_verdicts(run_dir, stage, verdicts)
            from .report import terminal_table

            print(terminal_table(verdicts))
            print(f"\nverdicts: {path}")
    print(f"run folder: {run_dir}")
    print(f"{stage} took {time.monotonic() - started:.1f} s")
    return 1 if any_failed(verdicts) else 0


def _config_path(args: argparse.Namespace, run_dir: Path) -> Path | None:
    """--config if given; `evaluate` then prefers the config its model was trained with, so
    that it scores the same split; otherwise configs/default.yaml, or the built-in defaults."""
    if args.config is not None:
        return args.config
    trained_with = run_dir / RunFiles.TRAIN_CONFIG
    if args.stage == "evaluate" and trained_with.exists():
        return trained_with
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        from .quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
    try:
        if args.run_dir is not None and is_url(args.run_dir):
            from .bucket_runs import run_dir_in_bucket

            with run_dir_in_bucket(args.run_dir) as run_dir:
                code = _run(args, run_dir)
            print(f"run folder in the bucket: {args.run_dir}")
            return code
        if args.run_dir is not None:
            run_dir = Path(args.run_dir)
        elif args.stage in READS_EARLIER_RUN:
            run_dir = latest_run_dir(containing=READS_EARLIER_RUN[args.stage])
        else:
            run_dir = new_run_dir_path(args.stage)
        return _run(args, run_dir)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, run_dir: Path) -> int:
    """The stage the command line asked for, in `run_dir` (a local folder)."""
    if args.stage == "predict":
        from .predict import predict

        path, verdicts = predict(run_dir, args.input, args.out, args.strict)
        from .report import terminal_table

        print(terminal_table(verdicts))
        print(f"\nverdicts: {write_verdicts(run_dir, 'predict', verdicts)}")
        print(f"predictions: {path}")
        return 1 if any_failed(verdicts) else 0
    config = load_config(_config_path(args, run_dir), args.overrides)
    options = ({"ensemble": args.ensemble} if args.stage == "evaluate"
               else {"lr_find": args.lr_find} if args.stage == "check" else {})
    return run_stage(args.stage, config, run_dir, **options)


if __name__ == "__main__":
    raise SystemExit(main())
