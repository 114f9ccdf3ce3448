"""Everyday equivalents (the paper's Table 1) and the same run on other grids."""

from __future__ import annotations

import pytest

import nlpfootprint as nf
from nlpfootprint.accounting import LBS_PER_KG
from nlpfootprint.equivalents import ACTIVITIES, equivalents
from nlpfootprint.report import ChannelReport, Report


def report_of(co2e_lbs: float, kwh: float = 1.0) -> Report:
    """A report whose CO2e is ``co2e_lbs`` (``kwh`` at the matching intensity, PUE 1)."""
    channel = ChannelReport("gpu:0", "gpu", "power", "sampled", "", kwh * 3.6e6)
    g_per_kwh = co2e_lbs / LBS_PER_KG * 1000 / kwh
    return Report(3600.0, (channel,), nf.Assumptions.build(pue=1.0, carbon_intensity=g_per_kwh))


@pytest.mark.parametrize(
    ("lbs", "index"),
    [(1984, 0), (11_023, 1), (36_156, 2), (126_000, 3)],
)
def test_the_papers_table_1_activities_are_one_unit_at_their_own_figure(
    lbs: float, index: int
) -> None:
    (first, *_) = equivalents(lbs / LBS_PER_KG)[index : index + 1]
    assert first.amount == pytest.approx(1.0)
    assert "Table 1" in first.activity.source


def test_transformer_big_with_nas_is_about_five_car_lifetimes() -> None:
    # the paper: NAS 626,155 lbs against a car lifetime of 126,000 lbs
    cars = report_of(626_155, kwh=1e6).equivalents()[3]  # at 284 g/kWh
    assert cars.amount == pytest.approx(626_155 / 126_000)
    assert str(cars).startswith("4.969 car lifetimes")


def test_modern_activities_are_sourced() -> None:
    modern = [a for a in ACTIVITIES if "Table 1" not in a.source]
    assert modern
    assert all("EPA" in a.source and a.co2e_kg > 0 for a in modern)
    km = next(a for a in modern if a.unit == "km")
    assert km.co2e_kg == pytest.approx(0.2485, rel=1e-3)  # 400 g/mile


def test_compare_regions_reaccounts_the_same_energy_on_other_grids() -> None:
    report = report_of(1.0)
    results = report.compare_regions([100.0, 0.0, "strubell2019"])
    assert [r.co2e_kg for r in results[:2]] == pytest.approx([0.1, 0.0])
    assert results[2].co2e_lbs == pytest.approx(0.954)
    assert results[2].intensity.key == "strubell2019"
