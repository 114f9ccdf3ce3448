"""Energy of a Hugging Face ``transformers.Trainer`` run: ``callbacks=[EnergyCallback()]``.

The callback measures from ``on_train_begin`` to ``on_train_end`` with an
:class:`~nlpfootprint.EnergyTracker`, counts optimizer steps and tokens, keeps evaluation
and prediction in windows of their own (``"eval"``, ``"predict"``), puts the energy so far
into the trainer's logs (so it reaches every ``report_to`` backend and ``log_history``) and
writes the run log and the report into ``output_dir``.

In a distributed run (``torchrun``, ``accelerate launch``) every process measures what
it owns and the main process's report is the whole job's (see :class:`EnergyCallback`).

``transformers`` has no way to register a third-party ``report_to`` name, so the callback
is passed to the ``Trainer`` itself. Importing this module imports ``transformers``;
importing ``nlpfootprint`` does not.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Unpack

# An absolute import: this module's own name does not shadow the library.
from transformers import (
    DefaultFlowCallback,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from nlpfootprint.checks import flag
from nlpfootprint.errors import TrackerStateError
from nlpfootprint.integrations._figures import logged_figures
from nlpfootprint.integrations._flops import StepFlops, float32_precision
from nlpfootprint.peaks import Precision
from nlpfootprint.report import Report
from nlpfootprint.settings import TrackerOptions, TrackerSettings
from nlpfootprint.tracker import EnergyTracker

__all__ = ["FILE_PREFIX", "EnergyCallback"]

#: Files in ``output_dir`` start with this: ``nlpfootprint-train.jsonl`` (the run log),
#: ``nlpfootprint-train-report.json`` and ``.md`` (the report); ``-eval``/``-predict`` for
#: an ``evaluate()``/``predict()`` called outside training.
FILE_PREFIX = "nlpfootprint"

_FRAMES = 12  # how far up the call stack the Trainer that calls a hook is looked for
log = logging.getLogger("nlpfootprint")


class EnergyCallback(TrainerCallback):
    """Measure a ``Trainer`` run: energy, CO2e, J/step, J/token, evaluation apart.

    Args:
        write_files: Write the run log and the report (JSON and Markdown) into
            ``args.output_dir`` (default True).
        count_flops: Count the first training step's floating-point operations with
            PyTorch's ``FlopCounterMode`` (forward and backward) and give every step that
            count, for the report's FLOPs, FLOP/J and MFU (default False: the first step
            runs a little slower while counted). The report says how they were obtained.
        **options: :func:`~nlpfootprint.track_energy` options (``interval_s``, ``meters``,
            ``clock``, ``carbon_intensity``, ``pue``, ``log``, ...), checked here. ``log=``
            given (a path, or None for none) replaces the training run's log file.

    What it does:
        * **Steps**: one per optimizer step (``on_step_end``), so gradient accumulation
          counts once per update, and ``report.project(steps=max_steps)`` works.
        * **Tokens**: ``state.num_input_tokens_seen`` when the trainer counts them
          (``include_num_input_tokens_seen="all"`` or ``"non_padding"``; all processes'
          tokens, so in a job only the world main process's tracker counts them).
          Otherwise each training batch's ``attention_mask`` sum (its ``input_ids`` size
          where it has no mask), each process its own batches (a job's report sums them).
        * **FLOPs** (``count_flops=True``): the first ``training_step`` call (one
          micro-batch, forward and backward) counted with ``FlopCounterMode``, every call
          after it taken to cost the same; each process counts its own (a job's report
          sums them). ``precision`` for MFU comes from the arguments when not given:
          ``bf16``, ``fp16``, else ``tf32`` where PyTorch lets float32 products use it
          (``tf32=True``), else ``fp32``.
        * **Windows**: ``trainer.evaluate()`` during training runs in a window ``"eval"``,
          ``trainer.predict()`` in ``"predict"``. Called outside training, each is
          measured on its own (a report whose one window has that name).
        * **Logs**: each log (``on_log``) gets ``energy_kwh`` (IT energy so far),
          ``power_w`` (mean IT power since the previous log), ``co2e_kg`` and, once tokens
          are counted, ``j_per_token``. The callback moves itself ahead of the
          ``report_to`` callbacks so that they send these figures too. In a job they are
          the job's: every process adds its own with ``trainer.accelerator.reduce`` (the
          Trainer logs on every process at the same points).
        * **Distributed**: every process runs a tracker, which measures only what that
          process owns (the node's CPUs and memory on the local main process, each GPU on
          the process that uses it) and at the end hands its part to the world main
          process. There :attr:`report` is the whole job's (``report.job.scope ==
          "job"``); on the other processes it is their own part. Only the world main
          process (``state.is_world_process_zero``) writes files. Every process must
          reach ``on_train_end`` (the main one waits up to ``gather_timeout_s`` for the
          others' parts). With ``distributed=None`` only the local main process of each
          node measures, its whole node, and writes its files (as earlier versions did).

    The transformers API has no hook before an evaluation or a prediction begins, nor
    one when training fails: the callback finds the ``Trainer`` that calls it and wraps
    its ``evaluate``, ``predict``, ``train`` (and, to count tokens from batches,
    ``training_step``) on that instance only.

    :attr:`report` is the latest training run's :class:`~nlpfootprint.Report`;
    :attr:`reports`, every report made so far, in order (training runs and the
    evaluations/predictions measured outside training).
    """

    def __init__(
        self,
        *,
        write_files: bool = True,
        count_flops: bool = False,
        **options: Unpack[TrackerOptions],
    ) -> None:
        TrackerSettings.of(**options)  # bad options fail here, not when training starts
        self._options = options
        self._per_node = "distributed" in options and options["distributed"] is None
        self._write_files = flag("write_files", write_files)
        self._count_flops = flag("count_flops", count_flops)
        self._flops = StepFlops()
        self._precision: Precision | None = None
        self._trainer: Trainer | None = None
        self._tracker: EnergyTracker | None = None
        self._output_dir: Path | None = None
        self._train_report: Report | None = None
        self._reports: list[Report] = []
        self._from_state = False
        self._tokens_seen = 0
        self._pending_tokens: Any = None
        self._last_log: tuple[float, float] = (0.0, 0.0)  # (duration_s, energy_j)
        self._busy = False
        # this process writes the run's files (and counts the trainer's job-wide tokens)
        self._lead = False

    # -- results ---------------------------------------------------------------------

    @property
    def report(self) -> Report:
        """The latest training run's report (after ``trainer.train()``)."""
        if self._train_report is None:
            raise TrackerStateError("EnergyCallback.report is ready once trainer.train() ends")
        return self._train_report

    @property
    def reports(self) -> tuple[Report, ...]:
        """Every report made so far, in order."""
        return tuple(self._reports)

    # -- Trainer hooks ---------------------------------------------------------------

    def on_init_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self._attach(_calling_trainer())

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self._attach(_calling_trainer())
        if not self._measures(state.is_local_process_zero):
            return
        if self._tracker is not None and self._tracker.running:  # a run that never ended
            self._finish("train", self._tracker.stop())
        self._lead = self._leads(state.is_local_process_zero, state.is_world_process_zero)
        self._output_dir = _output_dir(args)
        self._from_state = args.include_num_input_tokens_seen not in ("no", False, None)
        self._tokens_seen = int(state.num_input_tokens_seen or 0)
        self._pending_tokens = None
        self._flops = StepFlops()
        self._precision = _precision(args)
        if (self._count_flops or not self._from_state) and self._trainer is not None:
            _wrap(self._trainer, "training_step", self._count_batch)
        self._tracker = self._start("train", self._options.get("log", _NOT_GIVEN))

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        tracker = self._tracker
        if tracker is None or not tracker.running:
            return
        tokens: int | None
        if self._from_state:
            seen = int(state.num_input_tokens_seen)
            tokens, self._tokens_seen = seen - self._tokens_seen, seen
            tokens = tokens if self._lead else None  # every process's: counted once
        else:
            pending, self._pending_tokens = self._pending_tokens, None
            tokens = None if pending is None else int(pending)  # one device sync per step
        tracker.step(1, tokens=tokens, flops=self._flops.take() if self._count_flops else None)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        tracker = self._tracker
        if logs is None or tracker is None or not tracker.running:
            return
        figures = self._figures(tracker, tracker.snapshot())
        history = state.log_history
        if history and set(history[-1]) == {*logs, "step"}:
            history[-1].update(figures)  # Trainer.log stored a copy of logs before this hook
        logs.update(figures)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        tracker = self._tracker
        self._unwrap_step()
        if tracker is not None and tracker.running:
            self._finish("train", tracker.stop())

    # -- measuring -------------------------------------------------------------------

    def _measures(self, local_zero: bool) -> bool:
        """Whether this process measures: every process (a job's tracker keeps each
        device once), or with ``distributed=None`` the local main process only."""
        return local_zero or not self._per_node

    def _leads(self, local_zero: bool, world_zero: bool) -> bool:
        """Whether this process writes the files: the world main process (the one whose
        report is the job's), or with ``distributed=None`` each node's measuring one."""
        return local_zero if self._per_node else world_zero

    def _start(self, kind: str, log_file: object) -> EnergyTracker:
        """A started tracker for a ``kind`` run; the log in ``output_dir`` unless given."""
        options: dict[str, Any] = {"name": kind, **self._options}
        options.pop("log", None)
        if kind == "train":
            options.setdefault("precision", self._precision)
            if self._count_flops:
                options["flops_method"] = "counted"
        if log_file is not _NOT_GIVEN:
            options["log"] = log_file
        elif self._write_files and self._lead and self._output_dir is not None:
            self._output_dir.mkdir(parents=True, exist_ok=True)
            options["log"] = self._output_dir / f"{FILE_PREFIX}-{kind}.jsonl"
        self._last_log = (0.0, 0.0)
        return EnergyTracker(TrackerSettings.of(**options)).start()

    def _finish(self, kind: str, report: Report) -> None:
        """Keep ``report`` and write it (JSON, Markdown) into ``output_dir``."""
        self._reports.append(report)
        if kind == "train":
            self._train_report = report
        if self._write_files and self._lead and self._output_dir is not None:
            base = self._output_dir / f"{FILE_PREFIX}-{kind}-report"
            self._output_dir.mkdir(parents=True, exist_ok=True)
            base.with_suffix(".json").write_text(report.to_json(), encoding="utf-8")
            base.with_suffix(".md").write_text(report.to_markdown(), encoding="utf-8")

    def _figures(self, tracker: EnergyTracker, report: Report) -> dict[str, float]:
        """The figures each log gets: energy so far, power since the previous log; in a
        job, the sums over its processes."""
        power_w = None
        then_s, then_j = self._last_log
        if report.duration_s > then_s:
            power_w = (report.energy_j - then_j) / (report.duration_s - then_s)
            self._last_log = (report.duration_s, report.energy_j)
        trainer = self._trainer
        if tracker.job is None or trainer is None:
            return logged_figures(report, power_w)
        accelerator, device = trainer.accelerator, trainer.args.device
        return logged_figures(
            report,
            power_w,
            reduce=lambda row: accelerator.reduce(row.to(device), reduction="sum"),
            ranks=trainer.args.world_size,
        )

    def _count_batch(self, step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Around ``training_step(model, inputs, ...)``: add up the batch's tokens (unless
        the trainer counts them) and, with ``count_flops``, its FLOPs."""
        if not self._from_state:
            inputs = args[1] if len(args) > 1 else kwargs.get("inputs")
            tokens = _batch_tokens(inputs)
            if tokens is not None:
                pending = self._pending_tokens
                self._pending_tokens = tokens if pending is None else pending + tokens
        if self._count_flops:
            return self._flops.around(step, *args, **kwargs)
        return step(*args, **kwargs)

    def _in_window(self, kind: str, run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Around ``evaluate``/``predict``: a window of the training run, or (outside
        training) a measurement of its own."""
        trainer = self._trainer
        if self._busy or trainer is None or not self._measures(trainer.is_local_process_zero()):
            return run(*args, **kwargs)  # nested (one call per eval dataset) or not measuring
        self._busy = True
        try:
            training = self._tracker
            if training is not None and training.running:
                with training.window(kind):
                    return run(*args, **kwargs)
            self._lead = self._leads(
                trainer.is_local_process_zero(), trainer.is_world_process_zero()
            )
            self._output_dir = _output_dir(trainer.args)
            self._tracker = self._start(kind, _NOT_GIVEN)
            try:
                with self._tracker.window(kind):
                    return run(*args, **kwargs)
            finally:
                self._finish(kind, self._tracker.stop())
        finally:
            self._busy = False

    def _train(self, run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Around ``train``: a run that fails still ends its measurement and report."""
        try:
            return run(*args, **kwargs)
        except BaseException as err:
            self._unwrap_step()
            tracker = self._tracker
            if tracker is not None and tracker.running:
                tracker.__exit__(type(err), err, err.__traceback__)
                self._finish("train", tracker.report)
            raise

    def _unwrap_step(self) -> None:
        if self._trainer is not None:
            self._trainer.__dict__.pop("training_step", None)  # back to the class's method

    def _attach(self, trainer: Trainer | None) -> None:
        """Wrap ``trainer``'s entry points and run ahead of its ``report_to`` callbacks."""
        if trainer is None:
            if self._trainer is None:
                log.warning(
                    "nlpfootprint: EnergyCallback could not find its Trainer: evaluation is "
                    "not measured apart and report_to callbacks before it miss the figures"
                )
            return
        if trainer is self._trainer:
            return
        self._trainer = trainer
        _wrap(trainer, "evaluate", functools.partial(self._in_window, "eval"))
        _wrap(trainer, "predict", functools.partial(self._in_window, "predict"))
        _wrap(trainer, "train", self._train)
        _move_ahead(trainer.callback_handler.callbacks, self)


_NOT_GIVEN = object()


def _calling_trainer() -> Trainer | None:
    """The ``Trainer`` whose method called the current hook (it is not passed to hooks)."""
    frame = inspect.currentframe()
    try:
        for _ in range(_FRAMES):
            frame = frame.f_back if frame is not None else None
            if frame is None:
                return None
            owner = frame.f_locals.get("self")
            if isinstance(owner, Trainer):
                return owner
        return None
    finally:
        del frame


def _wrap(trainer: Trainer, name: str, around: Callable[..., Any]) -> None:
    """Make ``trainer.name(...)`` call ``around(original, ...)`` on this instance only."""
    original = getattr(trainer, name)

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return around(original, *args, **kwargs)

    setattr(trainer, name, wrapped)


def _move_ahead(callbacks: list[Any], callback: EnergyCallback) -> None:
    """Put ``callback`` right after the DefaultFlowCallback, ahead of the ``report_to``
    callbacks. Moving an item forward keeps the ones after it in place, so a hook that is
    iterating the list goes on correctly."""
    where = next((i for i, cb in enumerate(callbacks) if cb is callback), None)
    flow = [i for i, cb in enumerate(callbacks) if isinstance(cb, DefaultFlowCallback)]
    to = flow[-1] + 1 if flow else 0
    if where is not None and to < where:
        callbacks.insert(to, callbacks.pop(where))


def _batch_tokens(inputs: object) -> Any:
    """A batch's tokens: its attention mask's sum (a tensor, not synced), else the size
    of its ``input_ids``, else None."""
    if not isinstance(inputs, Mapping):
        return None
    mask = inputs.get("attention_mask")
    if mask is not None and hasattr(mask, "sum"):
        return mask.sum()
    ids = inputs.get("input_ids")
    return ids.numel() if ids is not None and hasattr(ids, "numel") else None


def _precision(args: TrainingArguments) -> Precision | None:
    """The number format the training's matrix products run in, from its arguments."""
    if getattr(args, "bf16", False):
        return "bf16"
    if getattr(args, "fp16", False):
        return "fp16"
    if getattr(args, "tf32", None):
        return "tf32"
    return float32_precision()


def _output_dir(args: TrainingArguments) -> Path | None:
    out = getattr(args, "output_dir", None)
    return None if out is None else Path(os.fspath(out))
