"""Resolving carbon_intensity= arguments (region keys arrive with a later issue)."""

from __future__ import annotations

import math

import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.intensity import DEFAULT_INTENSITY, STRUBELL_2019, resolve_intensity


def test_default_is_the_world_average_with_its_source() -> None:
    intensity, is_default = resolve_intensity(None)
    assert is_default
    assert intensity is DEFAULT_INTENSITY
    assert intensity.g_per_kwh == 458.29
    assert intensity.year == 2025
    assert "Our World in Data" in intensity.source


def test_a_number_is_grams_per_kwh() -> None:
    intensity, is_default = resolve_intensity(120)
    assert (intensity.g_per_kwh, is_default) == (120.0, False)


def test_strubell_preset_is_0954_lbs_per_kwh() -> None:
    intensity, _ = resolve_intensity("Strubell2019")
    assert intensity is STRUBELL_2019
    assert intensity.g_per_kwh / 453.59237 == pytest.approx(0.954)


def test_an_intensity_object_passes_through() -> None:
    mine = nf.Intensity(g_per_kwh=33.0, source="my utility's 2025 disclosure", year=2025)
    assert resolve_intensity(mine) == (mine, False)
    assert "33 g/kWh" in mine.describe()


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "mars", True])
def test_bad_intensities_raise_naming_the_value(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="carbon_intensity"):
        resolve_intensity(bad)  # type: ignore[arg-type]
