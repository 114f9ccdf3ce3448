"""Live and replayed: a run's report and the report rebuilt from its run log agree.

A tracker hands each reading to its ledger and to the run log's writer; replaying the log
pours the same readings, in the same order, into a fresh ledger. Random runs -- power
traces, wrapping and resetting counters, meters that raise or return bad values, fractional
clock advances, steps, samples, snapshots and windows between them -- must give the same
figures both ways.
"""

from __future__ import annotations

import gzip
import math
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpfootprint as nf
from nlpfootprint.errors import MeterError
from nlpfootprint.meters.base import Channel
from nlpfootprint.provenance import Backend
from nlpfootprint.runlog import load_run, report_from_log
from nlpfootprint.testing import FakeClock, FakeMeter
from strategies import powers_w

REL = 1e-9
ABS = 1e-12

OutcomeKind = Literal["ok", "bad", "raise", "short", "reset"]


@attrs.frozen
class Outcome:
    """What one read of a scripted meter does.

    ``ok``: return ``values`` (watts; for a counter, the joules added since the last read);
    ``bad``: the same with the channels flagged in ``bad`` reading ``bad_value`` instead;
    ``raise``: raise :class:`MeterError`; ``short``: return no value at all (the sampler
    reports a failure); ``reset`` (counters that do not wrap): restart at ``values``.
    """

    kind: OutcomeKind
    values: tuple[float, ...] = ()
    bad: tuple[bool, ...] = ()
    bad_value: float = math.nan


@attrs.frozen
class MeterPlan:
    """One meter: its channels' kind and wrap range, and the script its reads cycle through."""

    kind: Literal["power", "energy"]
    width: int
    max_energy_j: float | None
    script: tuple[Outcome, ...]


@attrs.frozen
class Act:
    """One thing the tracked block does: ``advance`` the clock by ``seconds``, ``step``
    (``n`` steps, ``tokens``), ``sample``, ``snapshot``, or a ``window`` lasting ``seconds``."""

    what: Literal["advance", "step", "sample", "snapshot", "window"]
    seconds: float = 0.0
    n: int = 0
    tokens: int | None = None


@attrs.frozen
class RunPlan:
    """A whole run: where the clock starts, the settings, the meters and what the block does."""

    start_s: float
    interval_s: float
    trace_points: int
    meters: tuple[MeterPlan, ...]
    acts: tuple[Act, ...]


class ScriptedMeter:
    """A meter whose reads follow its plan's script, from the start again when it runs out."""

    def __init__(self, plan: MeterPlan, index: int) -> None:
        self.plan = plan
        self.name = f"scripted-{index}"
        self.channels = tuple(
            Channel(
                id=f"m{index}c{j}",
                domain=("gpu", "cpu", "dram", "other")[(index + j) % 4],
                kind=plan.kind,
                label="scripted",
                max_energy_j=plan.max_energy_j,
                backend=Backend.FAKE,
            )
            for j in range(plan.width)
        )
        self._reads = 0
        self._totals_j = [0.0] * plan.width

    def read(self) -> list[float]:
        outcome = self.plan.script[self._reads % len(self.plan.script)]
        self._reads += 1
        if outcome.kind == "raise":
            raise MeterError(f"{self.name} failed on read {self._reads}")
        if outcome.kind == "short":
            return []
        if self.plan.kind == "power":
            values = list(outcome.values)
        else:
            if outcome.kind == "reset":
                self._totals_j = list(outcome.values)
            else:
                pairs = zip(self._totals_j, outcome.values, strict=True)
                self._totals_j = [total + added for total, added in pairs]
            top = self.plan.max_energy_j
            values = [t if top is None else math.fmod(t, top) for t in self._totals_j]
        if outcome.kind == "bad":
            values = [
                outcome.bad_value if b else v for v, b in zip(values, outcome.bad, strict=True)
            ]
        return values

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"<ScriptedMeter {self.name}>"


# -- strategies (this file's own: scripted meters and runs) -----------------------------

_advances_s = st.one_of(
    st.floats(min_value=0.0, max_value=4.0, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=4).map(float),
    st.sampled_from([0.1, 0.25, 1e-6, 0.3333333]),
)


@st.composite
def meter_plans(draw: st.DrawFn) -> MeterPlan:
    """A power meter, a counter that may reset or one that wraps, with a script of reads."""
    flavour = draw(st.sampled_from(["power", "counter", "wrapping counter"]))
    width = draw(st.integers(min_value=1, max_value=2))
    top = None
    if flavour == "wrapping counter":
        top = draw(st.floats(min_value=50.0, max_value=5e3))
    # a wrapping counter gains less than its range between reads: at most one wrap
    values = powers_w if top is None else st.floats(min_value=0.0, max_value=top * 0.999)
    # ... and readings no device can produce: 1 GW, a counter jumping by 1 TJ
    bad_values = [
        math.nan,
        -1.0,
        math.inf,
        -math.inf,
        1e9 if flavour == "power" else 1e12,
        *([] if top is None else [2.0 * top]),
    ]
    kinds: list[OutcomeKind] = ["ok", "ok", "ok", "bad", "raise", "short"]
    if flavour == "counter":
        kinds += ["reset", "reset"]
    script = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        kind = draw(st.sampled_from(kinds))
        if kind in ("raise", "short"):
            script.append(Outcome(kind))
            continue
        restart = st.floats(min_value=0.0, max_value=10.0)
        row = tuple(
            draw(st.lists(restart if kind == "reset" else values, min_size=width, max_size=width))
        )
        if kind != "bad":
            script.append(Outcome(kind, row))
            continue
        bad = draw(st.lists(st.booleans(), min_size=width, max_size=width))
        bad[draw(st.integers(min_value=0, max_value=width - 1))] = True
        script.append(Outcome(kind, row, tuple(bad), draw(st.sampled_from(bad_values))))
    return MeterPlan("power" if flavour == "power" else "energy", width, top, tuple(script))


_steps = st.builds(
    Act,
    st.just("step"),
    n=st.integers(min_value=0, max_value=5),
    tokens=st.one_of(st.none(), st.integers(min_value=0, max_value=4096)),
)
_extras = st.one_of(
    st.builds(Act, st.sampled_from(["sample", "snapshot"])),
    st.builds(Act, st.just("window"), _advances_s),
)


@st.composite
def loops(draw: st.DrawFn) -> tuple[Act, ...]:
    """A training loop: each iteration advances the clock, maybe counts steps, and maybe
    samples, snapshots or runs a window; a step may come before the first advance."""
    acts: list[Act] = list(draw(st.lists(_steps, max_size=2)))
    for _ in range(draw(st.integers(min_value=0, max_value=16))):
        acts.append(Act("advance", draw(_advances_s)))
        acts += draw(st.lists(_steps, max_size=2))
        acts += draw(st.lists(_extras, max_size=1))
    return tuple(acts)


run_plans = st.builds(
    RunPlan,
    start_s=st.floats(min_value=0.0, max_value=1e7),
    interval_s=st.sampled_from([0.1, 0.25, 0.5, 1.0, 1.5, 3.0]),
    trace_points=st.sampled_from([2, 5, 8, 64, 2048]),
    meters=st.lists(meter_plans(), min_size=1, max_size=3).map(tuple),
    acts=loops(),
)


# -- running and comparing ----------------------------------------------------------------


def live_run(plan: RunPlan, path: Path) -> nf.Report:
    """Run ``plan`` on a FakeClock, logging to ``path``; the tracker's report."""
    clock = FakeClock(start=plan.start_s)
    meters = [ScriptedMeter(m, i) for i, m in enumerate(plan.meters)]
    with nf.track_energy(
        meters=meters,
        clock=clock,
        log=path,
        interval_s=plan.interval_s,
        trace_points=plan.trace_points,
        log_flush_s=0.0,
    ) as tracker:
        for act in plan.acts:
            if act.what == "advance":
                clock.advance(act.seconds)
            elif act.what == "step":
                tracker.step(act.n, tokens=act.tokens)
            elif act.what == "sample":
                tracker.sample()
            elif act.what == "snapshot":
                tracker.snapshot()
            else:
                with tracker.window("w"):
                    clock.advance(act.seconds)
    report: nf.Report = tracker.report
    return report


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=ABS)


def all_close(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))


def assert_same_accounting(live: nf.Report, rebuilt: nf.Report) -> None:
    """Every figure the ledger accounts is the same in ``live`` and ``rebuilt``."""
    assert close(rebuilt.duration_s, live.duration_s), (rebuilt.duration_s, live.duration_s)
    assert [c.id for c in rebuilt.channels] == [c.id for c in live.channels]
    for mine, theirs in zip(rebuilt.channels, live.channels, strict=True):
        assert close(mine.energy_j, theirs.energy_j), (mine.id, mine.energy_j, theirs.energy_j)
        assert mine.readings == theirs.readings, mine.id
        assert mine.failures == theirs.failures, mine.id
        assert mine.rejected == theirs.rejected, mine.id
        assert close(mine.gap_s, theirs.gap_s), (mine.id, mine.gap_s, theirs.gap_s)
        assert close(mine.duration_s, theirs.duration_s), mine.id
    assert (rebuilt.steps, rebuilt.tokens) == (live.steps, live.tokens)
    assert (rebuilt.step_energy is None) == (live.step_energy is None)
    if rebuilt.step_energy is not None and live.step_energy is not None:
        assert rebuilt.step_energy.intervals == live.step_energy.intervals
        assert close(rebuilt.step_energy.mean_j_per_step, live.step_energy.mean_j_per_step)
        assert close(rebuilt.step_energy.std_j_per_step, live.step_energy.std_j_per_step)
    assert (rebuilt.trace is None) == (live.trace is None)
    if rebuilt.trace is not None and live.trace is not None:
        assert all_close(rebuilt.trace.start_s, live.trace.start_s)
        assert all_close(rebuilt.trace.width_s, live.trace.width_s)
        assert rebuilt.trace.power_w.keys() == live.trace.power_w.keys()
        for domain, series in live.trace.power_w.items():
            assert all_close(rebuilt.trace.power_w[domain], series), domain


#: What the ledger's own warnings say (a failed meter, a bad value, a reading beyond what
#: the device can draw, a re-based counter, a gap, a reset).
_LEDGER_PHRASES = (
    "failed at t=",
    "failed reading(s)",
    "went backwards",
    ", not a finite value",
    ", not a value in [",
    " W it can draw (",
    ", more than its bound of ",
    " reset within its bound of ",
    ": the counter stayed at the level ",
)


def ledger_warnings(report: nf.Report) -> list[str]:
    return [w for w in report.warnings if any(p in w for p in _LEDGER_PHRASES)]


def assert_same_ledger_warnings(live: nf.Report, rebuilt: nf.Report) -> None:
    """The rebuilt report warns of what the live one's ledger warned of, in the same order,
    after one line saying it was rebuilt, and of nothing else (the tracker's own warnings
    are not in the log)."""
    head, *rest = rebuilt.warnings
    assert head.startswith("rebuilt from the log's samples (from_samples=True)")
    assert rest == ledger_warnings(live)


# -- the property -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(plan=run_plans, gz=st.booleans())
def test_a_replayed_log_accounts_exactly_what_the_live_run_did(plan: RunPlan, gz: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("run.jsonl.gz" if gz else "run.jsonl")
        live = live_run(plan, path)
        rebuilt = report_from_log(path, from_samples=True)
    assert_same_accounting(live, rebuilt)
    assert_same_ledger_warnings(live, rebuilt)


# -- examples -----------------------------------------------------------------------------


def example_plan() -> RunPlan:
    """Two power channels (a NaN, a raise) and a wrapping counter; steps, windows, samples."""
    power = MeterPlan(
        "power",
        2,
        None,
        (
            Outcome("ok", (100.0, 40.0)),
            Outcome("ok", (130.0, 45.5)),
            Outcome("bad", (120.0, 41.0), (False, True)),
            Outcome("raise"),
            Outcome("ok", (90.0, 44.0)),
        ),
    )
    counter = MeterPlan("energy", 1, 250.0, (Outcome("ok", (180.0,)), Outcome("ok", (120.5,))))
    acts: list[Act] = []
    for i in range(12):
        acts += [Act("advance", 0.7 + 0.1 * (i % 3)), Act("step", n=2, tokens=1024)]
        if i % 5 == 4:
            acts += [Act("window", 1.25), Act("sample")]
    return RunPlan(1234.5678, 0.5, 16, (power, counter), tuple(acts))


def test_the_example_run_has_failures_gaps_wraps_and_step_statistics(tmp_path: Path) -> None:
    live = live_run(example_plan(), tmp_path / "run.jsonl")
    gpu, cpu, counter = live.channels
    assert 0 < gpu.failures < cpu.failures
    assert cpu.gap_s > gpu.gap_s > 0
    assert counter.failures == 0
    # 300.5 J every two reads on a counter that shows at most 250 J
    assert counter.energy_j > 250.0 * 10
    assert (live.steps, live.tokens) == (24, 12 * 1024)
    assert live.step_energy is not None
    assert any("failed at t=" in w for w in live.warnings)
    assert any(w.startswith("m0c1 read nan") for w in live.warnings)


def test_a_crashed_log_rebuilds_the_same_report_as_from_samples(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    live = live_run(example_plan(), path)
    lines = path.read_text().splitlines()
    assert lines[-1].startswith('{"summary":')
    crashed = tmp_path / "crashed.jsonl"
    crashed.write_text("\n".join(lines[:-1]) + "\n")
    assert load_run(crashed).summary is None

    from_samples = report_from_log(path, from_samples=True)
    rebuilt = report_from_log(crashed)
    head, *rest = rebuilt.warnings
    assert head.startswith("the run did not finish cleanly")
    assert "cut off" not in head
    assert rest == list(from_samples.warnings[1:])
    assert attrs.evolve(rebuilt, warnings=()) == attrs.evolve(from_samples, warnings=())
    assert_same_accounting(live, rebuilt)
    assert_same_ledger_warnings(live, from_samples)


def test_a_gzip_log_replays_like_a_plain_one(tmp_path: Path) -> None:
    plain, packed = tmp_path / "run.jsonl", tmp_path / "run.jsonl.gz"
    live_run(example_plan(), plain)
    live = live_run(example_plan(), packed)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    # the same lines but the header's (its start time may differ by a second)
    assert (
        gzip.decompress(packed.read_bytes()).splitlines()[1:]
        == (plain.read_bytes().splitlines()[1:])
    )
    from_packed = report_from_log(packed, from_samples=True)
    from_plain = report_from_log(plain, from_samples=True)
    assert attrs.evolve(from_packed, started_at=None) == attrs.evolve(from_plain, started_at=None)
    assert_same_accounting(live, from_packed)
    assert_same_ledger_warnings(live, from_packed)


def crashed_copy(text: str, path: Path) -> None:
    """Write ``text`` to ``path`` as a crashed writer leaves it: a gzip stream flushed but
    never finished for a ``.gz`` name, plain text otherwise."""
    if path.name.endswith(".gz"):
        packer = zlib.compressobj(wbits=31)
        path.write_bytes(packer.compress(text.encode()) + packer.flush(zlib.Z_SYNC_FLUSH))
    else:
        path.write_text(text)


@pytest.mark.parametrize("name", ["cut.jsonl", "cut.jsonl.gz"])
def test_a_log_cut_mid_line_replays_up_to_its_last_whole_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / "run.jsonl"
    live_run(example_plan(), path)
    lines = path.read_text().splitlines(keepends=True)
    middle = len(lines) // 2
    whole, cut = tmp_path / "whole.jsonl", tmp_path / name
    whole.write_text("".join(lines[:middle]))
    crashed_copy("".join(lines[:middle]) + lines[middle][:7], cut)

    run = load_run(cut)
    assert run.truncated
    assert run.summary is None
    from_cut, from_whole = report_from_log(cut), report_from_log(whole)
    assert from_cut.energy_j > 0
    assert_same_accounting(from_whole, from_cut)
    assert "(its last line was cut off)" in from_cut.warnings[0]
    assert "cut off" not in from_whole.warnings[0]
    assert from_cut.warnings[1:] == from_whole.warnings[1:]


@pytest.mark.parametrize("bad", [math.nan, -1.0, math.inf, -math.inf])
def test_a_bad_value_replays_to_the_same_warning(tmp_path: Path, bad: float) -> None:
    power = MeterPlan(
        "power", 1, None, (Outcome("ok", (50.0,)), Outcome("bad", (50.0,), (True,), bad))
    )
    plan = RunPlan(0.0, 1.0, 16, (power,), (Act("advance", 3.0),))
    live = live_run(plan, tmp_path / "run.jsonl")
    rebuilt = report_from_log(tmp_path / "run.jsonl", from_samples=True)
    assert live.channels[0].failures == 2
    assert rebuilt.warnings[1] == f"m0c0 read {bad!r}, not a finite value >= 0"
    assert_same_accounting(live, rebuilt)
    assert_same_ledger_warnings(live, rebuilt)


def test_load_run_gives_the_report_as_report_from_log_does(tmp_path: Path) -> None:
    """One obvious way from a log to its report: ``nf.load_run(path).report()`` (issue 13,
    point 13), the same as ``Report.from_log(path)``, re-accounting included."""
    clock = FakeClock()
    log = tmp_path / "run.jsonl"
    with nf.track_energy(meters=[FakeMeter.constant(200.0, domain="gpu")], clock=clock, log=log):
        clock.advance(3600)
    run = nf.load_run(log)
    assert run.report() == nf.Report.from_log(log)
    assert run.report(pue=1.1, carbon_intensity="FRA") == nf.Report.from_log(
        log, pue=1.1, carbon_intensity="FRA"
    )
    assert run.report(from_samples=True).energy_j == pytest.approx(200.0 * 3600)
