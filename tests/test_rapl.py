"""RaplMeter on powercap trees built under tmp_path, and on the real one where readable."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import nlpfootprint as nf
from helpers import wait_until
from nlpfootprint.errors import MeterError, MeterPermissionError, MeterUnavailableError
from nlpfootprint.meters.base import PowerMeter, as_meter
from nlpfootprint.meters.rapl import (
    DEFAULT_ROOT,
    POWER_LIMIT_SAFETY,
    RaplMeter,
    permission_message,
)
from nlpfootprint.testing import FakeClock, FakeMeter
from powercap import (
    DRAM_RANGE_UJ,
    PACKAGE_RANGE_UJ,
    PowercapTree,
    check_permission_message,
    construct_as_nobody,
    desktop,
    server,
)

J = 1_000_000  # microjoules per joule


def energies(report: nf.Report) -> dict[str, float]:
    return {c.id: c.energy_j for c in report.channels}


# -- channels -----------------------------------------------------------------------------


def test_desktop_gives_package_then_dram_channels_with_labels(tmp_path: Path) -> None:
    meter = RaplMeter(desktop(tmp_path).root)
    assert isinstance(meter, PowerMeter)
    assert as_meter(meter) is meter
    assert [c.id for c in meter.channels] == ["cpu:0", "dram:0"]
    cpu, dram = meter.channels
    assert (cpu.domain, cpu.kind, cpu.source, cpu.estimated) == ("cpu", "energy", "counter", False)
    assert cpu.label == "RAPL package-0 (intel-rapl:0)"
    assert cpu.max_energy_j == PACKAGE_RANGE_UJ / 1e6
    assert (dram.domain, dram.kind) == ("dram", "energy")
    assert dram.label == "RAPL dram of package-0 (intel-rapl:0:2)"
    assert dram.max_energy_j == DRAM_RANGE_UJ / 1e6
    assert "cpu:0,dram:0" in repr(meter)


def test_two_socket_server_orders_packages_then_dram_unless_dram_is_off(tmp_path: Path) -> None:
    root = server(tmp_path, sockets=2).root
    meter = RaplMeter(root)
    assert [c.id for c in meter.channels] == ["cpu:0", "cpu:1", "dram:0", "dram:1"]
    assert meter.channels[3].label == "RAPL dram of package-1 (intel-rapl:1:0)"
    assert [c.id for c in RaplMeter(root, dram=False).channels] == ["cpu:0", "cpu:1"]


def test_packages_are_ordered_by_number_not_by_name(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    for socket in (10, 2, 0, 1):
        tree.add_package(socket, subzones=())
    assert [c.id for c in RaplMeter(tree.root).channels] == ["cpu:0", "cpu:1", "cpu:2", "cpu:10"]


@pytest.mark.parametrize("prefix", ["intel-rapl", "amd-rapl"])
def test_amd_layout_with_packages_only_just_works(tmp_path: Path, prefix: str) -> None:
    tree = PowercapTree(tmp_path, prefix=prefix)
    tree.add_package(0, subzones=("core",), max_power_uw=None, power_limit_uw=None)
    tree.add_package(1, subzones=("core",), max_power_uw=None, power_limit_uw=None)
    meter = RaplMeter(tree.root, model="a CPU the TDP table does not know")
    assert [c.id for c in meter.channels] == ["cpu:0", "cpu:1"]
    assert meter.channels[1].label == f"RAPL package-1 ({prefix}:1)"
    # no constraint files and no TDP to bound the power
    assert meter.max_interval_s is None
    assert [c.max_power_w for c in meter.channels] == [None, None]


def test_multi_die_packages_get_one_channel_per_die(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, name="package-0-die-0", subzones=("dram",))
    tree.add_package(1, name="package-0-die-1", subzones=("dram",))
    meter = RaplMeter(tree.root)
    ids = ["cpu:0-die-0", "cpu:0-die-1", "dram:0-die-0", "dram:0-die-1"]
    assert [c.id for c in meter.channels] == ids


def test_mmio_control_type_is_not_a_second_package(tmp_path: Path) -> None:
    tree = desktop(tmp_path)
    mmio = PowercapTree(tmp_path / "mmio", prefix="intel-rapl-mmio")
    mmio.add_package(0, subzones=())
    (tree.root / "intel-rapl-mmio:0").symlink_to(mmio.zone_dir("intel-rapl-mmio:0"))
    assert [c.id for c in RaplMeter(tree.root).channels] == ["cpu:0", "dram:0"]


def test_missing_wrap_range_leaves_max_energy_unset(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, subzones=(), max_energy_range_uj=None)
    assert RaplMeter(tree.root).channels[0].max_energy_j is None


# -- psys -------------------------------------------------------------------------------


def test_psys_only_on_request_and_then_instead_of_packages_and_dram(tmp_path: Path) -> None:
    tree = desktop(tmp_path, psys=True)
    assert [c.id for c in RaplMeter(tree.root).channels] == ["cpu:0", "dram:0"]
    meter = RaplMeter(tree.root, psys=True)
    assert [(c.id, c.domain) for c in meter.channels] == [("other:0", "other")]
    assert "psys (intel-rapl:1)" in meter.channels[0].label
    tree.set_energies({"intel-rapl:0": 5 * J, "intel-rapl:0:2": 2 * J, "intel-rapl:1": 9 * J})
    assert meter.read() == [9.0]


def test_psys_requested_where_there_is_none_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(MeterUnavailableError, match="no psys zone"):
        RaplMeter(desktop(tmp_path).root, psys=True)


# -- reading and the tracker -----------------------------------------------------------------


def test_read_returns_raw_counters_in_joules(tmp_path: Path) -> None:
    tree = server(tmp_path)
    tree.set_energies(
        {
            "intel-rapl:0": 1_500_000,
            "intel-rapl:1": 250,
            "intel-rapl:0:0": 3 * J,
            "intel-rapl:1:0": 0,
        }
    )
    assert RaplMeter(tree.root).read() == [1.5, 0.00025, 3.0, 0.0]


def test_wrap_between_two_reads_is_measured_exactly(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, subzones=(), max_energy_range_uj=1000 * J)
    tree.set_energy("intel-rapl:0", 900 * J)
    meter = RaplMeter(tree.root)
    clock = FakeClock()
    with nf.track_energy(meters=[meter], clock=clock, interval_s=1.0) as tracker:
        tree.set_energy("intel-rapl:0", 50 * J)  # wrapped: 100 J to the top, 50 J after
        clock.advance(1.0)
        tree.set_energy("intel-rapl:0", 80 * J)
        clock.advance(1.0)
    assert energies(tracker.report) == {"cpu:0": pytest.approx(180.0, abs=1e-9)}


def test_twenty_wraps_in_a_long_run_sum_exactly_when_sampled_often_enough(
    tmp_path: Path,
) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, subzones=("dram",), max_energy_range_uj=100 * J)
    meter = RaplMeter(tree.root)
    assert meter.channels[1].max_energy_j == DRAM_RANGE_UJ / 1e6
    clock = FakeClock()
    package_uj, dram_uj = 0, 0
    with nf.track_energy(meters=[meter], clock=clock, interval_s=1.0) as tracker:
        for _ in range(30):  # 70 J per second on a 100 J counter: 21 wraps
            package_uj = (package_uj + 70_123_456) % (100 * J)
            dram_uj += 1_000_001
            tree.set_energies({"intel-rapl:0": package_uj, "intel-rapl:0:0": dram_uj})
            clock.advance(1.0)
    result = energies(tracker.report)
    assert result["cpu:0"] == pytest.approx(30 * 70.123456, rel=1e-12)
    assert result["dram:0"] == pytest.approx(30 * 1.000001, rel=1e-12)
    assert tracker.report.mean_power_w["cpu"] == pytest.approx(70.123456, rel=1e-12)


def test_core_and_uncore_are_never_counted(tmp_path: Path) -> None:
    tree = desktop(tmp_path)
    clock = FakeClock()
    with nf.track_energy(meters=[RaplMeter(tree.root)], clock=clock) as tracker:
        tree.set_energies(
            {
                "intel-rapl:0": 40 * J,
                "intel-rapl:0:0": 25 * J,  # core, inside the package's 40 J
                "intel-rapl:0:1": 5 * J,  # uncore, likewise
                "intel-rapl:0:2": 6 * J,
            }
        )
        clock.advance(1.0)
    assert energies(tracker.report) == {"cpu:0": 40.0, "dram:0": 6.0}
    assert tracker.report.energy_j == 46.0


# -- failures -------------------------------------------------------------------------------


def test_missing_root_is_unavailable_and_says_why(tmp_path: Path) -> None:
    with pytest.raises(MeterUnavailableError) as info:
        RaplMeter(tmp_path / "nowhere")
    message = str(info.value)
    assert f"no powercap tree at {tmp_path / 'nowhere'}" in message
    assert "modprobe intel_rapl_msr" in message
    assert "container" in message


def test_tree_without_a_package_zone_is_unavailable(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_zone("psys", 0)
    (tmp_path / "class" / "powercap" / "dtpm").mkdir()
    with pytest.raises(MeterUnavailableError, match=r"no RAPL package zone \(intel-rapl:0=psys\)"):
        RaplMeter(tree.root)


def test_empty_powercap_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(MeterUnavailableError, match="no RAPL zones at all"):
        RaplMeter(tmp_path)


def test_counter_vanishing_mid_run_is_a_gap_while_other_meters_go_on(tmp_path: Path) -> None:
    tree = desktop(tmp_path)
    rapl = RaplMeter(tree.root)
    gpu = FakeMeter.constant(100.0, domain="gpu")
    clock = FakeClock()
    with nf.track_energy(meters=[rapl, gpu], clock=clock, interval_s=1.0) as tracker:
        for second in range(1, 4):
            tree.set_energies({"intel-rapl:0": 10 * J * second, "intel-rapl:0:2": J * second})
            clock.advance(1.0)
        saved = tree.zone_dir("intel-rapl:0").with_name("saved")
        shutil.move(tree.zone_dir("intel-rapl:0"), saved)  # the driver went away
        with pytest.raises(MeterError, match="energy_uj"):
            rapl.read()
        clock.advance(2.0)
    report = tracker.report
    cpu = next(c for c in report.channels if c.id == "cpu:0")
    assert cpu.energy_j == 30.0
    assert cpu.failures >= 2
    assert cpu.gap_s == pytest.approx(2.0)
    assert energies(report)["gpu:0"] == pytest.approx(500.0)
    assert any("RaplMeter" in w and "gap" in w for w in report.warnings)


def test_counter_coming_back_is_read_again(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    zone = tree.add_package(0, subzones=())
    meter = RaplMeter(tree.root)
    clock = FakeClock()
    with nf.track_energy(meters=[meter], clock=clock, interval_s=1.0) as tracker:
        tree.set_energy(zone, 10 * J)
        clock.advance(1.0)
        (tree.zone_dir(zone) / "energy_uj").unlink()
        clock.advance(2.0)
        tree.set_energy(zone, 40 * J)  # the counter kept running in hardware
        clock.advance(1.0)
    cpu = tracker.report.channels[0]
    assert cpu.energy_j == 40.0
    assert cpu.gap_s == pytest.approx(3.0)


def test_garbage_in_a_counter_is_a_meter_error(tmp_path: Path) -> None:
    tree = desktop(tmp_path)
    meter = RaplMeter(tree.root)
    (tree.zone_dir("intel-rapl:0:2") / "energy_uj").write_text("")
    with pytest.raises(MeterError, match=r"intel-rapl:0:2/energy_uj"):
        meter.read()


# -- permissions ---------------------------------------------------------------------------


def test_permission_message_gives_the_fixes_for_the_real_tree() -> None:
    path = "/sys/class/powercap/intel-rapl:0/energy_uj"
    message = permission_message(path)
    assert message.startswith(f"cannot read {path}")
    check_permission_message(message, "/sys/class/powercap")


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root reads files whatever their mode; see the next test"
)
def test_unreadable_counter_raises_permission_error_naming_the_file(tmp_path: Path) -> None:
    """As an ordinary user, mode 000 makes open() fail just as the kernel's 0400 root does."""
    tree = desktop(tmp_path)
    counter = tree.zone_dir("intel-rapl:0:2") / "energy_uj"
    counter.chmod(0)
    with pytest.raises(MeterPermissionError) as info:
        RaplMeter(tree.root)
    assert isinstance(info.value, PermissionError)
    assert f"cannot read {tree.root}/intel-rapl:0/intel-rapl:0:2/energy_uj" in str(info.value)
    check_permission_message(str(info.value), tree.root)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process as nobody")
def test_unreadable_counter_for_an_unprivileged_process_raises_permission_error() -> None:
    """The kernel itself refuses the read, exactly as on a post-2020 kernel.

    Root reads any file whatever its mode (CAP_DAC_OVERRIDE), so chmod alone proves
    nothing when the tests run as root. Instead the tree gets the modes the patched kernel
    uses (``energy_uj`` 0400 root, the rest world-readable) in a world-traversable
    directory, and a child Python imports nlpfootprint, drops to uid/gid 65534 (nobody,
    no capabilities) and constructs a RaplMeter on it: open() then fails with EACCES.
    """
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        base.chmod(0o755)
        tree = desktop(base)
        for path in base.rglob("energy_uj"):
            path.chmod(0o400)
        first, _, message = construct_as_nobody(tree.root).partition("\n")
    assert first == "MeterPermissionError"
    assert f"cannot read {tree.root}/intel-rapl:0/energy_uj" in message
    check_permission_message(message, tree.root)


# -- wraparound interval --------------------------------------------------------------------


def test_max_interval_comes_from_the_stated_max_power(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, subzones=("dram",), max_power_uw=125_000_000)
    meter = RaplMeter(tree.root)
    # the DRAM zone states no power (0), so the package alone bounds the interval
    assert meter.max_interval_s == pytest.approx(PACKAGE_RANGE_UJ / 1e6 / 125.0)
    assert meter.zones[0].max_power_basis == "constraint_0_max_power_uw"


def test_max_interval_falls_back_to_the_power_limit_with_a_safety_factor(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, subzones=(), max_power_uw=0, power_limit_uw=65_000_000)
    meter = RaplMeter(tree.root)
    assert POWER_LIMIT_SAFETY == 2.0
    assert meter.max_interval_s == pytest.approx(PACKAGE_RANGE_UJ / 1e6 / 130.0)
    assert "constraint_0_power_limit_uw" in meter.zones[0].max_power_basis


def test_max_interval_is_the_smallest_over_channels(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, subzones=(), max_power_uw=100_000_000)
    tree.add_package(1, subzones=(), max_power_uw=200_000_000, max_energy_range_uj=1000 * J)
    assert RaplMeter(tree.root).max_interval_s == pytest.approx(5.0)


def test_a_package_stating_no_power_falls_back_to_its_tdp_with_a_safety_factor(
    tmp_path: Path,
) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, subzones=("dram",), max_power_uw=None, power_limit_uw=None)
    meter = RaplMeter(tree.root, model="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
    package, dram = meter.channels
    assert package.max_power_w == POWER_LIMIT_SAFETY * 150.0  # the table's TDP
    assert "TDP of Intel Xeon Gold 6248 (150 W" in meter.zones[0].max_power_basis
    assert meter.max_interval_s == pytest.approx(PACKAGE_RANGE_UJ / 1e6 / 300.0)
    assert dram.max_power_w is None  # a DRAM zone has no TDP: the domain's default bound


def test_each_channel_states_its_zones_maximum_power(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, subzones=("dram",), max_power_uw=125_000_000)
    tree.add_package(1, subzones=(), max_power_uw=0, power_limit_uw=65_000_000)
    assert [(c.id, c.max_power_w) for c in RaplMeter(tree.root).channels] == [
        ("cpu:0", 125.0),
        ("cpu:1", 130.0),
        ("dram:0", None),
    ]


# -- the real machine -----------------------------------------------------------------------


@pytest.mark.rapl
def test_real_powercap_counters_advance() -> None:
    if not Path(DEFAULT_ROOT).is_dir():
        pytest.skip(f"no {DEFAULT_ROOT} here (not Linux, or a VM/container without RAPL)")
    try:
        meter = RaplMeter()
    except MeterPermissionError:
        pytest.skip("energy_uj is root-only on this kernel (CVE-2020-8694); run as root")
    except MeterUnavailableError as err:
        pytest.skip(f"no readable RAPL here: {err}")
    assert meter.channels[0].id == "cpu:0"
    assert all(c.max_energy_j is not None and c.max_energy_j > 0 for c in meter.channels)
    first = meter.read()
    assert all(v >= 0 for v in first)
    wait_until(lambda: meter.read()[0] != first[0], timeout_s=5.0, what="the package counter")
    meter.close()
