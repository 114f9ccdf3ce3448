"""Resolving carbon_intensity= arguments: numbers, presets, region keys, generation mixes."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from importlib import resources

import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError, UnknownRegionError
from nlpfootprint.intensity import (
    DEFAULT_INTENSITY,
    MIX_BASIS,
    STRUBELL_2019,
    carbon_intensity,
    intensity_from_mix,
    resolve_intensity,
)
from nlpfootprint.intensity import regions as nf_regions
from nlpfootprint.testing import FakeClock, FakeMeter


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


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, True, None, [1.0]])
def test_bad_intensities_raise_naming_the_value(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="carbon_intensity"):
        carbon_intensity(bad)  # type: ignore[arg-type]
    if bad is not None:
        with pytest.raises(ConfigurationError, match="carbon_intensity"):
            resolve_intensity(bad)  # type: ignore[arg-type]


def test_a_key_that_is_not_known_is_an_unknown_region_error_not_a_silent_default() -> None:
    with pytest.raises(UnknownRegionError, match="'mars'") as caught:
        resolve_intensity("mars")
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, ValueError)


# -- keys -------------------------------------------------------------------------------


def table(name: str) -> list[dict[str, str]]:
    text = (resources.files("nlpfootprint") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def country_row(code: str) -> dict[str, str]:
    return next(r for r in table("carbon_intensity_countries.csv") if r["iso3"] == code)


def test_the_default_is_the_world_row_of_the_shipped_table() -> None:
    world = country_row("OWID_WRL")
    assert DEFAULT_INTENSITY.g_per_kwh == float(world["gco2e_per_kwh"])
    assert DEFAULT_INTENSITY.year == int(world["year"])
    assert carbon_intensity("world") == DEFAULT_INTENSITY
    assert carbon_intensity("OWID_WRL") == DEFAULT_INTENSITY


@pytest.mark.parametrize(
    ("key", "canonical"),
    [
        ("FRA", "FRA"),
        ("fra", "FRA"),
        ("FR", "FRA"),
        ("  france ", "FRA"),
        ("French Republic", "FRA"),
        ("DEU", "DEU"),
        ("de", "DEU"),
        ("Germany", "DEU"),
        ("USA", "USA"),
        ("US", "USA"),
        ("United States", "USA"),
        ("United States of America", "USA"),
        ("U.S.", "USA"),
        ("UK", "GBR"),
        ("United Kingdom", "GBR"),
        ("Great Britain", "GBR"),
        ("gb", "GBR"),
        ("Russia", "RUS"),
        ("Russian Federation", "RUS"),
        ("South Korea", "KOR"),
        ("Korea, Republic of", "KOR"),
        ("Czech Republic", "CZE"),
        ("Czechia", "CZE"),
        ("Iran", "IRN"),
        ("Vietnam", "VNM"),
        ("Viet Nam", "VNM"),
        ("Turkey", "TUR"),
        ("Türkiye", "TUR"),
        ("TURKIYE", "TUR"),
        ("The Netherlands", "NLD"),
        ("Côte d\u2019Ivoire", "CIV"),  # a typographic apostrophe
        ("Ivory Coast", "CIV"),
        ("Kosovo", "XKX"),
        ("XK", "XKX"),
        ("OWID_KOS", "XKX"),
        ("Georgia", "GEO"),
        ("world", "world"),
        ("Global", "world"),
        ("europe", "europe"),
        ("EU", "eu27"),
        ("European Union", "eu27"),
        ("OWID_EU27", "eu27"),
        ("Asia (Ember)", "asia-ember"),
        ("OECD", "oecd-ember"),
        ("gcp:europe-west4", "gcp:europe-west4"),
        ("GCP:Europe-West4", "gcp:europe-west4"),
        ("aws:us-east-1", "aws:us-east-1"),
        ("azure:westeurope", "azure:westeurope"),
        ("coreweave:lga1", "coreweave:LGA1"),
        ("ovh:gra", "ovh:gra"),
        ("scaleway:fr-par", "scaleway:paris"),
        ("seeweb:fro2", "seeweb:fro2"),
        ("US-CA", "US-CA"),
        ("us-ca", "US-CA"),
        ("California", "US-CA"),
        ("US-GA", "US-GA"),
        ("CN-GD", "CN-GD"),
        ("Guangdong", "CN-GD"),
        ("se3", "SE3"),
        ("NO1", "NO1"),
        ("Strubell2019", "strubell2019"),
    ],
)
def test_every_kind_of_key_resolves_to_its_canonical_key(key: str, canonical: str) -> None:
    assert carbon_intensity(key).key == canonical
    assert resolve_intensity(key) == (carbon_intensity(canonical), False)


def test_every_country_and_aggregate_row_gives_its_value_year_and_source() -> None:
    rows = table("carbon_intensity_countries.csv")
    keys = {r.key for r in nf_regions() if r.kind in ("country", "aggregate")}
    assert len(keys) == len(rows) == 238
    for row in rows:
        key = row["iso3"] or row["country"]
        found = carbon_intensity("XKX" if key == "OWID_KOS" else key)
        if float(row["gco2e_per_kwh"]) == 0:  # corrected, see the tests further down
            assert found.g_per_kwh > 0, key
        else:
            assert found.g_per_kwh == float(row["gco2e_per_kwh"]), key
        assert found.year == int(row["year"])
        assert "Our World in Data" in found.source
        assert "CC BY 4.0" in found.source
        assert found.basis.startswith("lifecycle")


def test_france_is_4144_g_per_kwh_in_2025() -> None:
    assert (carbon_intensity("FRA").g_per_kwh, carbon_intensity("FRA").year) == (41.44, 2025)


def test_every_cloud_row_answers_to_provider_and_region() -> None:
    rows = table("cloud_regions.csv")
    assert {r["provider"] for r in rows} == {
        "gcp", "aws", "azure", "coreweave", "ovh", "scaleway", "seeweb"
    }  # fmt: skip
    for row in rows:
        key = f"{row['provider']}:{row['region'] or row['region_name'].lower()}"
        found = carbon_intensity(key)
        assert found.g_per_kwh == float(row["gco2e_per_kwh"]), key
        assert found.year == int(row["year"])
        assert row["basis"] in found.basis


def test_gcp_values_carry_googles_2024_basis() -> None:
    found = carbon_intensity("gcp:europe-west4")
    assert found.year == 2024
    assert "location-based" in found.basis
    assert "region-carbon-info" in found.source
    assert "Apache-2.0" in found.source


@pytest.mark.parametrize("key", ["aws:us-east-1", "azure:westeurope"])
def test_aws_and_azure_values_say_they_are_stale_2019_compilations(key: str) -> None:
    found = carbon_intensity(key)
    assert found.year == 2019
    assert "compiled in 2019" in found.basis
    assert "stale" in found.basis
    assert "ML CO2 Impact" in found.source


def test_every_subnational_row_resolves_except_the_national_ones() -> None:
    for row in table("carbon_intensity_subnational.csv"):
        found = carbon_intensity(row["region_code"])
        if row["region_code"] in ("US", "FI"):  # ISO alpha-2: the country's OWID row wins
            assert found.key == row["country_iso3"]
            assert found.g_per_kwh == float(country_row(row["country_iso3"])["gco2e_per_kwh"])
        else:
            assert (found.key, found.g_per_kwh) == (
                row["region_code"],
                float(row["gco2e_per_kwh"]),
            )


def test_us_states_say_they_are_direct_not_lifecycle_emissions() -> None:
    found = carbon_intensity("US-CA")
    assert "not lifecycle" in found.basis
    assert "eGRID2023" in found.source
    assert found.year == 2023
    assert "CO2 only" in carbon_intensity("CN-BJ").basis


def test_georgia_is_the_country_and_the_only_name_clash() -> None:
    from nlpfootprint.intensity import _catalogue

    assert carbon_intensity("georgia").key == "GEO"
    assert carbon_intensity("US-GA").g_per_kwh != carbon_intensity("GEO").g_per_kwh
    assert _catalogue().shadowed == (("georgia", "GEO", "US-GA"),)


def test_every_listed_key_and_alias_resolves_to_its_own_region() -> None:
    for region in nf_regions():
        found = carbon_intensity(region.key)
        assert (found.key, found.g_per_kwh, found.year) == (
            region.key,
            region.g_per_kwh,
            region.year,
        )
        for alias in region.aliases:
            assert carbon_intensity(alias).key == region.key, alias


def test_strubell_preset_resolves_to_the_papers_constant() -> None:
    assert carbon_intensity("strubell2019") == STRUBELL_2019


def test_a_number_is_grams_per_kwh_given_by_the_user() -> None:
    assert carbon_intensity(41) == nf.Intensity(41.0, source="given by the user")
    assert carbon_intensity(0.0).g_per_kwh == 0.0


def test_an_intensity_passes_through_carbon_intensity_unchanged() -> None:
    mine = nf.Intensity(g_per_kwh=12.0, source="PPA", key="mine")
    assert carbon_intensity(mine) is mine


# -- unknown keys -----------------------------------------------------------------------


def test_a_misspelt_country_suggests_the_closest_keys() -> None:
    with pytest.raises(UnknownRegionError) as caught:
        carbon_intensity("frnace")
    message = str(caught.value)
    assert "'frnace'" in message
    assert "FRA (France)" in message
    assert "nlpfootprint regions --search" in message
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, ValueError)


def test_unknown_region_errors_are_caught_as_key_and_value_errors() -> None:
    with pytest.raises(KeyError):
        carbon_intensity("atlantis")
    with pytest.raises(ValueError, match="atlantis"):
        carbon_intensity("atlantis")


def test_a_wrong_separator_suggests_the_cloud_key() -> None:
    with pytest.raises(UnknownRegionError, match="aws:us-east-1"):
        carbon_intensity("aws/us-east-1")


def test_suggestions_are_at_most_five() -> None:
    with pytest.raises(UnknownRegionError) as caught:
        carbon_intensity("gcp:us-east9")
    closest = str(caught.value).split("closest: ")[1].split(")")[0]
    assert 1 <= len(closest.split(", ")) <= 5


@pytest.mark.parametrize("key", ["ATA", "AQ", "Antarctica", "Monaco"])
def test_an_iso_country_without_a_value_says_so(key: str) -> None:
    with pytest.raises(UnknownRegionError, match="no carbon intensity"):
        carbon_intensity(key)


def test_a_number_in_a_string_is_a_key_and_the_error_says_pass_the_number() -> None:
    with pytest.raises(UnknownRegionError, match=r"pass the number 41\.4"):
        carbon_intensity("41.4")


def test_an_empty_key_is_unknown() -> None:
    with pytest.raises(UnknownRegionError, match="empty"):
        carbon_intensity("  ")


# -- the tracker and reports take keys ---------------------------------------------------


def test_track_energy_with_a_country_key_uses_its_intensity() -> None:
    clock = FakeClock()
    meter = FakeMeter.constant(500.0, domain="gpu")
    with nf.track_energy(meters=[meter], clock=clock, pue=1.5, carbon_intensity="FRA") as t:
        clock.advance(7200.0)
    report = t.report
    assert report.facility_energy_kwh == pytest.approx(1.5)
    assert report.co2e_kg == pytest.approx(report.facility_energy_kwh * 41.44 / 1000)
    assert report.assumptions.intensity.key == "FRA"
    assert not report.assumptions.intensity_is_default


def test_report_assumptions_take_keys_too() -> None:
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(1000.0)], clock=clock, pue=1.0) as t:
        clock.advance(3600.0)
    report = t.report.with_assumptions(carbon_intensity="gcp:europe-west9")
    assert report.co2e_kg == pytest.approx(carbon_intensity("gcp:europe-west9").g_per_kwh / 1000)


# -- intensity from a generation mix ----------------------------------------------------


def factor(source: str) -> float:
    rows = table("emission_factors_by_source.csv")
    row = next(r for r in rows if r["source"] == source and r["is_default"] == "1")
    return float(row["gco2e_per_kwh_median"])


@pytest.mark.parametrize(
    "source", ["coal", "gas", "oil", "nuclear", "hydro", "wind", "solar", "biomass", "geothermal"]
)
def test_a_single_source_mix_is_that_sources_median_factor(source: str) -> None:
    assert intensity_from_mix({source: 1.0}).g_per_kwh == factor(source)
    assert intensity_from_mix({source: 100}).g_per_kwh == factor(source)


def test_pure_coal_is_820() -> None:
    found = intensity_from_mix({"coal": 1})
    assert found.g_per_kwh == 820.0
    assert found.basis == MIX_BASIS
    assert "coal 100%" in found.source


def test_fractions_and_percentages_give_the_same_result() -> None:
    fractions = intensity_from_mix({"coal": 0.65, "gas": 0.2, "wind": 0.15})
    percentages = intensity_from_mix({"coal": 65, "gas": 20, "wind": 15})
    expected = 0.65 * 820 + 0.2 * 490 + 0.15 * 11
    assert fractions.g_per_kwh == pytest.approx(expected)
    assert percentages.g_per_kwh == pytest.approx(expected)


def test_shares_within_the_tolerance_are_accepted_and_weighted_by_their_total() -> None:
    assert intensity_from_mix({"coal": 0.5, "nuclear": 0.495}).g_per_kwh == pytest.approx(
        (0.5 * 820 + 0.495 * 12) / 0.995
    )
    assert intensity_from_mix({"gas": 60, "hydro": 39.5}).g_per_kwh == pytest.approx(
        (60 * 490 + 39.5 * 24) / 99.5
    )


@pytest.mark.parametrize("mix", [{"coal": 0.5, "gas": 0.4}, {"coal": 65, "gas": 3}, {"coal": 2}])
def test_shares_that_add_up_to_neither_1_nor_100_need_normalize(mix: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="normalize=True"):
        intensity_from_mix(mix)
    total = sum(mix.values())
    expected = sum(factor(s) * v for s, v in mix.items()) / total
    assert intensity_from_mix(mix, normalize=True).g_per_kwh == pytest.approx(expected)


def test_source_names_are_case_insensitive_and_have_aliases() -> None:
    assert intensity_from_mix({"Coal": 1}).g_per_kwh == 820
    assert intensity_from_mix({"bioenergy": 1}) == intensity_from_mix({"biomass": 1})
    assert intensity_from_mix({"other renewables": 1}).g_per_kwh == factor("geothermal")
    renewables = intensity_from_mix({"renewables": 1})
    assert renewables.g_per_kwh == pytest.approx((24 + 11 + 48) / 3)
    assert "renewables: the mean of the hydro, wind and solar" in renewables.basis


def test_an_unknown_source_lists_the_allowed_names() -> None:
    with pytest.raises(ConfigurationError, match="'fusion'") as caught:
        intensity_from_mix({"fusion": 1})
    for name in ("coal", "gas", "oil", "nuclear", "hydro", "wind", "solar", "geothermal"):
        assert name in str(caught.value)


@pytest.mark.parametrize(
    "mix", [{"coal": -0.1, "gas": 1.1}, {"coal": math.nan}, {}, {"coal": True}]
)
def test_bad_shares_are_rejected(mix: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="mix"):
        intensity_from_mix(mix)


def test_a_zero_total_is_rejected_even_with_normalize() -> None:
    with pytest.raises(ConfigurationError, match="add up to 0"):
        intensity_from_mix({"coal": 0, "gas": 0}, normalize=True)


# Strubell et al. (2019), Table 2: renewables / gas / coal / nuclear, % of energy.
TABLE_2 = {
    "China": (22, 3, 65, 4),
    "Germany": (40, 7, 38, 13),
    "United States": (17, 35, 27, 19),
    "Amazon-AWS": (17, 24, 30, 26),
    "Google": (56, 14, 15, 10),
    "Microsoft": (32, 23, 31, 10),
}


def test_the_papers_table_2_mixes_rank_china_highest_and_google_lowest() -> None:
    found = {
        consumer: intensity_from_mix(
            {"renewables": r, "gas": g, "coal": c, "nuclear": n}, normalize=True
        ).g_per_kwh
        for consumer, (r, g, c, n) in TABLE_2.items()
    }
    ranked = sorted(found, key=found.__getitem__)
    assert ranked[0] == "Google"
    assert ranked[-1] == "China"
    assert found["Germany"] < found["United States"]
    assert all(0 < g < 820 for g in found.values())


def test_an_unknown_key_is_also_a_configuration_error_like_any_bad_argument() -> None:
    with pytest.raises(ConfigurationError, match="'atlantis'"):
        resolve_intensity("atlantis")


# -- corrections to the shipped data ------------------------------------------------------

FLAGGED = ("TKM", "UZB", "BHR", "BRN", "LBY")


def test_no_key_serves_a_grid_figure_of_zero() -> None:
    zero = [r.key for r in nf_regions() if r.g_per_kwh == 0]
    assert zero == []


def test_the_central_african_republics_zero_is_served_as_its_mix_estimate_and_says_so() -> None:
    assert float(country_row("CAF")["gco2e_per_kwh"]) == 0  # the table keeps OWID's value
    found = carbon_intensity("CAF")
    assert found.g_per_kwh == intensity_from_mix({"hydro": 100}).g_per_kwh == 24.0
    assert (found.key, found.year) == ("CAF", 2023)
    assert "corrected: the table's 0 g/kWh is no lifecycle figure" in found.source
    assert "hydro 100%" in found.source
    assert "Our World in Data" in found.source
    assert found.basis.startswith("lifecycle")
    assert "estimated from the mix" in found.basis
    assert "corrected" in found.describe()
    assert carbon_intensity("Central African Republic") == found


def test_a_zero_row_without_a_mix_is_refused_with_a_note_naming_the_value() -> None:
    from nlpfootprint import _tables
    from nlpfootprint.intensity import _unknown_key_message

    catalogue = _tables.build_catalogue(
        from_mix=lambda mix: intensity_from_mix(mix).g_per_kwh, mixes={}
    )
    for key in ("CAF", "CF", "Central African Republic"):
        assert catalogue.find(key) is None
        message = _unknown_key_message(key, catalogue)
        assert f"carbon_intensity={key!r}" in message
        assert "0 g/kWh for 2023" in message
        assert "not served" in message
        assert "pass a number" in message
        assert "no carbon intensity for it" not in message  # not the ISO no-data message


@pytest.mark.parametrize("key", FLAGGED)
def test_values_implausible_for_a_gas_fired_grid_are_kept_but_flagged(key: str) -> None:
    found = carbon_intensity(key)
    assert found.g_per_kwh == float(country_row(key)["gco2e_per_kwh"]) > factor("coal")
    assert "flagged as implausible, kept as published" in found.source
    assert "flagged as implausible" in found.describe()
    assert "gas-fired" in found.basis
    assert f"{found.g_per_kwh:g} g/kWh is above the lifecycle factor of coal (820)" in found.basis
    assert found.basis.startswith("lifecycle")


def test_every_country_row_above_the_coal_factor_is_flagged_or_a_reviewed_exception() -> None:
    from nlpfootprint._corrections import REVIEWED_ABOVE_COAL

    above = {
        row["iso3"]
        for row in table("carbon_intensity_countries.csv")
        if row["entity_type"] == "country" and float(row["gco2e_per_kwh"]) > factor("coal")
    }
    flagged = {code for code in above if "flagged as implausible" in carbon_intensity(code).source}
    assert flagged == set(FLAGGED)
    assert above - flagged == set(REVIEWED_ABOVE_COAL)
    for code in REVIEWED_ABOVE_COAL:
        found = carbon_intensity(code)
        assert "flagged" not in found.source, code
        assert f"{float(country_row(code)['gco2e_per_kwh']):,g}" in REVIEWED_ABOVE_COAL[code]
    assert "flagged" not in carbon_intensity("FRA").source


def test_the_reviewed_exceptions_above_coal_are_coal_or_oil_fired_grids() -> None:
    from nlpfootprint._corrections import COUNTRY_MIXES, REVIEWED_ABOVE_COAL

    for code, why in REVIEWED_ABOVE_COAL.items():
        mix = COUNTRY_MIXES.get(code)
        if mix is None:  # Kosovo: OWID gives no shares
            assert "no mix" in why, code
            continue
        assert mix.get("gas", 0.0) <= 50, code
        assert mix.get("coal", 0.0) + mix.get("oil", 0.0) > 50, code
        assert ("coal" if mix.get("coal", 0.0) > 50 else "oil") in why, code


def test_the_plausibility_rule_needs_both_a_gas_majority_and_a_value_above_coal() -> None:
    from nlpfootprint._corrections import implausible_notes

    def notes(g_per_kwh: float, mix: Mapping[str, float]) -> tuple[str, str] | None:
        return implausible_notes(
            g_per_kwh,
            2024,
            mix,
            coal_g_per_kwh=factor("coal"),
            from_mix=lambda m: intensity_from_mix(m).g_per_kwh,
        )

    assert notes(900, {"gas": 100}) is not None
    assert notes(800, {"gas": 100}) is None  # below coal
    assert notes(900, {"coal": 98, "oil": 2}) is None  # coal-fired
    assert notes(900, {"gas": 50, "coal": 50}) is None  # not mostly gas
    short, full = notes(900, {"gas": 100}) or ("", "")
    assert "whose mix gives 490 g/kWh" in short
    assert "gas 100%" in full


def test_seeweb_frosinone_serves_italys_grid_not_the_suppliers_claim() -> None:
    found = carbon_intensity("seeweb:fro2")
    italy = carbon_intensity("ITA")
    assert (found.g_per_kwh, found.year) == (italy.g_per_kwh, italy.year)
    assert found.g_per_kwh > 0
    assert "Italy's grid average, mapped to this region" in found.source
    assert "100% carbon-free energy" in found.source
    assert "a supplier's claim, not the grid" in found.source
    assert "country grid average (mapped: region in Italy)" in found.basis


NEW_AWS = {
    "af-south-1": "ZAF",
    "ap-south-2": "IND",
    "ap-southeast-3": "IDN",
    "eu-central-2": "CHE",
    "eu-south-1": "ITA",
    "eu-south-2": "ESP",
    "me-central-1": "ARE",
    "me-south-1": "BHR",
}


@pytest.mark.parametrize(("region", "code"), NEW_AWS.items())
def test_aws_regions_missing_from_mlco2_map_to_their_countrys_figure(
    region: str, code: str
) -> None:
    found = carbon_intensity(f"aws:{region}")
    country = carbon_intensity(code)
    assert (found.g_per_kwh, found.year) == (country.g_per_kwh, country.year)
    row = country_row(code)
    assert f"country grid average (mapped: region in {row['country']})" in found.basis
    assert f"{row['country']}'s grid average, mapped to this region" in found.source
    assert "Our World in Data" in found.source


def test_a_region_mapped_to_a_flagged_country_carries_the_flag() -> None:
    found = carbon_intensity("aws:me-south-1")
    assert "flagged as implausible" in found.source
    assert nf_regions("me-south-1")[0].short_source == "OWID 2024, mapped, flagged"


def test_every_mapped_cloud_row_holds_its_countrys_value_and_year() -> None:
    mapped = [r for r in table("cloud_regions.csv") if r["origin"].endswith("countries.csv")]
    assert {f"{r['provider']}:{r['region']}" for r in mapped} == {
        "seeweb:fro2",
        *(f"aws:{region}" for region in NEW_AWS),
    }
    for row in mapped:
        country = country_row(row["iso3"])
        assert (row["gco2e_per_kwh"], row["year"]) == (country["gco2e_per_kwh"], country["year"])
        assert row["basis"] == f"country grid average (mapped: region in {country['country']})"


@pytest.mark.parametrize("key", ["aws:us-east-1", "azure:westeurope"])
def test_the_source_of_an_aws_or_azure_row_gives_its_year_and_says_stale(key: str) -> None:
    found = carbon_intensity(key)
    assert "compiled 2019" in found.source
    assert found.source.endswith(": stale")
    assert "stale" in found.describe()


def test_every_report_format_shows_the_year_and_stale_for_an_aws_row() -> None:
    from nlpfootprint.render import (
        paper_sentence,
        render_csv_row,
        render_html,
        render_latex,
        render_markdown,
        render_text,
    )
    from nlpfootprint.render.caption import figure_caption

    report = nf.estimate(hours=1, power_w=1000, carbon_intensity="aws:us-east-1")
    renderers = (render_text, render_markdown, render_html, render_latex, render_csv_row)
    for render in (*renderers, paper_sentence):
        out = render(report)
        assert "2019" in out, render.__name__
        assert "stale" in out, render.__name__
    assert "(aws:us-east-1, 2019)" in figure_caption(report)  # a caption gives key and year
    assert "stale" in report.to_dict()["assumptions"]["intensity"]["source"]


def test_every_report_format_says_a_figure_is_corrected_or_flagged() -> None:
    from nlpfootprint.render import render_csv_row, render_latex, render_text

    corrected = nf.estimate(hours=1, power_w=1000, carbon_intensity="CAF")
    flagged = nf.estimate(hours=1, power_w=1000, carbon_intensity="TKM")
    for render in (render_text, render_latex, render_csv_row):
        assert "corrected" in render(corrected), render.__name__
        assert "flagged as implausible" in render(flagged), render.__name__
