"""A pyRAPL-like module over a powercap tree, for driving PyRaplMeter without pyRAPL."""

from __future__ import annotations

import enum
import errno
import types
from pathlib import Path
from typing import IO, Any


def fake_pyrapl(root: Path, *, sockets: tuple[int, ...] = (0,), deny: bool = False) -> Any:
    """A module like pyRAPL 0.2.3.1, with its sysfs root given instead of hard-coded.

    It has the names the adapter uses, with pyRAPL's shapes: ``Device`` (an IntEnum, PKG=0,
    DRAM=1), ``Sensor(devices=, socket_ids=)`` whose ``energy()`` returns the raw counters
    in microjoules as ``[pkg 0, dram 0, pkg 1, dram 1, ...]`` with -1 where nothing is
    monitored, the exception classes (with ``device`` / ``socket_id`` attributes and no
    message), ``setup()`` and the global ``_sensor``. Like pyRAPL it finds zones under
    ``{root}/intel-rapl/intel-rapl:N`` and keeps each ``energy_uj`` open in
    ``sensor._device_api[device]._sys_files``. ``sockets`` plays the CPU topology pyRAPL
    reads; ``deny`` makes opening a counter fail as it does for a user on a patched kernel.
    """
    module: Any = types.ModuleType("pyRAPL")

    class Device(enum.IntEnum):
        PKG = 0
        DRAM = 1

    class PyRAPLException(Exception):  # noqa: N818 - pyRAPL's name
        pass

    class PyRAPLCantInitDeviceAPI(PyRAPLException):
        pass

    class PyRAPLCantRecordEnergyConsumption(PyRAPLException):
        def __init__(self, device: Device | None) -> None:
            super().__init__()
            self.device = device

    class PyRAPLBadSocketIdException(PyRAPLException):
        def __init__(self, socket_id: int) -> None:
            super().__init__()
            self.socket_id = socket_id

    def open_counter(zone: Path) -> IO[str]:
        path = zone / "energy_uj"
        if deny:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return path.open()

    class DeviceAPI:
        def __init__(self, device: Device, socket_ids: list[int] | None) -> None:
            for socket in socket_ids or ():
                if socket not in sockets:
                    raise PyRAPLBadSocketIdException(socket)
            self._socket_ids = sorted(socket_ids if socket_ids is not None else sockets)
            packages = {}
            index = 0
            while (zone := root / "intel-rapl" / f"intel-rapl:{index}").exists():
                name = (zone / "name").read_text().strip()
                if name.startswith("package-") and int(name.split("-")[1]) in self._socket_ids:
                    packages[int(name.split("-")[1])] = zone
                index += 1
            if len(packages) != len(self._socket_ids):
                raise PyRAPLCantInitDeviceAPI()
            zones = [packages[s] for s in self._socket_ids]
            if device == Device.DRAM:
                zones = [self._dram(zone) for zone in zones]
            self._sys_files = [open_counter(zone) for zone in zones]

        @staticmethod
        def _dram(package: Path) -> Path:
            for sub in sorted(package.glob(f"{package.name}:*")):
                if (sub / "name").read_text() == "dram\n":
                    return sub
            raise PyRAPLCantInitDeviceAPI()

        def energy(self) -> tuple[float, ...]:
            result = [-1.0] * (self._socket_ids[-1] + 1)
            for socket, handle in zip(self._socket_ids, self._sys_files, strict=True):
                handle.seek(0, 0)
                result[socket] = float(handle.readline())
            return tuple(result)

    class Sensor:
        def __init__(
            self, devices: list[Device] | None = None, socket_ids: list[int] | None = None
        ) -> None:
            module.calls.append({"devices": devices, "socket_ids": socket_ids})
            self._available_devices: list[Device] = []
            self._device_api: dict[Device, DeviceAPI] = {}
            for device in devices if devices is not None else [Device.PKG, Device.DRAM]:
                try:
                    self._device_api[device] = DeviceAPI(device, socket_ids)
                    self._available_devices.append(device)
                except PyRAPLCantInitDeviceAPI:
                    if devices is not None:
                        raise PyRAPLCantRecordEnergyConsumption(device) from None
            if not self._available_devices:
                raise PyRAPLCantRecordEnergyConsumption(None)
            first = next(iter(self._device_api.values()))
            self._socket_ids = socket_ids if socket_ids is not None else first._socket_ids

        def energy(self) -> list[float]:
            result = [-1.0, -1.0] * (self._socket_ids[-1] + 1)
            for device in self._available_devices:
                for socket, value in enumerate(self._device_api[device].energy()):
                    result[socket * 2 + device] = value
            return result

    def setup(devices: list[Device] | None = None, socket_ids: list[int] | None = None) -> None:
        module._sensor = Sensor(devices=devices, socket_ids=socket_ids)

    module.__version__ = "0.2.3.1"
    module.Device = Device
    module.PyRAPLException = PyRAPLException
    module.PyRAPLCantInitDeviceAPI = PyRAPLCantInitDeviceAPI
    module.PyRAPLCantRecordEnergyConsumption = PyRAPLCantRecordEnergyConsumption
    module.PyRAPLBadSocketIdException = PyRAPLBadSocketIdException
    module.Sensor = Sensor
    module.setup = setup
    module._sensor = None
    module.calls = []
    return module
