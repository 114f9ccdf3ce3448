"""The ``nlpfootprint`` command.

Subcommands:
    demo    train a small numpy language model under the tracker and print the report
    meters  list the meters this machine offers, and why the others are not used

Errors from bad arguments print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nlpfootprint import __version__
from nlpfootprint.errors import ConfigurationError, NlpFootprintError

__all__ = ["build_parser", "main"]


def _add_accounting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pue", type=float, default=1.58, help="data-centre PUE (default: 1.58, the paper's)"
    )
    parser.add_argument(
        "--carbon-intensity",
        default=None,
        metavar="G_PER_KWH|KEY",
        help="grid carbon intensity in g CO2e/kWh, or a preset key (world, strubell2019); "
        "default: the world average",
    )
    parser.add_argument(
        "--price-per-kwh", type=float, default=None, help="electricity price per kWh (USD)"
    )


def _intensity_arg(text: str | None) -> float | str | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="nlpfootprint",
        description="Measure the energy, CO2e and cost of training runs.",
    )
    parser.add_argument("--version", action="version", version=f"nlpfootprint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="train a small numpy language model under the tracker and print the report",
        description="Train a character-level MLP language model on the Python standard "
        "library's docstrings, in numpy, under track_energy(meters='auto'), and print the "
        "loss going down and the energy report. Needs no GPU and no network.",
    )
    demo.add_argument("--seconds", type=float, default=20.0, help="training time (default 20)")
    demo.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--interval-s", type=float, default=0.5, help="sampling interval (default 0.5)"
    )
    demo.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    _add_accounting_options(demo)

    meters = sub.add_parser(
        "meters",
        help="list the meters this machine offers, and why the others are not used",
        description="Detect NVIDIA GPUs (NVML), CPU packages and DRAM (RAPL), and the "
        "estimates used where nothing can be measured; print what would be measured, how, "
        "and why each backend not used was skipped.",
    )
    meters.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _run_meters(args: argparse.Namespace) -> int:
    import json

    from nlpfootprint.meters.discovery import detect

    detection = detect()
    try:
        if args.json:
            print(json.dumps(detection.to_dict(), indent=2))
            return 0
        print("nlpfootprint meters: what this machine can measure\n")
        for entry in detection.to_dict()["backends"]:
            if entry["status"] == "used":
                print(f"  {entry['backend']:<15} used")
                for c in entry["channels"]:
                    print(f"      {c['id']:<8} {c['source']:<10} {c['label']}")
            else:
                print(f"  {entry['backend']:<15} not used: {entry['reason']}")
        for note in detection.notes:
            print(f"  note: {note}")
        estimated = [
            c["id"]
            for e in detection.to_dict()["backends"]
            if e["status"] == "used"
            for c in e["channels"]
            if c["source"] == "estimated"
        ]
        if estimated:
            print(
                f"\n{', '.join(estimated)}: ESTIMATED, not measured; reports say so. "
                "Fix a reason above to measure instead."
            )
    finally:
        detection.close()
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from nlpfootprint.demo import run_demo

    if args.json is not None and not args.json.resolve().parent.is_dir():
        raise ConfigurationError(
            f"--json {args.json}: the folder {args.json.resolve().parent} does not exist"
        )

    result = run_demo(
        seconds=args.seconds,
        max_steps=args.steps,
        seed=args.seed,
        interval_s=args.interval_s,
        pue=args.pue,
        carbon_intensity=_intensity_arg(args.carbon_intensity),
        price_per_kwh=args.price_per_kwh,
    )
    if args.json is not None:
        try:
            args.json.write_text(result.report.to_json() + "\n", encoding="utf-8")
        except OSError as err:
            raise ConfigurationError(f"--json {args.json}: cannot write it: {err}") from err
        print(f"\nreport written to {args.json}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "demo":
            return _run_demo(args)
        if args.command == "meters":
            return _run_meters(args)
    except NlpFootprintError as err:
        print(f"nlpfootprint {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nlpfootprint {args.command}: interrupted", file=sys.stderr)
        return 130
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse rejects others
