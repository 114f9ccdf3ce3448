"""The demo job: train a small character-level language model and measure what it cost.

The model is the neural probabilistic language model of Bengio et al. (2003) at toy scale:
the previous few characters are embedded, concatenated, passed through one tanh layer and
a softmax over the vocabulary. It is written in plain numpy (forward pass, backward pass
and Adam by hand), so the demo needs nothing beyond the library's own dependencies.

The text is already on every machine: the docstrings of a fixed list of standard-library
modules. One block in ten is held out for validation.

>>> from nlpfootprint.demo import run_demo
>>> result = run_demo(seconds=15)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import inspect
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Unpack

import attrs
import numpy as np
import numpy.typing as npt

from nlpfootprint.checks import positive
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.report import Report
from nlpfootprint.settings import TrackerOptions
from nlpfootprint.tracker import EnergyTracker, track_energy

__all__ = [
    "CORPUS_MODULES",
    "Adam",
    "CharCorpus",
    "CharMLP",
    "DemoResult",
    "load_corpus",
    "run_demo",
]

Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

_MODULE_NAMES = """
    builtins collections itertools functools operator json csv re string textwrap difflib
    pathlib os shutil io argparse logging typing dataclasses enum abc contextlib datetime
    calendar math statistics random fractions decimal heapq bisect copy pprint
"""
#: The standard-library modules whose docstrings make the training text, in order.
CORPUS_MODULES: tuple[str, ...] = tuple(_MODULE_NAMES.split())
_PROMPT = "Return the "  # the generated sample continues this text
_RUN_NAME = "demo: char-MLP language model"  # the report's name, unless name= is given
_BLOCK_CHARS = 256  # the text is cut into blocks of this size; every 10th is validation


def _docstrings(modules: Sequence[str]) -> Iterator[str]:
    """Each module's docstring, then its public classes' and functions' (sorted by name)."""
    for module_name in modules:
        module = importlib.import_module(module_name)
        yield inspect.getdoc(module) or ""
        names = getattr(module, "__all__", None) or [n for n in dir(module) if n[0] != "_"]
        for name in sorted(names):
            member = getattr(module, name, None)
            if inspect.isclass(member) or inspect.isroutine(member):
                yield inspect.getdoc(member) or ""


@attrs.frozen
class CharCorpus:
    """Training and validation text, encoded as integer ids over a shared vocabulary.

    Attributes:
        vocab: The characters, sorted; a character's id is its index here.
        train: Ids of the training text.
        val: Ids of the held-out text.
    """

    vocab: str
    train: IntArray
    val: IntArray

    def encode(self, text: str) -> IntArray:
        """Ids of ``text`` (every character must be in the vocabulary)."""
        return _encode(self.vocab, text)

    def decode(self, ids: Sequence[int] | IntArray) -> str:
        """The text of ``ids``."""
        return "".join(self.vocab[int(i)] for i in ids)


def load_corpus(modules: Sequence[str] = CORPUS_MODULES) -> CharCorpus:
    """Gather the modules' docstrings (duplicates once) and hold out every 10th block."""
    text = "\n\n".join(dict.fromkeys(d for d in _docstrings(modules) if d))
    blocks = [text[i : i + _BLOCK_CHARS] for i in range(0, len(text), _BLOCK_CHARS)]
    vocab = "".join(sorted(set(text)))
    train = "".join(b for i, b in enumerate(blocks) if i % 10 != 9)
    return CharCorpus(vocab, _encode(vocab, train), _encode(vocab, "".join(blocks[9::10])))


def _encode(vocab: str, text: str) -> IntArray:
    index = {c: i for i, c in enumerate(vocab)}
    return np.array([index[c] for c in text], dtype=np.int64)


def windows(ids: IntArray, starts: IntArray, context: int) -> tuple[IntArray, IntArray]:
    """Inputs (``context`` ids from each start) and targets (the id that follows)."""
    return ids[starts[:, None] + np.arange(context)], ids[starts + context]


class CharMLP:
    """Embed ``context`` characters, one tanh hidden layer, softmax over the vocabulary.

    Args:
        vocab_size: Number of distinct characters.
        rng: Source of the initial weights.
        context: How many previous characters the model sees.
        embed_dim: Size of each character's embedding.
        hidden: Width of the tanh layer.
    """

    def __init__(
        self,
        vocab_size: int,
        rng: np.random.Generator,
        *,
        context: int = 6,
        embed_dim: int = 16,
        hidden: int = 192,
    ) -> None:
        self.context = context
        fan_in = context * embed_dim
        init = {
            "emb": rng.normal(0.0, 1.0, (vocab_size, embed_dim)),
            "w1": rng.normal(0.0, 1.0, (fan_in, hidden)) * (5 / 3) / math.sqrt(fan_in),
            "b1": np.zeros(hidden),
            "w2": rng.normal(0.0, 1.0, (hidden, vocab_size)) * 0.01,
            "b2": np.zeros(vocab_size),
        }
        self.params: dict[str, Array] = {k: v.astype(np.float32) for k, v in init.items()}

    def _forward(self, x: IntArray) -> tuple[Array, Array, Array]:
        p = self.params
        e = p["emb"][x].reshape(len(x), -1)
        h = np.tanh(e @ p["w1"] + p["b1"])
        return e, h, h @ p["w2"] + p["b2"]

    @staticmethod
    def _log_softmax(logits: Array) -> Array:
        shifted: Array = logits - logits.max(axis=1, keepdims=True)
        log_norm: Array = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return shifted - log_norm

    def loss(self, x: IntArray, y: IntArray) -> float:
        """Mean cross-entropy (nats per character) of predicting ``y`` from ``x``."""
        logp = self._log_softmax(self._forward(x)[2])
        return float(-logp[np.arange(len(y)), y].mean())

    def loss_and_grads(self, x: IntArray, y: IntArray) -> tuple[float, dict[str, Array]]:
        """The mean cross-entropy and its gradient for every parameter."""
        p = self.params
        e, h, logits = self._forward(x)
        logp = self._log_softmax(logits)
        rows = np.arange(len(y))
        d_logits = np.exp(logp)
        d_logits[rows, y] -= 1.0
        d_logits /= len(y)
        d_pre = (d_logits @ p["w2"].T) * (1.0 - h * h)
        d_emb = np.zeros_like(p["emb"])
        np.add.at(d_emb, x.ravel(), (d_pre @ p["w1"].T).reshape(x.size, -1))
        grads = {
            "emb": d_emb,
            "w1": e.T @ d_pre,
            "b1": d_pre.sum(axis=0),
            "w2": h.T @ d_logits,
            "b2": d_logits.sum(axis=0),
        }
        return float(-logp[rows, y].mean()), grads

    def generate(
        self, prompt: IntArray, length: int, rng: np.random.Generator, temperature: float = 1.0
    ) -> list[int]:
        """Sample ``length`` ids after ``prompt`` (>= ``context`` ids); cooler below 1.0."""
        ids = [int(i) for i in prompt[-self.context :]]
        out: list[int] = []
        for _ in range(length):
            x = np.array([ids[-self.context :]], dtype=np.int64)
            probs = np.exp(self._log_softmax(self._forward(x)[2] / temperature)[0])
            out.append(int(rng.choice(len(probs), p=probs / probs.sum())))
            ids.append(out[-1])
        return out


class Adam:
    """Adam (Kingma & Ba, 2015) over a dict of numpy parameters, updated in place.

    Args:
        params: The parameters to update.
        lr: Step size.
        eps: Added to the denominator for stability.
    """

    def __init__(self, params: dict[str, Array], *, lr: float = 3e-3, eps: float = 1e-8) -> None:
        self.params, self.lr, self.eps, self.betas = params, lr, eps, (0.9, 0.999)
        self._m = {k: np.zeros_like(v) for k, v in params.items()}
        self._v = {k: np.zeros_like(v) for k, v in params.items()}
        self._t = 0

    def update(self, grads: dict[str, Array]) -> None:
        """Take one step against ``grads``."""
        self._t += 1
        b1, b2 = self.betas
        scale = self.lr * math.sqrt(1 - b2**self._t) / (1 - b1**self._t)
        for k, g in grads.items():
            self._m[k] = b1 * self._m[k] + (1 - b1) * g
            self._v[k] = b2 * self._v[k] + (1 - b2) * g * g
            self.params[k] -= scale * self._m[k] / (np.sqrt(self._v[k]) + self.eps)


@attrs.frozen
class DemoResult:
    """What :func:`run_demo` returns.

    Attributes:
        report: The energy report of the run.
        train_losses: ``(step, loss)`` on a fixed sample of training text at each eval.
        val_losses: ``(step, loss)`` on held-out text (up to 8,192 windows) at each eval.
        steps: Training steps taken.
        sample_text: Text generated by the trained model.
    """

    report: Report
    train_losses: list[tuple[int, float]]
    val_losses: list[tuple[int, float]]
    steps: int
    sample_text: str


@attrs.frozen
class _Schedule:
    """When training stops and when it is evaluated (see :func:`_schedule`)."""

    budget_s: float
    step_budget: float
    batch_size: int
    eval_every: int | None
    eval_period_s: float


def _schedule(
    seconds: float | None, max_steps: int | None, batch_size: int, eval_every: int | None
) -> _Schedule:
    """Check the budget arguments; return time and step budgets and the eval schedule."""
    if seconds is None and max_steps is None:
        raise ConfigurationError("give seconds= or max_steps= (or both): the demo must stop")
    budget_s = math.inf if seconds is None else positive("seconds", seconds)
    checks = {"max_steps": max_steps, "batch_size": batch_size, "eval_every": eval_every}
    for name, value in checks.items():
        if value is not None and (type(value) is not int or value < 1):  # bool is refused
            raise ConfigurationError(f"{name}={value!r}: expected a whole number >= 1")
    step_budget = math.inf if max_steps is None else max_steps
    eval_period_s = budget_s / 10 if eval_every is None and seconds is not None else math.inf
    if eval_every is None and seconds is None:
        eval_every = 100
    return _Schedule(budget_s, step_budget, batch_size, eval_every, eval_period_s)


@attrs.define
class _Training:
    """The demo's model, optimizer and data, and the ``(step, loss)`` pairs of each eval."""

    corpus: CharCorpus
    model: CharMLP
    optimizer: Adam
    rng: np.random.Generator  # draws the minibatches and the sample
    probe: tuple[IntArray, IntArray]  # fixed training windows, for the train loss
    val: tuple[IntArray, IntArray]  # held-out windows, for the validation loss
    out: Callable[[str], None]  # where each eval's line is written
    train_losses: list[tuple[int, float]] = attrs.field(factory=list)
    val_losses: list[tuple[int, float]] = attrs.field(factory=list)
    started_at: float = 0.0  # time.monotonic() when training started

    @classmethod
    def prepare(cls, corpus: CharCorpus, seed: int, out: Callable[[str], None]) -> _Training:
        """A fresh model on ``corpus``, with the evaluation windows drawn (all from ``seed``)."""
        rng = np.random.default_rng(seed)
        model = CharMLP(len(corpus.vocab), rng)
        optimizer = Adam(model.params, lr=5e-3)
        ctx = model.context
        n_train = len(corpus.train) - ctx
        n_val = len(corpus.val) - ctx
        val = windows(corpus.val, rng.choice(n_val, min(n_val, 8192), replace=False), ctx)
        probe = rng.choice(n_train, size=min(n_train, 4096), replace=False)
        return cls(corpus, model, optimizer, rng, windows(corpus.train, probe, ctx), val, out)

    def evaluate(self, tracker: EnergyTracker, step: int) -> None:
        """Record both losses (inside an ``"eval"`` window) and write a line about them."""
        with tracker.window("eval"):
            self.train_losses.append((step, self.model.loss(*self.probe)))
            self.val_losses.append((step, self.model.loss(*self.val)))
        self.out(
            f"step {step:>6}  train loss {self.train_losses[-1][1]:.3f}  "
            f"val loss {self.val_losses[-1][1]:.3f}  {time.monotonic() - self.started_at:6.1f} s"
        )

    def train(self, tracker: EnergyTracker, schedule: _Schedule) -> int:
        """Train until a budget runs out, evaluating on ``schedule``; return the steps taken.

        The loss is evaluated at step 0, on the schedule and at the last step.
        """
        corpus, ctx, batch_size = self.corpus, self.model.context, schedule.batch_size
        n_train = len(corpus.train) - ctx
        self.started_at = time.monotonic()
        self.evaluate(tracker, 0)
        step = 0
        next_eval_s = schedule.eval_period_s
        while (
            step < schedule.step_budget and time.monotonic() - self.started_at < schedule.budget_s
        ):
            x, y = windows(corpus.train, self.rng.integers(0, n_train, size=batch_size), ctx)
            _, grads = self.model.loss_and_grads(x, y)
            self.optimizer.update(grads)
            step += 1
            tracker.step(tokens=batch_size)
            if schedule.eval_every is not None and step % schedule.eval_every == 0:
                self.evaluate(tracker, step)
            elif time.monotonic() - self.started_at >= next_eval_s:
                self.evaluate(tracker, step)
                next_eval_s += schedule.eval_period_s
        if self.val_losses[-1][0] != step:
            self.evaluate(tracker, step)
        return step

    def sample(self) -> str:
        """Text generated by the model after :data:`_PROMPT` (the prompt included)."""
        prompt = self.corpus.encode(_PROMPT)
        generated = self.model.generate(prompt, 200, self.rng, temperature=0.8)
        return _PROMPT + self.corpus.decode(generated)


def run_demo(
    *,
    seconds: float | None = 20.0,
    max_steps: int | None = None,
    seed: int = 0,
    batch_size: int = 256,
    eval_every: int | None = None,
    out: Callable[[str], None] = print,
    **tracking: Unpack[TrackerOptions],
) -> DemoResult:
    """Train the char-MLP language model under :func:`~nlpfootprint.track_energy`.

    Training stops after ``seconds`` of wall time or ``max_steps`` steps, whichever comes
    first. The loss is evaluated (inside an ``"eval"`` window) at step 0, every
    ``eval_every`` steps (by default: every tenth of the ``seconds`` budget, or every 100
    steps without one) and at the end; one line per eval goes to ``out``, then a sample of
    generated text, then the report.

    Args:
        seconds: Wall-time budget for training, or None for no limit.
        max_steps: Step budget, or None for no limit.
        seed: Seeds the weights, the minibatches and the sample (same seed and
            ``max_steps``: same losses).
        batch_size: Characters predicted per step (counted as the step's tokens).
        eval_every: Steps between evaluations (default: ten evaluations over ``seconds``).
        out: Where the progress lines and the report are written.
        **tracking: The options of :func:`~nlpfootprint.track_energy` (``meters``,
            ``interval_s``, ``pue``, ``carbon_intensity``, ``price_per_kwh``, ``clock``,
            ``log``, ...), passed on to it. Here ``interval_s`` defaults to 0.5 and ``name``
            to ``"demo: char-MLP language model"``. A ``clock`` is the tracker's only: the
            training budget always uses :func:`time.monotonic`.

    Raises:
        ConfigurationError: Neither ``seconds`` nor ``max_steps`` is given, an argument is
            out of range, or a tracking option is unknown or invalid.
    """
    schedule = _schedule(seconds, max_steps, batch_size, eval_every)
    corpus = load_corpus()
    training = _Training.prepare(corpus, seed, out)
    out(
        f"char-MLP LM: {len(corpus.vocab)} characters, {len(corpus.train):,} train / "
        f"{len(corpus.val):,} val; chance level ln(vocab) = {math.log(len(corpus.vocab)):.3f}"
    )
    options: TrackerOptions = {"interval_s": 0.5, "name": _RUN_NAME, **tracking}
    with track_energy(**options) as tracker:
        step = training.train(tracker, schedule)
        with tracker.window("sample"):
            sample = training.sample()
    out(f"\nsample from the model:\n{sample}\n")
    out(str(tracker.report))
    return DemoResult(tracker.report, training.train_losses, training.val_losses, step, sample)
