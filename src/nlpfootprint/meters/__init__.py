"""Meters: sources of power and energy readings.

See :mod:`nlpfootprint.meters.base` for the protocol every meter follows.
"""

from nlpfootprint.meters.base import Channel, ChannelKind, Domain, PowerMeter

__all__ = ["Channel", "ChannelKind", "Domain", "PowerMeter"]
