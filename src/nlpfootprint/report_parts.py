"""The parts of a :class:`~nlpfootprint.Report`: per-channel figures and a projection's basis.

:class:`ChannelReport` says what one channel measured *and how*, in fields: the backend
that read it, the device, the method (counter, sampled power or estimate) and, for an
estimate, its basis. Renderers read these fields; the label is for people only.
"""

from __future__ import annotations

import signal as _signal
from collections.abc import Mapping
from typing import Any

import attrs

from nlpfootprint import accounting
from nlpfootprint.assumptions import amount, count, optional_amount
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters.attribution import device_added, device_scaled, rule_joules
from nlpfootprint.meters.base import Channel, Domain, check_kind, to_domain
from nlpfootprint.provenance import Backend, Device, EstimateBasis, Method, to_backend, to_method
from nlpfootprint.totals import ChannelTotals, StepEnergy

__all__ = [
    "PARTIAL_COVERAGE",
    "ChannelReport",
    "JobInfo",
    "MissingRank",
    "Outcome",
    "Projection",
    "RankPart",
    "StepEnergy",
]


#: A channel that covers less of the run than this (its share with readings on both
#: sides) makes the report "partial".
PARTIAL_COVERAGE = 0.95


@attrs.frozen
class ChannelReport:
    """What one channel measured, and how.

    Attributes:
        id: Channel id (``gpu:0``, ``cpu:0``, ...).
        domain: ``gpu``, ``cpu``, ``dram`` or ``other`` (a :class:`~nlpfootprint.Domain`,
            equal to the plain string).
        kind: ``energy`` (a counter) or ``power`` (sampled watts).
        source: ``counter``, ``sampled``, ``estimated`` or ``attributed`` (a shared GPU's
            measured energy x this process tree's share): how the energy was obtained (a
            :class:`~nlpfootprint.provenance.Method`; ``method`` is the same).
        label: What the channel is, for people (device name, estimation model).
        energy_j: Energy over the report's duration, in joules.
        readings: Successful readings.
        failures: Failed readings.
        rejected: Of the failures, values refused (not finite and >= 0, past a counter's
            wrap range, or more than the device can draw); bridged like a gap.
        gap_s: Seconds not covered by successful readings on both sides.
        duration_s: The span the energy is over (the report's duration).
        backend: Which backend read it: nvml, rapl, pyrapl, estimated, fake or user.
        device: The hardware (name, index, UUID, host, how many), when known.
        basis: For an estimate, what it rests on (TDP and its source, scope, ...).
        device_energy_j: For an ``attributed`` channel, the whole device's energy over the
            run, of which ``energy_j`` is the share attributed (None: not known).
        share_rules: With it, the device's joules by the rule that split them (``"sm"``,
            ``"memory"``, ...: :data:`~nlpfootprint.meters.gpushare.RULE_WORDS`).

    ``mean_power_w`` (a property) is ``energy_j / duration_s``.
    """

    id: str = attrs.field(validator=attrs.validators.instance_of(str))
    domain: Domain = attrs.field(converter=to_domain)
    kind: str = attrs.field(validator=check_kind)
    source: Method = attrs.field(converter=to_method)
    label: str = attrs.field(validator=attrs.validators.instance_of(str))
    energy_j: float = attrs.field(validator=amount)
    readings: int = attrs.field(default=0, validator=count)
    failures: int = attrs.field(default=0, validator=count)
    gap_s: float = attrs.field(default=0.0, validator=amount)
    duration_s: float = attrs.field(default=0.0, validator=amount)
    backend: Backend = attrs.field(default=Backend.USER, converter=to_backend)
    device: Device | None = None
    basis: EstimateBasis | None = attrs.field(default=None)
    rejected: int = attrs.field(default=0, validator=count)
    device_energy_j: float | None = attrs.field(default=None, validator=optional_amount)
    share_rules: dict[str, float] | None = attrs.field(
        default=None, converter=rule_joules, hash=False
    )

    @source.validator
    def _check_source(self, _attribute: object, method: Method) -> None:
        needs = {Method.COUNTER: "energy", Method.SAMPLED: "power"}.get(method)
        if needs is not None and self.kind != needs:
            raise ConfigurationError(
                f"channel {self.id!r}: a {method} channel is of kind {needs!r}, not {self.kind!r}"
            )

    @basis.validator
    def _check_basis(self, _attribute: object, basis: EstimateBasis | None) -> None:
        if basis is not None and self.source not in (Method.ESTIMATED, Method.ATTRIBUTED):
            raise ConfigurationError(
                f"channel {self.id!r} has an estimate basis ({basis.basis}) but was {self.source}"
            )

    @classmethod
    def of(cls, channel: Channel, totals: ChannelTotals, duration_s: float) -> ChannelReport:
        """The report of ``channel`` from its ledger ``totals`` over ``duration_s``."""
        return cls(
            id=channel.id,
            domain=channel.domain,
            kind=channel.kind,
            source=channel.method,
            label=channel.label,
            energy_j=max(totals.energy_j, 0.0),
            readings=totals.readings,
            failures=totals.failures,
            rejected=totals.rejected,
            gap_s=max(totals.gap_s, 0.0),
            duration_s=max(duration_s, 0.0),
            backend=channel.backend,
            device=channel.device,
            basis=channel.basis,
        )

    @property
    def method(self) -> Method:
        """How the energy was obtained: counter, sampled or estimated (as ``source``)."""
        return self.source

    @property
    def mean_power_w(self) -> float:
        """Mean power over ``duration_s``, in watts (0.0 for an empty span)."""
        return accounting.mean_power_w(self.energy_j, self.duration_s)

    @property
    def coverage(self) -> float:
        """The share of ``duration_s`` covered by readings on both sides (1.0: no gap; a
        meter that failed a fifth of the way through covers 0.2 of the run)."""
        if self.duration_s <= 0:
            return 1.0
        return min(max(1.0 - self.gap_s / self.duration_s, 0.0), 1.0)

    def scaled(self, factor: float) -> ChannelReport:
        """This channel over a span ``factor`` times as long, at the same mean power."""
        return attrs.evolve(
            self,
            energy_j=self.energy_j * factor,
            duration_s=self.duration_s * factor,
            gap_s=self.gap_s * factor,  # the same coverage
            **device_scaled(self, factor),
        )

    def plus(self, other: ChannelReport) -> ChannelReport:
        """This channel's figures and ``other``'s added up (two entries, two runs)."""
        return attrs.evolve(
            other,
            energy_j=self.energy_j + other.energy_j,
            readings=self.readings + other.readings,
            failures=self.failures + other.failures,
            rejected=self.rejected + other.rejected,
            gap_s=self.gap_s + other.gap_s,
            duration_s=self.duration_s + other.duration_s,
            **device_added(self, other),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``mean_power_w`` and ``method`` are added for readers of the file."""
        return {
            "id": self.id,
            "domain": self.domain.value,
            "kind": self.kind,
            "source": self.source.value,
            "method": self.source.value,
            "label": self.label,
            "energy_j": self.energy_j,
            "readings": self.readings,
            "failures": self.failures,
            "rejected": self.rejected,
            "gap_s": self.gap_s,
            "duration_s": self.duration_s,
            "mean_power_w": self.mean_power_w,
            "backend": self.backend.value,
            "device": None if self.device is None else self.device.to_dict(),
            "basis": None if self.basis is None else self.basis.to_dict(),
            "device_energy_j": self.device_energy_j,
            "share_rules": None if self.share_rules is None else dict(self.share_rules),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChannelReport:
        """Read :meth:`to_dict` output back (the derived keys are recomputed, not read;
        a dict without the later keys, ``device_energy_j`` and ``share_rules``, reads)."""
        fields = {k: v for k, v in data.items() if k not in ("mean_power_w", "method", "coverage")}
        fields["device"] = Device.from_dict(fields.get("device"))
        fields["basis"] = EstimateBasis.from_dict(fields.get("basis"))
        return cls(**fields)


@attrs.frozen
class Projection:
    """How a projected report was made from a measured one.

    Attributes:
        basis: ``"hours"``, ``"steps"`` or ``"runs"``.
        factor: What the measurement was multiplied by.
        measured_duration_s: The measured report's duration.
        measured_steps: The measured report's step count.
        relative_spread: The band's half-width as a fraction of each figure: the relative
            standard deviation of energy per step across the measured sampling intervals,
            or None when it could not be estimated (fewer than two intervals with steps).
    """

    basis: str
    factor: float
    measured_duration_s: float
    measured_steps: int
    relative_spread: float | None = None


_rank = count


def _optional_rank(
    _instance: object, attribute: attrs.Attribute[int | None], value: object
) -> None:
    if value is not None:
        count(_instance, attribute, value)  # type: ignore[arg-type]


def _texts(_instance: object, attribute: attrs.Attribute[tuple[str, ...]], value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{attribute.name}: expected a tuple of strings, got {value!r:.80}")


@attrs.frozen
class RankPart:
    """One rank's share of a distributed job's report.

    Attributes:
        rank: The rank (0 to the world size - 1).
        host: The machine it ran on (what counts a host-wide channel once).
        local_rank: Its rank on that machine, when the launcher said.
        channels: The ids, in the job report, of the channels it measured (none: it owned
            no device, such as a second rank sharing a GPU).
        steps: Steps it counted.
        tokens: Tokens it counted.
        duration_s: How long its tracker ran.
    """

    rank: int = attrs.field(validator=_rank)
    host: str = attrs.field(validator=attrs.validators.instance_of(str))
    local_rank: int | None = attrs.field(default=None, validator=_optional_rank)
    channels: tuple[str, ...] = attrs.field(default=(), validator=_texts)
    steps: int = attrs.field(default=0, validator=count)
    tokens: int = attrs.field(default=0, validator=count)
    duration_s: float = attrs.field(default=0.0, validator=amount)


@attrs.frozen
class MissingRank:
    """A rank whose part is not in a job report, and why (it never reached stop within the
    gather timeout, its process was gone, its part could not be read)."""

    rank: int = attrs.field(validator=_rank)
    reason: str = attrs.field(validator=attrs.validators.instance_of(str))


#: What gathered a job's parts: a torch.distributed process group, MPI, or nothing (the
#: launcher's variables said which rank this is, but no engine ran at stop).
JOB_ENGINES = ("torch", "mpi", "launcher")


@attrs.frozen
class JobInfo:
    """Which distributed job a report belongs to, and which part of it it is.

    Attributes:
        engine: ``"torch"`` or ``"mpi"`` (what gathered the parts), or ``"launcher"``:
            only the launcher's variables told the rank, nothing could gather.
        scope: ``"job"``: the whole job, gathered on rank 0 (every part that arrived);
            ``"rank"``: one rank's own part (the report of a rank other than 0, or of a
            job that could not be gathered).
        rank: The rank this report was made on.
        world_size: How many ranks the job has.
        parts: The ranks whose parts are in the report, in rank order.
        missing: The ranks whose parts are not, with why (a ``"job"`` report only).
    """

    engine: str = attrs.field(validator=attrs.validators.in_(JOB_ENGINES))
    scope: str = attrs.field(validator=attrs.validators.in_(("job", "rank")))
    rank: int = attrs.field(validator=_rank)
    world_size: int = attrs.field(validator=_rank)
    parts: tuple[RankPart, ...] = ()
    missing: tuple[MissingRank, ...] = ()

    def __attrs_post_init__(self) -> None:
        ranks = [p.rank for p in self.parts] + [m.rank for m in self.missing]
        if len(set(ranks)) != len(ranks) or any(r >= self.world_size for r in ranks):
            raise ConfigurationError(
                f"job of world_size={self.world_size}: ranks {sorted(ranks)} must be distinct "
                "and below the world size"
            )

    @property
    def hosts(self) -> tuple[str, ...]:
        """The machines the parts ran on, sorted."""
        return tuple(sorted({p.host for p in self.parts}))

    @property
    def complete(self) -> bool:
        """True when every rank's part is in the report."""
        return self.scope == "job" and len(self.parts) == self.world_size

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return attrs.asdict(self, recurse=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobInfo:
        """Read :meth:`to_dict` output back."""
        fields = dict(data)
        fields["parts"] = tuple(
            RankPart(**{**p, "channels": tuple(p.get("channels", ()))})
            for p in fields.get("parts", ())
        )
        fields["missing"] = tuple(MissingRank(**m) for m in fields.get("missing", ()))
        return cls(**fields)


def _signal_name(number: int) -> str:
    try:
        return _signal.Signals(number).name
    except ValueError:
        return "an unknown signal"


def _optional_int(_instance: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{attribute.name}: expected an integer or None, got {value!r:.80}")


@attrs.frozen
class Outcome:
    """How the measured block, or the command ``nlpfootprint run`` ran, ended.

    A report whose run failed says so in its heading, so that a crashed job's figures are
    not read as a clean run's. Build one with :meth:`completed`, :meth:`of_exception` or
    :meth:`of_returncode`.

    Attributes:
        ok: True when the block ran to its end (the command exited with status 0).
        detail: How it ended, in words: ``"completed"``, ``"raised ValueError: ..."``,
            ``"the command exited with status 3"``, ``"the command was ended by SIGKILL
            (signal 9)"``.
        exit_status: The command's exit status, when a command (or ``sys.exit``) ended it.
        signal: The number of the signal that ended the command, when one did.
    """

    ok: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    detail: str = attrs.field(validator=attrs.validators.instance_of(str))
    exit_status: int | None = attrs.field(default=None, validator=_optional_int)
    signal: int | None = attrs.field(default=None, validator=_optional_int)

    @classmethod
    def completed(cls) -> Outcome:
        """The block ran to its end."""
        return cls(ok=True, detail="completed")

    @classmethod
    def of_returncode(cls, returncode: int) -> Outcome:
        """A command's end from its return code (negative: the signal that ended it).

        >>> Outcome.of_returncode(-9).detail
        'the command was ended by SIGKILL (signal 9)'
        """
        if returncode < 0:
            number = -returncode
            return cls(
                ok=False,
                detail=f"the command was ended by {_signal_name(number)} (signal {number})",
                signal=number,
            )
        return cls(
            ok=returncode == 0,
            detail=f"the command exited with status {returncode}",
            exit_status=returncode,
        )

    @classmethod
    def of_exception(cls, exc: BaseException) -> Outcome:
        """The end of a block that raised ``exc``: ``sys.exit(0)`` is a clean end, a
        ``subprocess.CalledProcessError`` gives its command's status or signal."""
        if isinstance(exc, SystemExit):
            code = exc.code
            if code is None or code == 0:
                return cls(ok=True, detail="completed (SystemExit: status 0)", exit_status=0)
            status = code if isinstance(code, int) and not isinstance(code, bool) else 1
            return cls(
                ok=False, detail=f"exited with status {status} (SystemExit)", exit_status=status
            )
        returncode = getattr(exc, "returncode", None)
        if isinstance(returncode, int) and not isinstance(returncode, bool) and returncode != 0:
            ended = cls.of_returncode(returncode)
            return attrs.evolve(ended, detail=f"raised {type(exc).__name__}: {ended.detail}")
        what = str(exc)
        return cls(ok=False, detail=f"raised {type(exc).__name__}{f': {what}' if what else ''}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        """Read :meth:`to_dict` output back."""
        return cls(**data)
