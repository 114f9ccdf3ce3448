"""Measure a Lightning ``trainer.fit(...)``: ``Trainer(callbacks=[EnergyCallback()])``.

:class:`EnergyCallback` starts a tracker when fit starts and stops it when fit ends (or
fails), counts optimizer steps and tokens so the report has J/step, J/token and
``project(steps=...)``, puts validation into a window ``"validation"`` (the sanity check
into its own window ``"sanity_check"``), logs ``energy_kwh``, ``power_w``, ``co2e_kg`` and
``j_per_token`` through ``pl_module.log_dict`` at the trainer's logging steps, and writes
the run log and the final report (JSON and Markdown) into the trainer's ``log_dir``.

Which Lightning: the callback subclasses ``lightning.pytorch.Callback`` when the
``lightning`` package is installed, else ``pytorch_lightning.Callback``. Trainers of both
packages call any callback's hooks by name, so one class serves both when both are
installed (tested with Lightning 2.6).

Which processes measure: every rank runs a tracker that measures only what the rank owns
(the node's CPUs and memory on local rank 0, each GPU on the rank that uses it), and when
fit ends each rank hands its part to global rank 0, whose report is the whole job's
(``report.job.scope == "job"``; another rank's is its own part). Only global rank 0
writes files, one set for the job, and the logged figures are the job's: at each logging
step the ranks add theirs up with ``trainer.strategy.reduce``. Lightning's own launcher
(``Trainer(devices=N)`` run as a script) sets no ``RANK`` or ``LOCAL_WORLD_SIZE``, so the
callback tells the tracker, as it starts, the ranks Lightning knows. With ``distributed=None``
the process with local rank 0 on each node measures that node's meters (its CPUs and
every GPU they see), the others measure nothing, and the files of a run on several nodes
end in ``.nodeN``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import attrs

from nlpfootprint.checks import flag, whole_number
from nlpfootprint.distributed import from_environ
from nlpfootprint.errors import ConfigurationTypeError, TrackerStateError
from nlpfootprint.integrations._figures import logged_figures
from nlpfootprint.integrations._flops import StepFlops, float32_precision
from nlpfootprint.peaks import Precision
from nlpfootprint.report import Report
from nlpfootprint.settings import TrackerOptions, TrackerSettings
from nlpfootprint.tracker import EnergyTracker
from nlpfootprint.windows import WindowHandle

if TYPE_CHECKING:
    from lightning.pytorch import Callback, LightningModule, Trainer
else:
    try:
        from lightning.pytorch import Callback
    except ImportError:
        try:
            from pytorch_lightning import Callback
        except ImportError as err:
            raise ImportError(
                "nlpfootprint.integrations.lightning needs Lightning: pip install "
                "'nlpfootprint[lightning]' (or install pytorch-lightning)"
            ) from err
    Trainer = LightningModule = Any

__all__ = ["EnergyCallback", "batch_tokens"]

log = logging.getLogger("nlpfootprint")

RUN_LOG = "nlpfootprint-run.jsonl"
REPORT_JSON = "nlpfootprint-report.json"
REPORT_MARKDOWN = "nlpfootprint-report.md"


def batch_tokens(batch: object) -> object:
    """The tokens in ``batch`` as the callback counts them by default: a mapping's
    ``"attention_mask"`` (its nonzero entries), else the number of elements of its
    ``"input_ids"``; None (count none) for any other batch."""
    if not isinstance(batch, Mapping):
        return None
    mask = batch.get("attention_mask")
    if mask is not None:
        return mask.count_nonzero()
    ids = batch.get("input_ids")
    return None if ids is None else ids.numel()


class EnergyCallback(Callback):
    """Measure the energy of ``trainer.fit(...)``; ``callback.report`` once it ends.

    Args:
        tokens_of: ``tokens_of(batch)`` gives the number of tokens in a training batch
            (an int or a 0-d integer tensor, or None for none). Default:
            :func:`batch_tokens`.
        output_dir: Where the run log (``nlpfootprint-run.jsonl``) and the report
            (``nlpfootprint-report.json``, ``.md``) go. Default: the trainer's
            ``log_dir``. Written by global rank 0 only (with ``distributed=None``, by
            local rank 0 of each node, the names ending in ``.nodeN`` on several nodes).
        save: Write those files (default). With ``save=False`` nothing is written
            unless ``log=`` names a run log.
        count_flops: Count the first training batch's floating-point operations (its
            forward, backward and optimizer step, between ``on_train_batch_start`` and
            ``on_train_batch_end``) with PyTorch's ``FlopCounterMode``, and give every
            batch that count, for the report's FLOPs, FLOP/J and MFU (default False). The
            report says how they were obtained. ``precision`` for MFU comes from
            ``trainer.precision`` when not given (``bf16-mixed``: ``bf16``; ``16-mixed``:
            ``fp16``; ``32-true``: ``tf32`` where PyTorch lets float32 products use it,
            else ``fp32``; ``transformer-engine``: ``fp8``).
        **options: The options of :func:`~nlpfootprint.track_energy` (``meters``,
            ``interval_s``, ``pue``, ``carbon_intensity``, ``log``, ``clock``...).

    Steps are optimizer steps: the increase of ``trainer.global_step`` (so batches
    accumulated with ``accumulate_grad_batches`` make one step). Tensor token counts are
    summed on their device and read at logging steps and at the end, which adds no device
    synchronisation per batch. The logged ``power_w`` is the mean power since the previous
    logging step; the others are totals so far. Only ``fit`` is measured; for
    ``trainer.test()`` or ``predict()`` use ``with track_energy(): ...``.
    """

    def __init__(
        self,
        *,
        tokens_of: Callable[[Any], object] | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        save: bool = True,
        count_flops: bool = False,
        **options: Unpack[TrackerOptions],
    ) -> None:
        super().__init__()
        if tokens_of is not None and not callable(tokens_of):
            raise ConfigurationTypeError(
                f"tokens_of={tokens_of!r}: expected a function of the batch, or None"
            )
        if output_dir is not None and not isinstance(output_dir, str | os.PathLike):
            raise ConfigurationTypeError(
                f"output_dir={output_dir!r}: expected a directory path, or None"
            )
        self.settings = TrackerSettings.of(**options)
        self.tokens_of = tokens_of or batch_tokens
        self.output_dir = output_dir
        self.save = flag("save", save)
        self.count_flops = flag("count_flops", count_flops)
        self._flops = StepFlops()
        self.tracker: EnergyTracker | None = None
        self._report: Report | None = None
        self._dir: Path | None = None
        self._window: AbstractContextManager[WindowHandle] | None = None
        self._last_step = 0
        self._pending_tokens: Any = 0
        self._last_point: tuple[float, float] | None = None  # (duration_s, energy_j)
        self._lead = False  # this process writes the files

    @property
    def report(self) -> Report:
        """The report of the last fit, once it has ended."""
        if self._report is None:
            raise TrackerStateError(
                "the report is ready when trainer.fit() ends (with distributed=None, only on "
                "local rank 0, which measures); for a live figure use "
                "callback.tracker.snapshot()"
            )
        return self._report

    @property
    def measuring(self) -> bool:
        """True while this process measures a fit."""
        return self.tracker is not None and self.tracker.running

    # -- fit -------------------------------------------------------------------------

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._report, self.tracker, self._window = None, None, None
        self._pending_tokens, self._last_point = 0, None
        self._flops = StepFlops()
        self._dir = self._files_dir(trainer)  # on every rank: log_dir is a collective
        per_node = self.settings.distributed is None
        if per_node and trainer.local_rank != 0:
            return
        self._lead = per_node or trainer.global_rank == 0
        settings = self.settings
        if settings.name is None:
            settings = attrs.evolve(settings, name=type(pl_module).__name__)
        if settings.precision is None and settings.peak_flops_per_s is None:
            settings = attrs.evolve(settings, precision=_precision(trainer))
        if self.count_flops:
            settings = attrs.evolve(settings, flops_method="counted")
        if self._dir is not None and settings.log is None and self._lead:
            self._dir.mkdir(parents=True, exist_ok=True)
            settings = attrs.evolve(settings, log=self._dir / self._file(RUN_LOG, trainer))
        with nullcontext() if per_node else _launcher_variables(trainer):
            self.tracker = EnergyTracker(settings).start()

    def _files_dir(self, trainer: Trainer) -> Path | None:
        if not self.save:
            return None
        if self.output_dir is not None:
            return Path(self.output_dir)
        log_dir = trainer.log_dir
        return Path(log_dir if log_dir is not None else trainer.default_root_dir)

    def _file(self, name: str, trainer: Trainer) -> str:
        if trainer.num_nodes <= 1 or self.settings.distributed is not None:
            return name
        stem, dot, ext = name.partition(".")
        return f"{stem}.node{trainer.node_rank}{dot}{ext}"

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._last_step = trainer.global_step  # after a checkpoint's restore

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._finish(trainer)

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        try:
            self._finish(trainer, exception)
        except Exception as err:  # the fit's own exception is the one to see
            log.warning("nlpfootprint: could not finish the measurement: %s", err)

    def _finish(self, trainer: Trainer, exception: BaseException | None = None) -> None:
        """Stop once: count the last tokens, close the window, write the files. After an
        ``exception`` the report says that the fit raised it."""
        tracker = self.tracker
        self._flops.close()  # a batch that never ended
        if tracker is None or self._report is not None or not tracker.running:
            return
        try:
            self._flush_tokens()
        finally:
            self._close_window()
            exc_type = None if exception is None else type(exception)
            tracker.__exit__(exc_type, exception, None)  # as a `with` block that raised
            self._report = report = tracker.report
        if self._dir is not None and self._lead:
            self._write(report, trainer)

    def _write(self, report: Report, trainer: Trainer) -> None:
        assert self._dir is not None
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            (self._dir / self._file(REPORT_JSON, trainer)).write_text(report.to_json() + "\n")
            (self._dir / self._file(REPORT_MARKDOWN, trainer)).write_text(report.to_markdown())
        except OSError as err:
            log.warning("nlpfootprint: could not write the report into %s: %s", self._dir, err)

    # -- training --------------------------------------------------------------------

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.count_flops and self.measuring:
            self._flops.begin()

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if not self.measuring:
            return
        assert self.tracker is not None
        if self.count_flops:
            self._flops.end()
        self._add_tokens(self.tokens_of(batch))
        stepped = trainer.global_step - self._last_step
        if stepped <= 0:
            return  # accumulating gradients: no optimizer step yet
        self._last_step = trainer.global_step
        self.tracker.step(stepped, flops=self._flops.take())
        if self._logging_step(trainer):
            self._flush_tokens()
            pl_module.log_dict(
                self._metrics(trainer, pl_module),
                on_step=True,
                on_epoch=False,
                batch_size=1,
                rank_zero_only=True,
            )

    @staticmethod
    def _logging_step(trainer: Trainer) -> bool:
        """Whether the trainer writes its loggers after this batch (as Lightning decides)."""
        every = int(getattr(trainer, "log_every_n_steps", 50))  # set by Trainer.__init__
        on_cadence = every > 0 and trainer.global_step % every == 0
        return on_cadence or bool(trainer.should_stop) or bool(getattr(trainer, "fast_dev_run", 0))

    def _add_tokens(self, tokens: object) -> None:
        if tokens is None:
            return
        ndim = getattr(tokens, "ndim", None)
        if ndim is None:
            self._pending_tokens += whole_number("tokens_of(batch)", tokens)
            return
        if ndim != 0 or getattr(tokens, "is_floating_point", lambda: False)():
            raise ConfigurationTypeError(
                f"tokens_of(batch) gave {type(tokens).__name__} of shape "
                f"{tuple(getattr(tokens, 'shape', ()))} and dtype {getattr(tokens, 'dtype', '?')}: "
                "expected one whole number (an int or a 0-d integer tensor)"
            )
        self._pending_tokens = self._pending_tokens + tokens  # stays on its device

    def _flush_tokens(self) -> None:
        """Count the tokens (and FLOPs) added since the last count."""
        tokens = whole_number("tokens_of(batch)", self._pending_tokens)
        self._pending_tokens = 0
        flops = self._flops.take()
        if (tokens or flops) and self.tracker is not None:
            self.tracker.step(0, tokens=tokens, flops=flops)

    def _metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """The figures to log: totals so far, and the mean power since the last log; in a
        job, the sums over its ranks (a collective: every rank logs at the same steps)."""
        assert self.tracker is not None
        now = self.tracker.snapshot(read=False)  # the sampler's latest reading
        point = (now.duration_s, now.energy_j)
        start = self._last_point or (0.0, 0.0)
        power_w = None
        if point[0] > start[0]:
            power_w = (point[1] - start[1]) / (point[0] - start[0])
            self._last_point = point
        if self.tracker.job is None:
            return logged_figures(now, power_w)
        return logged_figures(
            now,
            power_w,
            reduce=lambda row: trainer.strategy.reduce(row.to(pl_module.device), reduce_op="sum"),
            ranks=trainer.world_size,
        )

    # -- validation ------------------------------------------------------------------

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.measuring and self._window is None:
            assert self.tracker is not None
            name = "sanity_check" if trainer.sanity_checking else "validation"
            self._window = self.tracker.window(name)
            self._window.__enter__()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._close_window()

    def _close_window(self) -> None:
        window, self._window = self._window, None
        if window is not None and self.measuring:
            window.__exit__(None, None, None)


def _precision(trainer: Trainer) -> Precision | None:
    """The number format the fit's matrix products run in, from ``trainer.precision``."""
    precision = str(getattr(trainer, "precision", ""))
    if precision.startswith("bf16"):
        return "bf16"
    if precision.startswith("16"):
        return "fp16"
    if precision.startswith("32"):
        return float32_precision()
    return "fp8" if precision.startswith("transformer-engine") else None


@contextmanager
def _launcher_variables(trainer: Trainer) -> Iterator[None]:
    """While the tracker starts, the torchrun variables for this rank as Lightning knows it,
    where no launcher set any (Lightning's own launcher sets no ``RANK`` or
    ``LOCAL_WORLD_SIZE``): without a local rank each rank would measure every device of
    its node, and though the job report counts each once, the logged sums would not."""
    if trainer.world_size < 2 or from_environ() is not None:
        yield
        return
    told = {
        "RANK": trainer.global_rank,
        "WORLD_SIZE": trainer.world_size,
        "LOCAL_RANK": trainer.local_rank,
        "LOCAL_WORLD_SIZE": trainer.num_devices,
        "GROUP_RANK": trainer.node_rank,
    }
    before = {name: os.environ.get(name) for name in told}
    os.environ.update({name: str(value) for name, value in told.items()})
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
