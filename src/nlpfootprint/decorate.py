"""``@track_energy``: each call of a decorated function is measured by a fresh tracker;
and :func:`current_tracker`, the innermost tracker running in this context.

The wrapper keeps the function's name, docstring and signature, binds as a method, works
for ``async def`` functions, and keeps the latest report as ``.last_report`` (also when
the call raised). Generator functions are refused: calling one only creates the generator,
so there would be nothing to measure. ``last_report`` and ``last_tracker`` belong to the
function, not to a thread: with concurrent calls they hold the latest call to finish.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from nlpfootprint.errors import ConfigurationError

if TYPE_CHECKING:
    from nlpfootprint.report import Report
    from nlpfootprint.tracker import EnergyTracker

__all__ = ["TrackedFunction", "current_tracker", "decorate", "started"]

#: The trackers started in this context, innermost last (stopped ones are skipped).
_STARTED: contextvars.ContextVar[tuple[EnergyTracker, ...]] = contextvars.ContextVar(
    "nlpfootprint_started_trackers", default=()
)


def started(tracker: EnergyTracker) -> None:
    """Note that ``tracker`` started in this context (forgetting the stopped ones)."""
    _STARTED.set((*(t for t in _STARTED.get() if t.running), tracker))


def current_tracker() -> EnergyTracker | None:
    """The innermost *running* tracker started in this context, or None.

    Handy inside a function decorated with ``@track_energy`` to count steps:
    ``nf.current_tracker().step()``.
    """
    for tracker in reversed(_STARTED.get()):
        if tracker.running:
            return tracker
    return None


P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class TrackedFunction(Protocol[P, R_co]):
    """A function decorated with ``@track_energy``.

    Attributes:
        last_report: The report of the latest call (also when it raised), or None.
        last_tracker: The tracker of the latest call (running during the call).
    """

    last_report: Report | None
    last_tracker: EnergyTracker | None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        """Call the function under a fresh tracker."""
        ...


def decorate(
    func: Callable[P, R], make_tracker: Callable[[], EnergyTracker]
) -> TrackedFunction[P, R]:
    """Wrap ``func`` so each call runs under a fresh tracker from ``make_tracker``."""
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise ConfigurationError(
            f"@track_energy cannot measure the generator function {func.__qualname__!r}: "
            "calling it only creates the generator. Measure the loop that consumes it "
            "instead: `with track_energy() as tracker: for item in gen(): ...`"
        )

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            tracker = make_tracker()
            wrapper.last_tracker = tracker
            try:
                with tracker:
                    return await func(*args, **kwargs)
            finally:
                wrapper.last_report = tracker.result

        wrapper: Any = async_wrapper
    else:

        @functools.wraps(func)
        def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            tracker = make_tracker()
            wrapper.last_tracker = tracker
            try:
                with tracker:
                    return func(*args, **kwargs)
            finally:
                wrapper.last_report = tracker.result

        wrapper = sync_wrapper
    wrapper.last_report = None
    wrapper.last_tracker = None
    return wrapper  # type: ignore[no-any-return]
