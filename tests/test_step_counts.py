"""tracker.step() takes any integral count -- ints, numpy integers, 0-d integer tensors --
and refuses floats and many-element arrays with an error that says what to do."""

from __future__ import annotations

import numpy as np
import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationTypeError
from nlpfootprint.testing import FakeClock, FakeMeter


def tracker() -> nf.EnergyTracker:
    return nf.track_energy(meters=[FakeMeter.constant(100.0)], clock=FakeClock())


def test_numpy_integers_and_zero_d_tensors_count() -> None:
    torch = pytest.importorskip("torch")
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    with tracker() as t:
        t.step(np.int64(2), tokens=np.int64(512))
        t.step(torch.tensor(1), tokens=mask.sum())
    assert (t.report.steps, t.report.tokens) == (3, 517)


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (np.array([1, 2, 3]), "got ndarray of 3 elements (sum it first"),
        (2.0, "expected a whole number of tokens, got float"),
        (np.float64(2.0), "got float64 of dtype float64"),
    ],
)
def test_floats_and_many_element_arrays_are_refused_saying_why(
    tokens: object, message: str
) -> None:
    with tracker() as t, pytest.raises(ConfigurationTypeError) as caught:
        t.step(1, tokens=tokens)
    assert message in str(caught.value)


def test_many_element_and_float_tensors_are_refused_saying_why() -> None:
    torch = pytest.importorskip("torch")
    with tracker() as t:
        with pytest.raises(ConfigurationTypeError, match="got Tensor of 2 elements"):
            t.step(1, tokens=torch.tensor([1, 2]))
        with pytest.raises(ConfigurationTypeError, match=r"of dtype torch\.float32"):
            t.step(1, tokens=torch.tensor(1.5))
    assert t.report.tokens == 0
