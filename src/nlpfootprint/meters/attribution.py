"""A tracker's run of a shared GPU: the whole device's energy beside the attributed share,
as the report keeps it.

A process-scope meter (:class:`~nlpfootprint.meters.nvml.NvmlMeter` with
``scope="process"``) keeps, per GPU, a running
:class:`~nlpfootprint.meters.gpushare.GpuAttribution` from its first reading. A tracker's
run begins later when an idle baseline is measured first through the same meter, so the
tracker reports the difference between the accounts at the run's first reading and at its
end (:class:`RunAttribution`), and puts it in the report's channel: ``device_energy_j``
and ``share_rules`` (:func:`rule_joules` checks them; :func:`device_scaled` and
:func:`device_added` carry them through projections and sums).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nlpfootprint.checks import nonnegative
from nlpfootprint.meters.gpushare import GpuAttribution

__all__ = ["RunAttribution", "attributions", "device_added", "device_scaled", "rule_joules"]


def attributions(meters: Iterable[object]) -> dict[str, GpuAttribution]:
    """Each process-scope channel's
    :class:`~nlpfootprint.meters.gpushare.GpuAttribution` so far, by channel id, from
    the meters that keep one (an ``attribution`` member, as
    :class:`~nlpfootprint.meters.nvml.NvmlMeter` has); a meter whose member fails is
    passed over."""
    found: dict[str, GpuAttribution] = {}
    for meter in meters:
        try:
            items = tuple(getattr(meter, "attribution", None) or ())
        except Exception:  # a failing meter must not fail the run
            continue
        found.update((a.channel_id, a) for a in items if isinstance(a, GpuAttribution))
    return found


class RunAttribution:
    """The attribution of a tracker's run: what its meters' share accounts hold at the
    run's first reading, taken from what they hold at its end. An idle baseline measured
    before the run reads the same meters, so their accounts begin before the run; the run
    begins where its ledger does. A sink of the run's sampler (structurally: the sampler
    calls ``on_reading``, ``on_failure`` and ``on_round``): its first round marks the start.

    Args:
        meters: The run's meters, in reading order.
    """

    def __init__(self, meters: Sequence[object]) -> None:
        self._meters = tuple(meters)
        self._start: dict[str, GpuAttribution] | None = None

    @property
    def active(self) -> bool:
        """True when some meter attributes a shared GPU's energy (process scope)."""
        return bool(attributions(self._meters))

    def on_reading(self, meter: int, t: float, values: Sequence[float]) -> None:
        """Nothing: the accounts are the meters' own."""

    def on_failure(self, meter: int, t: float, error: str) -> None:
        """Nothing: a failed reading adds nothing to an account."""

    def on_round(self, t: float) -> None:
        """At the first round, note where the accounts stand."""
        if self._start is None:
            self._start = attributions(self._meters)

    def result(self) -> tuple[GpuAttribution, ...]:
        """Per process-scope channel, what was attributed from the run's first reading to
        the latest (nothing before the first)."""
        start = self._start
        if start is None:
            return ()
        return tuple(a.since(start.get(cid)) for cid, a in attributions(self._meters).items())


def rule_joules(value: object) -> dict[str, float] | None:
    """A report channel's ``share_rules``: None, or joules (finite, >= 0) by the name of
    the rule that split them (:data:`~nlpfootprint.meters.gpushare.RULE_WORDS`; other
    names are kept as they are).

    >>> rule_joules({"sm": 900, "memory": 100.0})
    {'sm': 900.0, 'memory': 100.0}
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"share_rules: expected joules by rule, got {type(value).__name__}")
    out: dict[str, float] = {}
    for rule, joules in value.items():
        if not isinstance(rule, str):
            raise TypeError(f"share_rules: expected rule names, got {rule!r:.40}")
        out[rule] = nonnegative(f"share_rules[{rule!r}]", joules)
    return out


def device_scaled(channel: Any, factor: float) -> dict[str, Any]:
    """A report channel's ``device_energy_j`` and ``share_rules`` over a span ``factor``
    times as long (None stays None), as keyword arguments."""
    device, rules = channel.device_energy_j, channel.share_rules
    return {
        "device_energy_j": None if device is None else device * factor,
        "share_rules": None if rules is None else {r: j * factor for r, j in rules.items()},
    }


def device_added(a: Any, b: Any) -> dict[str, Any]:
    """Two report channels' ``device_energy_j`` and ``share_rules`` added up, as keyword
    arguments; each None unless both channels have it."""
    rules = None
    if a.share_rules is not None and b.share_rules is not None:
        names = {**a.share_rules, **b.share_rules}
        rules = {r: a.share_rules.get(r, 0.0) + b.share_rules.get(r, 0.0) for r in names}
    known = a.device_energy_j is not None and b.device_energy_j is not None
    return {
        "device_energy_j": a.device_energy_j + b.device_energy_j if known else None,
        "share_rules": rules,
    }
