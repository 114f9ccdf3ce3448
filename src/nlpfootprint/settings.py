"""A tracker's settings: one frozen value, validated once, reused with ``attrs.evolve``.

:class:`TrackerSettings` holds everything ``track_energy(...)`` accepts; each field is
checked when the value is made, and errors name the value and the rule. The same options
are spelled once more, for type checkers, as the :class:`TrackerOptions` ``TypedDict`` that
``track_energy``'s overloads take with ``Unpack``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypedDict, TypeVar

import attrs

from nlpfootprint.assumptions import PAPER_PUE, Assumptions
from nlpfootprint.checks import (
    MIN_INTERVAL_S,
    at_most,
    distributed_mode,
    gather_timeout_value,
    interval_value,
    log_flush_value,
    optional_text,
    positive,
    price_per_kwh_value,
    pue_value,
    read_timeout_value,
    whole_number,
)
from nlpfootprint.clock import Clock
from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError
from nlpfootprint.intensity import Intensity, resolve_intensity
from nlpfootprint.meters.base import PowerMeter

__all__ = ["MIN_INTERVAL_S", "TrackerOptions", "TrackerSettings", "spell_out_options"]

_MAX_TRACE_POINTS = 1_000_000

Meters = Literal["auto"] | Sequence[PowerMeter]


class TrackerOptions(TypedDict, total=False):
    """The keyword arguments of :func:`~nlpfootprint.track_energy` (see
    :class:`TrackerSettings` for what each means)."""

    meters: Meters
    interval_s: float
    pue: float
    carbon_intensity: Intensity | float | str | None
    price_per_kwh: float | None
    clock: Clock | None
    name: str | None
    trace_points: int
    read_timeout_s: float
    log: str | os.PathLike[str] | None
    log_flush_s: float
    log_command: Sequence[str] | None
    distributed: Literal["auto", "torch", "mpi"] | None
    gather_timeout_s: float
    cpu_scope: Literal["machine", "process"]
    cpu_tdp_w: float | None


def _meters(_instance: object, _attribute: object, meters: Any) -> None:
    if isinstance(meters, str):
        if meters != "auto":
            raise ConfigurationError(f"meters={meters!r}: expected 'auto' or a list of meters")
        return
    if not isinstance(meters, Sequence):
        raise ConfigurationTypeError(
            f"meters={meters!r}: expected 'auto' or a list of meters (wrap one meter in a "
            f"list), got {type(meters).__name__}"
        )
    for i, meter in enumerate(meters):
        if not callable(getattr(meter, "read", None)):
            raise ConfigurationTypeError(
                f"meters[{i}]={meter!r} is not a meter (a meter has channels, read() and close())"
            )


def _intensity(_instance: object, _attribute: object, value: Any) -> None:
    resolve_intensity(value)  # raises, naming the value


def _price(value: object) -> float | None:
    return None if value is None else price_per_kwh_value(value)


def _clock(_instance: object, _attribute: object, clock: Any) -> None:
    if clock is not None and not callable(getattr(clock, "now", None)):
        raise ConfigurationTypeError(f"clock={clock!r}: a clock needs a now() method")


def _name(_instance: object, _attribute: object, name: Any) -> None:
    optional_text("name", name)


def _points(points: object) -> int:
    return whole_number(
        "trace_points", points, what="an integer", minimum=2, maximum=_MAX_TRACE_POINTS
    )


def _log(_instance: object, _attribute: object, log: Any) -> None:
    if log is not None and not isinstance(log, str | os.PathLike):
        raise ConfigurationTypeError(
            f"log={log!r}: expected a file path (str or os.PathLike), got {type(log).__name__}"
        )
    if isinstance(log, str | os.PathLike) and not os.fspath(log):
        raise ConfigurationError("log='': give a file path, or log=None for no run log")


def _command(_instance: object, _attribute: object, command: Any) -> None:
    if command is not None and (
        isinstance(command, str)
        or not isinstance(command, Sequence)
        or not all(isinstance(part, str) for part in command)
    ):
        raise ConfigurationTypeError(
            f"log_command={command!r}: expected a list of strings (the command's arguments)"
        )


def _cpu_scope(_instance: object, _attribute: object, scope: Any) -> None:
    if scope not in ("machine", "process"):
        raise ConfigurationError(
            f"cpu_scope={scope!r}: expected 'machine' (every process's CPU load: a dedicated "
            "node) or 'process' (this process tree's: a shared machine)"
        )


def _cpu_tdp(value: object) -> float | None:
    if value is None:
        return None
    return at_most("cpu_tdp_w", value, positive("cpu_tdp_w", value), 10_000.0, "W per package")


def _distributed(_instance: object, _attribute: object, mode: Any) -> None:
    distributed_mode(mode)


@attrs.frozen(kw_only=True)
class TrackerSettings:
    """What a tracker was asked to do; checked when made (errors name the value).

    Attributes:
        meters: ``"auto"`` (detect the best meters here; estimated ones only where
            nothing can be measured) or a list of meters. Meters you pass are not closed.
        interval_s: Seconds between readings, from 1e-4 to 86,400 (a day); counters are
            exact however far apart, sampled power needs short intervals to follow the load.
        pue: Power usage effectiveness of the data centre, from 1 to 5 (default 1.58, the
            paper's).
        carbon_intensity: Grid intensity in g CO2e/kWh, an
            :class:`~nlpfootprint.Intensity`, or a key (``"FRA"``, ``"gcp:europe-west4"``,
            ``"strubell2019"``). Default: the world average, said in the report.
        price_per_kwh: Electricity price per kWh (at most 1,000,000); without it the report
            has no cost.
        clock: Time source; pass a :class:`~nlpfootprint.testing.FakeClock` in tests (no
            thread is started then).
        name: A name for the report (a decorated function's name by default).
        trace_points: How many points the power trace keeps at most (2 to 1,000,000).
        read_timeout_s: The longest a reading waits for a meter's answer (default 1 s).
            A meter that gives none (a hung device) is skipped, its channels in a gap,
            until it answers again; the other meters go on. Each meter's calls run on a
            thread of its own, so a hung meter costs the user's thread at most about
            twice this at any boundary (start, window, snapshot, stop), once in all.
        log: A file to write the run log to as the run goes (JSON lines, gzip when the name
            ends in ``.gz``; see :mod:`nlpfootprint.runlog`): every reading, so a crashed
            run can still be reported (``Report.from_log(path)``). A decorated function
            rewrites it on every call. Folders missing above it are created at start (as
            ``mkdir -p``); a path that cannot be used (a folder, a file where a folder
            should be, no permission to write) is a ``ConfigurationError`` at start, saying
            why, before anything is measured. A failed write later on warns in the report,
            never raises.
        log_flush_s: Seconds between write-outs of the log (0: every line; at most a day);
            a crash loses at most this much of it.
        log_command: The command line that was measured, for the log's header.
        distributed: In a job of several processes (``torchrun``, ``srun``, ``mpirun``):
            ``"auto"`` (default) finds it through an initialised ``torch.distributed``
            process group, running MPI, or the launcher's variables; ``"torch"`` or
            ``"mpi"`` insist on that engine; None measures this process alone, as if no
            job were there. In a job, each rank measures what it owns (the host's CPU and
            memory on local rank 0, each GPU on the rank that uses it) and at stop rank
            0 gathers the parts into one report of the whole job (``report.job``); the
            other ranks' reports are their own parts, and only rank 0 writes the run log
            (unless ``log`` names ``{rank}``). Outside a job it changes nothing. See
            :doc:`/howto-distributed`.
        gather_timeout_s: How long rank 0 waits at stop for the other ranks' parts (more
            than 0, at most a day; default 60 s). A rank whose part has not come by then
            is reported missing in the job report, never waited on further.
        cpu_scope: Where the CPU is estimated (``meters="auto"`` without RAPL): ``"machine"``
            (default: every process's load, right on a dedicated node, as the paper
            measured) or ``"process"`` (this process tree's CPU time: a shared machine).
            In machine scope the tree's own share is measured alongside, and the report
            says so, with both figures, when other processes used more than 20% of the
            busy CPU time.
        cpu_tdp_w: The CPU package's TDP in watts for that estimate (default: from the CPU
            model, else an assumed 85 W, said in the report).
    """

    meters: Meters = attrs.field(default="auto", validator=_meters)
    interval_s: float = attrs.field(default=1.0, converter=interval_value)
    pue: float = attrs.field(default=PAPER_PUE, converter=pue_value)
    carbon_intensity: Intensity | float | str | None = attrs.field(
        default=None, validator=_intensity
    )
    price_per_kwh: float | None = attrs.field(default=None, converter=_price)
    clock: Clock | None = attrs.field(default=None, validator=_clock)
    name: str | None = attrs.field(default=None, validator=_name)
    trace_points: int = attrs.field(default=2048, converter=_points)
    read_timeout_s: float = attrs.field(default=1.0, converter=read_timeout_value)
    log: str | os.PathLike[str] | None = attrs.field(default=None, validator=_log)
    log_flush_s: float = attrs.field(default=2.0, converter=log_flush_value)
    log_command: Sequence[str] | None = attrs.field(default=None, validator=_command)
    distributed: Literal["auto", "torch", "mpi"] | None = attrs.field(
        default="auto", validator=_distributed
    )
    gather_timeout_s: float = attrs.field(default=60.0, converter=gather_timeout_value)
    cpu_scope: Literal["machine", "process"] = attrs.field(default="machine", validator=_cpu_scope)
    cpu_tdp_w: float | None = attrs.field(default=None, converter=_cpu_tdp)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.meters, str) and (
            self.cpu_scope != "machine" or self.cpu_tdp_w is not None
        ):
            raise ConfigurationError(
                "cpu_scope= and cpu_tdp_w= set the CPU estimate of meters='auto'; with meters "
                "of your own, give them to EstimatedCpuMeter(tdp_w, scope=...) instead"
            )

    @classmethod
    def of(cls, **options: Any) -> TrackerSettings:
        """Settings from keyword options; an unknown name is an error that lists the known."""
        known = attrs.fields_dict(cls)
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigurationTypeError(
                f"track_energy() got unknown option(s) {', '.join(unknown)}; the options are "
                f"{', '.join(known)}"
            )
        return cls(**options)

    def assumptions(self) -> Assumptions:
        """The accounting assumptions these settings state."""
        return Assumptions.build(
            pue=self.pue,
            carbon_intensity=self.carbon_intensity,
            price_per_kwh=self.price_per_kwh,
            meters="auto" if isinstance(self.meters, str) else "given",
        )


F = TypeVar("F", bound=Callable[..., Any])


def spell_out_options(func: F) -> F:
    """Give ``func`` a signature that lists the options its ``**options`` take.

    Type checkers read the ``TypedDict``; this is for ``help()``, ``inspect`` and editors
    that read signatures at run time: each option becomes a keyword-only parameter with its
    default, taken from :class:`TrackerSettings`.
    """
    signature = inspect.signature(func)
    options = [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=field.default,
            annotation=TrackerOptions.__annotations__[field.name],
        )
        for field in attrs.fields(TrackerSettings)
    ]
    kept = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    func.__signature__ = signature.replace(parameters=[*kept, *options])  # type: ignore[attr-defined]
    return func
