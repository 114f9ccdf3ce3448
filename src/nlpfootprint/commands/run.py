"""``nlpfootprint run -- COMMAND ...``: measure the machine while a command runs.

The command runs as a child process with this process's standard streams. The machine's
meters are read the whole time (``meters="auto"``), the readings go to a run log, and the
report is printed to standard error at the end, so the child's standard output stays
clean for pipes. The exit status is the child's (128 + N when a signal N ended it).

Signals: SIGTERM (and SIGHUP) sent to ``nlpfootprint run`` -- what a cluster scheduler
sends at a time limit -- is forwarded to the child, which gets the chance to save and exit;
the log and report are completed after it ends. SIGINT: from a terminal, Ctrl-C already
reaches the child (it shares the terminal's foreground process group), so it is not sent a
second time; without a terminal (the child then runs in its own process group), SIGINT is
forwarded too.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from nlpfootprint.checks import interval_value, log_flush_value
from nlpfootprint.commands import (
    add_accounting_options,
    add_series_fallback,
    checked,
    with_series_fallback,
)
from nlpfootprint.commands.baseline import baseline_s_arg, measure_or_file_arg
from nlpfootprint.errors import ConfigurationError

__all__ = ["register", "run"]

log = logging.getLogger("nlpfootprint")

#: Signals passed on to the child (SIGHUP does not exist on Windows).
_FORWARDED = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


def _in_terminal_foreground() -> bool:
    """True when this process is in the foreground of the terminal on standard input.

    Then Ctrl-C reaches the child directly (same process group), so SIGINT is not
    forwarded; otherwise the child gets its own process group and every signal is passed on.
    """
    if not hasattr(os, "tcgetpgrp"):  # pragma: no cover - Windows has no process groups
        return sys.stdin.isatty()
    try:
        return sys.stdin.isatty() and os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except OSError:
        return False


def register(sub: Any) -> None:
    """Add the ``run`` command."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run a command and measure the machine's energy while it runs",
        description="Run COMMAND as a child process, measure the machine's meters while it "
        "runs, write a run log, forward SIGTERM/SIGHUP (and SIGINT without a terminal) to "
        "it, print the report to stderr and exit with its exit status.",
        usage="nlpfootprint run [options] -- COMMAND [ARG ...]",
    )
    parser.add_argument(
        "--log",
        type=Path,
        default=None,
        help="run log to write (JSONL; .gz compresses); default: nlpfootprint-<time>.jsonl",
    )
    parser.add_argument(
        "--interval-s",
        type=checked(interval_value),
        default=1.0,
        help="sampling interval in seconds, 0.0001 to 86400 (default 1)",
    )
    parser.add_argument(
        "--log-flush-s",
        type=checked(log_flush_value),
        default=2.0,
        help="flush the log at least this often, in seconds, 0 to 86400 (default 2)",
    )
    parser.add_argument("--name", default=None, help="a name for the report")
    parser.add_argument(
        "--cpu-scope",
        choices=("machine", "process"),
        default="machine",
        help="where the CPU is estimated (no RAPL): machine (every process's load, default: "
        "a dedicated node) or process (the command's own process tree: a shared machine)",
    )
    parser.add_argument(
        "--gpu-scope",
        choices=("machine", "process"),
        default="machine",
        help="where NVIDIA GPUs are measured: machine (each GPU's whole energy, default) or "
        "process (the command's share of each, by SM utilisation, else memory: shared GPUs)",
    )
    parser.add_argument(
        "--cpu-tdp",
        type=float,
        default=None,
        dest="cpu_tdp_w",
        metavar="W",
        help="the CPU package's TDP in watts for that estimate (default: from the CPU model); "
        "on a VM whose share of the package is known, the share of this TDP is charged",
    )
    parser.add_argument(
        "--no-status", action="store_true", help="no live status line, even on a terminal"
    )
    parser.add_argument(
        "--baseline",
        type=measure_or_file_arg,
        default=None,
        metavar="measure|FILE",
        help="report dynamic energy above an idle baseline too: 'measure' reads the meters "
        "for --baseline-s seconds before the command starts (it waits that long), or FILE "
        "(nlpfootprint baseline --out FILE, or a run log of an idle run)",
    )
    parser.add_argument(
        "--baseline-s",
        type=baseline_s_arg,
        default=None,
        metavar="S",
        help="how long --baseline measure measures, more than 0 and at most 3600 (default 5)",
    )
    add_accounting_options(parser)
    add_series_fallback(parser)
    parser.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="COMMAND", help="the command to run"
    )
    parser.set_defaults(run=run)


def _status_line(tracker: Any, started: float) -> str:
    report = tracker.snapshot(read=False)  # reads no meter: the schedule stays the tracker's
    power = " ".join(f"{d} {w:.0f} W" for d, w in sorted(report.mean_power_w.items()))
    return (
        f"\r[nlpfootprint] {time.monotonic() - started:7.0f} s | mean {power} | "
        f"{report.energy_kwh:.4f} kWh | {report.co2e_kg * 1000:.1f} g CO2e "
    )


class _Status(threading.Thread):
    """Rewrites one status line on the terminal every second until stopped."""

    def __init__(self, tracker: Any) -> None:
        super().__init__(name="nlpfootprint-status", daemon=True)
        self.tracker = tracker
        self.done = threading.Event()
        self.started_at = time.monotonic()

    def run(self) -> None:
        while not self.done.wait(1.0):
            if not self.tracker.running:
                return
            try:
                sys.stderr.write(_status_line(self.tracker, self.started_at))
                sys.stderr.flush()
            except Exception as err:  # a status line is never worth failing the run
                log.warning("nlpfootprint run: the status line stopped: %r", err)
                return

    def stop(self) -> None:
        self.done.set()
        self.join()  # it reads no meter, so it ends within one write
        sys.stderr.write("\n")


def run(args: argparse.Namespace) -> int:
    """Run the child under the tracker; return its exit status."""
    import nlpfootprint as nf

    command = _command(args.argv)
    program = shutil.which(command[0])
    if program is None:  # as a shell would: nothing measured, nothing logged
        known = os.path.exists(command[0])
        print(
            f"nlpfootprint run: {command[0]}: "
            f"{'permission denied' if known else 'command not found'}",
            file=sys.stderr,
        )
        return 126 if known else 127
    log_path = args.log or Path(f"nlpfootprint-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    interactive = _in_terminal_foreground()
    tracker = nf.track_energy(
        interval_s=args.interval_s,
        pue=args.pue,
        carbon_intensity=with_series_fallback(args.carbon_intensity, args.series_fallback),
        price_per_kwh=args.price_per_kwh,
        name=args.name or " ".join(" ".join(command).split()),
        log=log_path,
        log_flush_s=args.log_flush_s,
        log_command=command,
        # it measures the machine around a command (one per node under srun), and is no
        # rank itself, whatever SLURM_PROCID says
        distributed=None,
        cpu_scope=args.cpu_scope,
        cpu_tdp_w=args.cpu_tdp_w,
        gpu_scope=args.gpu_scope,
        baseline=args.baseline,
        **({} if args.baseline_s is None else {"baseline_s": args.baseline_s}),
    )
    returncode = _run_child(tracker, command, interactive=interactive, no_status=args.no_status)
    report = tracker.report
    try:  # the command's status is what a scheduler must see, even with stderr gone
        print(f"\n{report}\n\nrun log: {log_path}", file=sys.stderr)
        print(
            f"re-account it later: nlpfootprint report {log_path} --carbon-intensity KEY "
            "--pue P --price-per-kwh X",
            file=sys.stderr,
            flush=True,
        )
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
    return returncode if returncode >= 0 else 128 - returncode


def _command(argv: list[str]) -> list[str]:
    """The command to run, without a leading ``--``.

    Raises:
        ConfigurationError: No command was given.
    """
    command = list(argv)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise ConfigurationError("no command given: nlpfootprint run [options] -- COMMAND ...")
    return command


def _run_child(tracker: Any, command: list[str], *, interactive: bool, no_status: bool) -> int:
    """Run ``command`` inside ``tracker``, forwarding signals to it; return its return code.

    The return code is negative when a signal ended the child. A status line runs while the
    child does, on a terminal and unless ``no_status``. Signals that arrive before the child
    exists are sent to it once it does; the previous handlers are put back afterwards.
    """
    children: list[subprocess.Popen[bytes]] = []
    held: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGINT and interactive:
            return  # the terminal already sent it to the child
        if not children:
            held.append(signum)  # arrived before the child existed: send it once it does
            return
        with contextlib.suppress(ProcessLookupError):
            children[0].send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    status: _Status | None = None
    with tracker:
        try:
            children.append(subprocess.Popen(command, start_new_session=not interactive))
            for signum in held:
                forward(signum, None)
            if sys.stderr.isatty() and not no_status:
                status = _Status(tracker)
                status.start()
            returncode = children[0].wait()
        except OSError as err:
            raise ConfigurationError(f"cannot run {command[0]!r}: {err.strerror or err}") from err
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if status is not None:
                status.stop()
        tracker.record_exit(returncode)  # the report and the log's summary say how it ended
    return returncode
