"""nlpfootprint: what a training run really costs -- energy, carbon and money.

Wrap a training loop with :func:`track_energy`, read the :class:`Report`. The method
follows Strubell, Ganesh & McCallum, "Energy and Policy Considerations for Deep Learning
in NLP" (ACL 2019): measured power x time x PUE, converted to CO2e and cost.
"""

from importlib.metadata import PackageNotFoundError, version

from nlpfootprint.clock import Clock, MonotonicClock
from nlpfootprint.errors import (
    ConfigurationError,
    MeterError,
    MeterPermissionError,
    MeterUnavailableError,
    NlpFootprintError,
    ReportFormatError,
    TrackerStateError,
    UnknownRegionError,
)
from nlpfootprint.intensity import DEFAULT_INTENSITY, STRUBELL_2019, Intensity
from nlpfootprint.meters.base import Channel, Domain, PowerMeter
from nlpfootprint.meters.discovery import Detection, detect
from nlpfootprint.report import Assumptions, ChannelReport, Report
from nlpfootprint.tracker import EnergyTracker, current_tracker, track_energy

try:
    __version__ = version("nlpfootprint")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Assumptions",
    "Channel",
    "ChannelReport",
    "Clock",
    "ConfigurationError",
    "DEFAULT_INTENSITY",
    "Detection",
    "Domain",
    "EnergyTracker",
    "Intensity",
    "MeterError",
    "MeterPermissionError",
    "MeterUnavailableError",
    "MonotonicClock",
    "NlpFootprintError",
    "PowerMeter",
    "Report",
    "ReportFormatError",
    "STRUBELL_2019",
    "TrackerStateError",
    "UnknownRegionError",
    "__version__",
    "current_tracker",
    "detect",
    "track_energy",
]
