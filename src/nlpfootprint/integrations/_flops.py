"""What the training callbacks share for FLOPs: one step counted, then every step given
that count (``count_flops=True``), and the precision a trainer's matrix products run in.

The first training step is run under PyTorch's ``FlopCounterMode`` (forward and backward:
every matrix product and convolution it dispatches); each later step is taken to cost the
same, so the report's FLOPs are that count times the steps (``flops_method="counted"``).
Steps of one shape make the same operations; a last, shorter batch is counted as a full
one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from nlpfootprint.flops import counted_call
from nlpfootprint.peaks import Precision

__all__ = ["StepFlops", "float32_precision"]

R = TypeVar("R")


class StepFlops:
    """The FLOPs of the first step, counted once, then added for every step.

    Use :meth:`around` to run a step function (counted the first time), or :meth:`begin`
    and :meth:`end` around a step made of several calls (the counter stays open between
    them); :meth:`take` hands over what was added since it was last called.
    """

    def __init__(self) -> None:
        #: The first step's count (None until it is known).
        self.per_step: int | None = None
        self._pending = 0.0
        self._counter: Any = None  # an open FlopCounterMode

    def around(self, step: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``step(*args, **kwargs)``, counted when it is the first; its FLOPs added."""
        if self.per_step is None:
            result, self.per_step = counted_call(step, *args, **kwargs)
        else:
            result = step(*args, **kwargs)
        self._pending += self.per_step
        return result

    def begin(self) -> None:
        """A step begins: open the counter if no step was counted yet."""
        if self.per_step is None and self._counter is None:
            from torch.utils.flop_counter import FlopCounterMode

            counter = FlopCounterMode(display=False)
            counter.__enter__()  # type: ignore[no-untyped-call]
            self._counter = counter

    def end(self) -> None:
        """The step ended: close the counter (its count is the step's); add its FLOPs."""
        counter, self._counter = self._counter, None
        if counter is not None:
            counter.__exit__(None, None, None)
            self.per_step = int(counter.get_total_flops())
        if self.per_step is not None:
            self._pending += self.per_step

    def close(self) -> None:
        """Close a counter left open (a step that raised), counting nothing."""
        counter, self._counter = self._counter, None
        if counter is not None:
            counter.__exit__(None, None, None)

    def take(self) -> float | None:
        """The FLOPs added since the last call (None when none were)."""
        pending, self._pending = self._pending, 0.0
        return pending if pending or self.per_step is not None else None


def float32_precision() -> Precision:
    """What float32 matrix products run in on this PyTorch: ``tf32`` when it lets them use
    TF32 tensor cores (``torch.set_float32_matmul_precision("high")`` or ``"medium"``, or
    ``torch.backends.cuda.matmul.allow_tf32``), else ``fp32``."""
    import torch

    with warnings.catch_warnings():  # a setting read, not used: no deprecation to show
        warnings.simplefilter("ignore")
        tf32 = torch.get_float32_matmul_precision() != "highest" or bool(
            torch.backends.cuda.matmul.allow_tf32
        )
    return "tf32" if tf32 else "fp32"
