"""nlpfootprint: what a training run really costs -- energy, carbon and money.

Wrap a training loop with :func:`track_energy`, read the :class:`Report`. The method
follows Strubell, Ganesh & McCallum, "Energy and Policy Considerations for Deep Learning
in NLP" (ACL 2019): measured power x time x PUE, converted to CO2e and cost.
"""

from nlpfootprint.assumptions import Assumptions
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
from nlpfootprint.hardware import HardwareSpec, hardware_spec
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
from nlpfootprint.settings import TrackerSettings
from nlpfootprint.tracker import EnergyTracker, current_tracker, track_energy
from nlpfootprint.version import __version__

__all__ = [
    "Assumptions",
    "Backend",
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
    "current_tracker",
    "data_sources",
    "detect",
    "estimate",
    "hardware_spec",
    "intensity_from_mix",
    "load_run",
    "price_table",
    "regions",
    "track_energy",
]
