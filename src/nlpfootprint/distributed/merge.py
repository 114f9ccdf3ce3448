"""One report for a whole job: the ranks' parts merged, each device once.

Each rank sends rank 0 a :class:`Part`: its ledger's state at its stop (channels and
totals), its windows, warnings and power trace, and where it ran. :func:`job_report`
merges them:

* **Time.** Each part's times are seconds since its own tracker's origin; they are moved
  onto rank 0's by the difference of the origins' wall-clock times.
* **Devices.** A device that two ranks measured counts once, from the lowest rank (see
  :func:`~nlpfootprint.distributed.select.device_key`). Channel ids stay as the ranks
  gave them on a one-host job; on several hosts each becomes ``host/id``
  (``node-a/gpu:0``), and every channel's device names its host. Two different devices
  with one id on one host (each rank sees its GPU as ``gpu:0``) become ``gpu:0@rank1``.
* **Totals.** The ranks' states merge exactly (:meth:`LedgerState.merge`): energy per
  channel as measured; tokens and FLOPs summed (each data-parallel rank counts its own
  batches); steps are rank 0's (the ranks of a data-parallel job step together). How the
  FLOPs are read (their method and precision) is rank 0's. The job's peak is the sum of
  the ranks' given peaks (``peak_flops_per_s``: each its own devices'), and, for a rank
  that gave none, of the table's peaks of its GPUs (the report says so); where no rank
  gave one, every GPU's peak in the table.
* **Shared GPUs** (process scope): each channel keeps its rank's whole-device energy and
  its joules by share rule (``device_energy_j``, ``share_rules``).
* **Windows** merge by name at each level as the totals do: channels side by side, the
  longest duration, rank 0's steps and count, tokens and FLOPs summed.
* **Idle baselines** (``track_energy(baseline=...)``): each rank's idle power per channel
  is kept under the channel's id in the job report, so the job's dynamic energy is each
  channel's above its own rank's baseline, over that rank's span.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from functools import reduce

import attrs

from nlpfootprint.assumptions import Assumptions
from nlpfootprint.distributed.select import device_key
from nlpfootprint.errors import ReportFormatError
from nlpfootprint.idle import BASELINE_WARNING, Baseline
from nlpfootprint.meters.base import Channel
from nlpfootprint.peaks import Efficiency, job_peak
from nlpfootprint.provenance import Device
from nlpfootprint.report import Report
from nlpfootprint.report_parts import ChannelReport, JobInfo, MissingRank, Outcome, RankPart
from nlpfootprint.totals import LedgerState, add_flops
from nlpfootprint.trace import TraceData

__all__ = ["Part", "job_report", "rank_report"]

#: The most a part may be once decompressed (a report of many windows is a few MiB).
MAX_PART_BYTES = 256 << 20


@attrs.frozen
class Part:
    """What one rank sends to rank 0 at stop.

    Attributes:
        rank: Its rank.
        host: The machine it ran on.
        local_rank: Its rank on that machine, when known.
        origin_unix: Wall-clock time (seconds since the epoch) of its tracker's origin.
        end_t: Its stop, in seconds since that origin.
        state: Its ledger's state at its stop.
        report: Its own report (windows, warnings and trace are taken from it).
    """

    rank: int
    host: str
    local_rank: int | None
    origin_unix: float
    end_t: float
    state: LedgerState
    report: Report

    def to_bytes(self) -> bytes:
        """Compressed JSON."""
        data = {
            "rank": self.rank,
            "host": self.host,
            "local_rank": self.local_rank,
            "origin_unix": self.origin_unix,
            "end_t": self.end_t,
            "state": self.state.to_dict(),
            "report": self.report.to_dict(),
        }
        return zlib.compress(json.dumps(data, allow_nan=False).encode())

    @classmethod
    def from_bytes(cls, payload: bytes) -> Part:
        """Read :meth:`to_bytes` output back.

        Raises:
            ReportFormatError: It is not a part this version reads.
        """
        try:
            inflater = zlib.decompressobj()
            text = inflater.decompress(payload, MAX_PART_BYTES)
            if inflater.unconsumed_tail:
                raise ValueError(f"more than {MAX_PART_BYTES} bytes once decompressed")
            data = json.loads(text)
            return cls(
                rank=int(data["rank"]),
                host=str(data["host"]),
                local_rank=None if data["local_rank"] is None else int(data["local_rank"]),
                origin_unix=float(data["origin_unix"]),
                end_t=float(data["end_t"]),
                state=LedgerState.from_dict(data["state"]),
                report=Report.from_dict(data["report"]),
            )
        except (zlib.error, KeyError, TypeError, ValueError, AttributeError) as err:
            raise ReportFormatError(f"malformed part of a job: {err!r:.200}") from err

    @property
    def span_s(self) -> float:
        """How long its tracker ran, from its first reading to its stop."""
        first = self.state.first_t if self.state.first_t is not None else self.end_t
        return max(self.end_t - first, 0.0)

    @property
    def own_state_warnings(self) -> list[str]:
        """The warnings its state gives (gaps, resets), which its report holds too."""
        return self.state.warnings(self.end_t)

    def rank_part(self, channel_ids: Sequence[str]) -> RankPart:
        """This part as a job report lists it."""
        return RankPart(
            self.rank,
            self.host,
            self.local_rank,
            tuple(channel_ids),
            self.report.steps,
            self.report.tokens,
            self.report.duration_s,
        )


def _job_outcome(parts: Sequence[Part]) -> Outcome | None:
    """Rank 0's outcome, unless a rank failed: then the first that did, named."""
    for part in parts:
        outcome = part.report.outcome
        if outcome is not None and not outcome.ok:
            if part.rank == 0:
                return outcome
            return attrs.evolve(outcome, detail=f"rank {part.rank} {outcome.detail}")
    return parts[0].report.outcome if parts else None


def rank_report(part: Part, engine: str, world_size: int, warnings: Sequence[str]) -> Report:
    """A rank's own report, saying which job it is part of (rank 0 has the whole job)."""
    ids = [c.id for c in part.report.channels]
    job = JobInfo(engine, "rank", part.rank, world_size, parts=(part.rank_part(ids),))
    return attrs.evolve(part.report, job=job, warnings=(*part.report.warnings, *warnings))


def _naming(parts: Sequence[Part]) -> tuple[dict[tuple[int, str], Channel], list[str]]:
    """Each kept (rank, channel id) and the channel it is in the job report; notes on
    devices measured by more than one rank."""
    several_hosts = len({p.host for p in parts}) > 1
    owner: dict[tuple[str, str], int] = {}
    seen_by: dict[tuple[str, str], list[int]] = {}
    taken: set[str] = set()
    named: dict[tuple[int, str], Channel] = {}
    for part in parts:
        for channel in part.state.channels:
            key = device_key(part.host, channel, part.rank)
            seen_by.setdefault(key, []).append(part.rank)
            if key in owner:
                continue
            owner[key] = part.rank
            job_id = f"{part.host}/{channel.id}" if several_hosts else channel.id
            if job_id in taken:
                job_id = f"{job_id}@rank{part.rank}"
            taken.add(job_id)
            device = channel.device or Device()
            named[(part.rank, channel.id)] = attrs.evolve(
                channel, id=job_id, device=attrs.evolve(device, host=part.host)
            )
    notes = [
        f"{key[1].split(':', 1)[1]} on {key[0]} was measured by ranks "
        f"{', '.join(map(str, ranks))}: counted once, from rank {ranks[0]}"
        for key, ranks in seen_by.items()
        if len(ranks) > 1
    ]
    return named, notes


def _state(part: Part, named: Mapping[tuple[int, str], Channel], shift: float) -> LedgerState:
    keep = [i for i, c in enumerate(part.state.channels) if (part.rank, c.id) in named]
    channels = [named[(part.rank, part.state.channels[i].id)] for i in keep]
    return part.state.select(keep, channels).shifted(shift)


def _channel_reports(
    part: Part, report: Report, named: Mapping[tuple[int, str], Channel]
) -> list[ChannelReport]:
    out = []
    for c in report.channels:
        job = named.get((part.rank, c.id))
        if job is not None:
            out.append(attrs.evolve(c, id=job.id, device=job.device))
    return out


def _merge_windows(
    entries: Sequence[tuple[Part, Report]], named: Mapping[tuple[int, str], Channel]
) -> Report:
    """Windows of one name at one level, one per rank that has it: merged."""
    first = entries[0][1]
    names: list[str] = []
    children: dict[str, list[tuple[Part, Report]]] = {}
    for part, window in entries:
        for child in window.windows:
            key = child.name or ""
            if key not in children:
                names.append(key)
            children.setdefault(key, []).append((part, child))
    return attrs.evolve(
        first,
        duration_s=max(w.duration_s for _, w in entries),
        channels=tuple(c for p, w in entries for c in _channel_reports(p, w, named)),
        tokens=sum(w.tokens for _, w in entries),
        flops=reduce(add_flops, (w.flops for _, w in entries), None),
        efficiency=_job_efficiency(entries, named)[0],
        windows=tuple(_merge_windows(children[n], named) for n in names),
        warnings=tuple(dict.fromkeys(_ranked(p, text) for p, w in entries for text in w.warnings)),
        trace=None,
        step_energy=None,
    )


def _job_efficiency(
    entries: Sequence[tuple[Part, Report]], named: Mapping[tuple[int, str], Channel]
) -> tuple[Efficiency, str | None]:
    """The job's reading of its FLOPs from its ranks' reports (rank 0's first), each with
    the channels the job keeps of it (:func:`~nlpfootprint.peaks.job_peak`)."""
    return job_peak([(p.rank, r.efficiency, _channel_reports(p, r, named)) for p, r in entries])


def _job_baseline(
    parts: Sequence[Part], named: Mapping[tuple[int, str], Channel]
) -> Baseline | None:
    """The ranks' idle baselines under the job's channel ids (rank 0's says how it was
    obtained; each rank's measurement warnings are kept, ranked); None when no rank had
    one."""
    based = [(p, p.report.baseline) for p in parts if p.report.baseline is not None]
    if not based:
        return None
    power: dict[str, float] = {}
    notes: list[str] = []
    for part, baseline in based:
        assert baseline is not None
        ids = {cid: job.id for (rank, cid), job in named.items() if rank == part.rank}
        power.update(baseline.renamed(ids).power_w)
        notes += [_ranked(part, w) for w in baseline.warnings]
    return attrs.evolve(based[0][1], power_w=power, warnings=tuple(notes))


def _ranked(part: Part, warning: str) -> str:
    return warning if part.rank == 0 else f"rank {part.rank} ({part.host}): {warning}"


def _kept_share(part: Part, named: Mapping[tuple[int, str], Channel]) -> dict[str, float]:
    """Per domain, the share of a part's energy in the channels the job keeps of it (less
    than 1 where a device it measured was counted from a lower rank)."""
    total: dict[str, float] = {}
    kept: dict[str, float] = {}
    for c in part.report.channels:
        domain = c.domain.value
        total[domain] = total.get(domain, 0.0) + c.energy_j
        if (part.rank, c.id) in named:
            kept[domain] = kept.get(domain, 0.0) + c.energy_j
    return {d: kept.get(d, 0.0) / t if t > 0 else 1.0 for d, t in total.items()}


def _trace(
    parts: Sequence[Part], shifts: Sequence[float], named: Mapping[tuple[int, str], Channel]
) -> TraceData | None:
    """The ranks' power traces summed per domain on rank 0's bins. Another rank's energy
    is taken as spread evenly over each of its bins, so its cumulative energy is a
    piecewise-linear function of time, read at the ends of rank 0's bins; where some of
    its devices were counted from a lower rank, its trace counts for the share of its
    energy the job keeps. The trace spans rank 0's run: what another rank drew before rank
    0 started or after it stopped is not drawn."""
    base = parts[0].report.trace
    if base is None or not base.start_s:
        return None
    import numpy as np

    starts, widths = np.asarray(base.start_s), np.asarray(base.width_s)
    ends = starts + widths
    power = {d: np.asarray(v, dtype=float) for d, v in base.power_w.items()}
    for part, shift in zip(parts[1:], shifts[1:], strict=True):
        trace = part.report.trace
        if trace is None or not trace.start_s:
            continue
        lo = np.asarray(trace.start_s) + shift
        hi = lo + np.asarray(trace.width_s)
        times = np.column_stack([lo, hi]).ravel()  # each bin's start and end, in order
        share = _kept_share(part, named)
        for domain, series in trace.power_w.items():
            joules = np.asarray(series, dtype=float) * (hi - lo) * share.get(domain, 1.0)
            done = np.cumsum(joules)
            before = done - joules
            cumulative = np.column_stack([before, done]).ravel()
            energy = np.interp(ends, times, cumulative) - np.interp(starts, times, cumulative)
            added = np.divide(energy, widths, out=np.zeros_like(energy), where=widths > 0)
            power[domain] = power.get(domain, np.zeros(len(starts))) + added
    return TraceData(
        base.start_s, base.width_s, {d: tuple(float(x) for x in v) for d, v in power.items()}
    )


def job_report(
    parts: Sequence[Part],
    missing: Mapping[int, str],
    *,
    engine: str,
    world_size: int,
    assumptions: Assumptions,
    warnings: Sequence[str] = (),
) -> Report:
    """The report of a whole job from the ``parts`` that arrived (rank 0's first) and the
    ranks ``missing`` with why.

    Rank 0's part gives the name, start, interval and assumptions; ``warnings`` are
    rank 0's own about the gather.
    """
    parts = sorted(parts, key=lambda p: p.rank)
    zero = parts[0]
    shifts = [p.origin_unix - zero.origin_unix for p in parts]
    named, notes = _naming(parts)
    state = reduce(
        LedgerState.merge, (_state(p, named, s) for p, s in zip(parts, shifts, strict=True))
    )
    state = attrs.evolve(state, totals=attrs.evolve(state.totals, steps=zero.state.totals.steps))
    end_t = max(p.end_t + s for p, s in zip(parts, shifts, strict=True))
    window_names: list[str] = []
    by_name: dict[str, list[tuple[Part, Report]]] = {}
    for part in parts:
        for window in part.report.windows:
            key = window.name or ""
            if key not in by_name:
                window_names.append(key)
            by_name.setdefault(key, []).append((part, window))
    lost = [
        f"rank {rank} did not report ({why}): its devices are not in this job report"
        for rank, why in sorted(missing.items())
    ]
    if missing:
        lost.append(
            "for a whole-job report every rank starts and stops its tracker (in the same "
            "order); distributed=None measures one process alone, as before"
        )
    job = JobInfo(
        engine,
        "job",
        0,
        world_size,
        parts=tuple(
            p.rank_part([c.id for (r, _), c in named.items() if r == p.rank]) for p in parts
        ),
        missing=tuple(MissingRank(rank, why) for rank, why in sorted(missing.items())),
    )
    # each part's warnings about its gaps and resets come again, renamed, from the merge
    # ... and those about their idle baselines come from the job's (job_baseline)
    told = [
        _ranked(p, w)
        for p in parts
        for w in p.report.warnings
        if w not in p.own_state_warnings and not w.startswith(BASELINE_WARNING)
    ]
    spans = {c.id: p.span_s for p in parts for (r, _), c in named.items() if r == p.rank}
    efficiency, peak_note = _job_efficiency([(p, p.report) for p in parts], named)
    if peak_note is not None:
        notes.append(peak_note)
    report = Report.from_state(
        state,
        end_t,
        assumptions=assumptions,
        warnings=[*lost, *warnings, *told, *notes],
        windows=tuple(_merge_windows(by_name[n], named) for n in window_names),
        name=zero.report.name,
        started_at=zero.report.started_at,
        interval_s=zero.report.interval_s,
        trace=_trace(parts, shifts, named),
        job=job,
        outcome=_job_outcome(parts),
        efficiency=efficiency,
    )
    # each channel's mean power is over its own rank's span, not the job's (ranks start
    # and stop a little apart); a shared GPU's channel keeps its whole-device figures
    kept = {c.id: c for p in parts for c in _channel_reports(p, p.report, named)}
    report = attrs.evolve(
        report,
        channels=tuple(
            attrs.evolve(
                c,
                duration_s=spans[c.id],
                device_energy_j=kept[c.id].device_energy_j if c.id in kept else None,
                share_rules=kept[c.id].share_rules if c.id in kept else None,
            )
            for c in report.channels
        ),
    )
    baseline = _job_baseline(parts, named)
    return report if baseline is None else report.with_baseline(baseline)
