"""A VM's share of its CPU package (issue 13, point 2): the thread-count table and the rule
that charges bare metal whole sockets and a VM ``TDP x vCPUs / threads per package``."""

from __future__ import annotations

import csv
import io
from importlib import resources

import pytest

from nlpfootprint.meters.cpushare import (
    PackageShare,
    load_threads_table,
    lookup_threads,
    package_share,
    parse_threads_table,
)
from nlpfootprint.meters.tdp import load_tdp_table, lookup_tdp


def shipped_rows() -> list[list[str]]:
    text = (resources.files("nlpfootprint") / "data" / "cpu_threads.csv").read_text("utf-8")
    return list(csv.reader(io.StringIO(text)))


def test_shipped_table_parses_whole_with_a_vendor_source_for_every_row() -> None:
    header, *records = shipped_rows()
    assert header == ["name", "cores", "threads", "source"]
    table = load_threads_table()
    assert table.skipped == ()
    assert len(table.rows) == len(records) == 210
    for row in table.rows:
        assert 0 < row.cores <= row.threads <= 2 * row.cores, row
        vendor_page = (
            "https://ark.intel.com/" if row.name.startswith("Intel") else "https://www.amd.com/"
        )
        assert row.source.startswith(vendor_page), row


def test_every_name_is_a_tdp_table_row_that_its_own_lookup_finds() -> None:
    tdp_names = {row.name for row in load_tdp_table().rows}
    for row in load_threads_table().rows:
        assert row.name in tdp_names, row.name
        match = lookup_tdp(row.name)
        assert match is not None, row.name
        assert match.name == row.name
        assert lookup_threads(row.name) == row


def test_the_cloud_parts_named_in_the_issue_have_their_vendor_counts() -> None:
    table = load_threads_table()
    counts = {
        "Intel Xeon Platinum 8480+": (56, 112),
        "Intel Xeon Platinum 8380": (40, 80),
        "Intel Xeon Platinum 8358": (32, 64),
        "Intel Xeon Gold 6248": (20, 40),
        "Intel Xeon E5-2698 v4": (20, 40),
        "AMD EPYC 7763": (64, 128),
        "AMD EPYC 9654": (96, 192),
    }
    for name, (cores, threads) in counts.items():
        row = table.get(name)
        assert row is not None, name
        assert (row.cores, row.threads) == (cores, threads)


@pytest.mark.parametrize(
    ("cpuinfo_name", "threads"),
    [
        ("Intel(R) Xeon(R) Platinum 8480+", 112),
        ("Intel(R) Xeon(R) Platinum 8358 CPU @ 2.60GHz", 64),
        ("Intel(R) Xeon(R) CPU E5-2698 v4 @ 2.20GHz", 40),
        ("AMD EPYC 7763 64-Core Processor", 128),
        ("AMD EPYC 9654 96-Core Processor", 192),
    ],
)
def test_cpuinfo_spellings_find_their_thread_count(cpuinfo_name: str, threads: int) -> None:
    row = lookup_threads(cpuinfo_name)
    assert row is not None
    assert row.threads == threads


@pytest.mark.parametrize(
    "cpuinfo_name",
    [
        "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",  # custom: TDP known, threads not
        "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
        "AMD EPYC 7R13 Processor",
        "AMD EPYC",  # no model at all
        "Intel(R) Xeon(R) Processor",
    ],
)
def test_custom_cloud_parts_and_nameless_vms_have_no_thread_count(cpuinfo_name: str) -> None:
    assert lookup_threads(cpuinfo_name) is None


def test_parsing_skips_bad_rows_and_says_why() -> None:
    text = (
        "name,cores,threads,source\n"
        "Good 1,8,16,https://example.com/1\n"
        "Fewer threads,8,4,https://example.com/2\n"
        "Not a count,eight,16,https://example.com/3\n"
        "Zero,0,0,https://example.com/4\n"
        "No source,8,16,\n"
        "Too,few\n"
        "good 1,4,8,https://example.com/dup\n"
    )
    table = parse_threads_table(text)
    assert [row.name for row in table.rows] == ["Good 1"]
    assert table.rows[0].line == 2
    reasons = dict(table.skipped)
    assert "4 threads is fewer than its 8 cores" in reasons[3]
    assert "'eight'" in reasons[4]
    assert "must be whole numbers > 0" in reasons[5]
    assert "no source" in reasons[6]
    assert "expected a name, cores, threads and a source" in reasons[7]
    assert "listed twice" in reasons[8]


def test_bare_metal_is_charged_whole_sockets() -> None:
    share = package_share(
        "AMD EPYC 7763 64-Core Processor",
        280.0,
        "table",
        sockets=2,
        logical_cpus=256,
        virtual=False,
    )
    assert (share.rule, share.packages, share.power_w) == ("sockets", 2.0, 560.0)
    assert share.describe() == "2 x TDP 280 W (table)"
    assert share.notes() == []


def test_a_vm_is_charged_its_threads_share_of_the_package() -> None:
    share = package_share(
        "AMD EPYC 7763 64-Core Processor",
        280.0,
        "table",
        sockets=1,
        logical_cpus=2,
        virtual=True,
    )
    assert share.rule == "vm share"
    assert (share.model_threads, share.power_w) == (128, pytest.approx(280.0 * 2 / 128))
    assert share.threads_source is not None
    assert share.threads_source.startswith("AMD EPYC 7763 (https://www.amd.com/")
    assert share.describe() == "TDP 280 W (table) x 2/128 threads (VM share) = 4.38 W"
    assert share.notes() == []


def test_a_vm_larger_than_one_package_is_charged_its_share_above_one() -> None:
    share = package_share(
        "x", 300.0, "given", sockets=2, logical_cpus=96, virtual=True, model_threads=64
    )
    assert (share.packages, share.power_w, share.threads_source) == (1.5, 450.0, "given")


def test_a_vm_whose_share_is_unknown_keeps_the_package_and_says_which_and_why() -> None:
    unknown = package_share(
        "AMD EPYC", 85.0, "assumed default", sockets=1, logical_cpus=2, virtual=True
    )
    assert (unknown.rule, unknown.power_w) == ("vm whole package", 85.0)
    assert "whole package: a VM with 2 vCPUs" in unknown.describe()
    (note,) = unknown.notes()
    assert "a VM with 2 vCPUs" in note
    assert "'AMD EPYC', matches no part of the TDP table" in note
    assert "1 x 85 W, assumed default" in note
    assert "cpu_tdp_w=" in note
    assert "--cpu-tdp" in note
    custom = package_share(
        "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
        300.0,
        "table",
        sockets=1,
        logical_cpus=2,
        virtual=True,
    )
    (note,) = custom.notes()
    assert "the Intel Xeon Platinum 8375C's threads per package are not in the thread" in note
    assert "300 W x 2 / the package's threads" in note


def test_a_given_tdp_whose_share_is_unknown_is_charged_as_given_without_a_note() -> None:
    share = package_share("AMD EPYC", 9.0, "given", sockets=1, logical_cpus=2, virtual=True)
    assert share == PackageShare(
        tdp_w=9.0,
        tdp_source="given",
        rule="vm whole package",
        packages=1.0,
        logical_cpus=2,
        sockets=1,
        why=share.why,
    )
    assert share.notes() == []
