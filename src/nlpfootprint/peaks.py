"""Peak dense FLOP rates of accelerators, and what a report's MFU is measured against.

Model FLOPs utilisation (MFU; Chowdhery et al. 2022, "PaLM", appendix B) is the FLOP rate
a run achieved -- its model FLOPs over its duration -- divided by the peak rate of the
hardware it ran on. The peak depends on the number format the matrix products run in
(``fp32`` on the CUDA cores, ``tf32``, ``bf16``, ``fp16`` or ``fp8`` on the tensor or matrix
cores), so a peak needs a precision.

The shipped table ``data/gpu_peak_flops.csv`` holds each accelerator's peak dense
TFLOP/s per precision, from the vendors' datasheets and whitepapers (see
``nlpfootprint/data/README.md``). Datasheets often quote tensor rates *with structured
sparsity*, twice the dense rate: the table holds dense rates only. Its rows are named as
the power table's (:mod:`nlpfootprint.hardware`), and a device is found there by the same
forgiving match (``"NVIDIA H100 80GB HBM3"`` is the H100 SXM5).

:class:`Efficiency` is what a run says about its FLOPs: their method, the precision, and
a peak given outright (which wins over the table). :func:`find_peak` gives the peak a
report's MFU is measured against -- the given one, or the sum of the table's peaks over
its GPU channels (each device counted as many times as its channel stands for) -- or why
there is none; :func:`job_peak`, a distributed job's, from its ranks' given peaks and the
table's.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import attrs

from nlpfootprint.checks import MAX_PEAK_FLOPS_PER_S, at_most, positive
from nlpfootprint.errors import ConfigurationError, ConfigurationTypeError, UnknownKeyError
from nlpfootprint.flops import FLOPS_METHODS, FlopsMethod
from nlpfootprint.hardware import HardwareSpec, hardware_candidates, hardware_spec

if TYPE_CHECKING:
    from nlpfootprint.report_parts import ChannelReport

__all__ = [
    "PRECISIONS",
    "Efficiency",
    "Peak",
    "PeakSpec",
    "Precision",
    "device_peak",
    "find_peak",
    "job_peak",
    "load_peak_table",
    "parse_peak_table",
    "peak_flops_value",
    "precision_value",
]

_TABLE_FILE = "gpu_peak_flops.csv"

#: The number formats a peak is known for: FP32 on the CUDA/vector cores, TF32, BF16,
#: FP16 and FP8 on the tensor/matrix cores.
Precision = Literal["fp32", "tf32", "bf16", "fp16", "fp8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "tf32", "bf16", "fp16", "fp8")
_TERA = 1e12


def precision_value(value: object) -> Precision | None:
    """A ``precision=``: one of :data:`PRECISIONS`, or None (no peak from the table)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationTypeError(
            f"precision={value!r}: expected one of {', '.join(PRECISIONS)} (or None), got "
            f"{type(value).__name__}"
        )
    if value not in PRECISIONS:
        raise ConfigurationError(
            f"precision={value!r}: expected one of {', '.join(PRECISIONS)} (the number format "
            "the matrix products run in: 'bf16' for bf16 mixed precision), or None"
        )
    return value


def peak_flops_value(value: object) -> float | None:
    """A ``peak_flops_per_s=``: None, or FLOP/s over all the devices measured (> 0)."""
    if value is None:
        return None
    number = positive("peak_flops_per_s", value)
    return at_most(
        "peak_flops_per_s",
        value,
        number,
        MAX_PEAK_FLOPS_PER_S,
        "FLOP/s over all the devices measured; 8 H100 at bf16 peak are 7.9e15",
    )


def _flops_method(_instance: object, _attribute: object, value: object) -> None:
    if value not in FLOPS_METHODS:
        raise ConfigurationError(
            f"flops_method={value!r}: expected one of {', '.join(FLOPS_METHODS)}"
        )


@attrs.frozen
class Efficiency:
    """What a run says about its FLOPs, for the report's FLOP/J and MFU.

    Attributes:
        flops_method: How the FLOPs given with ``tracker.step(flops=...)`` were obtained
            (``"given"``, ``"counted"`` or ``"estimated"``; see
            :data:`~nlpfootprint.flops.FLOPS_METHODS`).
        precision: The number format the matrix products ran in (one of
            :data:`PRECISIONS`), which picks the peak from the table; None: no peak from
            the table.
        peak_flops_per_s: A peak given outright, FLOP/s over all the devices measured; it
            wins over the table.
    """

    flops_method: FlopsMethod = attrs.field(default="given", validator=_flops_method)
    precision: Precision | None = attrs.field(default=None, converter=precision_value)
    peak_flops_per_s: float | None = attrs.field(default=None, converter=peak_flops_value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Efficiency:
        """Read :meth:`to_dict` output back (None or a missing key: the default)."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise TypeError(f"efficiency: expected an object, got {type(data).__name__}")
        known = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@attrs.frozen
class PeakSpec:
    """One row of the peak table: an accelerator's peak dense rates.

    Attributes:
        model: The accelerator, named as in the power table (``"H100 SXM5"``).
        tflops: Peak dense TFLOP/s per precision it has a rate for.
        source: The datasheet or whitepaper.
        verification: How the rates were checked.
        notes: Caveats (sparsity, variants).
    """

    model: str
    tflops: Mapping[str, float]
    source: str
    verification: str
    notes: str


def parse_peak_table(text: str) -> tuple[PeakSpec, ...]:
    """Read the CSV layout of ``data/gpu_peak_flops.csv``; a bad row raises, naming its line."""
    reader = csv.DictReader(io.StringIO(text))
    specs = []
    for row in reader:
        line = reader.line_num
        model = (row.get("model") or "").strip()
        if not model:
            raise ConfigurationError(f"line {line}: a row needs a model")
        tflops: dict[str, float] = {}
        for precision in PRECISIONS:
            cell = (row.get(precision) or "").strip()
            if not cell:
                continue
            try:
                value = float(cell)
            except ValueError:
                raise ConfigurationError(
                    f"line {line}: {precision}={cell!r} is not a number"
                ) from None
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"line {line}: {precision}={cell!r} must be > 0")
            tflops[precision] = value
        specs.append(
            PeakSpec(
                model=model,
                tflops=tflops,
                source=(row.get("source") or "").strip(),
                verification=(row.get("verification") or "").strip(),
                notes=(row.get("notes") or "").strip(),
            )
        )
    return tuple(specs)


@functools.cache
def load_peak_table() -> tuple[PeakSpec, ...]:
    """The shipped table, read on first use and kept."""
    resource = resources.files("nlpfootprint") / "data" / _TABLE_FILE
    return parse_peak_table(resource.read_text(encoding="utf-8"))


@functools.cache
def _by_model() -> dict[str, PeakSpec]:
    return {spec.model: spec for spec in load_peak_table()}


def device_peak(name: str, precision: str) -> tuple[str, float] | None:
    """The table's (model, peak dense FLOP/s) for a device of that name in ``precision``;
    None when the name fits no row, fits rows of different peaks, or the row has no rate
    for that precision."""
    try:
        fits: tuple[HardwareSpec, ...] = (hardware_spec(name),)
    except (UnknownKeyError, ConfigurationTypeError):
        return None
    except ConfigurationError:  # ambiguous: taken when every part it may be has one peak
        fits = hardware_candidates(name)
    table = _by_model()
    rates = {
        (spec.model, table[spec.model].tflops.get(precision))
        for spec in fits
        if spec.model in table
    }
    values = {rate for _, rate in rates}
    if len(rates) != len(fits) or len(values) != 1 or None in values:
        return None
    model = min(model for model, _ in rates)
    (tflops,) = values
    assert tflops is not None
    return model, tflops * _TERA


@attrs.frozen
class Peak:
    """The peak rate a report's MFU is measured against.

    Attributes:
        flops_per_s: FLOP/s over all the devices measured.
        precision: The number format it is for (None for a peak given without one).
        basis: ``"given"`` (``peak_flops_per_s=``) or ``"table"`` (the shipped table).
        devices: For ``"table"``: each model's name and how many devices of it.
    """

    flops_per_s: float
    precision: str | None
    basis: Literal["given", "table"]
    devices: tuple[tuple[str, int], ...] = ()

    def describe(self) -> str:
        """``8 x H100 SXM5, bf16 dense peak`` or ``given as peak_flops_per_s``."""
        if self.basis == "given":
            what = f", {self.precision}" if self.precision else ""
            return f"given as peak_flops_per_s{what}"
        devices = " + ".join(f"{n} x {model}" if n > 1 else model for model, n in self.devices)
        return f"{devices}, {self.precision} dense peak"


def find_peak(efficiency: Efficiency, channels: Iterable[ChannelReport]) -> tuple[Peak | None, str]:
    """The peak a report with ``channels`` is measured against, and, where there is none,
    why (an empty string otherwise).

    The given ``peak_flops_per_s`` wins; otherwise each GPU channel's device must be in the
    table with a rate for ``precision``, and the peak is their sum (a channel of ``count``
    devices counts ``count`` times).
    """
    if efficiency.peak_flops_per_s is not None:
        return Peak(efficiency.peak_flops_per_s, efficiency.precision, "given"), ""
    precision = efficiency.precision
    if precision is None:
        return None, "no precision given (precision= or peak_flops_per_s=)"
    total = 0.0
    counts: dict[str, int] = {}
    gpus = [c for c in channels if c.domain == "gpu"]
    if not gpus:
        return None, "no GPU channel to take a peak from (give peak_flops_per_s=)"
    for channel in gpus:
        device = channel.device
        name = device.name if device is not None else ""
        found = device_peak(name, precision) if name else None
        if found is None:
            what = f"{name!r}" if name else "an unnamed device"
            return None, (
                f"{channel.id} ({what}) has no {precision} peak in the table (give "
                "peak_flops_per_s=)"
            )
        assert device is not None
        model, rate = found
        total += rate * device.count
        counts[model] = counts.get(model, 0) + device.count
    return Peak(total, precision, "table", tuple(counts.items())), ""


def job_peak(
    ranks: Sequence[tuple[int, Efficiency, Sequence[ChannelReport]]],
) -> tuple[Efficiency, str | None]:
    """How a distributed job's FLOPs are read, from each rank's (rank, efficiency, the
    channels the job keeps of it), rank 0's first; and a note on how its peak was made.

    The method and precision are rank 0's. Where no rank gave ``peak_flops_per_s``, no
    peak is given (the job's report looks every GPU up in the table, as one run's does).
    Where some did (each for the devices it measures), the job's peak is their sum plus
    the table's peak of each other rank's GPUs (a rank that kept none adds nothing: its
    devices count from another rank), and the note says so; where the table has no peak
    for such a rank's GPUs, there is no given peak at all, and the note says why.
    """
    efficiency = ranks[0][1]
    if all(e.peak_flops_per_s is None for _, e, _ in ranks):
        return efficiency, None
    total = 0.0
    given: list[str] = []
    tabled: list[str] = []
    for rank, own, channels in ranks:
        if own.peak_flops_per_s is not None:
            total += own.peak_flops_per_s
            given.append(str(rank))
            continue
        gpus = [c for c in channels if c.domain == "gpu"]
        if not gpus:
            continue
        peak, why = find_peak(own, gpus)
        if peak is None:
            unused = (
                f"rank {rank} gave no peak_flops_per_s and the table has no peak for its "
                f"GPUs ({why}): the peaks the other ranks gave are not used"
            )
            return attrs.evolve(efficiency, peak_flops_per_s=None), unused
        total += peak.flops_per_s
        tabled.append(f"rank {rank}: {peak.describe()}")
    note = None
    if tabled:
        note = (
            f"the job's MFU peak adds the peak_flops_per_s given on rank(s) "
            f"{', '.join(given)} to the table's for the other ranks' GPUs ({'; '.join(tabled)})"
        )
    return attrs.evolve(efficiency, peak_flops_per_s=total), note
