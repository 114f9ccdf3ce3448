"""Build realistic Linux powercap trees in a temporary directory, for the RAPL tests.

The layout copies sysfs: zones live in ``devices/virtual/powercap/intel-rapl/`` (sub-zones
inside their package), and ``class/powercap/`` holds a symlink for the control type and for
every zone and sub-zone. Each zone has ``name``, ``energy_uj``, ``max_energy_range_uj``,
``enabled``, ``uevent``, the ``constraint_*`` files and a ``subsystem`` link back to the
class directory (a cycle, as in sysfs). Counters are rewritten in place, as the kernel
would show new values in the same file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Real values: a package wraps at about 262 kJ, a server's DRAM at about 65.7 kJ.
PACKAGE_RANGE_UJ = 262_143_328_850
DRAM_RANGE_UJ = 65_712_999_613


class PowercapTree:
    """A powercap tree rooted at ``base``; meters read :attr:`root` (``class/powercap``).

    Args:
        base: An empty directory to build in.
        prefix: The control type, ``intel-rapl`` (Intel, and AMD on most kernels) or
            ``amd-rapl``.
    """

    def __init__(self, base: Path, prefix: str = "intel-rapl") -> None:
        self.prefix = prefix
        self.root = base / "class" / "powercap"
        self.control = base / "devices" / "virtual" / "powercap" / prefix
        self.root.mkdir(parents=True)
        self.control.mkdir(parents=True)
        (self.control / "enabled").write_text("1\n")
        self._link(self.root / prefix, self.control)
        self._dirs: dict[str, Path] = {}

    @staticmethod
    def _link(link: Path, target: Path) -> None:
        link.symlink_to(os.path.relpath(target, link.parent))

    def add_zone(
        self,
        name: str,
        index: int,
        *,
        parent: str | None = None,
        energy_uj: int = 0,
        max_energy_range_uj: int | None = PACKAGE_RANGE_UJ,
        max_power_uw: int | None = None,
        power_limit_uw: int | None = None,
    ) -> str:
        """Add a zone (``parent=None``) or a sub-zone; return its directory name."""
        if parent is None:
            zone, where = f"{self.prefix}:{index}", self.control
        else:
            zone, where = f"{parent}:{index}", self._dirs[parent]
        path = where / zone
        path.mkdir()
        (path / "name").write_text(name + "\n")
        (path / "energy_uj").write_text(f"{energy_uj}\n")
        if max_energy_range_uj is not None:
            (path / "max_energy_range_uj").write_text(f"{max_energy_range_uj}\n")
        (path / "enabled").write_text("1\n")
        (path / "uevent").write_text("")
        for number, (kind, window_us) in enumerate((("long_term", 999424), ("short_term", 2440))):
            (path / f"constraint_{number}_name").write_text(kind + "\n")
            (path / f"constraint_{number}_time_window_us").write_text(f"{window_us}\n")
        if power_limit_uw is not None:
            (path / "constraint_0_power_limit_uw").write_text(f"{power_limit_uw}\n")
            (path / "constraint_1_power_limit_uw").write_text(f"{power_limit_uw * 5 // 4}\n")
        if max_power_uw is not None:
            (path / "constraint_0_max_power_uw").write_text(f"{max_power_uw}\n")
        self._link(path / "subsystem", self.root)
        self._link(self.root / zone, path)
        self._dirs[zone] = path
        return zone

    def add_package(
        self,
        socket: int,
        *,
        subzones: tuple[str, ...] = ("core", "uncore", "dram"),
        max_power_uw: int | None = 150_000_000,
        power_limit_uw: int | None = 125_000_000,
        max_energy_range_uj: int | None = PACKAGE_RANGE_UJ,
        name: str | None = None,
    ) -> str:
        """Add ``package-{socket}`` at index ``socket`` with the given sub-zones in order."""
        zone = self.add_zone(
            name or f"package-{socket}",
            socket,
            max_power_uw=max_power_uw,
            power_limit_uw=power_limit_uw,
            max_energy_range_uj=max_energy_range_uj,
        )
        for number, sub in enumerate(subzones):
            limits = {"max_power_uw": 0, "power_limit_uw": 0} if sub == "dram" else {}
            range_uj = DRAM_RANGE_UJ if sub == "dram" else PACKAGE_RANGE_UJ
            self.add_zone(sub, number, parent=zone, max_energy_range_uj=range_uj, **limits)
        return zone

    def zone_dir(self, zone: str) -> Path:
        """The real directory of ``zone`` (where the symlink in :attr:`root` points)."""
        return self._dirs[zone]

    def set_energy(self, zone: str, energy_uj: int) -> None:
        """Rewrite the zone's counter in place."""
        (self._dirs[zone] / "energy_uj").write_text(f"{energy_uj}\n")

    def set_energies(self, values_uj: dict[str, int]) -> None:
        """Rewrite several counters."""
        for zone, value in values_uj.items():
            self.set_energy(zone, value)


def server(base: Path, sockets: int = 2) -> PowercapTree:
    """A Xeon-like server: per socket a package with one ``dram`` sub-zone."""
    tree = PowercapTree(base)
    for socket in range(sockets):
        tree.add_package(socket, subzones=("dram",))
    return tree


def desktop(base: Path, *, dram: bool = True, psys: bool = False) -> PowercapTree:
    """A one-socket client CPU: package with core, uncore (and dram); psys optional."""
    tree = PowercapTree(base)
    tree.add_package(0, subzones=("core", "uncore", "dram") if dram else ("core", "uncore"))
    if psys:
        tree.add_zone("psys", 1, max_energy_range_uj=PACKAGE_RANGE_UJ, power_limit_uw=0)
    return tree


def check_permission_message(message: str, root: Path | str) -> None:
    """Assert that a MeterPermissionError message gives every fix and the trade-off."""
    assert "energy_uj: permission denied" in message
    assert "run as root" in message
    chmod = (
        f"sudo chmod a+r {root}/intel-rapl:*/energy_uj {root}/intel-rapl:*/intel-rapl:*/energy_uj"
    )
    assert chmod in message
    assert "lost at reboot" in message
    assert 'SUBSYSTEM=="powercap", ACTION=="add", RUN+="/bin/chmod a+r /sys%p/energy_uj"' in message
    assert f"z {root}/intel-rapl:*/energy_uj 0444 - - -" in message
    assert "chgrp powercap" in message
    assert "chmod g+r" in message
    assert "CVE-2020-8694" in message
    assert "Platypus" in message
    assert "side channel" in message


_AS_NOBODY = """
import os, sys
from nlpfootprint.errors import MeterPermissionError
from nlpfootprint.meters.rapl import RaplMeter
try:
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
except OSError as err:
    print("CANNOT-DROP", err); sys.exit(0)
try:
    RaplMeter(sys.argv[1])
except MeterPermissionError as err:
    print("MeterPermissionError"); print(err)
else:
    print("no error")
"""


def construct_as_nobody(root: Path) -> str:
    """Construct ``RaplMeter(root)`` in a child that drops to nobody; return what it printed.

    The child imports nlpfootprint first (the interpreter may live where nobody cannot
    read), then gives up root and its capabilities. Skips the test where that is refused.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _AS_NOBODY, str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if proc.stdout.startswith("CANNOT-DROP"):
        pytest.skip(f"this system does not allow dropping to nobody: {proc.stdout}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
