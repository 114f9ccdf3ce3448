"""A tracker's settings: one frozen value, validated once, reused with ``attrs.evolve``.

:class:`TrackerSettings` holds everything ``track_energy(...)`` accepts; each field is
checked when the value is made, and errors name the value and the rule. The same options
are spelled once more, for type checkers, as the :class:`TrackerOptions` ``TypedDict`` that
``track_energy``'s overloads take with ``Unpack``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict, TypeVar

import attrs

from nlpfootprint.assumptions import PAPER_PUE, Assumptions
from nlpfootprint.baseline import baseline_seconds, load_baseline
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
from nlpfootprint.flops import FlopsMethod
from nlpfootprint.idle import Baseline, power_map
from nlpfootprint.intensity import Intensity, resolve_intensity
from nlpfootprint.meters.base import PowerMeter
from nlpfootprint.peaks import Efficiency, Precision, peak_flops_value, precision_value
from nlpfootprint.series import IntensitySeries, as_series

__all__ = ["MIN_INTERVAL_S", "TrackerOptions", "TrackerSettings", "spell_out_options"]

_MAX_TRACE_POINTS = 1_000_000

Meters = Literal["auto"] | Sequence[PowerMeter]


class TrackerOptions(TypedDict, total=False):
    """The keyword arguments of :func:`~nlpfootprint.track_energy` (see
    :class:`TrackerSettings` for what each means)."""

    meters: Meters
    interval_s: float
    pue: float
    carbon_intensity: Intensity | float | str | IntensitySeries | os.PathLike[str] | None
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
    gpu_scope: Literal["machine", "process"]
    precision: Precision | None
    peak_flops_per_s: float | None
    flops_method: FlopsMethod
    baseline: Literal["measure"] | Mapping[str, float] | Baseline | str | os.PathLike[str] | None
    baseline_s: float


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


def _intensity(value: Any) -> Any:
    """A series (or a CSV file of one) as an IntensitySeries; anything else checked."""
    series = as_series(value)  # raises, naming the file
    if series is not None:
        return series
    resolve_intensity(value)  # raises, naming the value
    return value


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


def _gpu_scope(_instance: object, _attribute: object, scope: Any) -> None:
    if scope not in ("machine", "process"):
        raise ConfigurationError(
            f"gpu_scope={scope!r}: expected 'machine' (each GPU's whole energy: GPUs of your "
            "own) or 'process' (this process tree's share of each: shared GPUs)"
        )


def _flops_method(_instance: object, _attribute: object, method: Any) -> None:
    Efficiency(flops_method=method)  # raises, naming the value


def _cpu_tdp(value: object) -> float | None:
    if value is None:
        return None
    return at_most("cpu_tdp_w", value, positive("cpu_tdp_w", value), 10_000.0, "W per package")


def _distributed(_instance: object, _attribute: object, mode: Any) -> None:
    distributed_mode(mode)


#: How long ``baseline="measure"`` measures unless told.
_BASELINE_S = 5.0


def _baseline(value: object) -> Baseline | Literal["measure"] | None:
    """``"measure"``, a Baseline, a mapping taken as given, or a file read now."""
    if value is None or isinstance(value, Baseline):
        return value
    if isinstance(value, str) and value == "measure":
        return "measure"
    if isinstance(value, Mapping):
        return Baseline(power_map(value, "baseline"), "given")  # the error names the entry
    if isinstance(value, str | os.PathLike):
        try:
            return load_baseline(value, name="baseline")
        except ConfigurationError as err:
            raise ConfigurationError(
                f"{err} (baseline= takes 'measure', a mapping of channel id to idle watts, "
                "or the path of a baseline file or run log)"
            ) from err
    raise ConfigurationTypeError(
        f"baseline={value!r:.80}: expected 'measure', a mapping of channel id to idle watts "
        f"(such as {{'gpu:0': 62.0}}), a Baseline, or the path of a baseline file or run "
        f"log, got {type(value).__name__}"
    )


def _baseline_s(value: object) -> float:
    return baseline_seconds(value, "baseline_s")


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
            ``"strubell2019"``). Default: the world average, said in the report. Or an
            hourly (or finer) series: an :class:`~nlpfootprint.series.IntensitySeries`,
            or the path of a CSV file of one; the finished report weights each
            interval's energy by that interval's intensity (snapshots use the series'
            yearly fallback).
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
            model, else an assumed 85 W, said in the report). On a VM whose model's
            thread count is known, the VM's share of it is charged; otherwise all of it.
        gpu_scope: Where NVIDIA GPUs are measured (``meters="auto"``): ``"machine"``
            (default: each GPU's whole energy) or ``"process"`` (the share of each GPU's
            energy attributed to this process tree by its SM utilisation, else its memory:
            GPUs shared with other jobs; see ``NvmlMeter(scope="process")``).
        precision: The number format the training's matrix products run in (``"fp32"``,
            ``"tf32"``, ``"bf16"``, ``"fp16"``, ``"fp8"``), for the report's MFU: the
            GPUs' peak for it comes from the shipped table (None, the default: no MFU
            unless ``peak_flops_per_s`` is given). The training callbacks set it from the
            trainer when it is not given.
        peak_flops_per_s: The peak FLOP rate to measure MFU against, over all the
            devices measured (it wins over the table); None: from the table.
        flops_method: How the FLOPs given with ``tracker.step(flops=...)`` are obtained,
            for the report to say: ``"given"`` (default), ``"counted"`` (with
            FlopCounterMode) or ``"estimated"`` (6 N D, :func:`~nlpfootprint.training_flops`).
        baseline: The idle power that the report's dynamic energy is counted above
            (``report.dynamic_energy_kwh``; the paper's figures stay total): ``"measure"``
            reads the meters for ``baseline_s`` seconds at start, before the block runs
            (the block waits that long; leave the machine idle; with a
            :class:`~nlpfootprint.testing.FakeClock` the clock is advanced instead); a
            mapping of channel id to watts (``{"gpu:0": 62.0}``) is taken as given; a path
            names a baseline file (``nlpfootprint baseline --out``) or a run log (its
            channels' mean power), read when the settings are made. A channel the
            baseline does not name is counted in full, and the report says so. None
            (default): no dynamic figures.
        baseline_s: How long ``baseline="measure"`` measures, more than 0 s and at most
            an hour (default 5); only with ``baseline="measure"``.
    """

    meters: Meters = attrs.field(default="auto", validator=_meters)
    interval_s: float = attrs.field(default=1.0, converter=interval_value)
    pue: float = attrs.field(default=PAPER_PUE, converter=pue_value)
    carbon_intensity: Intensity | float | str | IntensitySeries | None = attrs.field(
        default=None, converter=_intensity
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
    gpu_scope: Literal["machine", "process"] = attrs.field(default="machine", validator=_gpu_scope)
    precision: Precision | None = attrs.field(default=None, converter=precision_value)
    peak_flops_per_s: float | None = attrs.field(default=None, converter=peak_flops_value)
    flops_method: FlopsMethod = attrs.field(default="given", validator=_flops_method)
    baseline: Baseline | Literal["measure"] | None = attrs.field(default=None, converter=_baseline)
    baseline_s: float = attrs.field(default=_BASELINE_S, converter=_baseline_s)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.meters, str) and (
            self.cpu_scope != "machine" or self.cpu_tdp_w is not None
        ):
            raise ConfigurationError(
                "cpu_scope= and cpu_tdp_w= set the CPU estimate of meters='auto'; with meters "
                "of your own, give them to EstimatedCpuMeter(tdp_w, scope=...) instead"
            )
        if not isinstance(self.meters, str) and self.gpu_scope != "machine":
            raise ConfigurationError(
                "gpu_scope= sets the NVIDIA meter of meters='auto'; with meters of your own, "
                "give it to NvmlMeter(scope=...) instead"
            )
        if self.baseline != "measure" and self.baseline_s != _BASELINE_S:
            why = "not asked for" if self.baseline is None else "given, not measured"
            raise ConfigurationError(
                f"baseline_s={self.baseline_s!r}: sets how long baseline='measure' measures the "
                f"idle power, but the baseline is {why} (give baseline='measure' too, or leave "
                "baseline_s out)"
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

    def efficiency(self) -> Efficiency:
        """What the report is to say about its FLOPs (method, precision, peak)."""
        return Efficiency(self.flops_method, self.precision, self.peak_flops_per_s)

    def assumptions(self) -> Assumptions:
        """The accounting assumptions these settings state."""
        return Assumptions.build(
            pue=self.pue,
            # a series weights the finished report (EnergyTracker.stop); until then, and
            # in snapshots, its yearly fallback
            carbon_intensity=self.carbon_intensity.fallback
            if isinstance(self.carbon_intensity, IntensitySeries)
            else self.carbon_intensity,
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
