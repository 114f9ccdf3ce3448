"""One measurement in a fresh interpreter; prints one JSON line (the last line of stdout).

Run with the tool's own interpreter (a peer's venv for a peer); standard library only here,
so that it runs in every environment::

    python track.py first   TOOL [--audit]
    python track.py sampler TOOL INTERVAL SECONDS     (INTERVAL: a number or "default")

TOOL is nlpfootprint, codecarbon, carbontracker, bare (no tracker: the reference) or floor
(no tracker, but a thread that wakes every interval and does nothing: what waking alone
costs, the floor of any sampler that wakes once an interval).

``first``: CPU and wall time of the import, then of the first start and stop of a tracker with
automatic meters; with ``--audit``, also the network connections and subprocesses the start
and stop attempted (an audit hook: it costs time, so audited runs are not timed runs).
``sampler``: start a tracker, then CPU time over SECONDS of sleeping while it samples, and
the peak resident memory (:func:`peak_rss_kb`), read before it stops. CPU is the process's
(every thread) plus its waited-for subprocesses'.
"""

from __future__ import annotations

import resource
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: only sys, time and resource precede a clock
    from collections.abc import Callable
    from typing import Any

    Stop = Callable[[], None]


def cpu_s() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def load(tool: str) -> Any:
    """Import what a user imports to track, and resolve the tracker's name."""
    if tool == "nlpfootprint":
        import nlpfootprint

        return nlpfootprint.track_energy  # a lazy package resolves it here
    if tool == "codecarbon":
        from codecarbon import OfflineEmissionsTracker

        return OfflineEmissionsTracker
    if tool == "carbontracker":
        from carbontracker.tracker import CarbonTracker

        return CarbonTracker
    if tool in ("bare", "floor"):
        return None
    raise SystemExit(f"unknown tool {tool!r}")


#: The tracker the latest start() made (what :func:`measured` looks at).
STARTED: list[Any] = []


def measured(tool: str) -> list[str]:
    """What the started tracker measures on this machine (its components, in its words)."""
    tracker = STARTED[-1] if STARTED else None
    try:
        if tool == "nlpfootprint":
            return [f"{c.id} ({c.source}: {c.label[:70]})" for c in tracker.report.channels]
        if tool == "codecarbon":
            return [repr(h)[:90] for h in tracker._hardware]
        if tool == "carbontracker":
            return [
                f"{c.name}: {type(c._handler).__name__}"
                for c in tracker.tracker.components
                if c._handler is not None
            ]
    except Exception as err:  # a peer's internals changed: say so, measure anyway
        return [f"unknown ({type(err).__name__}: {err})"]
    return []


def start(tool: str, factory: Any, interval_s: float | None) -> Stop:
    """Start a tracker with automatic meters (at ``interval_s``, or the tool's default)."""
    if tool == "nlpfootprint":
        tracker = factory() if interval_s is None else factory(interval_s=interval_s)
        STARTED.append(tracker)
        tracker.__enter__()
        return lambda: tracker.__exit__(None, None, None)
    if tool == "codecarbon":
        options: dict[str, Any] = {}
        if interval_s is not None:
            options["measure_power_secs"] = interval_s
        tracker = factory(country_iso_code="USA", save_to_file=False, log_level="error", **options)
        STARTED.append(tracker)
        tracker.start()
        return tracker.stop
    if tool == "carbontracker":
        options = {} if interval_s is None else {"update_interval": interval_s}
        tracker = factory(epochs=1, verbose=0, log_dir=None, **options)
        STARTED.append(tracker)
        tracker.epoch_start()

        def stop() -> None:
            tracker.epoch_end()
            tracker.stop()

        return stop
    if tool == "floor":  # the least a sampler can do: a thread that only wakes each interval
        import threading

        done = threading.Event()

        def wake() -> None:
            while not done.is_set():
                time.sleep(1.0 if interval_s is None else interval_s)

        threading.Thread(target=wake, daemon=True).start()
        return done.set
    return lambda: None


def quiet() -> None:
    """The same for every tool, outside the clocks: no log output to pay for, and a network
    request that gets no answer gives up after 5 s (sockets opened without a timeout)."""
    import logging
    import socket

    logging.disable(logging.CRITICAL)
    socket.setdefaulttimeout(5.0)


def audit() -> dict[str, list[str]]:
    """Record, from now on, the hosts looked up or connected to and the programs started."""
    seen: dict[str, list[str]] = {"network": [], "subprocesses": []}

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.getaddrinfo":
            note("network", f"{args[0]}:{args[1]}")
        elif event == "socket.connect":
            note("network", str(args[1]))
        elif event == "subprocess.Popen":
            words = [str(word) for word in args[1] or [args[0]]]
            note("subprocesses", " ".join(w.rsplit("/", 1)[-1] for w in words)[:60])

    def note(kind: str, what: str) -> None:
        if what not in seen[kind]:
            seen[kind].append(what)

    sys.addaudithook(hook)
    return seen


def first(tool: str, audited: bool = False) -> dict[str, Any]:
    cpu0, wall0 = cpu_s(), time.perf_counter()
    factory = load(tool)
    cpu1, wall1 = cpu_s(), time.perf_counter()
    quiet()
    seen = audit() if audited else None
    cpu2, wall2 = cpu_s(), time.perf_counter()
    stop = start(tool, factory, None)
    if seen is not None and tool != "nlpfootprint":  # a peer may drop its parts at stop
        seen["measured"] = measured(tool)
    stop()
    cpu3, wall3 = cpu_s(), time.perf_counter()
    first_cpu, first_wall = cpu3 - cpu2, wall3 - wall2
    if seen is not None and tool == "nlpfootprint":  # known once its report is made
        seen["measured"] = measured(tool)
    return {
        "import_cpu_ms": 1e3 * (cpu1 - cpu0),
        "import_wall_ms": 1e3 * (wall1 - wall0),
        "first_cpu_ms": 1e3 * first_cpu,
        "first_wall_ms": 1e3 * first_wall,
        "total_cpu_ms": 1e3 * (cpu1 - cpu0 + first_cpu),
        "total_wall_ms": 1e3 * (wall1 - wall0 + first_wall),
        "audit": seen,
    }


def sampler(tool: str, interval: str, seconds: float) -> dict[str, Any]:
    interval_s = None if interval == "default" else float(interval)
    factory = load(tool)
    quiet()
    stop = start(tool, factory, interval_s)
    cpu0, wall0 = cpu_s(), time.perf_counter()
    time.sleep(seconds)
    cpu1, wall1 = cpu_s(), time.perf_counter()
    peak_kb = peak_rss_kb()
    stop()
    return {"cpu_ms": 1e3 * (cpu1 - cpu0), "wall_s": wall1 - wall0, "maxrss_kb": peak_kb}


def peak_rss_kb() -> int:
    """This process's peak resident memory, in kB. On Linux, VmHWM: ``ru_maxrss`` would do,
    but across exec it keeps the launching process's peak (a benchmark harness bigger than
    the child hides the child's)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS


def main(argv: list[str]) -> None:
    mode, tool = argv[0], argv[1]
    if mode == "first":
        result = first(tool, audited="--audit" in argv[2:])
    elif mode == "sampler":
        result = sampler(tool, argv[2], float(argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    import json

    print("\n" + json.dumps({"tool": tool, **result}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
