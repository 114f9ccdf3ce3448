"""nlpfootprint: what a training run really costs -- energy, carbon and money.

Wrap a training loop with :func:`track_energy`, read the :class:`Report`. The method
follows Strubell, Ganesh & McCallum, "Energy and Policy Considerations for Deep Learning
in NLP" (ACL 2019): measured power x time x PUE, converted to CO2e and cost.

``import nlpfootprint`` is cheap: the names below are imported on first use (PEP 562), so a
script that only imports the package, or the CLI asking for ``--help``, does not pay for
numpy, the report or the data tables it never touches.
"""

from __future__ import annotations

import types

from nlpfootprint._lazy import lazy_names

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (some 15 ms)
if TYPE_CHECKING:  # what type checkers and IDEs see: the names, eagerly
    from nlpfootprint.assumptions import Assumptions
    from nlpfootprint.baseline import load_baseline, measure_baseline
    from nlpfootprint.clock import Clock, MonotonicClock
    from nlpfootprint.errors import (
        ConfigurationError,
        ConfigurationTypeError,
        MeterError,
        MeterPermissionError,
        MeterUnavailableError,
        NlpFootprintError,
        ReportFormatError,
        TrackerStateError,
        UnknownKeyError,
        UnknownRegionError,
    )
    from nlpfootprint.estimate import CostRange, cloud_cost, estimate
    from nlpfootprint.flops import count_step_flops, training_flops
    from nlpfootprint.hardware import HardwareSpec, hardware_spec
    from nlpfootprint.idle import Baseline
    from nlpfootprint.intensity import (
        DEFAULT_INTENSITY,
        STRUBELL_2019,
        DataSource,
        Intensity,
        Region,
        carbon_intensity,
        data_sources,
        intensity_from_mix,
        regions,
    )
    from nlpfootprint.meters.base import Channel, Domain, PowerMeter
    from nlpfootprint.meters.discovery import Detection, detect
    from nlpfootprint.prices import PriceTable, price_table
    from nlpfootprint.provenance import Backend, Device, EstimateBasis, Method
    from nlpfootprint.report import ChannelReport, Report
    from nlpfootprint.runlog import RunLog, load_run
    from nlpfootprint.series import IntensitySeries
    from nlpfootprint.settings import TrackerSettings
    from nlpfootprint.tracker import EnergyTracker, current_tracker, track_energy
    from nlpfootprint.version import __version__


#: Each public name and the module it lives in (imported when the name is first used).
_LAZY: dict[str, str] = {
    # nlpfootprint.assumptions
    "Assumptions": "nlpfootprint.assumptions",
    # nlpfootprint.baseline
    "load_baseline": "nlpfootprint.baseline",
    "measure_baseline": "nlpfootprint.baseline",
    # nlpfootprint.clock
    "Clock": "nlpfootprint.clock",
    "MonotonicClock": "nlpfootprint.clock",
    # nlpfootprint.errors
    "ConfigurationError": "nlpfootprint.errors",
    "ConfigurationTypeError": "nlpfootprint.errors",
    "MeterError": "nlpfootprint.errors",
    "MeterPermissionError": "nlpfootprint.errors",
    "MeterUnavailableError": "nlpfootprint.errors",
    "NlpFootprintError": "nlpfootprint.errors",
    "ReportFormatError": "nlpfootprint.errors",
    "TrackerStateError": "nlpfootprint.errors",
    "UnknownKeyError": "nlpfootprint.errors",
    "UnknownRegionError": "nlpfootprint.errors",
    # nlpfootprint.estimate
    "cloud_cost": "nlpfootprint.estimate",
    "CostRange": "nlpfootprint.estimate",
    "estimate": "nlpfootprint.estimate",
    # nlpfootprint.flops
    "count_step_flops": "nlpfootprint.flops",
    "training_flops": "nlpfootprint.flops",
    # nlpfootprint.hardware
    "hardware_spec": "nlpfootprint.hardware",
    "HardwareSpec": "nlpfootprint.hardware",
    # nlpfootprint.idle
    "Baseline": "nlpfootprint.idle",
    # nlpfootprint.intensity
    "carbon_intensity": "nlpfootprint.intensity",
    "data_sources": "nlpfootprint.intensity",
    "DataSource": "nlpfootprint.intensity",
    "DEFAULT_INTENSITY": "nlpfootprint.intensity",
    "Intensity": "nlpfootprint.intensity",
    "intensity_from_mix": "nlpfootprint.intensity",
    "Region": "nlpfootprint.intensity",
    "regions": "nlpfootprint.intensity",
    "STRUBELL_2019": "nlpfootprint.intensity",
    # nlpfootprint.meters.base
    "Channel": "nlpfootprint.meters.base",
    "Domain": "nlpfootprint.meters.base",
    "PowerMeter": "nlpfootprint.meters.base",
    # nlpfootprint.meters.discovery
    "detect": "nlpfootprint.meters.discovery",
    "Detection": "nlpfootprint.meters.discovery",
    # nlpfootprint.prices
    "price_table": "nlpfootprint.prices",
    "PriceTable": "nlpfootprint.prices",
    # nlpfootprint.provenance
    "Backend": "nlpfootprint.provenance",
    "Device": "nlpfootprint.provenance",
    "EstimateBasis": "nlpfootprint.provenance",
    "Method": "nlpfootprint.provenance",
    # nlpfootprint.report
    "ChannelReport": "nlpfootprint.report",
    "Report": "nlpfootprint.report",
    # nlpfootprint.runlog
    "load_run": "nlpfootprint.runlog",
    "RunLog": "nlpfootprint.runlog",
    # nlpfootprint.series
    "IntensitySeries": "nlpfootprint.series",
    # nlpfootprint.settings
    "TrackerSettings": "nlpfootprint.settings",
    # nlpfootprint.tracker
    "current_tracker": "nlpfootprint.tracker",
    "EnergyTracker": "nlpfootprint.tracker",
    "track_energy": "nlpfootprint.tracker",
    # nlpfootprint.version
    "__version__": "nlpfootprint.version",
}

__all__ = [
    "Assumptions",
    "Backend",
    "Baseline",
    "Channel",
    "ChannelReport",
    "Clock",
    "ConfigurationError",
    "ConfigurationTypeError",
    "CostRange",
    "DEFAULT_INTENSITY",
    "DataSource",
    "Detection",
    "Device",
    "Domain",
    "EnergyTracker",
    "EstimateBasis",
    "HardwareSpec",
    "Intensity",
    "IntensitySeries",
    "MeterError",
    "MeterPermissionError",
    "MeterUnavailableError",
    "Method",
    "MonotonicClock",
    "NlpFootprintError",
    "PowerMeter",
    "PriceTable",
    "Region",
    "Report",
    "ReportFormatError",
    "RunLog",
    "STRUBELL_2019",
    "TrackerSettings",
    "TrackerStateError",
    "UnknownKeyError",
    "UnknownRegionError",
    "__version__",
    "carbon_intensity",
    "cloud_cost",
    "count_step_flops",
    "current_tracker",
    "data_sources",
    "detect",
    "estimate",
    "hardware_spec",
    "intensity_from_mix",
    "load_baseline",
    "load_run",
    "measure_baseline",
    "price_table",
    "regions",
    "track_energy",
    "training_flops",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext nlpfootprint``: the ``%%track_energy`` and ``%track_energy`` magics
    (:mod:`nlpfootprint.integrations.ipython`, imported only then)."""
    from nlpfootprint.integrations.ipython import load_ipython_extension as load

    load(ipython)


class _Package(types.ModuleType):
    """This package's module type. Importing the submodule ``nlpfootprint.estimate`` sets
    the package attribute ``estimate`` to that module; the public name ``estimate`` is the
    function, as it was when this file imported everything, so the function is kept."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


__import__("sys").modules[__name__].__class__ = _Package
