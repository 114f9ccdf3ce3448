"""CPU package and DRAM energy through pyRAPL, for users who already measure with it.

Our own :class:`~nlpfootprint.meters.rapl.RaplMeter` is the default RAPL backend, and this
adapter is never chosen by ``meters="auto"``. pyRAPL 0.2.3.1 (2019) reads the same
powercap counters, but it hard-codes their location (``/sys/class/powercap/intel-rapl``),
so it cannot be pointed at a test tree or another mount; it knows only the ``intel-rapl``
zones; and it has no wraparound handling: a counter that wraps between two of its reads
shows as a drop.

What this adapter uses of pyRAPL is its public API: ``pyRAPL.Device`` (``PKG``, ``DRAM``),
``pyRAPL.Sensor(devices=..., socket_ids=...)``, ``Sensor.energy()`` and
``pyRAPL.PyRAPLException``. ``Sensor.energy()`` returns the raw ``energy_uj`` counters, in
microjoules (its docstring says joules; the values are the file's), laid out as
``[pkg socket 0, dram socket 0, pkg socket 1, dram socket 1, ...]`` with ``-1`` for what is
not monitored. The adapter makes its own ``Sensor`` rather than calling ``pyRAPL.setup()``,
which would replace the global sensor that the user's own ``pyRAPL.Measurement`` uses.

Wraparound: pyRAPL does not read ``max_energy_range_uj``. The adapter reads it where pyRAPL
finds its zones, ``{powercap_root}/intel-rapl/intel-rapl:N`` named ``package-S`` and that
zone's sub-zone named ``dram``, and sets :attr:`Channel.max_energy_j` from it, so the
tracker's counter unwrap adds the wrap correction pyRAPL lacks. ``max_energy_j=`` overrides
it. Where neither gives a range the channel's ``max_energy_j`` is None and its label says
so: the tracker then treats a drop as a reset, which undercounts that interval.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nlpfootprint.checks import positive
from nlpfootprint.errors import MeterError, MeterPermissionError, MeterUnavailableError
from nlpfootprint.meters.base import Channel
from nlpfootprint.meters.rapl import DEFAULT_ROOT, RaplZone, permission_message, scan_zones
from nlpfootprint.provenance import Backend, Device

__all__ = ["PyRaplMeter"]


def _import_pyrapl() -> Any:
    try:
        import pyRAPL  # type: ignore[import-not-found, unused-ignore]
    except ImportError as err:
        raise MeterUnavailableError(
            "pyRAPL is not installed: pip install nlpfootprint[pyrapl] (or use RaplMeter, "
            "which reads the same counters without it)"
        ) from err
    return pyRAPL


def _describe(err: BaseException) -> str:
    """pyRAPL's exceptions carry attributes, not messages; say what they mean."""
    if hasattr(err, "socket_id"):
        return f"socket {err.socket_id} does not exist on this machine"
    device = getattr(err, "device", None)
    if hasattr(err, "device"):
        if device is None:
            return "no RAPL device can be monitored on this machine"
        return f"the device {getattr(device, 'name', device)} cannot be monitored"
    return str(err) or "no RAPL interface found under /sys/class/powercap/intel-rapl"


class PyRaplMeter:
    """CPU package (and DRAM) energy counters read through pyRAPL.

    Channels match :class:`~nlpfootprint.meters.rapl.RaplMeter`: ``cpu:S`` for each socket
    package, then ``dram:S`` for each socket with a DRAM zone, all energy counters.

    Args:
        dram: Include DRAM where pyRAPL finds it (it leaves it out where there is none).
        socket_ids: Sockets to monitor; default all.
        max_energy_j: The counters' wrap range in joules, for all channels or by channel
            id; by default read from ``max_energy_range_uj`` (see the module docstring).
        powercap_root: Where to look for ``max_energy_range_uj``; pyRAPL itself always
            reads ``/sys/class/powercap``.
        pyrapl: A pyRAPL-like module object to use instead of importing ``pyRAPL``.

    Raises:
        MeterUnavailableError: pyRAPL is not installed or finds nothing to read.
        MeterPermissionError: The counters exist but may not be read.

    Attributes:
        max_interval_s: As :attr:`RaplMeter.max_interval_s
            <nlpfootprint.meters.rapl.RaplMeter.max_interval_s>`, or None when unknown.
    """

    def __init__(
        self,
        *,
        dram: bool = True,
        socket_ids: Sequence[int] | None = None,
        max_energy_j: float | Mapping[str, float] | None = None,
        powercap_root: str | os.PathLike[str] = DEFAULT_ROOT,
        pyrapl: Any = None,
    ) -> None:
        module = _import_pyrapl() if pyrapl is None else pyrapl
        self._pkg = int(module.Device.PKG)
        self._dram = int(module.Device.DRAM)
        pyrapl_error: type[BaseException] = module.PyRAPLException
        # devices=None: pyRAPL monitors PKG and DRAM, silently leaving out DRAM if absent.
        devices = None if dram else [module.Device.PKG]
        sockets = None if socket_ids is None else [int(s) for s in socket_ids]
        try:
            self._sensor: Any = module.Sensor(devices=devices, socket_ids=sockets)
            first = list(self._sensor.energy())
        except pyrapl_error as err:
            raise MeterUnavailableError(f"pyRAPL cannot measure: {_describe(err)}") from err
        except PermissionError as err:
            raise MeterPermissionError(permission_message(err.filename or "energy_uj")) from err
        except OSError as err:
            raise MeterUnavailableError(f"pyRAPL could not read the RAPL files: {err}") from err
        self._error: type[BaseException] = pyrapl_error
        zones = {z.name: z for z in scan_zones(Path(powercap_root) / "intel-rapl")}
        self._build_channels(first, dram, zones, max_energy_j)

    def _build_channels(
        self,
        first: list[float],
        dram: bool,
        zones: dict[str, RaplZone],
        max_energy_j: float | Mapping[str, float] | None,
    ) -> None:
        sockets = range(len(first) // 2)
        wanted = [("cpu", s, 2 * s + self._pkg) for s in sockets if first[2 * s + self._pkg] >= 0]
        if not wanted:
            raise MeterUnavailableError("pyRAPL monitors no CPU package on this machine")
        if dram:
            wanted += [
                ("dram", s, 2 * s + self._dram) for s in sockets if first[2 * s + self._dram] >= 0
            ]
        channels = []
        intervals = []
        for domain, socket, _ in wanted:
            channel_id = f"{domain}:{socket}"
            package = zones.get(f"package-{socket}")
            zone = package
            if domain == "dram" and package is not None:
                zone = next((z for z in package.subzones if z.name == "dram"), None)
            if isinstance(max_energy_j, Mapping) and channel_id in max_energy_j:
                range_j: float | None = positive("max_energy_j", max_energy_j[channel_id])
            elif max_energy_j is not None and not isinstance(max_energy_j, Mapping):
                range_j = positive("max_energy_j", max_energy_j)
            else:
                range_j = None if zone is None else zone.max_energy_j
            where = "" if zone is None else f" ({zone.zone})"
            label = f"pyRAPL {'package' if domain == 'cpu' else 'dram'} socket {socket}{where}"
            if range_j is None:
                label += " (wrap range unknown: a wrap counts as a reset)"
            elif zone is not None and zone.max_power_w is not None:
                intervals.append(range_j / zone.max_power_w)
            channels.append(
                Channel(
                    id=channel_id,
                    domain=domain,
                    kind="energy",
                    label=label,
                    max_energy_j=range_j,
                    backend=Backend.PYRAPL,
                    device=Device(name=f"socket {socket}", index=socket, host=platform.node()),
                    max_power_w=None if zone is None else zone.max_power_w,
                )
            )
        self._channels = tuple(channels)
        self._indices = tuple(index for _, _, index in wanted)
        self.max_interval_s: float | None = min(intervals) if intervals else None

    @property
    def channels(self) -> tuple[Channel, ...]:
        """Packages by socket, then DRAM by socket."""
        return self._channels

    def read(self) -> list[float]:
        """Each counter in joules, raw: wraps are left for the tracker to undo.

        Raises:
            MeterError: pyRAPL failed, or returned -1 for a monitored counter.
        """
        if self._sensor is None:
            raise MeterError("this PyRaplMeter was closed")
        try:
            values = self._sensor.energy()
        except (OSError, ValueError, self._error) as err:
            raise MeterError(f"pyRAPL failed to read the RAPL counters: {err!r}") from err
        out = []
        for channel, index in zip(self._channels, self._indices, strict=True):
            value = values[index]
            if value < 0:
                raise MeterError(f"pyRAPL returned no value ({value}) for {channel.id}")
            out.append(value / 1e6)
        return out

    def close(self) -> None:
        """Close the counter files pyRAPL keeps open.

        pyRAPL has no close of its own; its sensor keeps each ``energy_uj`` open in the
        private ``_device_api[...]._sys_files``. Those are closed where present; with a
        pyRAPL that stores them elsewhere, they close when garbage-collected.
        """
        sensor, self._sensor = self._sensor, None
        for api in dict(getattr(sensor, "_device_api", None) or {}).values():
            for handle in getattr(api, "_sys_files", None) or ():
                handle.close()

    def __repr__(self) -> str:
        ids = ",".join(c.id for c in self._channels)
        return f"PyRaplMeter(channels={ids})"
