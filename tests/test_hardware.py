"""The accelerator power table, forgiving name matching, and the cloud price tables."""

from __future__ import annotations

import csv
import io
import math
import os
import re
import subprocess
import sys
from importlib import resources

import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.hardware import (
    HardwareSpec,
    hardware_candidates,
    hardware_spec,
    load_hardware_table,
    parse_hardware_table,
)
from nlpfootprint.prices import GCP_2019, GCP_2026, PRICE_TABLES, PriceTable, price_table


def shipped_rows() -> list[dict[str, str]]:
    text = (resources.files("nlpfootprint") / "data" / "hardware_power.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


# -- the table ---------------------------------------------------------------------------


def test_every_csv_row_loads_with_its_power_and_provenance() -> None:
    rows = shipped_rows()
    specs = load_hardware_table()
    assert len(rows) == len(specs) == 36
    for row, spec in zip(rows, specs, strict=True):
        assert spec.model == row["model"]
        assert spec.power_w == float(row["power_w"]) > 0
        assert all((spec.source, spec.power_metric, spec.verification))
        assert spec.memory_gb is None or spec.memory_gb > 0


def test_datasheet_values_for_the_parts_the_paper_and_users_name() -> None:
    watts = {s.model: s.power_w for s in load_hardware_table()}
    assert watts["Tesla V100 SXM2"] == 300
    assert watts["Tesla V100 PCIe"] == 250
    assert watts["Tesla P100 PCIe"] == 250
    assert watts["H100 SXM5"] == 700
    assert watts["H100 PCIe"] == 350
    assert watts["TPU v3"] == 283


def test_datasheet_values_for_the_accelerators_people_rent_now() -> None:
    watts = {s.model: (s.power_w, s.power_min_w) for s in load_hardware_table()}
    assert watts["Tesla V100 SXM3"] == (450, 350)  # DGX-2H 450 W, DGX-2 350 W
    assert watts["Tesla V100S PCIe"] == (250, None)
    assert watts["A10G"] == (300, None)
    assert watts["A40"] == watts["RTX A6000"] == (300, None)
    assert watts["GeForce RTX 3090"] == (350, None)
    assert watts["GeForce RTX 4090"] == (450, None)
    assert watts["Instinct MI250"] == watts["Instinct MI250X"] == (500, None)
    assert watts["Instinct MI300X"] == (750, None)
    assert watts["Gaudi 2"] == (600, None)
    assert watts["Gaudi 3 OAM"] == (900, None)
    assert watts["Gaudi 3 PCIe"] == (600, None)


def test_every_row_says_honestly_how_its_power_was_checked() -> None:
    kinds = ("verified", "partly verified", "corroborated", "not re-verified this session")
    for spec in load_hardware_table():
        assert spec.verification.startswith(kinds), (spec.model, spec.verification)
        if spec.verification.startswith("corroborated"):
            assert spec.corroboration, spec.model


def test_tpu_v5e_and_v5p_are_left_out_for_want_of_a_published_power() -> None:
    # Google publishes no power figure for them (see data/README.md); none is invented.
    for name in ("TPU v5e", "TPU v5p"):
        with pytest.raises(ConfigurationError, match="not in the power table"):
            hardware_spec(name)


def test_every_row_is_found_by_its_own_name() -> None:
    for spec in load_hardware_table():
        assert hardware_spec(spec.model) == spec


def test_a_spec_passes_through_unchanged() -> None:
    spec = load_hardware_table()[0]
    assert hardware_spec(spec) is spec
    assert hardware_candidates(spec) == (spec,)


HEADER = (
    "vendor,model,form_factor,memory_gb,power_w,power_min_w,power_metric,released,source,"
    "corroboration,verification,notes"
)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("NVIDIA,X1,PCIe,,-5,,max TDP,,a datasheet,,,", "power_w='-5'"),
        ("NVIDIA,X1,PCIe,,abc,,max TDP,,a datasheet,,,", "not a number"),
        ("NVIDIA,,PCIe,,300,,max TDP,,a datasheet,,,", "needs a model"),
        ("NVIDIA,X1,PCIe,nan,300,,max TDP,,a datasheet,,,", "memory_gb='nan'"),
    ],
)
def test_a_malformed_table_row_is_rejected_naming_its_line(row: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)) as info:
        parse_hardware_table(f"{HEADER}\n{row}\n")
    assert "line 2" in str(info.value)


def test_a_well_formed_row_parses_into_a_spec() -> None:
    (spec,) = parse_hardware_table(f"{HEADER}\nACME,X1 SXM,SXM,40,500,450,max TDP,2030,ds,,ok,\n")
    assert (spec.model, spec.memory_gb, spec.power_w, spec.power_min_w) == ("X1 SXM", 40, 500, 450)
    assert spec.released == 2030


# -- name matching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("V100", "Tesla V100 SXM2"),
        ("v100", "Tesla V100 SXM2"),
        ("Tesla V100", "Tesla V100 SXM2"),
        ("NVIDIA Tesla V100-SXM2-16GB", "Tesla V100 SXM2"),
        ("Tesla V100-PCIE-32GB", "Tesla V100 PCIe"),
        ("nvidia-tesla-v100", "Tesla V100 SXM2"),
        ("V100 PCI-E", "Tesla V100 PCIe"),
        ("P100", "Tesla P100 SXM2"),
        ("Tesla P100-PCIE-16GB", "Tesla P100 PCIe"),
        ("A100", "A100 40GB SXM4"),
        ("nvidia-tesla-a100", "A100 40GB SXM4"),
        ("A100 80GB", "A100 80GB SXM4"),
        ("A100-80GB-SXM", "A100 80GB SXM4"),
        ("a100 80 gb", "A100 80GB SXM4"),
        ("NVIDIA A100-SXM4-40GB", "A100 40GB SXM4"),
        ("NVIDIA A100-PCIE-40GB", "A100 40GB PCIe"),
        ("NVIDIA A100 80GB PCIe", "A100 80GB PCIe"),
        ("H100", "H100 SXM5"),
        ("h100sxm", "H100 SXM5"),
        ("NVIDIA H100 80GB HBM3", "H100 SXM5"),
        ("nvidia-h100-80gb", "H100 SXM5"),
        ("H100 PCIe", "H100 PCIe"),
        ("NVIDIA H100 NVL", "H100 NVL"),
        ("H200", "H200 SXM"),
        ("H200 NVL", "H200 NVL"),
        ("TPUv3", "TPU v3"),
        ("TPU v3", "TPU v3"),
        ("tpu-v2", "TPU v2"),
        ("Google TPU v4", "TPU v4"),
        ("T4", "Tesla T4"),
        ("nvidia-l4", "L4"),
        ("L40S", "L40S"),
        ("A10", "A10"),
        ("K80", "Tesla K80"),
        ("B200", "B200 (HGX B200)"),
        ("GH200", "GH200 Grace Hopper Superchip"),
        # the accelerators people rent or own now, as users and vendor tools write them
        ("A40", "A40"),
        ("NVIDIA A40", "A40"),
        ("A10G", "A10G"),
        ("NVIDIA A10G", "A10G"),
        ("RTX A6000", "RTX A6000"),
        ("NVIDIA RTX A6000", "RTX A6000"),
        ("RTX 3090", "GeForce RTX 3090"),
        ("NVIDIA GeForce RTX 3090", "GeForce RTX 3090"),
        ("RTX 4090", "GeForce RTX 4090"),
        ("4090", "GeForce RTX 4090"),
        ("NVIDIA GeForce RTX 4090", "GeForce RTX 4090"),
        ("V100S", "Tesla V100S PCIe"),
        ("Tesla V100S-PCIE-32GB", "Tesla V100S PCIe"),
        ("V100-SXM3", "Tesla V100 SXM3"),
        ("V100 SXM3 32GB", "Tesla V100 SXM3"),
        ("Tesla V100-SXM3-32GB-H", "Tesla V100 SXM3"),
        ("MI250", "Instinct MI250"),
        ("AMD Instinct MI250X", "Instinct MI250X"),
        ("MI300X", "Instinct MI300X"),
        ("mi300x oam", "Instinct MI300X"),
        ("AMD Instinct MI300X 192GB", "Instinct MI300X"),
        ("Gaudi2", "Gaudi 2"),
        ("Gaudi 2", "Gaudi 2"),
        ("Intel Gaudi 2", "Gaudi 2"),
        ("Gaudi 3", "Gaudi 3 OAM"),
        ("gaudi-3 pcie", "Gaudi 3 PCIe"),
        ("Intel Gaudi 3 AI accelerator", "Gaudi 3 OAM"),
    ],
)
def test_names_match_forgivingly(name: str, model: str) -> None:
    assert hardware_spec(name).model == model


def test_a_bare_family_name_picks_the_sxm_module() -> None:
    # The documented rule: the SXM part (training servers, highest power) ...
    assert {s.model for s in hardware_candidates("V100")} == {
        "Tesla V100 PCIe",
        "Tesla V100 SXM2",
        "Tesla V100 SXM3",
    }
    assert hardware_spec("V100").power_w == 300
    assert hardware_spec("H100").power_w == 700
    # ... or the OAM module, the other kind of module training servers carry ...
    assert {s.model for s in hardware_candidates("Gaudi 3")} == {"Gaudi 3 OAM", "Gaudi 3 PCIe"}
    assert hardware_spec("Gaudi 3").power_w == 900
    # ... then, among equal power, the least memory.
    assert {s.power_w for s in hardware_candidates("A100 SXM")} == {400}
    assert hardware_spec("A100").memory_gb == 40


def test_an_ambiguous_name_lists_the_parts_with_their_power() -> None:
    with pytest.raises(ConfigurationError, match="ambiguous") as info:
        hardware_spec("A100 PCIe")
    assert "A100 40GB PCIe (250 W)" in str(info.value)
    assert "A100 80GB PCIe (300 W)" in str(info.value)


def test_the_dgx2_only_v100_sxm3_is_taken_only_when_named() -> None:
    # SXM3 exists only in the DGX-2 and DGX-2H: "V100" and "V100 SXM" stay the SXM2 that
    # cloud instances and DGX-1s carry, even though the SXM3 is an SXM module too.
    assert hardware_spec("V100 SXM").model == "Tesla V100 SXM2"
    assert hardware_spec("V100 32GB").model == "Tesla V100 SXM2"
    assert hardware_spec("V100 SXM3").model == "Tesla V100 SXM3"
    assert hardware_spec("nvidia tesla v100 sxm3").power_w == 450


def test_the_papers_dgx2h_v100_is_priced_and_estimated_from_its_own_row() -> None:
    # Strubell et al. priced BERT base (64 V100 in 4 DGX-2H) at Google's V100 price; the
    # SXM3 row is a V100 for the price table, with the DGX-2H's 450 W for the energy.
    cost = nf.cloud_cost("V100-SXM3", count=64, hours=79.2, prices="gcp-2019")
    assert (cost.hardware, str(cost)) == ("V100", "$3,751-$12,571")
    report = nf.estimate(hardware="V100-SXM3", count=64, hours=79.2, pue=1.0)
    assert report.mean_power_w == {"gpu": 64 * 450}
    assert report.energy_kwh == pytest.approx(64 * 450 * 79.2 / 1000)


@pytest.mark.parametrize(
    ("name", "suggested"),
    [
        ("TPU", "TPU v3"),
        ("A10X", "A10G"),
        ("H10", "H100"),
        ("tpu v5", "TPU v4"),
        ("A400", "A40"),
        ("MI300", "Instinct MI300X"),
        ("MI250XT", "Instinct MI250X"),
        ("Gaudi", "Gaudi 2"),
        ("Gaudi", "Gaudi 3"),
        ("RTX 4080", "GeForce RTX 4090"),
    ],
)
def test_an_unknown_name_suggests_close_ones(name: str, suggested: str) -> None:
    with pytest.raises(ConfigurationError, match="did you mean") as info:
        hardware_spec(name)
    assert suggested in str(info.value)
    assert "power_w=" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_an_unknown_name_without_close_ones_lists_what_is_known() -> None:
    with pytest.raises(ConfigurationError, match="not in the power table") as info:
        hardware_spec("Ascend 910B")
    assert "did you mean" not in str(info.value)
    assert "Tesla V100 SXM2" in str(info.value)


def _did_you_mean(name: str) -> list[str]:
    with pytest.raises(ConfigurationError, match="not in the power table") as info:
        hardware_spec(name)
    message = str(info.value)
    if "did you mean " not in message:
        return []
    return message.split("did you mean ", 1)[1].split("?", 1)[0].split(", ")


def test_a_suggestion_comes_from_the_same_series_of_names() -> None:
    # "mi300a" and "3090" are as alike as difflib's cutoff allows; an MI300A is no GeForce.
    assert _did_you_mean("MI300A") == ["Instinct MI300X"]
    assert "GeForce RTX 3090" not in _did_you_mean("MI300")
    assert _did_you_mean("RTX 4080") == ["GeForce RTX 4090"]


def test_suggestions_name_each_row_once() -> None:
    # "Gaudi 3" already stands for the OAM and PCIe rows: they are not listed again.
    assert _did_you_mean("Gaudi") == ["Gaudi 3", "Gaudi 2"]
    assert _did_you_mean("TPU") == ["TPU v4", "TPU v3", "TPU v2"]


def test_an_unknown_name_without_close_ones_says_so() -> None:
    with pytest.raises(ConfigurationError, match="no close name") as info:
        hardware_spec("Ascend 910B")
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "base", "power"),
    [
        ("RTX 3090 Ti", "GeForce RTX 3090", "350 W"),
        ("NVIDIA GeForce RTX 4090 D", "GeForce RTX 4090", "450 W"),
        ("RTX 4090 Laptop GPU", "GeForce RTX 4090", "450 W"),
    ],
)
def test_a_variant_of_a_listed_model_is_said_to_be_missing_and_the_base_named(
    name: str, base: str, power: str
) -> None:
    with pytest.raises(ConfigurationError, match="variant is not in the power table") as info:
        hardware_spec(name)
    message = str(info.value)
    assert "did not understand" not in message
    assert f"only the {base} ({power})" in message
    assert f"hardware={base!r}" in message
    assert "power_w=" in message
    assert isinstance(info.value, KeyError)


def test_the_mi250_rows_give_one_metric_with_the_peak_in_the_notes() -> None:
    specs = {s.model: s for s in load_hardware_table()}
    mi250, mi250x = specs["Instinct MI250"], specs["Instinct MI250X"]
    assert mi250.power_metric == mi250x.power_metric == "TDP"
    assert (mi250.power_w, mi250x.power_w) == (500, 500)
    assert mi250.power_min_w is None
    assert mi250x.power_min_w is None  # the low end of a configurable range: there is none
    assert "560 W peak" in mi250x.notes
    assert "560 W peak" in mi250.notes  # says it was not checked for the MI250


def test_a_part_missing_from_the_table_is_not_guessed() -> None:
    with pytest.raises(ConfigurationError, match="no such V100") as info:
        hardware_spec("V100 SXM4")
    assert "Tesla V100 SXM2 (300 W)" in str(info.value)
    assert "Tesla V100 SXM3 (450 W)" in str(info.value)
    with pytest.raises(ConfigurationError, match="no such Gaudi 3") as info:
        hardware_spec("Gaudi 3 SXM")
    assert "Gaudi 3 OAM (900 W); Gaudi 3 PCIe (600 W)" in str(info.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("V100 foo", "did not understand"),
        ("A100 40GB 80GB", "did not understand"),
        ("H100 A100", "several models"),
        ("", "expected a name"),
        ("   ", "expected a name"),
    ],
)
def test_names_with_extra_or_conflicting_words_are_rejected(name: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        hardware_spec(name)


def test_a_name_that_is_not_a_string_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="expected a name"):
        hardware_spec(100)  # type: ignore[arg-type]


# -- price tables ------------------------------------------------------------------------


def test_gcp_2019_holds_the_papers_prices_exactly() -> None:
    assert dict(GCP_2019.prices) == {
        "P100": (0.43, 1.46),
        "V100": (0.74, 2.48),
        "TPU v2": (1.35, 4.50),
        "TPU v3": (2.40, 8.00),
    }
    assert GCP_2019.currency == "USD"
    assert GCP_2019.date == "2019"
    assert "Strubell" in GCP_2019.source
    assert any("1.46" in note and "1.35" in note for note in GCP_2019.notes)


def test_the_current_table_has_a_source_a_date_and_only_known_hardware() -> None:
    assert "skypilot-catalog" in GCP_2026.source
    assert re.search(r"[0-9a-f]{40}", GCP_2026.source)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", GCP_2026.date)
    assert GCP_2026.region == "us-central1"
    assert set(GCP_2026.prices) >= {"T4", "V100", "L4", "A100 40GB"}
    for key, (low, high) in GCP_2026.prices.items():
        assert hardware_candidates(key)
        assert 0 < low <= high


def test_built_in_tables_are_found_by_name_case_insensitively() -> None:
    assert price_table("gcp-2019") is GCP_2019
    assert price_table(" GCP-2026 ") is GCP_2026
    assert set(PRICE_TABLES) == {"gcp-2019", "gcp-2026"}
    with pytest.raises(ConfigurationError, match="gcp-2019"):
        price_table("aws-2019")


@pytest.mark.parametrize(
    ("hardware", "key"),
    [
        ("P100", "P100"),
        ("Tesla P100 PCIe", "P100"),
        ("p100 sxm2", "P100"),
        ("Tesla V100-SXM2-16GB", "V100"),
        ("TPUv3", "TPU v3"),
        ("tpu v2", "TPU v2"),
    ],
)
def test_a_table_prices_every_spelling_of_its_hardware(hardware: str, key: str) -> None:
    assert GCP_2019.price_for(hardware) == (key, GCP_2019.prices[key])


def test_a_spec_is_priced_like_its_name() -> None:
    assert GCP_2026.price_for(hardware_spec("A100"))[0] == "A100 40GB"
    assert GCP_2026.price_for("A100")[0] == "A100 40GB"


def test_hardware_a_table_does_not_price_gets_an_error_listing_what_it_does() -> None:
    with pytest.raises(ConfigurationError, match="no single price") as info:
        GCP_2019.price_for("H100")
    assert "P100, V100, TPU v2, TPU v3" in str(info.value)
    with pytest.raises(ConfigurationError, match="gcp-2026"):
        GCP_2026.price_for("A100 80GB")


def test_custom_tables_take_ranges_single_numbers_and_unknown_hardware() -> None:
    table = PriceTable(
        name="mine",
        source="my invoice",
        date="2026-01",
        prices={"A100 40GB": (1.0, 2.0), "A100 80GB": 3.0, "MI300X": (2.5, 4.0)},
    )
    assert table.prices["A100 80GB"] == (3.0, 3.0)
    assert table.price_for("A100") == ("A100 40GB", (1.0, 2.0))
    assert table.price_for("nvidia-a100-80gb") == ("A100 80GB", (3.0, 3.0))
    assert table.price_for("mi300x") == ("MI300X", (2.5, 4.0))
    with pytest.raises(ConfigurationError, match="prices: A100 40GB, A100 80GB, MI300X"):
        table.price_for("RTX 4090")


def test_a_fallback_prices_anything_the_table_does_not_list() -> None:
    table = PriceTable(name="flat", source="quote", date="2026", prices={"V100": 1}, fallback=2)
    assert table.price_for("V100") == ("V100", (1.0, 1.0))
    assert table.price_for("H100") == ("any device", (2.0, 2.0))
    assert table.price_for("RTX 4090") == ("any device", (2.0, 2.0))


def test_keys_that_cannot_be_told_apart_give_an_ambiguity_error() -> None:
    table = PriceTable(
        name="pcie", source="s", date="d", prices={"A100 40GB PCIe": 1, "A100 80GB PCIe": 2}
    )
    with pytest.raises(ConfigurationError, match="ambiguous"):
        table.price_for("A100 PCIe")


@pytest.mark.parametrize(
    "prices",
    [{"V100": -1.0}, {"V100": math.nan}, {"V100": (2.0, 1.0)}, {"V100": (1.0, math.inf)}],
)
def test_bad_prices_are_rejected(prices: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="V100"):
        PriceTable(name="bad", source="s", date="d", prices=prices)  # type: ignore[arg-type]


def test_prices_must_be_a_mapping() -> None:
    with pytest.raises(ConfigurationError, match="map hardware names"):
        PriceTable(name="bad", source="s", date="d", prices=[("V100", 1.0)])  # type: ignore[arg-type]


def test_price_tables_are_read_only_values() -> None:
    with pytest.raises(TypeError):
        GCP_2019.prices["H100"] = (1.0, 2.0)  # type: ignore[index]
    assert hash(GCP_2019) == hash(GCP_2019)
    assert "gcp-2019 (2019;" in GCP_2019.describe()
    assert "us-central1" in GCP_2026.describe()


def test_spec_describe_says_what_the_power_is() -> None:
    assert hardware_spec("V100").describe() == "Tesla V100 SXM2, 300 W (max board power)"
    assert isinstance(hardware_spec("TPU v2"), HardwareSpec)


# -- the command, end to end ---------------------------------------------------------------


def test_estimate_command_takes_a_part_no_price_table_lists() -> None:
    # An MI300X has a power but no built-in cloud price: the estimate is made and the cost
    # line says why there is none, instead of the command failing.
    result = subprocess.run(
        [sys.executable, "-m", "nlpfootprint", "estimate", "--hardware", "MI300X", "--hours", "10"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "1 x Instinct MI300X, 750 W (max board power)" in out
    assert "gpu 750.0 W" in out
    assert "7.500 kWh" in out
    cost = next(line for line in out.splitlines() if line.strip().startswith("cloud cost"))
    assert "not computed" in cost
    assert "no single price for --hardware 'Instinct MI300X'" in cost  # in CLI words
    assert "gcp-2026" in cost
