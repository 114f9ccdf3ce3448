"""Calls on a meter that the caller can stop waiting for: each meter has a worker.

A meter's ``read()``, ``sync()`` and ``close()`` can hang (a wedged driver, a GPU that fell
off the bus, an NFS-mounted sysfs). Python cannot interrupt a call in progress, so the
calls run on a daemon thread of the meter's own (:class:`MeterWorker`), one at a time: the
caller hands a call over, waits up to a deadline and goes on without the answer when it
does not come. While a call hangs the worker refuses new ones at once (:attr:`busy`), so a
hung meter costs its callers one deadline in all, not one per reading, and the other
meters, each on their own worker, are still read. When the hung call returns, the worker
takes calls again.

With a manual clock nothing runs in threads: an :class:`InlineWorker` makes the call in
the caller's thread (a test's fake meter does not hang), so ``FakeClock`` runs stay
deterministic and single-threaded. A meter whose ``reads_inline`` attribute is ``True``
promises that its calls never block (the estimated meters: a read of ``/proc/stat`` or a
constant); it is called inline too, saving the two thread hand-offs per reading.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["InlineWorker", "MeterWorker", "Worker", "make_workers", "reads_inline"]

Job = Callable[[], Any]
#: ``(True, value)`` or ``(False, the exception it raised)``.
Result = tuple[bool, Any]


class MeterWorker:
    """One meter's calls, run one at a time on a daemon thread named ``name``.

    The thread starts with the first call and ends at :meth:`shutdown` (or, when a call
    hangs past it, as soon as that call returns).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._go = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._job: Job | None = None
        self._result: Result = (False, None)
        self._exit = False
        self._thread: threading.Thread | None = None
        #: ``time.monotonic()`` when the call in progress was handed over.
        self.since = 0.0

    @property
    def busy(self) -> bool:
        """True while a call is in progress (one that hangs stays busy)."""
        return not self._idle.is_set()

    def begin(self, job: Job) -> bool:
        """Hand ``job`` to the thread; False (and nothing done) while a call is in progress."""
        if self._exit or not self._idle.is_set():
            return False
        self._idle.clear()
        self._job = job
        self.since = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
        self._go.set()
        return True

    def wait(self, timeout_s: float) -> Result | None:
        """The call's result, or None when it has not ended within ``timeout_s``."""
        if not self._idle.wait(max(timeout_s, 0.0)):
            return None
        return self._result

    def shutdown(self) -> None:
        """End the thread: at once (joined) when it is idle, else when its call returns."""
        self._exit = True
        self._go.set()
        thread = self._thread
        if thread is not None and not self.busy and thread is not threading.current_thread():
            thread.join(1.0)  # idle: it is already on its way out

    def _loop(self) -> None:
        while True:
            self._go.wait()
            self._go.clear()
            job, self._job = self._job, None
            if job is not None:
                try:
                    self._result = (True, job())
                except BaseException as err:  # the meter's failure, whatever it is, is data
                    self._result = (False, err)
                self._idle.set()
            if self._exit:
                return


class InlineWorker:
    """The same interface, calling in the caller's thread (for a manual clock).

    A ``KeyboardInterrupt`` raised by the call goes on to the caller: in the caller's own
    thread it is the user's Ctrl-C.
    """

    busy = False
    since = 0.0

    def __init__(self, name: str) -> None:
        self.name = name
        self._result: Result = (False, None)

    def begin(self, job: Job) -> bool:
        try:
            self._result = (True, job())
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # a meter calling exit() stops nothing
            self._result = (False, err)
        return True

    def wait(self, timeout_s: float) -> Result | None:
        del timeout_s
        return self._result

    def shutdown(self) -> None:
        pass


Worker = MeterWorker | InlineWorker


def reads_inline(meters: Sequence[object]) -> list[bool]:
    """Each meter's promise that its calls never block (``reads_inline is True``)."""
    return [getattr(meter, "reads_inline", False) is True for meter in meters]


def make_workers(
    count: int, *, threaded: bool, role: str = "meter", inline: Sequence[bool] = ()
) -> list[Worker]:
    """``count`` workers, one per meter: threads named ``nlpfootprint-<role>N`` (started
    with their first call), or inline (all of them unless ``threaded``; else meter ``i``'s
    when ``inline[i]`` is true)."""
    flags = list(inline) + [False] * (count - len(inline))
    return [
        MeterWorker(f"nlpfootprint-{role}{i}")
        if threaded and not flags[i]
        else InlineWorker(f"nlpfootprint-{role}{i}")
        for i in range(count)
    ]
