"""Named windows inside a tracked run (``tracker.window("eval")``).

Windows nest. Entries of the same name under the same parent are summed into one
:class:`~nlpfootprint.Report` whose ``count`` says how many there were, so a run that
evaluates every few minutes for a week still keeps one entry per name.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.errors import ConfigurationError, TrackerStateError
from nlpfootprint.idle import Baseline
from nlpfootprint.ledger import Ledger
from nlpfootprint.peaks import Efficiency
from nlpfootprint.report import Report
from nlpfootprint.report_parts import ChannelReport
from nlpfootprint.totals import Totals, add_flops, flops_since

__all__ = ["OpenWindow", "WindowHandle", "WindowStack", "accounted_alike", "merge_entries"]


class WindowHandle:
    """What ``with tracker.window(name) as w`` gives: ``w.report`` once the block ends."""

    __slots__ = ("_report", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._report: Report | None = None

    @property
    def report(self) -> Report:
        """This entry of the window (not summed with other entries of the same name)."""
        if self._report is None:
            raise TrackerStateError(f"window {self.name!r} is still open; read it after the block")
        return self._report


@attrs.define
class OpenWindow:
    """A window that has been entered and not yet left."""

    name: str
    start_t: float
    start: Totals
    handle: WindowHandle
    children: dict[str, Report] = attrs.field(factory=dict)
    #: The names of the windows open around it when it was entered, outermost first.
    parents: tuple[str, ...] = ()

    @property
    def path(self) -> tuple[str, ...]:
        """The parents' names, then its own (what its spans are kept under)."""
        return (*self.parents, self.name)

    def report(
        self,
        ledger: Ledger,
        end_t: float,
        assumptions: Assumptions,
        *,
        interval_s: float,
        efficiency: Efficiency | None = None,
        baseline: Baseline | None = None,
    ) -> Report:
        """This entry of the window, from its start to ``end_t`` (what ``ledger`` counted;
        ``efficiency`` says how its FLOPs are read, as the run's; ``baseline`` is the
        run's idle power, which the window's dynamic energy is counted above, over the
        window's own duration)."""
        end = ledger.totals()
        duration = end_t - self.start_t
        return Report(
            duration_s=duration,
            channels=tuple(
                ChannelReport.of(c, now.since(then), duration)
                for c, now, then in zip(
                    ledger.channels, end.channels, self.start.channels, strict=True
                )
            ),
            assumptions=assumptions,
            steps=end.steps - self.start.steps,
            tokens=end.tokens - self.start.tokens,
            flops=flops_since(end.flops, self.start.flops),
            windows=tuple(self.children.values()),
            name=self.name,
            interval_s=interval_s,
            efficiency=efficiency if efficiency is not None else Efficiency(),
            baseline=baseline,
        )


def accounted_alike(a: Report, b: Report) -> bool:
    """True when ``a`` and ``b`` turn joules into CO2e and money the same way (same PUE,
    grid intensity, price and currency), so that their figures can be added."""
    x, y = a.assumptions, b.assumptions
    return (x.pue, x.intensity.g_per_kwh, x.price_per_kwh, x.currency) == (
        y.pue,
        y.intensity.g_per_kwh,
        y.price_per_kwh,
        y.currency,
    )


def merge_entries(a: Report, b: Report) -> Report:
    """Two reports added up: two entries of one window, or two runs of a sweep.

    Channels of the same id are summed; durations, steps, tokens and FLOPs add; ``count``
    says how many entries there are; windows of the same name merge. Both must be
    accounted under the same assumptions. The sum keeps no trace or step spread, the
    FLOPs' method, precision and peak only when both had the same, a projection only when
    both had the same one, an idle baseline when both had the same one, and an outcome
    when both had the same one or one failed (the first failure).
    """
    if not accounted_alike(a, b):
        raise ConfigurationError(
            "cannot add reports accounted under different assumptions (PUE, carbon "
            "intensity, price); re-account them alike first (Report.with_assumptions, or "
            "--pue/--carbon-intensity/--price-per-kwh on the command line)"
        )
    assumptions = a.assumptions
    if b.assumptions.meters != assumptions.meters:
        assumptions = attrs.evolve(
            assumptions, meters=f"{assumptions.meters}; {b.assumptions.meters}"
        )
    channels = {c.id: c for c in a.channels}
    for c in b.channels:
        channels[c.id] = channels[c.id].plus(c) if c.id in channels else c
    children = {w.name: w for w in a.windows}
    for w in b.windows:
        children[w.name] = merge_entries(children[w.name], w) if w.name in children else w
    return attrs.evolve(
        a,
        assumptions=assumptions,
        duration_s=a.duration_s + b.duration_s,
        channels=tuple(channels.values()),
        steps=a.steps + b.steps,
        tokens=a.tokens + b.tokens,
        flops=add_flops(a.flops, b.flops),
        # FLOPs read alike, or no peak for the sum (its MFU would mix two peaks)
        efficiency=a.efficiency if a.efficiency == b.efficiency else Efficiency(),
        count=a.count + b.count,
        windows=tuple(children.values()),
        trace=None,
        step_energy=None,
        projection=a.projection if a.projection == b.projection else None,
        baseline=a.baseline if a.baseline == b.baseline else None,
        # the same end, or the first failure: a sum with a failed run in it is not clean
        outcome=a.outcome
        if a.outcome == b.outcome
        else next((o for o in (a.outcome, b.outcome) if o is not None and not o.ok), None),
    )


class WindowStack:
    """The windows open now, innermost last, and the finished top-level ones."""

    def __init__(self) -> None:
        self._open: list[OpenWindow] = []
        self._done: dict[str, Report] = {}

    def __len__(self) -> int:
        return len(self._open)

    @property
    def innermost(self) -> OpenWindow:
        """The window entered last."""
        return self._open[-1]

    def push(self, name: str, start_t: float, start: Totals) -> WindowHandle:
        """Enter a window."""
        handle = WindowHandle(name)
        parents = tuple(w.name for w in self._open)
        self._open.append(
            OpenWindow(name=name, start_t=start_t, start=start, handle=handle, parents=parents)
        )
        return handle

    def pop(self, make_entry: Callable[[OpenWindow], Report]) -> Report:
        """Leave the innermost window; ``make_entry`` measures it. Returns the entry."""
        window = self._open.pop()
        entry = make_entry(window)
        window.handle._report = entry
        siblings = self._open[-1].children if self._open else self._done
        old = siblings.get(window.name)
        siblings[window.name] = entry if old is None else merge_entries(old, entry)
        return entry

    def finished(self) -> tuple[Report, ...]:
        """The top-level windows left so far."""
        return tuple(self._done.values())
