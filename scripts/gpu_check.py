"""GPU check: the library's figures on a real NVIDIA GPU, each check ending in PASS or FAIL.

Needs torch with CUDA and nvidia-ml-py. Run: ``scripts/gpu_check.sh OUTDIR`` (or ``nox -s
gpu``), or this script alone with ``--checks`` to pick some. Every check loads CUDA device 0
and measures the NVML GPU it is (``CUDA_VISIBLE_DEVICES`` honoured); run it on a GPU that
nothing else uses. The checks run in this order (the defaults take about 3 minutes):

``share``: two processes on one GPU. Two child processes (this script in its helper mode)
    each run a bf16 matrix-multiply load of a different size for ``--share-seconds``
    under ``track_energy(meters=[NvmlMeter(scope="process")], log=...)``. Method: both
    start their load when the parent says "go" and run the same wall span; each records
    ``time.monotonic()`` just before its tracker starts and just after it stops
    (CLOCK_MONOTONIC is one clock for every process of a Linux machine; a run log's
    ``started_at`` has whole seconds only). Meanwhile the parent reads the whole device's
    NVML energy counter (a machine-scope ``NvmlMeter``) every 0.1 s, from before "go" to
    after both exit, and takes the device's energy from the earliest child start to the
    latest child stop by interpolating those readings. PASS needs all three: the two
    attributed energies sum to that within 5% (outside the overlap one child runs alone
    and is charged the whole device, so the sum over the union of the spans is the
    device's); both children's process trees were seen on the GPU; and for each child,
    at least half the GPU's energy over its run was split by SM utilisation (the report's
    ``share_rules``), not by a fallback rule. It runs first, before this process has a
    CUDA context of its own, which would count as a third process on the GPU.
``comparison``: the counter against integrated power samples. A bf16 load of
    ``--seconds`` between ``--idle-seconds`` of idle before and after, with two trackers
    around the same block: one reads the energy counter every second, the other samples
    power every 0.1 s and integrates it (``docs/meters.md``, "Known caveats"). PASS: the
    load raises the counter's mean power above idle, and the two energies of the whole
    run agree within 5% (a sanity bound; an H200 gave 0.10%).
``mfu``: a bf16 load of ``--mfu-size`` square products for ``--mfu-seconds`` under
    ``track_energy(precision="bf16")``: one step's FLOPs counted once, before the load,
    with ``count_step_flops`` (FlopCounterMode), and that figure given to every step's
    ``tracker.step(flops=...)`` (the steps are alike).
    PASS: ``Report.mfu`` (against the peak table's bf16 dense peak for the device) is
    between 0.3 and 0.8, what large matrix products reach on an H100 or H200.
``baseline``: ``track_energy(baseline="measure", baseline_s=--baseline-seconds)`` on the
    idle GPU (after a 5-second rest), then ``--baseline-load-seconds`` of load. PASS: the
    idle power is between 30 and 200 W (an idle H100/H200) and the dynamic energy is above
    zero and below the total.

Prints the figures and one PASS or FAIL line per check (a check that cannot run fails
with the reason, and the others still run), then the lines again as a summary; writes
every figure to ``--json``. Exits 1 when a check failed.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import math
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nlpfootprint as nf
from nlpfootprint.meters.nvml import NvmlMeter, parse_visible_devices

#: The checks, in the order they run (``share`` first: see the module docstring).
CHECKS = ("share", "comparison", "mfu", "baseline")
#: MFU a large bf16 matrix product reaches on an H100/H200 (issue 15: "a plausible 0.3-0.8").
MFU_RANGE = (0.3, 0.8)
#: How far the attributed energies' sum may be from the device's.
SHARE_TOLERANCE = 0.05
#: The least share of each child's GPU energy that must be split by SM utilisation.
SM_RULE_MIN = 0.5
#: How far the power samples' energy of the whole comparison run may be from the counter's.
COMPARISON_TOLERANCE = 0.05
#: The idle power of an H100 or H200, in watts.
IDLE_W_RANGE = (30.0, 200.0)
#: Seconds the GPU rests before the baseline is measured (a loaded GPU idles warm).
REST_S = 5.0
#: The most seconds a share child may take to start (import torch, create a CUDA context).
CHILD_START_S = 180.0
#: How the share children say they are ready, and how their figures begin.
READY = "READY"
RESULT_PREFIX = "RESULT "


@dataclass(frozen=True)
class Verdict:
    """A check's outcome: whether it passed and the figures that say why."""

    check: str
    passed: bool
    detail: str

    def line(self) -> str:
        """``PASS mfu: ...`` or ``FAIL mfu: ...``."""
        return f"{'PASS' if self.passed else 'FAIL'} {self.check}: {self.detail}"


# -- the verdicts: pure functions of the figures ---------------------------------------


def mfu_verdict(mfu: float | None, why_none: str = "") -> Verdict:
    """PASS when ``mfu`` is within :data:`MFU_RANGE`; None (no peak known) fails."""
    low, high = MFU_RANGE
    if mfu is None or not math.isfinite(mfu):
        return Verdict("mfu", False, f"no MFU: {why_none or 'not computed'}")
    return Verdict("mfu", low <= mfu <= high, f"MFU {mfu:.3f} (expected {low} to {high})")


def relative_difference(value: float, reference: float) -> float:
    """``(value - reference) / reference``; NaN when the reference is not above zero."""
    return (value - reference) / reference if reference > 0 else math.nan


def share_verdict(
    attributed_j: Sequence[float],
    device_j: float,
    seen: Sequence[bool],
    sm_fractions: Sequence[float],
) -> Verdict:
    """PASS when the attributed energies sum to ``device_j`` within :data:`SHARE_TOLERANCE`,
    every child's process tree was seen on the GPU (``seen``), and every child's meter
    split at least :data:`SM_RULE_MIN` of the GPU's energy by SM utilisation
    (``sm_fractions``)."""
    total = sum(attributed_j)
    difference = relative_difference(total, device_j)
    parts = " + ".join(f"{j:.1f}" for j in attributed_j)
    detail = (
        f"attributed {parts} = {total:.1f} J against the device's {device_j:.1f} J "
        f"({100 * difference:+.2f}%, tolerance {100 * SHARE_TOLERANCE:.0f}%)"
    )
    children = range(len(attributed_j))
    unseen = [i for i in children if i >= len(seen) or not seen[i]]
    if unseen:
        detail += (
            f"; child(ren) {unseen} never among the GPU's processes (a container with its own "
            "PID namespace: NVML reports the host's PIDs)"
        )
    by_sm = ", ".join(f"{100 * f:.0f}%" for f in sm_fractions)
    detail += f"; split by SM utilisation: {by_sm or 'not known'} (at least {SM_RULE_MIN:.0%})"
    fallback = [i for i in children if i >= len(sm_fractions) or not sm_fractions[i] >= SM_RULE_MIN]
    ok = math.isfinite(difference) and abs(difference) <= SHARE_TOLERANCE
    return Verdict("share", ok and not unseen and not fallback, detail)


def baseline_verdict(idle_w: float | None, total_j: float, dynamic_j: float | None) -> Verdict:
    """PASS when ``idle_w`` is within :data:`IDLE_W_RANGE` and ``0 < dynamic_j < total_j``."""
    low, high = IDLE_W_RANGE
    if idle_w is None or dynamic_j is None:
        return Verdict("baseline", False, "no idle power measured (see the report's warnings)")
    plausible = low <= idle_w <= high
    ordered = 0 < dynamic_j < total_j
    detail = (
        f"idle {idle_w:.1f} W (expected {low:.0f} to {high:.0f} W); dynamic {dynamic_j:.1f} J "
        f"of a total {total_j:.1f} J"
    )
    if not ordered:
        detail += " (expected 0 < dynamic < total)"
    return Verdict("baseline", plausible and ordered, detail)


def comparison_verdict(counter_j: float, samples_j: float, idle_w: float, load_w: float) -> Verdict:
    """PASS when the load is visible (``load_w > idle_w``) and the power samples' energy is
    within :data:`COMPARISON_TOLERANCE` of the counter's."""
    difference = relative_difference(samples_j, counter_j)
    detail = (
        f"power samples {samples_j:.1f} J vs counter {counter_j:.1f} J "
        f"({100 * difference:+.2f}%, tolerance {100 * COMPARISON_TOLERANCE:.0f}%); "
        f"idle {idle_w:.1f} W, load {load_w:.1f} W"
    )
    ok = math.isfinite(difference) and abs(difference) <= COMPARISON_TOLERANCE
    return Verdict("comparison", ok and load_w > idle_w, detail)


def energy_between(trace: Sequence[tuple[float, float]], t0: float, t1: float) -> float:
    """The joules a cumulative counter gained from ``t0`` to ``t1``: ``trace`` holds
    ``(time, joules)`` readings in time order, interpolated linearly between them.

    >>> energy_between([(0.0, 0.0), (1.0, 100.0), (2.0, 300.0)], 0.5, 1.5)
    150.0
    """
    if len(trace) < 2:
        raise ValueError(f"a trace needs two readings or more, got {len(trace)}")
    if not t0 <= t1:
        raise ValueError(f"the span {t0}..{t1} ends before it starts")
    if t0 < trace[0][0] or t1 > trace[-1][0]:
        raise ValueError(
            f"the span {t0:.3f}..{t1:.3f} is not inside the trace's "
            f"{trace[0][0]:.3f}..{trace[-1][0]:.3f}"
        )
    return _counter_at(trace, t1) - _counter_at(trace, t0)


def _counter_at(trace: Sequence[tuple[float, float]], t: float) -> float:
    i = min(max(bisect.bisect_left([p[0] for p in trace], t), 1), len(trace) - 1)
    (ta, ja), (tb, jb) = trace[i - 1], trace[i]
    return ja if tb == ta else ja + (jb - ja) * (t - ta) / (tb - ta)


def parse_child_result(output: str) -> dict[str, Any]:
    """A share child's figures: the JSON object on its last line that starts with
    :data:`RESULT_PREFIX`."""
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_PREFIX):
            data = json.loads(line[len(RESULT_PREFIX) :])
            if not isinstance(data, dict):
                raise ValueError(f"a child's result is not a JSON object: {line!r:.200}")
            return data
    raise ValueError(f"no {RESULT_PREFIX.strip()} line in a child's output: {output[-500:]!r}")


def jsonable(value: object) -> object:
    """``value`` with every float that is not finite turned into None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def write_json(path: Path, results: Mapping[str, Any]) -> None:
    """Write ``results`` to ``path`` (creating its folder), NaN and infinities as null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(results), indent=2, allow_nan=False) + "\n")


# -- arguments -------------------------------------------------------------------------


def check_list(text: str) -> tuple[str, ...]:
    """``--checks``: ``all`` or names from :data:`CHECKS`, comma-separated; in run order."""
    names = {n.strip() for n in text.split(",") if n.strip()}
    if names == {"all"}:
        return CHECKS
    unknown = sorted(names - set(CHECKS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected 'all' or some of {', '.join(CHECKS)}, comma-separated"
            + (f" ({', '.join(unknown)} unknown)" if unknown else "")
        )
    return tuple(c for c in CHECKS if c in names)


def seconds_value(text: str) -> float:
    """A number of seconds above 0, at most an hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds above 0, at most 3600")
    return value


def size_value(text: str) -> int:
    """A square matrix size from 16 to 32768."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number") from None
    if not 16 <= value <= 32768:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a matrix size from 16 to 32768")
    return value


def size_pair(text: str) -> tuple[int, int]:
    """``--share-sizes``: two matrix sizes, comma-separated (one per child)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r}: expected two sizes such as 8192,4096")
    return size_value(parts[0]), size_value(parts[1])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring; ``--help`` lists the options)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--checks", type=check_list, default=CHECKS, help=f"all, or of: {', '.join(CHECKS)}")
    add("--json", type=Path, default=None, help="write the figures here")
    add("--load-size", type=size_value, default=8192, help="comparison, baseline: matrix size")
    add("--seconds", type=seconds_value, default=60.0, help="comparison: load seconds")
    add("--idle-seconds", type=seconds_value, default=5.0, help="comparison: idle before/after")
    add("--mfu-size", type=size_value, default=8192, help="mfu: square matrix size")
    add("--mfu-seconds", type=seconds_value, default=20.0, help="mfu: load seconds")
    add("--share-sizes", type=size_pair, default=(8192, 4096), help="share: the two sizes")
    add("--share-seconds", type=seconds_value, default=30.0, help="share: load seconds")
    add("--baseline-seconds", type=seconds_value, default=10.0, help="baseline: idle seconds")
    add("--baseline-load-seconds", type=seconds_value, default=20.0, help="baseline: load")
    # the helper mode the share check starts its children in
    add("--share-child", action="store_true", help=argparse.SUPPRESS)
    add("--child-size", type=size_value, default=4096, help=argparse.SUPPRESS)
    add("--child-seconds", type=seconds_value, default=30.0, help=argparse.SUPPRESS)
    add("--child-log", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# -- where the checks run, and their loads ---------------------------------------------


def first_gpu() -> list[int | str]:
    """The GPU that CUDA calls device 0, where the loads run, as NvmlMeter(gpus=) takes it."""
    visible = parse_visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES"))
    return [visible[0] if visible else 0]


@dataclass(frozen=True)
class Rig:
    """Where the checks run. The defaults are the real thing; tests pass a fake NVML
    module, the CPU, no rest, and a stand-in for the share children.

    Attributes:
        nvml: A ``pynvml``-like module for every NvmlMeter (None: ``import pynvml``).
        device: The torch device of the loads.
        rest_s: Seconds the GPU rests before the baseline is measured.
        child: The command of a share child, before its options (empty: this script).
    """

    nvml: Any = None
    device: str = "cuda"
    rest_s: float = REST_S
    child: tuple[str, ...] = ()

    def meter(self, **options: Any) -> NvmlMeter:
        """An NvmlMeter of the GPU the loads run on."""
        return NvmlMeter(gpus=first_gpu(), nvml=self.nvml, **options)

    def sync(self) -> None:
        """Wait for the queued work of the load's device."""
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()

    def pair(self, size: int) -> tuple[Any, Any]:
        """Two random bf16 ``size x size`` matrices on the device."""
        import torch

        a = torch.randn(size, size, device=self.device, dtype=torch.bfloat16)
        b = torch.randn(size, size, device=self.device, dtype=torch.bfloat16)
        self.sync()
        return a, b

    def products(self, a: Any, b: Any, seconds: float) -> dict[str, float]:
        """``a @ b``, 20 at a time, until ``seconds`` pass: the products and TFLOP/s."""
        import torch

        size = a.shape[0]
        products = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            for _ in range(20):
                torch.matmul(a, b)
            self.sync()
            products += 20
        elapsed = time.monotonic() - start
        tflops = 2 * size**3 * products / elapsed / 1e12
        return {"size": size, "products": products, "tflops": tflops}

    def load(self, seconds: float, size: int) -> dict[str, float]:
        """A bf16 load: allocate two matrices, then :meth:`products`."""
        return self.products(*self.pair(size), seconds)

    def step(self, size: int, repeats: int = 10) -> tuple[Callable[[], None], int]:
        """One step of ``repeats`` bf16 ``size``-square products, and its FLOPs as
        ``count_step_flops`` counts them (running the step once)."""
        import torch

        from nlpfootprint.flops import count_step_flops

        a, b = self.pair(size)

        def step() -> None:
            for _ in range(repeats):
                torch.matmul(a, b)

        return step, count_step_flops(step)


CUDA = Rig()


def idle(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)


def gpu_figures(meter: NvmlMeter) -> dict[str, Any]:
    gpu = meter.gpus[0]
    return {"gpu": gpu.name, "uuid": gpu.uuid, "power_limit_w": gpu.power_limit_w}


# -- the checks ------------------------------------------------------------------------

Figures = dict[str, Any]
Check = Callable[[argparse.Namespace, Rig], tuple[Figures, Verdict]]


def check_comparison(args: argparse.Namespace, rig: Rig = CUDA) -> tuple[Figures, Verdict]:
    """The energy counter against integrated power samples (see the module docstring)."""
    counter = rig.meter(mode="counter")
    try:
        power = rig.meter(mode="power")
    except BaseException:
        counter.close()
        raise
    figures: Figures = gpu_figures(counter)
    by_counter = nf.track_energy(meters=[counter], interval_s=1.0, name="counter")
    by_power = nf.track_energy(meters=[power], interval_s=0.1, name="power samples")
    try:
        with by_counter, by_power:
            with by_counter.window("idle"), by_power.window("idle"):
                idle(args.idle_seconds)
            with by_counter.window("load"), by_power.window("load"):
                load = rig.load(args.seconds, args.load_size)
            with by_counter.window("cooldown"), by_power.window("cooldown"):
                idle(args.idle_seconds)
    finally:
        counter.close()
        power.close()
    figures.update(load)
    rows = []
    for label, tracker in (("counter", by_counter), ("power samples", by_power)):
        report = tracker.report
        windows = {w.name: w for w in report.windows}
        entry = {
            "energy_j": report.energy_j,
            "duration_s": report.duration_s,
            "mean_power_w": report.mean_power_w.get("gpu", 0.0),
            "readings": report.channels[0].readings,
            **{f"{name}_energy_j": w.energy_j for name, w in windows.items()},
            **{
                f"{name}_mean_power_w": w.mean_power_w.get("gpu", 0.0)
                for name, w in windows.items()
            },
        }
        figures[label] = entry
        rows.append((label, entry))
    c, p = rows[0][1], rows[1][1]
    for key in ("energy_j", "load_energy_j", "idle_energy_j"):
        figures[f"relative_difference_{key}"] = relative_difference(p[key], c[key])

    print(f"load: {load['products']} bf16 {load['size']}^3 products, {load['tflops']:.0f} TFLOP/s")
    print(f"\n{'':16}{'energy J':>12}{'mean W':>9}{'idle W':>9}{'load W':>9}{'reads':>7}")
    for label, e in rows:
        print(
            f"{label:<16}{e['energy_j']:>12.1f}{e['mean_power_w']:>9.1f}"
            f"{e['idle_mean_power_w']:>9.1f}{e['load_mean_power_w']:>9.1f}{e['readings']:>7}"
        )
    print("\n" + str(by_counter.report))
    verdict = comparison_verdict(
        c["energy_j"], p["energy_j"], c["idle_mean_power_w"], c["load_mean_power_w"]
    )
    return figures, verdict


def check_mfu(args: argparse.Namespace, rig: Rig = CUDA) -> tuple[Figures, Verdict]:
    """A bf16 load's MFU against the peak table (see the module docstring)."""
    from nlpfootprint.peaks import device_peak, find_peak

    meter = rig.meter()
    try:
        figures: Figures = gpu_figures(meter)
        step, flops_per_step = rig.step(args.mfu_size)
        for _ in range(3):  # warm-up: cuBLAS picks its kernels
            step()
        rig.sync()
        steps = 0
        with nf.track_energy(meters=[meter], precision="bf16", name="mfu") as tracker:
            deadline = time.monotonic() + args.mfu_seconds
            while time.monotonic() < deadline:
                step()
                rig.sync()
                tracker.step(flops=flops_per_step)
                steps += 1
    finally:
        meter.close()
    report = tracker.report
    table = device_peak(figures["gpu"], "bf16")
    peak = report.peak
    figures |= {
        "size": args.mfu_size,
        "flops_per_step": flops_per_step,
        "steps": steps,
        "flops": report.flops,
        "duration_s": report.duration_s,
        "energy_j": report.energy_j,
        "flops_per_s": (report.flops or 0.0) / report.duration_s,
        "flops_per_j": report.flops_per_j,
        "mfu": report.mfu,
        "peak_flops_per_s": None if peak is None else peak.flops_per_s,
        "peak": None if peak is None else peak.describe(),
        "table_model": None if table is None else table[0],
    }
    matched = f"the peak table's {table[0]}" if table else "no row of the peak table"
    print(f"{figures['gpu']} matched {matched}; peak: {figures['peak']}")
    print(
        f"{steps} steps of {flops_per_step:.3e} FLOP in {report.duration_s:.1f} s: "
        f"{figures['flops_per_s'] / 1e12:.1f} TFLOP/s, MFU {report.mfu}"
    )
    print("\n" + str(report))
    return figures, mfu_verdict(report.mfu, find_peak(report.efficiency, report.channels)[1])


def check_baseline(args: argparse.Namespace, rig: Rig = CUDA) -> tuple[Figures, Verdict]:
    """A measured idle baseline, then a load (see the module docstring)."""
    meter = rig.meter()
    try:
        figures: Figures = gpu_figures(meter)
        idle(rig.rest_s)
        with nf.track_energy(
            meters=[meter],
            baseline="measure",
            baseline_s=args.baseline_seconds,
            name="baseline",
        ) as tracker:
            figures |= rig.load(args.baseline_load_seconds, args.load_size)
    finally:
        meter.close()
    report = tracker.report
    channel = report.channels[0].id
    idle_w = None if report.baseline is None else report.baseline.power_w.get(channel)
    figures |= {
        "baseline_s": args.baseline_seconds,
        "idle_w": idle_w,
        "duration_s": report.duration_s,
        "energy_j": report.energy_j,
        "dynamic_energy_j": report.dynamic_energy_j,
        "mean_power_w": report.mean_power_w.get("gpu"),
        "warnings": list(report.warnings),
    }
    print("\n" + str(report))
    return figures, baseline_verdict(idle_w, report.energy_j, report.dynamic_energy_j)


class CounterTrace:
    """Reads a machine-scope meter's first channel (a counter, joules) every ``interval_s``
    in a thread: ``points`` holds ``(time.monotonic(), joules)``."""

    def __init__(self, meter: NvmlMeter, interval_s: float = 0.1) -> None:
        self.meter = meter
        self.interval_s = interval_s
        self.points: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpu-check-trace", daemon=True)

    def _read(self) -> None:
        before = time.monotonic()
        joules = self.meter.read()[0]
        if math.isfinite(joules):
            self.points.append(((before + time.monotonic()) / 2, joules))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._read()

    def start(self) -> None:
        self._read()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._read()


def wait_ready(child: subprocess.Popen[bytes], deadline: float) -> None:
    """Read the child's stdout until its :data:`READY` line (or fail at ``deadline``)."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    line = b""
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            continue
        byte = os.read(fd, 1)
        if not byte:
            raise RuntimeError(f"share child {child.pid} exited before it was ready")
        if byte != b"\n":
            line += byte
        elif line.strip() == READY.encode():
            return
        else:
            line = b""
    raise RuntimeError(f"share child {child.pid} was not ready in time")


def _run_children(
    args: argparse.Namespace, rig: Rig, device: NvmlMeter, logs: Sequence[Path]
) -> tuple[list[dict[str, Any]], list[tuple[float, float]]]:
    """Start the children, read the device while they run; their figures and the trace."""
    base = list(rig.child) or [sys.executable, __file__]
    options = ["--share-child", "--child-seconds", str(args.share_seconds)]
    children = [
        subprocess.Popen(
            [*base, *options, "--child-size", str(size), "--child-log", str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        for size, log in zip(args.share_sizes, logs, strict=True)
    ]
    trace = CounterTrace(device)
    try:
        deadline = time.monotonic() + CHILD_START_S
        for child in children:
            wait_ready(child, deadline)
        trace.start()
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=args.share_seconds + 120)[0] for child in children]
        trace.stop()
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child in children:
        if child.returncode != 0:
            raise RuntimeError(f"share child {child.pid} exited with status {child.returncode}")
    return [parse_child_result(out.decode(errors="replace")) for out in outputs], trace.points


def check_share(args: argparse.Namespace, rig: Rig = CUDA) -> tuple[Figures, Verdict]:
    """Two processes' attributed energies against the device's (see the module docstring)."""
    torch = sys.modules.get("torch")
    cuda_here = torch is not None and bool(torch.cuda.is_initialized())
    if cuda_here:
        print("note: this process has a CUDA context: it is a third process on the GPU")
    folder = args.json.parent if args.json is not None else Path(tempfile.mkdtemp())
    logs = [folder / f"gpu-check-share-{i}.jsonl" for i in range(len(args.share_sizes))]
    device = rig.meter(mode="counter")
    try:
        figures: Figures = gpu_figures(device)
        children, trace = _run_children(args, rig, device, logs)
    finally:
        device.close()
    t0 = min(c["t0"] for c in children)
    t1 = max(c["t1"] for c in children)
    device_j = energy_between(trace, t0, t1)
    attributed = [c["attributed_j"] for c in children]
    seen = [bool(c["tree_seen"]) for c in children]
    sm_fractions = [float(c["sm_fraction"]) for c in children]
    figures |= {
        "method": (
            "device energy from the earliest child start to the latest child stop "
            "(time.monotonic), interpolated from machine-scope NVML counter readings every "
            "0.1 s; against the sum of the children's process-scope energies"
        ),
        "parent_cuda_context": cuda_here,
        "span_s": t1 - t0,
        "overlap_s": min(c["t1"] for c in children) - max(c["t0"] for c in children),
        "device_energy_j": device_j,
        "attributed_sum_j": sum(attributed),
        "relative_difference": relative_difference(sum(attributed), device_j),
        "device_readings": len(trace),
        "all_seen": all(seen),
        "sm_fractions": sm_fractions,
        "children": children,
    }
    for c in children:
        print(
            f"child {c['pid']} ({c['size']}^3, {c['tflops']:.0f} TFLOP/s): attributed "
            f"{c['attributed_j']:.1f} J of the {c['device_j']:.1f} J its meter saw, "
            f"{100 * c['sm_fraction']:.0f}% of that split by SM utilisation; "
            f"{'seen' if c['tree_seen'] else 'never seen'} on the GPU; log {c['log']}"
        )
    print(f"device, over {t1 - t0:.2f} s: {device_j:.1f} J ({len(trace)} readings)")
    return figures, share_verdict(attributed, device_j, seen, sm_fractions)


def share_child(size: int, seconds: float, log: Path | None, rig: Rig = CUDA) -> int:
    """The helper mode: a load of ``size`` under a process-scope tracker, started by "go"
    on stdin; prints its figures as a :data:`RESULT_PREFIX` line."""
    meter = rig.meter(scope="process")
    try:
        a, b = rig.pair(size)
        rig.products(a, b, 0.5)  # warm-up, before the measured span
        print(READY, flush=True)
        if sys.stdin.readline().strip() != "go":
            return 2
        t0 = time.monotonic()
        with nf.track_energy(meters=[meter], interval_s=0.5, log=log, name=f"share-{size}") as t:
            load = rig.products(a, b, seconds)
        t1 = time.monotonic()
        seen = meter.attribution[0].tree_seen
    finally:
        meter.close()
    (channel,) = t.report.channels  # the run's figures, as the report keeps them
    device_j = channel.device_energy_j or 0.0
    rule_j = dict(channel.share_rules or {})
    result = {
        "pid": os.getpid(),
        "t0": t0,
        "t1": t1,
        "attributed_j": channel.energy_j,
        "device_j": device_j,
        "share": channel.energy_j / device_j if device_j > 0 else None,
        "rule_j": rule_j,
        "sm_fraction": rule_j.get("sm", 0.0) / device_j if device_j > 0 else 0.0,
        "tree_seen": seen,
        "log": None if log is None else str(log),
        **load,
    }
    print(RESULT_PREFIX + json.dumps(jsonable(result)), flush=True)
    return 0


RUNNERS: Mapping[str, Check] = {
    "share": check_share,
    "comparison": check_comparison,
    "mfu": check_mfu,
    "baseline": check_baseline,
}


def run_checks(
    args: argparse.Namespace, rig: Rig = CUDA, runners: Mapping[str, Check] = RUNNERS
) -> tuple[dict[str, Any], list[Verdict]]:
    """Run the checks asked for, in order; one that raises fails with the reason and the
    others still run (a lent GPU's minutes are too scarce to stop at the first)."""
    results: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nlpfootprint": nf.__version__,
        "checks": list(args.checks),
    }
    verdicts = []
    for name in args.checks:
        print(f"\n== {name} ==", flush=True)
        try:
            figures, verdict = runners[name](args, rig)
        except Exception as err:  # recorded as the check's failure
            reason = f"{type(err).__name__}: {err}"
            figures, verdict = {"error": reason}, Verdict(name, False, f"did not run: {reason}")
        results[name] = {**figures, "passed": verdict.passed, "verdict": verdict.line()}
        verdicts.append(verdict)
        print(verdict.line(), flush=True)
    return results, verdicts


def summary(verdicts: Iterable[Verdict]) -> tuple[str, int]:
    """The PASS/FAIL lines and the exit status: 0 when every check passed, else 1."""
    verdicts = list(verdicts)
    lines = "\n".join(v.line() for v in verdicts)
    return lines, 0 if verdicts and all(v.passed for v in verdicts) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.share_child:
        return share_child(args.child_size, args.child_seconds, args.child_log)
    results, verdicts = run_checks(args)
    lines, status = summary(verdicts)
    print("\n== summary ==\n" + lines)
    if args.json is not None:
        write_json(args.json, results)
        print(f"figures written to {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
