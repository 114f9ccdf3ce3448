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
    when there is one) and ``j_per_token`` (once tokens are counted).

    With ``reduce`` (the framework's sum over the job's ``ranks``: a collective, which
    every rank reaches at the same log), each figure is the job's: energy, CO2e, tokens and
    power summed over the ranks, ``power_w`` only where every rank has one.
    """
    if reduce is None or ranks < 2:
        figures = {"energy_kwh": report.energy_kwh, "co2e_kg": report.co2e_kg}
        if power_w is not None:
            figures["power_w"] = power_w
        if report.j_per_token is not None:
            figures["j_per_token"] = report.j_per_token
        return figures
    import torch

    mine = [report.energy_j, report.co2e_kg, float(report.tokens), power_w or 0.0]
    row = torch.tensor([*mine, float(power_w is not None)], dtype=torch.float64)
    energy_j, co2e_kg, tokens, job_power_w, with_power = (float(v) for v in reduce(row).tolist())
    figures = {"energy_kwh": energy_j / J_PER_KWH, "co2e_kg": co2e_kg}
    if with_power == ranks:
        figures["power_w"] = job_power_w
    if tokens > 0:
        figures["j_per_token"] = energy_j / tokens
    return figures
