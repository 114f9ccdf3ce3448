"""The figures the training callbacks log, for one process or summed over a job's ranks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nlpfootprint.report import Report
from nlpfootprint.units import J_PER_KWH

__all__ = ["logged_figures"]

Reduce = Callable[[Any], Any]


def logged_figures(
    report: Report, power_w: float | None, *, reduce: Reduce | None = None, ranks: int = 1
) -> dict[str, float]:
    """``energy_kwh`` and ``co2e_kg`` so far, ``power_w`` (the mean since the previous log,
    when there is one), ``j_per_token`` (once tokens are counted), ``flops_per_j`` (once
    FLOPs are) and ``mfu`` (once FLOPs are counted and the peak is known).

    With ``reduce`` (the framework's sum over the job's ``ranks``: a collective, which
    every rank reaches at the same log), each figure is the job's: energy, CO2e, tokens,
    FLOPs and power summed over the ranks, ``power_w`` only where every rank has one, and
    ``mfu`` the ranks' FLOPs over this rank's time and the sum of their peaks, where every
    rank knows its peak.
    """
    if reduce is None or ranks < 2:
        figures = {"energy_kwh": report.energy_kwh, "co2e_kg": report.co2e_kg}
        if power_w is not None:
            figures["power_w"] = power_w
        if report.j_per_token is not None:
            figures["j_per_token"] = report.j_per_token
        if report.flops_per_j is not None:
            figures["flops_per_j"] = report.flops_per_j
        if report.mfu is not None:
            figures["mfu"] = report.mfu
        return figures
    import torch

    peak = report.peak
    mine = [report.energy_j, report.co2e_kg, float(report.tokens), power_w or 0.0]
    mine += [float(power_w is not None), report.flops or 0.0, float(report.flops is not None)]
    mine += [0.0 if peak is None else peak.flops_per_s, float(peak is not None)]
    row = torch.tensor(mine, dtype=torch.float64)
    energy_j, co2e_kg, tokens, job_power_w, with_power, flops, with_flops, peaks, with_peak = (
        float(v) for v in reduce(row).tolist()
    )
    figures = {"energy_kwh": energy_j / J_PER_KWH, "co2e_kg": co2e_kg}
    if with_power == ranks:
        figures["power_w"] = job_power_w
    if tokens > 0:
        figures["j_per_token"] = energy_j / tokens
    if with_flops and energy_j > 0:
        figures["flops_per_j"] = flops / energy_j
    if with_flops and with_peak == ranks and peaks > 0 and report.duration_s > 0:
        figures["mfu"] = flops / report.duration_s / peaks
    return figures
