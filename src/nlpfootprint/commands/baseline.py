"""``nlpfootprint baseline``: measure this machine's idle power, per channel, and save it.

The meters are found as for every command (``meters="auto"``; ``NLPFOOTPRINT_DISABLE``
applies) and read for ``--seconds``; each channel's mean power is its idle power. The
file ``--out`` writes is what ``track_energy(baseline=FILE)``, ``nlpfootprint run
--baseline FILE`` and ``nlpfootprint report LOG --baseline FILE`` read. The flag helpers
here are the other commands' ``--baseline`` too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nlpfootprint.checks import interval_value
from nlpfootprint.commands import checked
from nlpfootprint.errors import ConfigurationError, NlpFootprintError

if TYPE_CHECKING:
    from nlpfootprint.idle import Baseline

__all__ = ["baseline_file_arg", "baseline_s_arg", "measure_or_file_arg", "register", "run"]


def baseline_s_arg(text: str) -> float:
    """``--seconds``/``--baseline-s``: more than 0, at most an hour."""
    from nlpfootprint.baseline import baseline_seconds

    return checked(lambda value: baseline_seconds(value, "seconds"))(text)


def baseline_file_arg(text: str) -> Baseline:
    """``--baseline FILE``: a baseline file or a run log, read here (a bad one is a usage
    error in one line)."""
    from nlpfootprint.baseline import load_baseline

    if text == "measure":
        raise argparse.ArgumentTypeError(
            "'measure': a logged run's idle power cannot be measured afterwards; give a "
            "baseline file (nlpfootprint baseline --out FILE) or the run log of an idle run"
        )
    try:
        return load_baseline(text, name="baseline")
    except NlpFootprintError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def measure_or_file_arg(text: str) -> Baseline | Literal["measure"]:
    """``--baseline measure|FILE``: ``measure`` (before the command starts), or a file."""
    return "measure" if text == "measure" else baseline_file_arg(text)


def register(sub: Any) -> None:
    """Add the ``baseline`` command."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "baseline",
        help="measure this machine's idle power per channel, for dynamic energy",
        description="Read this machine's meters (as 'nlpfootprint meters' lists them) for "
        "--seconds while it is idle, and print or save each channel's mean power: the idle "
        "baseline that a run's dynamic energy is counted above (track_energy(baseline=FILE), "
        "nlpfootprint run --baseline FILE, nlpfootprint report LOG --baseline FILE). Leave "
        "the machine idle meanwhile.",
    )
    parser.add_argument(
        "--seconds",
        type=baseline_s_arg,
        default=5.0,
        help="how long to measure, more than 0 and at most 3600 (default 5)",
    )
    parser.add_argument(
        "--interval-s",
        type=checked(interval_value),
        default=None,
        help="seconds between readings (default: a tenth of --seconds, at most 1)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="FILE", help="write the baseline file here"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the baseline file's JSON instead of a table"
    )
    parser.set_defaults(run=run)


def _table(baseline: Baseline) -> str:
    from nlpfootprint.units import format_duration

    over = format_duration(baseline.seconds or 0.0)
    lines = [f"nlpfootprint baseline: each channel's mean power over {over} (idle power)", ""]
    lines += [f"  {cid:<12} {watts:10.2f} W" for cid, watts in baseline.power_w.items()]
    lines += ["  " + "-" * 25, f"  {'total':<12} {baseline.total_w:10.2f} W"]
    lines += [f"  ! {w}" for w in baseline.warnings]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Measure, print, and write the file if asked."""
    from nlpfootprint.baseline import baseline_json, measure_baseline
    from nlpfootprint.render.common import printable

    out: Path | None = args.out
    if out is not None and not out.resolve().parent.is_dir():
        raise ConfigurationError(f"--out {out}: the folder {out.resolve().parent} does not exist")
    baseline = measure_baseline("auto", args.seconds, interval_s=args.interval_s)
    text = baseline_json(baseline)
    if out is not None:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as err:
            raise ConfigurationError(f"--out {out}: cannot write it: {err}") from err
    print(text.rstrip("\n") if args.json else printable(_table(baseline), keep="\n"))
    if out is not None:
        print(
            f"baseline written to {out}; use it: track_energy(baseline={str(out)!r}), "
            f"nlpfootprint run --baseline {out} -- ..., nlpfootprint report LOG --baseline {out}",
            file=sys.stderr,
        )
    return 0
