"""The CPU TDP table: loading the shipped file, and matching names as /proc/cpuinfo writes them."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

from nlpfootprint.meters.tdp import (
    TDP_TABLE_SOURCE,
    MatchKind,
    TdpMatch,
    cpu_is_virtual,
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
        ("AMD FX(tm)-8350 Eight-Core Processor", "amd fx-8350"),
        ("Intel(R) Xeon(R) CPU E31230 @ 3.20GHz", "intel xeon e3-1230"),
        ("Intel(R) Xeon(R) CPU E7- 4870  @ 2.40GHz", "intel xeon e7-4870"),
        ("AMD A8 PRO-7600B R7, 10 Compute Cores 4C+6G", "amd a8 pro-7600b"),
        ("AMD A6-6310 APU with AMD Radeon R4 Graphics", "amd a6-6310 apu"),
        ("AMD Athlon(tm)X2 DualCore QL-60", "amd athlon x2 ql-60"),
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


# -- issue 14, point 3: names the table has but the matcher missed, and wrong matches -----


@pytest.mark.parametrize(
    ("cpuinfo_name", "table_name", "tdp_w"),
    [
        # First-generation Core: "i7 CPU  920", a letter before the number for mobile parts.
        ("Intel(R) Core(TM) i7 CPU         920  @ 2.67GHz", "Intel Core i7-920", 130.0),
        ("Intel(R) Core(TM) i5 CPU       M 520  @ 2.40GHz", "Intel Core i5-520M", 35.0),
        ("Intel(R) Core(TM) i7 CPU       Q 720  @ 1.60GHz", "Intel Core i7-720QM", 45.0),
        ("Intel(R) Core(TM) i7 CPU       X 920  @ 2.00GHz", "Intel Core i7-920XM", 55.0),
        ("Intel(R) Core(TM) i7 CPU       X 980  @ 3.33GHz", "Intel Core i7-980X", 130.0),
        ("Intel(R) Core(TM) i5 CPU       U 470  @ 1.33GHz", "Intel Core i5-470UM", 18.0),
        ("Intel(R) Core(TM) i3 CPU         530  @ 2.93GHz", "Intel Core i3-530", 73.0),
        # AMD FX: the trademark sits before the hyphen.
        ("AMD FX(tm)-8350 Eight-Core Processor", "AMD FX-8350", 125.0),
        ("AMD FX(tm)-6300 Six-Core Processor", "AMD FX-6300", 95.0),
        # Sandy Bridge Xeon E3 without its hyphen.
        ("Intel(R) Xeon(R) CPU E31230 @ 3.20GHz", "Intel Xeon E3-1230", 80.0),
        ("Intel(R) Xeon(R) CPU E31220L @ 2.20GHz", "Intel Xeon E3-1220L", 20.0),
        # Westmere-EX's stray space after the hyphen; an APU's compute-core count.
        ("Intel(R) Xeon(R) CPU E7- 4870  @ 2.40GHz", "Intel Xeon E7-4870", 130.0),
        ("AMD A8 PRO-7600B R7, 10 Compute Cores 4C+6G", "AMD A8 PRO-7600B", 65.0),
    ],
)
def test_names_the_table_has_but_spells_differently_find_their_row(
    cpuinfo_name: str, table_name: str, tdp_w: float
) -> None:
    match = lookup_tdp(cpuinfo_name)
    assert match is not None, cpuinfo_name
    assert (match.name, match.tdp_w) == (table_name, tdp_w)
    assert load_tdp_table().lookup(cpuinfo_name) == match


@pytest.mark.parametrize("variant", ["Pro", "Max", "Ultra"])
def test_apple_variants_never_take_the_plain_chips_row(variant: str) -> None:
    assert lookup_tdp(f"Apple M1 {variant}") is None  # the table has Apple M1 only
    assert load_tdp_table().lookup(f"Apple M1 {variant}") is None
    match = lookup_tdp(f"Apple M2 {variant}")
    assert match is not None
    assert match.name == f"Apple M2 {variant}"


def test_a_plain_apple_chip_never_takes_a_variants_row() -> None:
    table = parse_tdp_table("Name,TDP\nApple M5 Pro,40\n")
    assert table.lookup("Apple M5") is None
    match = table.lookup("Apple M5 Pro")
    assert match is not None
    assert (match.name, match.how) == ("Apple M5 Pro", "exact")


@pytest.mark.parametrize(
    "cpuinfo_name",
    [
        "AMD Opteron(tm) Processor 240 HE",  # the table has the 82 W 240, not the 55 W HE
        "Mobile AMD Sempron(tm) Processor 3000+",  # the table's 3000+ is the desktop part
        "mobile AMD Athlon(tm) XP 2500+",
        "AMD Athlon(tm) II X4 650 Processor",  # not the table's 38 W "Athlon 650"
        "AMD Athlon(tm) 64 X2 Dual Core Processor 3400+",  # not the single-core 3400+
        "AMD Ryzen 7 PRO 4700G with Radeon Graphics",  # the PRO part is not in the table
    ],
)
def test_a_word_the_row_lacks_stops_a_model_number_match(cpuinfo_name: str) -> None:
    assert lookup_tdp(cpuinfo_name) is None
    assert load_tdp_table().lookup(cpuinfo_name) is None


def test_only_words_that_name_no_other_part_may_be_missing_from_the_row() -> None:
    table = parse_tdp_table(
        "Name,TDP\nAMD Sempron 3000+,62\nIntel Pentium Dual-Core E2140,65\n"
        "Intel Xeon E5-2680,130\nAMD A8-3850,100\n"
    )
    assert table.lookup("Mobile AMD Sempron(tm) Processor 3000+") is None
    for name, row in [
        ("Intel(R) Pentium(R) Dual  CPU  E2140  @ 1.60GHz", "Intel Pentium Dual-Core E2140"),
        ("Intel(R) Xeon(R) CPU E5-2680 0 @ 2.70GHz", "Intel Xeon E5-2680"),
        ("AMD A8-3850 APU with Radeon(tm) HD Graphics", "AMD A8-3850"),
    ]:
        match = table.lookup(name)
        assert match is not None, name
        assert (match.name, match.how) == (row, "model number")


@pytest.mark.parametrize(
    ("cpuinfo_name", "variant_row"),
    [
        # the standard 95 W part; the table lists only the 79 W "AMD Opteron 2350 HE"
        ("Quad-Core AMD Opteron(tm) Processor 2350", "AMD Opteron 2350 HE"),
        # the 62 W desktop part; the table lists only the 35 W "AMD Sempron 3000+ EE SFF"
        ("AMD Sempron(tm) Processor 3000+", "AMD Sempron 3000+ EE SFF"),
        ("AMD Ryzen 7 2700X Eight-Core Processor", "AMD Ryzen 7 PRO 2700X"),
        ("Intel(R) Celeron(R) CPU 420 @ 1.60GHz", "Intel Celeron M 420"),
    ],
)
def test_a_variant_word_the_row_adds_stops_a_model_number_match(
    cpuinfo_name: str, variant_row: str
) -> None:
    table = parse_tdp_table(f"Name,TDP\n{variant_row},35\n")
    assert table.lookup(cpuinfo_name) is None
    assert table.lookup(variant_row) is not None


def test_the_standard_opteron_2350_does_not_take_the_he_parts_row() -> None:
    assert lookup_tdp("Quad-Core AMD Opteron(tm) Processor 2350") is None
    assert load_tdp_table().lookup("Quad-Core AMD Opteron(tm) Processor 2350") is None
    he = lookup_tdp("Quad-Core AMD Opteron(tm) Processor 2350 HE")
    assert he is not None
    assert (he.name, he.tdp_w) == ("AMD Opteron 2350 HE", 79.0)


def test_a_row_may_still_add_words_that_name_no_other_part() -> None:
    table = parse_tdp_table(
        "Name,TDP\nIntel Xeon Gold 6248,150\nAMD Opteron X2 890,115\nAMD Athlon 64 2850e,22\n"
    )
    for name, row in [
        ("Intel Xeon 6248", "Intel Xeon Gold 6248"),
        ("Dual Core AMD Opteron(tm) Processor 890", "AMD Opteron X2 890"),
        ("AMD Athlon(tm) Processor 2850e", "AMD Athlon 64 2850e"),
    ]:
        match = table.lookup(name)
        assert match is not None, name
        assert (match.name, match.how) == (row, "model number")


def test_first_generation_spellings_that_disagree_give_no_match() -> None:
    both = parse_tdp_table("Name,TDP\nIntel Core i7-980X,130\nIntel Core i7-980XM,55\n")
    mobile = parse_tdp_table("Name,TDP\nIntel Core i7-980XM,55\n")
    name = "Intel(R) Core(TM) i7 CPU       X 980  @ 3.33GHz"
    assert both.lookup(name) is None
    match = mobile.lookup(name)
    assert match is not None
    assert match.name == "Intel Core i7-980XM"


# -- the fixture: real model names, each with the row a reader of the table expects ------

FIXTURE = Path(__file__).parent / "data" / "cpu_model_strings.csv"
#: The share of fixture names with an expected row that must find it (0.96 when written).
MIN_HIT_RATE = 0.9


def _fixture() -> list[dict[str, str]]:
    with FIXTURE.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_fixture_is_a_few_hundred_sourced_names_whose_expected_rows_exist() -> None:
    rows = _fixture()
    names = {row.name for row in load_tdp_table().rows}
    assert len(rows) >= 300
    assert len({row["model_string"] for row in rows}) == len(rows)
    for row in rows:
        assert row["source"], row
        assert row["model_string"] == row["model_string"].strip(), row
        for expected in filter(None, row["expected_table_name"].split("|")):
            assert expected in names, row


def test_fixture_names_never_match_a_row_other_than_the_expected_one(
    record_property: Callable[[str, object], None],
) -> None:
    wrong, hits, expected_total = [], 0, 0
    for row in _fixture():
        expected = set(filter(None, row["expected_table_name"].split("|")))
        match = lookup_tdp(row["model_string"])
        expected_total += bool(expected)
        if match is None:
            continue
        if match.name in expected:
            hits += 1
        else:
            wanted = row["expected_table_name"] or "no match"
            wrong.append(f"{row['model_string']!r} -> {match.name!r}, expected {wanted}")
    hit_rate = hits / expected_total
    record_property("cpu_tdp_hit_rate", f"{hits}/{expected_total}")
    print(f"CPU TDP fixture: {hits} of {expected_total} expected rows found ({hit_rate:.1%})")
    assert not wrong, "\n".join(wrong)
    assert hit_rate >= MIN_HIT_RATE, f"hit rate {hit_rate:.1%} ({hits}/{expected_total})"


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
    from nlpfootprint.meters._cpunames import split_name
    from nlpfootprint.meters.tdp import NO_MODEL_ROWS

    table = load_tdp_table()
    without = sorted(
        r.line - 1 for r in table.rows if split_name(normalize_cpu_name(r.name)).model is None
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


# -- is this a virtual machine? -----------------------------------------------------------

X86_FLAGS = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat sse sse2 ht"


def _cpuinfo_tree(root: Path, *blocks: str) -> Path:
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "cpuinfo").write_text("\n\n".join(blocks) + "\n")
    return root


def test_the_hypervisor_flag_marks_a_virtual_machine(tmp_path: Path) -> None:
    block = "processor\t: {n}\nmodel name\t: AMD EPYC\nflags\t\t: " + X86_FLAGS
    vm = _cpuinfo_tree(
        tmp_path / "vm", *(block.format(n=n) + " hypervisor lahf_lm" for n in range(2))
    )
    metal = _cpuinfo_tree(tmp_path / "metal", *(block.format(n=n) for n in range(2)))
    assert cpu_is_virtual(vm) is True
    assert cpu_is_virtual(metal) is False


def test_no_flag_to_read_is_not_taken_for_a_virtual_machine(tmp_path: Path) -> None:
    arm = _cpuinfo_tree(
        tmp_path / "arm",
        "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull",
    )
    named = _cpuinfo_tree(
        tmp_path / "named", "processor\t: 0\nmodel name\t: hypervisor\nflags\t\t: fpu"
    )
    assert cpu_is_virtual(arm) is False
    assert cpu_is_virtual(named) is False  # only the flags line counts, as a whole word
    assert cpu_is_virtual(tmp_path / "nowhere") is False
