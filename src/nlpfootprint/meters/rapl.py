"""CPU package and DRAM energy from Intel/AMD RAPL, through the Linux powercap files.

This is how Strubell et al. (ACL 2019) measured CPU and DRAM power. The kernel exposes each
RAPL *zone* as a directory under ``/sys/class/powercap`` (a symlink into ``/sys/devices``):

* ``intel-rapl:N`` (``amd-rapl:N`` on some AMD kernels) named ``package-N``: one CPU
  socket; on multi-die parts the name is ``package-N-die-D``;
* ``intel-rapl:N:M`` inside it named ``dram``, ``core`` or ``uncore``: parts of the
  package. Only ``dram`` is a channel; ``core`` and ``uncore`` are already inside the
  package's figure, so adding them would count their energy twice;
* a top-level zone named ``psys`` on some client CPUs: the whole platform. It is used only
  on request (``psys=True``) and then *instead of* packages and DRAM, which it contains.

Each zone has ``energy_uj``, a counter in microjoules that returns to 0 after
``max_energy_range_uj``. :meth:`RaplMeter.read` returns the raw counter in joules; the
tracker unwraps it with :attr:`Channel.max_energy_j`, which is exact as long as the meter is
read at least once per wrap (see :attr:`RaplMeter.max_interval_s`).

Since November 2020 (CVE-2020-8694, "Platypus") kernels make ``energy_uj`` readable by root
only; the constructor then raises :class:`~nlpfootprint.errors.MeterPermissionError` with
the ways to allow it.

Each channel states the most its zone can draw (:attr:`Channel.max_power_w
<nlpfootprint.meters.base.Channel.max_power_w>`), so that an impossible counter rise is
refused: the zone's ``constraint_0_max_power_uw``, else :data:`POWER_LIMIT_SAFETY` x its
long-term power limit, else, for a package, :data:`POWER_LIMIT_SAFETY` x the CPU model's
TDP from the shipped table (:mod:`nlpfootprint.meters.tdp`); else nothing (the ledger then
uses the default for the domain).
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import attrs

from nlpfootprint.errors import MeterError, MeterPermissionError, MeterUnavailableError
from nlpfootprint.meters.base import Channel
from nlpfootprint.meters.tdp import cpu_model_name, lookup_tdp
from nlpfootprint.provenance import Backend, Device

__all__ = [
    "DEFAULT_ROOT",
    "POWER_LIMIT_SAFETY",
    "RaplMeter",
    "RaplZone",
    "permission_message",
    "scan_zones",
]

#: Where Linux mounts the powercap class.
DEFAULT_ROOT = "/sys/class/powercap"
#: When a zone states no maximum power, its long-term power limit (PL1,
#: ``constraint_0_power_limit_uw``) times this factor stands in for it: turbo limits
#: (PL2, PL4) let a package draw above PL1 for a while, commonly 1.2-2x PL1.
POWER_LIMIT_SAFETY = 2.0

_ZONE = re.compile(r"(intel-rapl|amd-rapl):(\d+)")
_PACKAGE = re.compile(r"package-(\d+)(?:-die-(\d+))?")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _read_int(path: Path) -> int | None:
    text = _read_text(path)
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


@attrs.frozen
class RaplZone:
    """One powercap zone as found on disk.

    Attributes:
        path: The zone's directory (under the root given, symlinks not resolved).
        name: The kernel's name for it (``package-0``, ``dram``, ``core``, ``psys``, ...).
        max_energy_range_uj: Where ``energy_uj`` wraps, or None if the file is unreadable.
        max_power_w: Highest power the zone can draw, or None if the zone does not say.
        max_power_basis: Which file ``max_power_w`` came from, and any factor applied.
        subzones: Zones inside this one (``intel-rapl:N:M``), in order of M.
    """

    path: Path
    name: str
    max_energy_range_uj: int | None = None
    max_power_w: float | None = None
    max_power_basis: str = "not stated by the zone"
    subzones: tuple[RaplZone, ...] = ()

    @property
    def zone(self) -> str:
        """The directory name, such as ``intel-rapl:0`` or ``intel-rapl:0:2``."""
        return self.path.name

    @property
    def energy_path(self) -> Path:
        """The zone's ``energy_uj`` counter file."""
        return self.path / "energy_uj"

    @property
    def max_energy_j(self) -> float | None:
        """The counter's wrap range in joules, or None when unknown."""
        if self.max_energy_range_uj is None or self.max_energy_range_uj <= 0:
            return None
        return self.max_energy_range_uj / 1e6

    @property
    def max_interval_s(self) -> float | None:
        """Longest time between reads that still sees every wrap at :attr:`max_power_w`."""
        if self.max_energy_j is None or self.max_power_w is None:
            return None
        return self.max_energy_j / self.max_power_w


def _max_power(path: Path) -> tuple[float | None, str]:
    max_uw = _read_int(path / "constraint_0_max_power_uw")
    if max_uw is not None and max_uw > 0:
        return max_uw / 1e6, "constraint_0_max_power_uw"
    limit_uw = _read_int(path / "constraint_0_power_limit_uw")
    if limit_uw is not None and limit_uw > 0:
        basis = f"{POWER_LIMIT_SAFETY:g} x constraint_0_power_limit_uw (no max power stated)"
        return POWER_LIMIT_SAFETY * limit_uw / 1e6, basis
    return None, "not stated by the zone"


def _zone(path: Path, subzones: tuple[RaplZone, ...] = ()) -> RaplZone | None:
    name = _read_text(path / "name")
    if not name:
        return None
    power_w, basis = _max_power(path)
    return RaplZone(
        path=path,
        name=name,
        max_energy_range_uj=_read_int(path / "max_energy_range_uj"),
        max_power_w=power_w,
        max_power_basis=basis,
        subzones=subzones,
    )


def _numbered_dirs(directory: Path, pattern: re.Pattern[str]) -> list[tuple[str, int, Path]]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for entry in names:
        match = pattern.fullmatch(entry)
        if match and (directory / entry).is_dir():
            found.append((match.group(1), int(match.groups()[-1]), directory / entry))
    return sorted(found)


def scan_zones(directory: str | os.PathLike[str]) -> list[RaplZone]:
    """Find the top-level RAPL zones in ``directory`` and their sub-zones.

    ``directory`` is the powercap class directory (``/sys/class/powercap``, where each zone
    appears as a symlink) or a control-type directory (``.../powercap/intel-rapl``, where
    the zones physically live). Sub-zone entries at the top level (``intel-rapl:0:0``) and
    other control types (``intel-rapl-mmio``, ``dtpm``) are ignored. Zones whose ``name``
    cannot be read are left out.
    """
    zones = []
    for _, _, path in _numbered_dirs(Path(directory), _ZONE):
        inner = re.compile(rf"({re.escape(path.name)}):(\d+)")
        subzones = tuple(
            z for _, _, sub in _numbered_dirs(path, inner) if (z := _zone(sub)) is not None
        )
        zone = _zone(path, subzones)
        if zone is not None:
            zones.append(zone)
    return zones


def permission_message(
    path: str | os.PathLike[str], root: str | os.PathLike[str] = DEFAULT_ROOT
) -> str:
    """Explain why ``path`` (an ``energy_uj``) cannot be read and every way to allow it."""
    base = os.fspath(root).rstrip("/") or "/"
    prefix = "amd-rapl" if "amd-rapl:" in os.fspath(path) else "intel-rapl"
    top = f"{base}/{prefix}:*/energy_uj"
    sub = f"{base}/{prefix}:*/{prefix}:*/energy_uj"
    return (
        f"cannot read {os.fspath(path)}: permission denied. Since the November 2020 kernel "
        'fix for CVE-2020-8694 ("Platypus"), RAPL energy counters are readable by root '
        "only. Any one of these allows it:\n"
        "  1. run as root;\n"
        f"  2. sudo chmod a+r {top} {sub}   (lost at reboot);\n"
        "  3. make it persistent with a udev rule, e.g. the line\n"
        '       SUBSYSTEM=="powercap", ACTION=="add", RUN+="/bin/chmod a+r /sys%p/energy_uj"\n'
        "     in /etc/udev/rules.d/99-powercap.rules, or a systemd-tmpfiles line such as\n"
        f"       z {top} 0444 - - -\n"
        "     in /etc/tmpfiles.d/powercap.conf (add one for the sub-zones too);\n"
        "  4. allow a group only: sudo groupadd -r powercap; sudo chgrp powercap "
        f"{top} {sub}; sudo chmod g+r {top} {sub}; sudo usermod -aG powercap $USER "
        "(the same commands can go in the udev rule's RUN).\n"
        "Security: readable counters let any local program infer secret data (such as "
        "cryptographic keys) from fine-grained power use, the Platypus side channel, so "
        "allow it only on machines where that risk is acceptable."
    )


def _pair(
    channel_id: str, domain: str, label: str, zone: RaplZone, index: int | None
) -> tuple[Channel, RaplZone]:
    channel = Channel(
        id=channel_id,
        domain=domain,
        kind="energy",
        label=label,
        max_energy_j=zone.max_energy_j,
        backend=Backend.RAPL,
        device=Device(name=zone.name, index=index, host=platform.node()),
        max_power_w=zone.max_power_w,
    )
    return channel, zone


def _with_tdp(zone: RaplZone, model: str | None) -> RaplZone:
    """A package zone that states no power, with :data:`POWER_LIMIT_SAFETY` x its CPU's TDP
    (from the table, when the model is found there) as its maximum."""
    if zone.max_power_w is not None or not _PACKAGE.fullmatch(zone.name):
        return zone
    name = cpu_model_name() if model is None else model
    match = lookup_tdp(name)
    if match is None:
        return zone
    return attrs.evolve(
        zone,
        max_power_w=POWER_LIMIT_SAFETY * match.tdp_w,
        max_power_basis=(
            f"{POWER_LIMIT_SAFETY:g} x the TDP of {match.name} ({match.tdp_w:g} W, "
            f"{match.source}): the zone states no power"
        ),
    )


def _read_joules(path: str) -> float:
    # One open/read/close per counter: microseconds, and unlike a descriptor held for
    # weeks it follows the zone if the driver is reloaded. energy_uj is a decimal integer.
    fd = os.open(path, os.O_RDONLY)
    try:
        raw = os.read(fd, 64)
    finally:
        os.close(fd)
    return int(raw) / 1e6


class RaplMeter:
    """CPU package (and DRAM) energy counters read from the Linux powercap tree.

    Channels are ``cpu:N`` for each package zone (ordered by N), then ``dram:N`` for each
    package's ``dram`` sub-zone; or, with ``psys=True``, the single ``other:0``. All are
    energy counters with :attr:`Channel.max_energy_j` set from ``max_energy_range_uj``.

    Args:
        root: The powercap class directory; a copy of the tree works for tests.
        dram: Include the DRAM sub-zones (machines without them, such as AMD and most
            desktops, simply have none).
        psys: Measure the platform zone ``psys`` instead of packages and DRAM.
        model: The CPU model name, to look its TDP up where a package zone states no
            power (default: this machine's, :func:`~nlpfootprint.meters.tdp.cpu_model_name`).

    Raises:
        MeterUnavailableError: No powercap tree at ``root``, no package (or psys) zone in
            it, or a counter that is not there.
        MeterPermissionError: A counter exists but may not be read; the message says how
            to allow it.

    Attributes:
        root: The directory read.
        zones: The zone behind each channel, in channel order.
        max_interval_s: The longest sampling interval that still sees every counter wrap
            with each zone at its maximum power (the smallest over channels), or None
            when no zone states a power. See :data:`POWER_LIMIT_SAFETY`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = DEFAULT_ROOT,
        *,
        dram: bool = True,
        psys: bool = False,
        model: str | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise MeterUnavailableError(
                f"there is no powercap tree at {self.root}: not Linux, a VM or container "
                "without RAPL, or the RAPL driver is not loaded (sudo modprobe "
                "intel_rapl_msr, which loads intel_rapl_common; intel_rapl before Linux 5.3)"
            )
        zones = [_with_tdp(zone, model) for zone in scan_zones(self.root)]
        pairs = self._psys_channels(zones) if psys else self._package_channels(zones, dram)
        self._channels = tuple(channel for channel, _ in pairs)
        self.zones = tuple(zone for _, zone in pairs)
        self._paths = tuple(os.path.realpath(z.energy_path) for z in self.zones)
        intervals = [s for z in self.zones if (s := z.max_interval_s) is not None]
        self.max_interval_s: float | None = min(intervals) if intervals else None
        for zone in self.zones:
            self._check_readable(zone.energy_path)

    def _package_channels(
        self, zones: list[RaplZone], dram: bool
    ) -> list[tuple[Channel, RaplZone]]:
        packages = []
        for zone in zones:
            match = _PACKAGE.fullmatch(zone.name)
            if match:
                die = match.group(2)
                key = (int(match.group(1)), -1 if die is None else int(die))
                suffix = match.group(1) if die is None else f"{match.group(1)}-die-{die}"
                packages.append((key, suffix, zone))
        if not packages:
            names = ", ".join(f"{z.zone}={z.name}" for z in zones) or "no RAPL zones at all"
            raise MeterUnavailableError(
                f"the powercap tree at {self.root} has no RAPL package zone ({names})"
            )
        packages.sort(key=lambda item: item[0])
        pairs = [
            _pair(f"cpu:{suffix}", "cpu", f"RAPL {zone.name} ({zone.zone})", zone, key[0])
            for key, suffix, zone in packages
        ]
        if dram:
            for key, suffix, zone in packages:
                for sub in zone.subzones:
                    if sub.name == "dram":
                        label = f"RAPL dram of {zone.name} ({sub.zone})"
                        pairs.append(_pair(f"dram:{suffix}", "dram", label, sub, key[0]))
        return pairs

    def _psys_channels(self, zones: list[RaplZone]) -> list[tuple[Channel, RaplZone]]:
        found = [z for z in zones if z.name == "psys"]
        if not found:
            raise MeterUnavailableError(
                f"psys=True but the powercap tree at {self.root} has no psys zone (it exists "
                "on some Intel client CPUs from Skylake on); use psys=False for packages "
                "and DRAM"
            )
        label = "RAPL psys ({}): the whole platform"
        return [
            _pair(f"other:{i}", "other", label.format(z.zone), z, None) for i, z in enumerate(found)
        ]

    def _check_readable(self, path: Path) -> None:
        try:
            _read_joules(os.fspath(path))
        except PermissionError as err:
            raise MeterPermissionError(permission_message(path, self.root)) from err
        except (OSError, ValueError) as err:
            raise MeterUnavailableError(f"cannot read the RAPL counter {path}: {err}") from err

    @property
    def channels(self) -> tuple[Channel, ...]:
        """Packages by number, then DRAM by number (or the psys zone alone)."""
        return self._channels

    def read(self) -> list[float]:
        """Each counter in joules, raw: wraps are left for the tracker to undo.

        Raises:
            MeterError: A counter could not be read (the zone went away, for instance).
        """
        values = []
        for path in self._paths:
            try:
                values.append(_read_joules(path))
            except (OSError, ValueError) as err:
                raise MeterError(f"reading the RAPL counter {path} failed: {err}") from err
        return values

    def close(self) -> None:
        """Nothing to release: no file stays open between reads."""

    def __repr__(self) -> str:
        ids = ",".join(c.id for c in self._channels)
        return f"RaplMeter({os.fspath(self.root)!r}, channels={ids})"
