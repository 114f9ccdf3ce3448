"""Floating-point operations of training: the standard estimate and a measured count.

:func:`training_flops` is the estimate of Kaplan et al. (2020), "Scaling Laws for Neural
Language Models" (arXiv:2001.08361), section 2.1: a dense transformer of ``N``
non-embedding parameters does about ``2N`` operations per token in the forward pass and
twice that in the backward pass, so training on ``D`` tokens costs ``C = 6 N D``. With the
model's shape it adds the attention term Kaplan et al. keep apart, ``2 n_layer n_ctx
d_attn`` per token forward, so ``6 n_layer n_ctx d_model`` per token in training.

:func:`count_step_flops` counts the operations one call really makes, with PyTorch's
``torch.utils.flop_counter.FlopCounterMode``: every matrix product and convolution it
dispatches (``2 M N K`` per ``M x K`` by ``K x N`` product), forward and backward where the
call does both. It counts no elementwise work (activations, norms, the optimizer's
update), as the 6ND estimate does not.

A FLOP here is one floating-point operation: a multiply-add is two. Both figures are what
the model needs (model FLOPs), not what the hardware did (activation recomputation runs
parts of the forward pass twice; see ``docs/efficiency.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from nlpfootprint.checks import MAX_FLOPS, flops_value
from nlpfootprint.errors import ConfigurationError

__all__ = [
    "FLOPS_METHODS",
    "FlopsMethod",
    "count_step_flops",
    "counted_call",
    "training_flops",
]

R = TypeVar("R")

#: How a report's FLOPs were obtained: ``given`` (``tracker.step(flops=...)``, where from
#: is the caller's to say), ``counted`` (FlopCounterMode on the first training step, times
#: the steps: the training callbacks' ``count_flops=True``), ``estimated`` (``6 N D``,
#: :func:`training_flops`).
FlopsMethod = Literal["given", "counted", "estimated"]
FLOPS_METHODS: tuple[FlopsMethod, ...] = ("given", "counted", "estimated")


def _count(name: str, value: object) -> float:
    return flops_value(name, value, maximum=MAX_FLOPS)


def training_flops(
    parameters: float,
    tokens: float,
    *,
    layers: int | None = None,
    context: int | None = None,
    d_model: int | None = None,
) -> float:
    """The floating-point operations of training a transformer, Kaplan et al. (2020):
    ``6 x parameters x tokens``, plus ``6 x layers x context x d_model x tokens`` for
    attention when the model's shape is given.

    Kaplan et al., "Scaling Laws for Neural Language Models" (arXiv:2001.08361), eq. 2.1
    and Table 1: the forward pass costs ``C_forward = 2N + 2 n_layer n_ctx d_attn`` per
    token, the backward pass twice that, so ``C = 6N`` per token where the context term is
    small (``d_model > n_ctx / 12``). ``N`` counts the non-embedding parameters; counting
    all of them errs a little high for a small model with a large vocabulary.

    Args:
        parameters: The model's (non-embedding) parameters, ``N``.
        tokens: The tokens trained on, ``D`` (every epoch's).
        layers: ``n_layer``, for the attention term (give all three or none).
        context: ``n_ctx``, the tokens each sequence attends over.
        d_model: The width of the attention (``d_attn``, usually ``d_model``).

    Returns:
        FLOPs as a float (they pass 2**53 easily: 6 x 7e9 x 1e12 = 4.2e22).

    Raises:
        ConfigurationError: A number is negative, not finite or implausibly large, or
            only some of ``layers``, ``context`` and ``d_model`` are given.
        ConfigurationTypeError: A number is not a number.

    >>> training_flops(124e6, 1e9)    # GPT-2 small's 124 M parameters on a billion tokens
    7.44e+17
    >>> round(training_flops(124e6, 1e9, layers=12, context=1024, d_model=768) / 7.44e17, 4)
    1.0761
    """
    n = _count("parameters", parameters)
    d = _count("tokens", tokens)
    shape = {"layers": layers, "context": context, "d_model": d_model}
    given = [k for k, v in shape.items() if v is not None]
    total = 6.0 * n * d
    if given and len(given) < len(shape):
        missing = ", ".join(k for k in shape if k not in given)
        raise ConfigurationError(
            f"training_flops(): the attention term needs layers, context and d_model; "
            f"{missing} not given (give all three, or none for 6 N D)"
        )
    if given:
        per_token = 6.0
        for name, value in shape.items():
            per_token *= _count(name, value)
        total += per_token * d
    return _count("training_flops", total)


def counted_call(fn: Callable[..., R], *args: Any, **kwargs: Any) -> tuple[R, int]:
    """``fn(*args, **kwargs)`` run under ``FlopCounterMode``: its result and the FLOPs it
    dispatched (what :func:`count_step_flops` gives)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        result = fn(*args, **kwargs)
    return result, int(counter.get_total_flops())


def count_step_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """The floating-point operations of one call ``fn(*args, **kwargs)``, counted by
    PyTorch's ``torch.utils.flop_counter.FlopCounterMode`` (``2 M N K`` per matrix
    product; forward and backward when ``fn`` runs both). Needs ``torch``.

    Call it on one training step and multiply by the steps (the training callbacks'
    ``count_flops=True`` does so): steps of one shape make the same operations. The call
    really runs (its effects, an optimizer's update included, take place).

    Example (one forward product of a 3 x 8 batch by an 8 x 4 weight: 2 x 3 x 8 x 4)::

        layer = torch.nn.Linear(8, 4)
        count_step_flops(layer, torch.ones(3, 8))  # 192
    """
    return counted_call(fn, *args, **kwargs)[1]
