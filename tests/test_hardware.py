"""The accelerator power table, forgiving name matching, and the cloud price tables."""

from __future__ import annotations

import csv
import io
import math
import re
from importlib import resources

import pytest

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
    assert len(rows) == len(specs) == 23
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
    ],
)
def test_names_match_forgivingly(name: str, model: str) -> None:
    assert hardware_spec(name).model == model


def test_a_bare_family_name_picks_the_sxm_module() -> None:
    # The documented rule: the SXM part (training servers, highest power) ...
    assert {s.model for s in hardware_candidates("V100")} == {"Tesla V100 PCIe", "Tesla V100 SXM2"}
    assert hardware_spec("V100").power_w == 300
    assert hardware_spec("H100").power_w == 700
    # ... then, among equal power, the least memory.
    assert {s.power_w for s in hardware_candidates("A100 SXM")} == {400}
    assert hardware_spec("A100").memory_gb == 40


def test_an_ambiguous_name_lists_the_parts_with_their_power() -> None:
    with pytest.raises(ConfigurationError, match="ambiguous") as info:
        hardware_spec("A100 PCIe")
    assert "A100 40GB PCIe (250 W)" in str(info.value)
    assert "A100 80GB PCIe (300 W)" in str(info.value)


@pytest.mark.parametrize(
    ("name", "suggested"),
    [("TPU", "TPU v3"), ("A10G", "A10"), ("H10", "H100"), ("tpu v5", "TPU v4")],
)
def test_an_unknown_name_suggests_close_ones(name: str, suggested: str) -> None:
    with pytest.raises(ConfigurationError, match="did you mean") as info:
        hardware_spec(name)
    assert suggested in str(info.value)
    assert "power_w=" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_an_unknown_name_without_close_ones_lists_what_is_known() -> None:
    with pytest.raises(ConfigurationError, match="not in the power table") as info:
        hardware_spec("RTX 4090")
    assert "did you mean" not in str(info.value)
    assert "Tesla V100 SXM2" in str(info.value)


def test_a_part_missing_from_the_table_is_not_guessed() -> None:
    with pytest.raises(ConfigurationError, match="no such V100") as info:
        hardware_spec("V100 SXM3")
    assert "Tesla V100 SXM2 (300 W)" in str(info.value)


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
