"""Listing the carbon-intensity keys, the data's attribution, and ``nlpfootprint regions``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from importlib import resources

import attrs
import pytest

from nlpfootprint.cli import COMMANDS
from nlpfootprint.commands import regions as regions_command
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.intensity import KINDS, Region, carbon_intensity, data_sources, regions

DATA = resources.files("nlpfootprint") / "data"


def shipped_data_files() -> set[str]:
    return {p.name for p in DATA.iterdir() if p.name.endswith((".csv", ".json"))}


# -- regions() ---------------------------------------------------------------------------


def test_regions_lists_every_key_once_sorted_by_kind_then_key() -> None:
    found = regions()
    assert len({r.key for r in found}) == len(found) == 238 + 113 + 90 + 1
    order = [(KINDS.index(r.kind), r.key.casefold()) for r in found]
    assert order == sorted(order)
    assert {r.kind for r in found} == set(KINDS)


def test_regions_values_match_carbon_intensity() -> None:
    for region in regions(kind="cloud"):
        assert carbon_intensity(region.key).g_per_kwh == region.g_per_kwh


def test_search_matches_key_or_name_case_insensitively() -> None:
    keys = {r.key for r in regions("fra")}
    assert {"FRA", "gcp:europe-west9", "azure:francecentral", "scaleway:paris"} <= keys
    assert keys == {r.key for r in regions("FRA")}
    assert "aws:eu-central-1" in keys  # "Frankfurt" in the name


def test_search_matches_aliases_and_ignores_accents() -> None:
    assert "GBR" in {r.key for r in regions("uk")}
    assert [r.key for r in regions("turkiye")] == ["TUR"]
    assert [r.key for r in regions("Türkiye")] == ["TUR"]


def test_kind_filters_and_combines_with_search() -> None:
    assert all(r.kind == "subnational" for r in regions(kind="subnational"))
    assert [r.key for r in regions("california", kind="subnational")] == ["US-CA"]
    assert [r.key for r in regions(kind="preset")] == ["strubell2019"]
    assert regions("california", kind="country") == []


def test_an_unknown_kind_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="'state'"):
        regions(kind="state")


def test_a_region_is_a_frozen_value() -> None:
    region = regions("FRA", kind="country")[0]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        region.g_per_kwh = 0.0  # type: ignore[misc]
    assert isinstance(region, Region)
    assert "FR" in region.aliases
    assert region.name == "France"


# -- data_sources() ----------------------------------------------------------------------


def test_data_sources_cover_every_shipped_data_file() -> None:
    listed = {s.file for s in data_sources()}
    missing = shipped_data_files() - listed
    assert not missing, f"add these to nlpfootprint/_datasources.py: {sorted(missing)}"
    assert listed <= shipped_data_files()
    for source in data_sources():
        assert all(attrs.astuple(source)), source


def test_every_shipped_data_file_has_a_readme_section() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for name in shipped_data_files():
        assert f"## {name}" in readme, name


def test_owid_data_carry_the_required_citation_and_license() -> None:
    owid = next(s for s in data_sources() if s.file == "carbon_intensity_countries.csv")
    assert owid.license == "CC BY 4.0"
    assert "processed by Our World in Data" in owid.attribution


# -- the command ---------------------------------------------------------------------------


def run_command(capsys: pytest.CaptureFixture[str], **options: object) -> tuple[int, str]:
    defaults: dict[str, object] = {"search": None, "kind": None, "sources": False, "json": False}
    status = regions_command.run(argparse.Namespace(**{**defaults, **options}))
    return status, capsys.readouterr().out


def test_command_prints_a_table_of_matching_keys(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_command(capsys, search="fra")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["KEY", "G/KWH", "YEAR", "NAME", "SOURCE"]
    france = next(line for line in lines if line.startswith("FRA "))
    assert france.split()[:4] == ["FRA", "41.4", "2025", "France"]
    assert "gcp:europe-west9" in out
    assert "world average" in out
    assert "--sources" in out


def test_command_filters_by_kind(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_command(capsys, kind="preset")
    assert status == 0
    assert "strubell2019" in out
    assert "FRA" not in out


def test_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_command(capsys, search="US-CA", json=True)
    assert status == 0
    (only,) = json.loads(out)
    assert only == {**attrs.asdict(regions("US-CA")[0]), "aliases": ["California"]}


def test_command_fails_when_nothing_matches(capsys: pytest.CaptureFixture[str]) -> None:
    status = regions_command.run(
        argparse.Namespace(search="zzzz", kind=None, sources=False, json=False)
    )
    captured = capsys.readouterr()
    assert status == 1
    assert "zzzz" in captured.err


def test_command_prints_the_sources(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_command(capsys, sources=True)
    assert status == 0
    for source in data_sources():
        assert source.file in out
        assert source.license in out
    assert "processed by Our World in Data" in out


def test_command_prints_the_sources_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_command(capsys, sources=True, json=True)
    assert status == 0
    assert [s["file"] for s in json.loads(out)] == [s.file for s in data_sources()]


def test_command_registers_its_options() -> None:
    parser = argparse.ArgumentParser()
    regions_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["regions", "--search", "fra", "--kind", "cloud", "--json"])
    assert (args.search, args.kind, args.json, args.sources) == ("fra", "cloud", True, False)
    assert args.run is regions_command.run
    with pytest.raises(SystemExit):
        parser.parse_args(["regions", "--kind", "planet"])


@pytest.mark.skipif("regions" not in COMMANDS, reason="regions is not registered in cli.py yet")
def test_cli_regions_search_runs_as_a_real_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "regions", "--search", "fra"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "FRA" in result.stdout
    assert "41.4" in result.stdout


# -- the corrections, as the data's notes and the command show them -----------------------


def test_cloud_data_source_counts_the_mapped_rows() -> None:
    cloud = next(s for s in data_sources() if s.file == "cloud_regions.csv")
    assert "AWS (30" in cloud.what
    assert "mapped" in cloud.what
    assert "CC BY 4.0" in cloud.license
    countries = next(s for s in data_sources() if s.file == "carbon_intensity_countries.csv")
    assert "Central African Republic" in countries.what
    assert "flagged" in countries.what


def test_data_readme_lists_each_correction() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for text in ("CAF", "seeweb:fro2", "TKM", "UZB", "BHR", "BRN", "LBY", "me-south-1"):
        assert text in readme, text


def test_the_gcp_2026_note_gives_the_real_reason_a100_80gb_and_h100_are_left_out() -> None:
    from nlpfootprint.prices import GCP_2026

    (note,) = (n for n in GCP_2026.notes_for("H100") if "left out" in n)
    assert "far below" not in note  # us-west1 and us-west4 have the same H100 price
    assert "us-west1 and us-west4" in note
    assert "spot prices above it" in note
    assert GCP_2026.notes_for("A100 80GB") == GCP_2026.notes_for("H100")


@pytest.mark.skipif("regions" not in COMMANDS, reason="regions is not registered in cli.py yet")
def test_cli_regions_shows_the_corrected_and_mapped_rows_as_a_real_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "regions", "--search", "seeweb", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (seeweb,) = json.loads(result.stdout)
    assert seeweb["g_per_kwh"] == carbon_intensity("ITA").g_per_kwh
    assert seeweb["short_source"] == "OWID 2025, mapped"
    result = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "estimate", "--hardware", "V100", "--hours", "1",
         "--carbon-intensity", "aws:us-east-1"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    intensity = next(line for line in result.stdout.splitlines() if "intensity" in line)
    assert "2019" in intensity
    assert "stale" in intensity
