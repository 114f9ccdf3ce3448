"""The CPU TDP table: loading the shipped file, and matching names as /proc/cpuinfo writes them."""

from __future__ import annotations

import csv
import hashlib
import io
from importlib import resources

import pytest

from nlpfootprint.meters.tdp import (
    TDP_TABLE_SOURCE,
    MatchKind,
    TdpMatch,
    load_tdp_table,
    lookup_tdp,
    normalize_cpu_name,
    parse_tdp_table,
)

#: sha256 of codecarbon 3.3.2 ``codecarbon/data/hardware/cpu_power.csv``.
CODECARBON_CPU_POWER_SHA256 = "0fad5224a6c4037311a86f7a2baf578ccd08787a7ba31a930b2e857c74c91b9d"


def shipped_bytes() -> bytes:
    return (resources.files("nlpfootprint") / "data" / "cpu_tdp.csv").read_bytes()


def test_shipped_table_is_the_unchanged_codecarbon_file() -> None:
    assert hashlib.sha256(shipped_bytes()).hexdigest() == CODECARBON_CPU_POWER_SHA256


def test_shipped_table_keeps_every_row_but_the_five_malformed_ones() -> None:
    data_rows = list(csv.reader(io.StringIO(shipped_bytes().decode())))[1:]
    table = load_tdp_table()
    assert len(data_rows) == 4918
    assert len(table.rows) == 4913
    assert len(table.skipped) == 5
    reasons = " ".join(reason for _line, reason in table.skipped)
    for name in ("Celeron 1000A", "Celeron 1100A", "Celeron 1200", "Celeron 1400", "Quark"):
        assert name in reasons
    assert "'27.29.5' is not a number" in reasons
    assert "'0.0' is not a positive number" in reasons


def test_shipped_table_is_read_once_and_kept() -> None:
    assert load_tdp_table() is load_tdp_table()


def test_parsing_skips_rows_without_a_name_or_a_positive_tdp_and_says_where() -> None:
    text = (
        "Name,TDP\n"
        "Intel Good 1000,10\n"
        "Intel Dots 1001,27.29.5\n"
        "Intel Zero 1002,0.0\n"
        "Intel Negative 1003,-5\n"
        "Intel Nan 1004,nan\n"
        ",12\n"
        "Intel Three 1005,1,2\n"
        '"Intel Quoted 1006, 600 MHz",11.5\n'
    )
    table = parse_tdp_table(text, source="test table")
    assert [(row.name, row.tdp_w, row.line) for row in table.rows] == [
        ("Intel Good 1000", 10.0, 2),
        ("Intel Quoted 1006, 600 MHz", 11.5, 9),
    ]
    assert [line for line, _reason in table.skipped] == [3, 4, 5, 6, 7, 8]
    match = table.lookup("Intel Good 1000")
    assert match == TdpMatch("Intel Good 1000", 10.0, "exact", "test table")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "intel xeon gold 6248"),
        ("Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz", "intel core 2 duo e8400"),
        ("AMD Ryzen 9 5950X 16-Core Processor", "amd ryzen 9 5950x"),
        ("AMD Athlon(tm) II X4 631 Quad-Core Processor", "amd athlon ii x4 631"),
        ("13th Gen Intel(R) Core(TM) i9-13900K", "intel core i9-13900k"),
        ("AMD Ryzen 7 7840U w/ Radeon 780M Graphics", "amd ryzen 7 7840u"),
        ("AMD A10-7850K Radeon R7, 12 Compute Cores 4C+8G", "amd a10-7850k"),
        ("Intel Pentium 4 CPU 3.00GHz", "intel pentium 4"),
        ("Intel Xeon Processor (Cascadelake)", "intel xeon"),
        ("Intel® Xeon® Platinum 8480+", "intel xeon platinum 8480+"),
    ],
)
def test_normalising_keeps_only_the_words_that_identify_the_part(raw: str, normalized: str) -> None:
    assert normalize_cpu_name(raw) == normalized


@pytest.mark.parametrize(
    ("cpuinfo_name", "table_name", "tdp_w", "how"),
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "Intel Xeon Gold 6248", 150.0, "exact"),
        ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", "Intel Xeon Gold 6248R", 205.0, "exact"),
        ("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", "Intel Core i7-8700K", 95.0, "exact"),
        ("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", "Intel Core i7-8700", 65.0, "exact"),
        ("Intel(R) Core(TM) i7-8700T CPU @ 2.40GHz", "Intel Core i7-8700T", 35.0, "exact"),
        ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 280.0, "exact"),
        ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 105.0, "exact"),
        ("Intel(R) Xeon(R) Platinum 8480+", "Intel Xeon Platinum 8480+", 350.0, "exact"),
        ("Intel(R) Xeon(R) CPU E5-2698 v4 @ 2.20GHz", "Intel Xeon E5-2698 v4", 135.0, "exact"),
        ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Intel Xeon E5-2686 v4", 145.0, "exact"),
        (
            "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
            "Intel Xeon Platinum 8259CL",
            210.0,
            "exact",
        ),
        ("AMD EPYC 7R13 Processor", "AMD EPYC 7R13", 225.0, "exact"),
        ("12th Gen Intel(R) Core(TM) i7-12700K", "Intel Core i7-12700K", 190.0, "exact"),
        ("Intel(R) Core(TM) Ultra 7 155H", "Intel Core Ultra 7 155H", 28.0, "exact"),
        ("AMD Ryzen 7 PRO 4750U with Radeon Graphics", "AMD Ryzen 7 PRO 4750U", 15.0, "exact"),
        ("AMD Ryzen 5 3600 6-Core Processor", "AMD Ryzen 5 3600", 65.0, "exact"),
        ("AMD Phenom(tm) II X6 1075T Processor", "AMD Phenom II X6 1075T", 125.0, "exact"),
        ("AMD Opteron(tm) Processor 6380", "AMD Opteron 6380", 115.0, "exact"),
        (
            "Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz",
            "Intel Core 2 Duo E8400",
            65.0,
            "exact",
        ),
        ("Intel(R) Celeron(R) CPU  J1900  @ 1.99GHz", "Intel Celeron J1900", 10.0, "exact"),
        ("Apple M2", "Apple M2", 22.0, "exact"),
        ("Apple M2 Pro", "Apple M2 Pro", 35.0, "exact"),
        # Sandy Bridge Xeons print a stray "0" after the model number.
        ("Intel(R) Xeon(R) CPU E5-2680 0 @ 2.70GHz", "Intel Xeon E5-2680", 130.0, "model number"),
        ("Intel Xeon 6248", "Intel Xeon Gold 6248", 150.0, "model number"),
    ],
)
def test_real_cpuinfo_names_find_their_table_row(
    cpuinfo_name: str, table_name: str, tdp_w: float, how: MatchKind
) -> None:
    assert lookup_tdp(cpuinfo_name) == TdpMatch(table_name, tdp_w, how, TDP_TABLE_SOURCE)


@pytest.mark.parametrize(
    "cpuinfo_name",
    [
        "Intel(R) Xeon(R) Processor",  # a VM hiding the model
        "Intel(R) Xeon(R) CPU @ 2.20GHz",  # Google Cloud
        "Intel Xeon Processor (Cascadelake)",
        "Intel Core Processor (Skylake, IBRS)",
        "AMD EPYC Processor (with IBPB)",
        "QEMU Virtual CPU version 2.5+",
        "Common KVM processor",
        "Genuine Intel(R) CPU 0000 @ 2.40GHz",  # engineering sample
        "AMD EPYC 7B13",  # not in the table
        "AMD EPYC 77630",  # not 7763
        "Intel(R) Xeon(R) CPU E5-2698 @ 2.30GHz",  # v1 is not in the table; v3/v4 are
        "AMD Ryzen 7 5950X",  # the 5950X is a Ryzen 9
        "Intel(R) Xeon(R) Gold 6248X CPU",  # no such suffix
        "AMD Phenom(tm) II X4 945 Processor",  # listed at both 95 W and 125 W
        "x86_64",
        "",
    ],
)
def test_generic_unknown_and_ambiguous_names_match_nothing(cpuinfo_name: str) -> None:
    assert lookup_tdp(cpuinfo_name) is None


def test_model_number_matches_only_within_the_same_vendor() -> None:
    table = parse_tdp_table("Name,TDP\nIntel Xeon Gold 6140,140\nAMD Opteron 6140,115\n")
    intel, amd = table.lookup("Intel(R) 6140"), table.lookup("AMD 6140")
    assert intel is not None
    assert amd is not None
    assert (intel.name, intel.how) == ("Intel Xeon Gold 6140", "model number")
    assert (amd.name, amd.how) == ("AMD Opteron 6140", "model number")
    assert table.lookup("Apple 6140") is None
    assert table.lookup("VIA 6140") is None


def test_family_words_alone_never_match() -> None:
    table = parse_tdp_table("Name,TDP\nIntel Xeon Gold 6140,140\nIntel Xeon,99\n")
    assert table.lookup("Intel(R) Xeon(R) Gold CPU @ 2.30GHz") is None
    assert table.lookup("Intel(R) Xeon(R) Platinum 6140") is None  # families disagree


def test_rows_without_a_vendor_match_only_when_written_exactly() -> None:
    table = parse_tdp_table("Name,TDP\n6380,115\n")
    assert table.lookup("AMD Opteron(tm) Processor 6380") is None
    match = table.lookup("6380")
    assert match is not None
    assert match.tdp_w == 115.0


def test_rows_that_disagree_on_the_tdp_give_no_match() -> None:
    table = parse_tdp_table(
        "Name,TDP\nAMD Phenom II X4 945 (125W),125\nAMD Phenom II X4 945 (95W),95\n"
    )
    assert table.lookup("AMD Phenom(tm) II X4 945 Processor") is None


def test_model_number_prefers_the_row_adding_fewest_words() -> None:
    table = parse_tdp_table("Name,TDP\nAMD Ryzen 7 PRO 8700G,45\nAMD Ryzen 7 8700G,65\n")
    match = table.lookup("AMD Ryzen 8700G")
    assert match is not None
    assert (match.name, match.tdp_w, match.how) == ("AMD Ryzen 7 8700G", 65.0, "model number")


def test_every_table_name_finds_its_own_tdp_unless_the_table_lists_it_twice() -> None:
    table = load_tdp_table()
    tdps: dict[str, set[float]] = {}
    for row in table.rows:
        tdps.setdefault(normalize_cpu_name(row.name), set()).add(row.tdp_w)
    for row in table.rows:
        match = table.lookup(row.name)
        if match is None:
            assert len(tdps[normalize_cpu_name(row.name)]) > 1, row.name
        else:
            assert match.tdp_w == row.tdp_w, row.name


def test_cpuinfo_spellings_of_every_xeon_and_epyc_find_their_own_tdp() -> None:
    table = load_tdp_table()
    checked = 0
    for row in table.rows:
        if row.name.startswith("Intel Xeon "):
            spelled = "Intel(R) Xeon(R) " + row.name.removeprefix("Intel Xeon ") + " CPU @ 2.10GHz"
        elif row.name.startswith("AMD EPYC "):
            spelled = row.name + " 32-Core Processor"
        else:
            continue
        match = table.lookup(spelled)
        assert match is None or match.tdp_w == row.tdp_w, spelled
        checked += match is not None
    assert checked > 900


# -- the fast lookup: only the rows that can match are parsed ----------------------------


def test_rows_without_a_model_number_are_the_ones_listed() -> None:
    from nlpfootprint.meters.tdp import NO_MODEL_ROWS, _split

    table = load_tdp_table()
    without = sorted(
        r.line - 1 for r in table.rows if _split(normalize_cpu_name(r.name)).model is None
    )
    assert tuple(without) == NO_MODEL_ROWS


def _variants(name: str) -> list[str]:
    return [
        name,
        name.upper(),
        f"{name} @ 2.40GHz",
        f"{name} 8-Core Processor",
        f"Intel(R) {name} CPU",
        f"AMD {name}",
        name.replace(" ", "  "),
    ]


@pytest.mark.slow
def test_fast_lookup_answers_as_the_whole_table_for_every_shipped_name() -> None:
    table = load_tdp_table()
    names = [row.name for row in table.rows]
    for name in names:
        assert lookup_tdp(name) == table.lookup(name), name
    for name in names[::7]:  # a spread sample of every variant (all 34,000 take long)
        for variant in _variants(name):
            assert lookup_tdp(variant) == table.lookup(variant), variant


@pytest.mark.parametrize(
    "name",
    [
        "Intel(R) Xeon(R) CPU",
        "AMD EPYC",
        "Intel Xeon Processor (Skylake, IBRS)",
        "Intel Pentium 75",
        "Intel(R) Pentium(R) 75 @ 75MHz",
        "Genuine Intel(R) CPU 0000 @ 2.00GHz",
        "",
        "   ",
        "Apple M2 Max",
        "AMD Ryzen 9 5950X 16-Core Processor",
        "AMD Ryzen 7 5950X",
    ],
)
def test_fast_lookup_answers_as_the_whole_table_for_names_without_a_model(name: str) -> None:
    assert lookup_tdp(name) == load_tdp_table().lookup(name)
