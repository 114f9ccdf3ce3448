"""``nlpfootprint demo``: train a small numpy language model under the tracker."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nlpfootprint.checks import MAX_COUNT, interval_value
from nlpfootprint.commands import add_accounting_options, checked, count_arg, positive_arg
from nlpfootprint.errors import ConfigurationError

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``demo`` command."""
    demo: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="train a small numpy language model under the tracker and print the report",
        description="Train a character-level MLP language model on the Python standard "
        "library's docstrings, in numpy, under track_energy(meters='auto'), and print the "
        "loss going down and the energy report. Needs no GPU and no network.",
    )
    demo.add_argument(
        "--seconds", type=positive_arg("seconds"), default=20.0, help="training time (default 20)"
    )
    demo.add_argument(
        "--steps",
        type=count_arg("steps", minimum=1, maximum=MAX_COUNT),
        default=None,
        help="stop after this many steps",
    )
    demo.add_argument(
        "--seed", type=count_arg("seed"), default=0, help="random seed, >= 0 (default 0)"
    )
    demo.add_argument(
        "--interval-s",
        type=checked(interval_value),
        default=0.5,
        help="sampling interval in seconds (default 0.5)",
    )
    demo.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    demo.add_argument(
        "--log",
        type=Path,
        default=Path("nlpfootprint-demo.jsonl"),
        help="the run log to write (default: nlpfootprint-demo.jsonl); --log '' for none",
    )
    add_accounting_options(demo)
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train, print, and write the JSON if asked."""
    from nlpfootprint.demo import run_demo

    log = args.log if args.log and str(args.log) not in ("", ".") else None
    for option, path in (("--json", args.json), ("--log", log)):
        if path is not None and not path.resolve().parent.is_dir():
            raise ConfigurationError(
                f"{option} {path}: the folder {path.resolve().parent} does not exist"
            )
    result = run_demo(
        seconds=args.seconds,
        max_steps=args.steps,
        seed=args.seed,
        interval_s=args.interval_s,
        pue=args.pue,
        carbon_intensity=args.carbon_intensity,
        price_per_kwh=args.price_per_kwh,
        log=log,
    )
    if args.json is not None:
        try:
            args.json.write_text(result.report.to_json() + "\n", encoding="utf-8")
        except OSError as err:
            raise ConfigurationError(f"--json {args.json}: cannot write it: {err}") from err
        print(f"\nreport written to {args.json}")
    if log is not None:
        print(
            f"\nrun log written to {log}. Re-account it without re-running, e.g. for a French "
            f"grid and a paper:\n  nlpfootprint report {log} --carbon-intensity FRA "
            f"--pue 1.1 --format latex\nand plot it (pip install 'nlpfootprint[plot]'):\n"
            f"  nlpfootprint report {log} --plot demo-power.png"
        )
    return 0
