"""PyRaplMeter driven through a pyRAPL-like module that reads a powercap tree in tmp_path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nlpfootprint as nf
from fake_pyrapl import fake_pyrapl
from nlpfootprint.errors import MeterError, MeterPermissionError, MeterUnavailableError
from nlpfootprint.meters.base import PowerMeter
from nlpfootprint.meters.pyrapl import PyRaplMeter
from nlpfootprint.testing import FakeClock
from powercap import (
    DRAM_RANGE_UJ,
    PACKAGE_RANGE_UJ,
    PowercapTree,
    check_permission_message,
    desktop,
    server,
)

J = 1_000_000


@pytest.fixture
def meters() -> Iterator[list[PyRaplMeter]]:
    """Meters to close after the test (pyRAPL keeps its counter files open)."""
    made: list[PyRaplMeter] = []
    yield made
    for meter in made:
        meter.close()


def make(made: list[PyRaplMeter], **kwargs: Any) -> PyRaplMeter:
    meter = PyRaplMeter(**kwargs)
    made.append(meter)
    return meter


def test_two_sockets_give_rapl_meter_channels(tmp_path: Path, meters: list[PyRaplMeter]) -> None:
    tree = server(tmp_path)
    module = fake_pyrapl(tree.root, sockets=(0, 1))
    meter = make(meters, pyrapl=module, powercap_root=tree.root)
    assert isinstance(meter, PowerMeter)
    assert [(c.id, c.domain, c.kind) for c in meter.channels] == [
        ("cpu:0", "cpu", "energy"),
        ("cpu:1", "cpu", "energy"),
        ("dram:0", "dram", "energy"),
        ("dram:1", "dram", "energy"),
    ]
    assert [c.max_energy_j for c in meter.channels] == [PACKAGE_RANGE_UJ / 1e6] * 2 + [
        DRAM_RANGE_UJ / 1e6
    ] * 2
    assert meter.channels[0].label == "pyRAPL package socket 0 (intel-rapl:0)"
    assert meter.channels[3].label == "pyRAPL dram socket 1 (intel-rapl:1:0)"
    assert module.calls == [{"devices": None, "socket_ids": None}]
    assert module._sensor is None  # pyRAPL's global sensor is left to the user
    assert meter.max_interval_s == pytest.approx(PACKAGE_RANGE_UJ / 1e6 / 150.0)


def test_read_returns_counters_in_joules(tmp_path: Path, meters: list[PyRaplMeter]) -> None:
    tree = server(tmp_path)
    tree.set_energies(
        {
            "intel-rapl:0": 1_500_000,
            "intel-rapl:1": 7 * J,
            "intel-rapl:0:0": 250,
            "intel-rapl:1:0": 0,
        }
    )
    meter = make(meters, pyrapl=fake_pyrapl(tree.root, sockets=(0, 1)), powercap_root=tree.root)
    assert meter.read() == [1.5, 7.0, 0.00025, 0.0]


def test_wraps_are_undone_by_the_tracker(tmp_path: Path, meters: list[PyRaplMeter]) -> None:
    tree = PowercapTree(tmp_path)
    tree.add_package(0, subzones=("dram",), max_energy_range_uj=100 * J)
    meter = make(meters, pyrapl=fake_pyrapl(tree.root), powercap_root=tree.root)
    clock = FakeClock()
    package_uj = 0
    with nf.track_energy(meters=[meter], clock=clock, interval_s=1.0) as tracker:
        for second in range(1, 31):  # 70 J per second on a 100 J counter: 21 wraps
            package_uj = (package_uj + 70_123_456) % (100 * J)
            tree.set_energies({"intel-rapl:0": package_uj, "intel-rapl:0:0": second * J})
            clock.advance(1.0)
    result = {c.id: c.energy_j for c in tracker.report.channels}
    assert result["cpu:0"] == pytest.approx(30 * 70.123456, rel=1e-12)
    assert result["dram:0"] == pytest.approx(30.0, rel=1e-12)


def test_dram_false_asks_pyrapl_for_packages_only(
    tmp_path: Path, meters: list[PyRaplMeter]
) -> None:
    tree = server(tmp_path)
    module = fake_pyrapl(tree.root, sockets=(0, 1))
    meter = make(meters, pyrapl=module, powercap_root=tree.root, dram=False)
    assert [c.id for c in meter.channels] == ["cpu:0", "cpu:1"]
    assert module.calls == [{"devices": [module.Device.PKG], "socket_ids": None}]


def test_machine_without_dram_zone_gives_packages(
    tmp_path: Path, meters: list[PyRaplMeter]
) -> None:
    tree = desktop(tmp_path, dram=False)
    meter = make(meters, pyrapl=fake_pyrapl(tree.root), powercap_root=tree.root)
    assert [c.id for c in meter.channels] == ["cpu:0"]


def test_socket_ids_select_sockets(tmp_path: Path, meters: list[PyRaplMeter]) -> None:
    tree = server(tmp_path)
    tree.set_energies({"intel-rapl:1": 3 * J, "intel-rapl:1:0": J})
    module = fake_pyrapl(tree.root, sockets=(0, 1))
    meter = make(meters, pyrapl=module, powercap_root=tree.root, socket_ids=[1])
    assert [c.id for c in meter.channels] == ["cpu:1", "dram:1"]
    assert meter.read() == [3.0, 1.0]


def test_unknown_socket_is_unavailable_and_named(tmp_path: Path) -> None:
    tree = server(tmp_path)
    with pytest.raises(MeterUnavailableError, match="socket 3 does not exist"):
        PyRaplMeter(pyrapl=fake_pyrapl(tree.root, sockets=(0, 1)), socket_ids=[3])


def test_machine_without_rapl_is_unavailable(tmp_path: Path) -> None:
    tree = PowercapTree(tmp_path)
    with pytest.raises(MeterUnavailableError, match="no RAPL device can be monitored"):
        PyRaplMeter(pyrapl=fake_pyrapl(tree.root))


def test_unreadable_counter_raises_permission_error_with_fixes(tmp_path: Path) -> None:
    """pyRAPL's open() of energy_uj raises PermissionError for a user; the fake does too."""
    tree = desktop(tmp_path)
    with pytest.raises(MeterPermissionError) as info:
        PyRaplMeter(pyrapl=fake_pyrapl(tree.root, deny=True))
    message = str(info.value)
    assert f"cannot read {tree.root}/intel-rapl/intel-rapl:0/energy_uj" in message
    check_permission_message(message, "/sys/class/powercap")


def test_missing_pyrapl_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyRAPL", None)  # makes `import pyRAPL` fail
    with pytest.raises(MeterUnavailableError, match=r"pip install nlpfootprint\[pyrapl\]"):
        PyRaplMeter()


def test_wrap_range_can_be_given_for_all_or_by_channel(
    tmp_path: Path, meters: list[PyRaplMeter]
) -> None:
    tree = server(tmp_path)
    module = fake_pyrapl(tree.root, sockets=(0, 1))
    everywhere = make(meters, pyrapl=module, powercap_root=tree.root, max_energy_j=500.0)
    assert [c.max_energy_j for c in everywhere.channels] == [500.0] * 4
    some = make(meters, pyrapl=module, powercap_root=tree.root, max_energy_j={"dram:1": 9.0})
    assert [c.max_energy_j for c in some.channels][2:] == [DRAM_RANGE_UJ / 1e6, 9.0]


def test_unknown_wrap_range_is_said_in_the_label(tmp_path: Path, meters: list[PyRaplMeter]) -> None:
    tree = desktop(tmp_path)
    meter = make(meters, pyrapl=fake_pyrapl(tree.root), powercap_root=tmp_path / "elsewhere")
    assert all(c.max_energy_j is None for c in meter.channels)
    assert "wrap range unknown" in meter.channels[0].label
    assert meter.max_interval_s is None


def test_failed_read_is_a_meter_error_and_a_gap(tmp_path: Path, meters: list[PyRaplMeter]) -> None:
    tree = desktop(tmp_path)
    meter = make(meters, pyrapl=fake_pyrapl(tree.root), powercap_root=tree.root)
    clock = FakeClock()
    with nf.track_energy(meters=[meter], clock=clock, interval_s=1.0) as tracker:
        tree.set_energies({"intel-rapl:0": 10 * J, "intel-rapl:0:2": J})
        clock.advance(1.0)
        (tree.zone_dir("intel-rapl:0") / "energy_uj").write_text("")  # float('') fails
        with pytest.raises(MeterError, match="pyRAPL failed"):
            meter.read()
        clock.advance(2.0)
    cpu = tracker.report.channels[0]
    assert cpu.energy_j == 10.0
    assert cpu.gap_s == pytest.approx(2.0)


def test_close_closes_pyrapl_files_and_later_reads_fail(tmp_path: Path) -> None:
    tree = desktop(tmp_path)
    meter = PyRaplMeter(pyrapl=fake_pyrapl(tree.root), powercap_root=tree.root)
    handles = [f for api in meter._sensor._device_api.values() for f in api._sys_files]
    meter.close()
    assert handles
    assert all(handle.closed for handle in handles)
    meter.close()
    with pytest.raises(MeterError, match="closed"):
        meter.read()
