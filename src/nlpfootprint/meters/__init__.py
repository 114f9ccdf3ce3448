"""Meters: sources of power and energy readings.

See :mod:`nlpfootprint.meters.base` for the protocol every meter follows. The backends:
:class:`NvmlMeter` (NVIDIA GPUs), :class:`AmdSmiMeter` (AMD GPUs), :class:`RaplMeter`
(CPU packages and DRAM through the Linux powercap files), :class:`PyRaplMeter` (the same
through pyRAPL),
:class:`EstimatedCpuMeter` and :class:`EstimatedDramMeter` (estimates, labelled so), and
:func:`detect`, which picks the best of them and says why it skipped the rest.
"""

from nlpfootprint.meters.amd import AmdSmiMeter
from nlpfootprint.meters.base import Channel, ChannelKind, Domain, PowerMeter
from nlpfootprint.meters.discovery import Backend, Detection, detect
from nlpfootprint.meters.estimated import EstimatedCpuMeter, EstimatedDramMeter
from nlpfootprint.meters.nvml import NvmlMeter
from nlpfootprint.meters.pyrapl import PyRaplMeter
from nlpfootprint.meters.rapl import RaplMeter

__all__ = [
    "AmdSmiMeter",
    "Backend",
    "Channel",
    "ChannelKind",
    "Detection",
    "Domain",
    "EstimatedCpuMeter",
    "EstimatedDramMeter",
    "NvmlMeter",
    "PowerMeter",
    "PyRaplMeter",
    "RaplMeter",
    "detect",
]
