"""The documentation's examples run as written, so that the pages cannot drift from the code.

The rules, page by page (every ``docs/*.md`` but those in ``RUN_ELSEWHERE``):

- The page's ```` ```python ```` blocks run in page order, in one namespace per page, in a
  temporary working directory, with the page's ``$ nlpfootprint ...`` console lines run in
  the same order between them (a later block may read a log an earlier command wrote).
- No hardware is read. ``meters="auto"`` (the default) gets one 100 W fake GPU
  (:class:`~nlpfootprint.testing.FakeMeter`): ``nlpfootprint.meters.discovery.detect`` is
  replaced for the test; blocks that pass their own meters keep them. Console commands
  run in a real subprocess, ``python -m nlpfootprint ...`` through ``bash`` (so that globs
  expand), with ``NLPFOOTPRINT_DISABLE=nvml,rapl``: they read no counter, only estimates.
- The names a reader supplies (``loader``, ``train_step``, ``model``, ...) come from the
  page's preamble in ``PREAMBLES``: stand-ins defined before the first block runs. A
  preamble may also write files the page takes as given (a ``train.py``, job logs).
- A block right after ``<!-- not run: REASON -->`` (blank lines between are allowed) is
  not run. A marker without a reason, or with no block after it, fails the test.
- A console line (``$ ...``, with ``\\`` continuation lines) runs when it is ``nlpfootprint
  SUBCOMMAND ...`` with SUBCOMMAND one of ``report``, ``advise``, ``estimate``, ``regions``
  and ``meters``, or ``run`` when the command after ``--`` is ``python FILE`` and the preamble
  wrote FILE; one with ``--plot`` runs only where matplotlib is installed. Other lines
  (``pip``, ``python``, ``torchrun``, ``srun``, ``nlpfootprint demo``) and printed output
  are not run. A command that runs must exit with status 0; its output is not compared
  (the printed samples are real outputs of other machines).
- A top-level expression whose comment starts with a number or a quoted string
  (``report.co2e_kg   # 35.06``) must give that value, at the precision shown.
- The test functions a page defines (``def test_...``) are called, with pytest's fixtures
  (``fake_clock``, ``energy_tracker``, ``tmp_path``, ...) by parameter name.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import nlpfootprint as nf
from helpers import measured_report
from nlpfootprint.meters import discovery
from nlpfootprint.testing import FakeClock, FakeMeter

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: Pages whose examples another test runs, and that test (checked to exist).
RUN_ELSEWHERE = {
    "reproduce-strubell.md": "tests/test_docs.py::test_documentation_page_examples_hold",
    "howto-torch.md": "tests/test_example_torch.py::test_howto_torch_snippet_runs",
    "howto-transformers.md": "tests/test_integration_transformers.py::test_the_howto_snippet_runs",
    "howto-lightning.md": "tests/test_integration_lightning.py::test_the_howto_snippet_runs",
    "howto-notebooks.md": (
        "tests/test_integration_ipython.py::test_the_notebook_how_to_runs_as_written "
        "tests/test_pytest_plugin.py::test_the_plugin_loads_by_name_when_autoloading_is_off"
    ),
}

#: The subcommands a console line may run (``run`` under a further rule, see above).
CHEAP_SUBCOMMANDS = frozenset({"report", "advise", "estimate", "regions", "meters"})

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<lang>[^`\s]*)[^`]*$")
MARKER = re.compile(r"^\s*<!--\s*not run\b(?P<rest>.*?)-->\s*$")
SHOWN_NUMBER = re.compile(r"^#\s*(?P<number>[-+]?\d[\d,]*(?:\.(?P<decimals>\d+))?)(?![\w.])")
SHOWN_STRING = re.compile(r"""^#\s*(?P<string>'[^']*'|"[^"]*")""")
LOG_NAME = re.compile(r"[^\s\"'`(),=]+\.jsonl(?:\.gz)?")


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page."""

    line: int  #: the line of the opening fence (1-based)
    lang: str
    text: str
    not_run: str | None  #: the reason its marker gives; None when unmarked


@dataclass(frozen=True)
class Page:
    """A page's code blocks, and what is wrong with its markers."""

    path: Path
    blocks: tuple[Block, ...]
    problems: tuple[str, ...]


def dedent(line: str, indent: int) -> str:
    """A line of a block whose fence is indented by ``indent`` (in a list, say), dedented."""
    return line[indent:] if line[:indent].strip() == "" else line.lstrip()


def read_page(path: Path) -> Page:
    """The fenced blocks of a MyST page (indented ones too, dedented), with their markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    marker: tuple[int, str] | None = None  # line, reason
    i = 0
    while i < len(lines):
        line = lines[i]
        if found := MARKER.match(line):
            if marker is not None:
                problems.append(f"{path.name}:{marker[0]}: a not-run marker with no block after it")
            rest = found["rest"].strip()
            reason = rest[1:].strip() if rest.startswith(":") else ""
            if not reason:
                problems.append(
                    f"{path.name}:{i + 1}: a not-run marker needs a reason: "
                    "<!-- not run: REASON -->"
                )
            marker = (i + 1, reason)
        elif fence := FENCE.match(line):
            indent, ticks = len(fence["indent"]), fence["ticks"]
            end = i + 1
            while end < len(lines) and lines[end].strip() != ticks:
                end += 1
            body = [dedent(text, indent) for text in lines[i + 1 : end]]
            not_run = None if marker is None else marker[1]
            blocks.append(Block(i + 1, fence["lang"], "\n".join(body) + "\n", not_run))
            marker = None
            i = end
        elif line.strip() and marker is not None:
            problems.append(f"{path.name}:{marker[0]}: a not-run marker with no block after it")
            marker = None
        i += 1
    if marker is not None:
        problems.append(f"{path.name}:{marker[0]}: a not-run marker with no block after it")
    return Page(path, tuple(blocks), tuple(problems))


# -- stand-ins for what the reader supplies -------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """A batch as a reader's loader yields it: token ids, with their count."""

    token_ids: tuple[int, ...]

    @property
    def num_tokens(self) -> int:
        """How many tokens the batch holds."""
        return len(self.token_ids)

    def __len__(self) -> int:
        return len(self.token_ids)


def train_step(batch: object) -> float:
    """A training step that does no work; it returns a loss."""
    return 0.0


def no_work() -> None:
    """An epoch, an evaluation or a training run that does no work."""


class PduClient:
    """A PDU outlet's client: a cumulative energy counter that grows 1 Wh per read."""

    def __init__(self) -> None:
        self.wh = 0.0

    def energy_wh(self, outlet: int) -> float:
        """The outlet's energy so far, in Wh."""
        self.wh += 1.0
        return self.wh

    def close(self) -> None:
        """Nothing to release."""


#: A training script for ``nlpfootprint run -- python train.py`` (it ignores its options).
TRAIN_PY = 'print("training done")\n'


def loader() -> list[Batch]:
    """Ten batches of 64 tokens."""
    return [Batch(tuple(range(64))) for _ in range(10)]


def write_log(path: Path, name: str, *, finished: bool = True) -> None:
    """A run log as a finished (or, without its summary line, a crashed) run leaves it."""
    clock = FakeClock()
    meters = [FakeMeter.constant(300.0, domain="gpu"), FakeMeter.constant(50.0, domain="cpu")]
    with nf.track_energy(meters=meters, clock=clock, log=path, name=name) as tracker:
        for _ in range(5):
            clock.advance(2.0)
            tracker.step(tokens=512)
    if not finished:
        kept = path.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]
        path.write_text("".join(kept), encoding="utf-8")


def getting_started(cwd: Path) -> dict[str, Any]:
    """The loop's ``loader``, ``train_step`` and ``model``, the decorated function's
    ``data``, the windows' ``train_one_epoch`` and ``evaluate``, the meter section's
    ``train``; and the ``train.py`` that ``nlpfootprint run`` runs."""
    (cwd / "train.py").write_text(TRAIN_PY, encoding="utf-8")
    return {
        "loader": loader(),
        "train_step": train_step,
        "model": "a model",
        "data": [[1, 2, 3], [4, 5]],
        "train_one_epoch": no_work,
        "evaluate": no_work,
        "train": no_work,
    }


def index(cwd: Path) -> dict[str, Any]:
    """The loop's ``batches`` and ``train_step``."""
    return {"batches": loader(), "train_step": train_step}


def concepts(cwd: Path) -> dict[str, Any]:
    """A finished ``report`` (two GPUs, a CPU counter, an estimated DRAM, windows)."""
    return {"report": measured_report()}


def meters(cwd: Path) -> dict[str, Any]:
    """The own-meter example's ``pdu_client`` and ``train``."""
    return {"pdu_client": PduClient(), "train": no_work}


def howto_paper(cwd: Path) -> dict[str, Any]:
    """A ``loader`` of torch token-id tensors, ``train_step``, and the ``train.py`` that
    ``nlpfootprint run`` runs (so the run log sections 3 to 6 read exists)."""
    torch = pytest.importorskip("torch")
    (cwd / "train.py").write_text(TRAIN_PY, encoding="utf-8")
    return {"loader": [torch.ones(8, 1024, dtype=torch.long)] * 4, "train_step": train_step}


def howto_cluster(cwd: Path) -> dict[str, Any]:
    """The loop's ``loader``, ``train_step``, ``tokens_in_this_ranks_batch`` and
    ``save_checkpoint``; and the logs the page's jobs left: a crashed one (no summary), a
    job's, two nodes' and three runs'."""
    write_log(cwd / "crash.jsonl", "crash-test", finished=False)
    write_log(cwd / "logs" / "energy-123456.jsonl.gz", "lm-big 123456")
    for node in ("node-a", "node-b"):
        write_log(cwd / "logs" / f"energy-123456-{node}.jsonl.gz", f"lm-big {node}")
    for run in ("lm-8x1024", "term-test", "crash-test"):
        write_log(cwd / "logs" / f"run-{run}.jsonl", run)
    return {
        "loader": loader(),
        "train_step": train_step,
        "tokens_in_this_ranks_batch": 512,
        "save_checkpoint": no_work,
    }


def efficiency(cwd: Path) -> dict[str, Any]:
    """Nothing to stand in for; the page counts a layer's FLOPs with torch."""
    pytest.importorskip("torch")
    return {}


def howto_hourly_carbon(cwd: Path) -> dict[str, Any]:
    """The loop's ``loader`` and ``train_step``."""
    return {"loader": loader(), "train_step": train_step}


#: Per page, the stand-ins defined before its first block (and files written in its folder).
PREAMBLES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "getting-started.md": getting_started,
    "index.md": index,
    "concepts.md": concepts,
    "meters.md": meters,
    "howto-paper.md": howto_paper,
    "howto-cluster.md": howto_cluster,
    "howto-hourly-carbon.md": howto_hourly_carbon,
    "efficiency.md": efficiency,
}


# -- running a page --------------------------------------------------------------------------


def fake_detect(*args: object, **kwargs: object) -> discovery.Detection:
    """What ``meters="auto"`` finds during the test: one 100 W fake GPU."""
    return discovery.Detection(
        meters=(FakeMeter.constant(100.0, domain="gpu"),), used=("fake",), skipped={}
    )


def comments(text: str) -> dict[int, str]:
    """The comments of a block, by line (1-based)."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return {t.start[0]: t.string for t in tokens if t.type == tokenize.COMMENT}


def check_shown_value(where: str, value: object, comment: str) -> None:
    """A value must be the one its comment shows, at the precision shown."""
    if number := SHOWN_NUMBER.match(comment):
        shown = float(number["number"].replace(",", ""))
        tolerance = 0.5 * 10.0 ** -len(number["decimals"] or "") + 1e-12
        not_a_number = f"{where}: the comment shows {shown}, the value is {value!r}"
        assert isinstance(value, int | float), not_a_number
        assert not isinstance(value, bool), not_a_number
        assert abs(value - shown) <= tolerance * (1 + 1e-9), (
            f"{where}: the comment shows {number['number']}, the value is {value!r}"
        )
    elif string := SHOWN_STRING.match(comment):
        assert repr(value) == repr(ast.literal_eval(string["string"])), (
            f"{where}: the comment shows {string['string']}, the value is {value!r}"
        )


def run_python(path: Path, block: Block, namespace: dict[str, Any]) -> None:
    """Run a python block statement by statement, checking the values comments show."""
    tree = ast.parse(block.text, filename=str(path))
    shown = comments(block.text)
    ast.increment_lineno(tree, block.line)  # line numbers of the page, for tracebacks
    for statement in tree.body:
        if isinstance(statement, ast.Expr):
            code = compile(ast.Expression(statement.value), str(path), "eval")
            value = eval(code, namespace)
            end = statement.end_lineno or statement.lineno
            if comment := shown.get(end - block.line):
                check_shown_value(f"{path.name}:{end}", value, comment)
        else:
            exec(compile(ast.Module([statement], type_ignores=[]), str(path), "exec"), namespace)


def console_lines(block: Block) -> Iterator[tuple[int, str]]:
    """The ``$ `` commands of a console block (continuation lines joined), with their line."""
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("$ "):
            start, command = i, lines[i][2:].strip()
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1].rstrip() + " " + lines[i].strip()
            yield block.line + 1 + start, command
        i += 1


def why_not_run(command: str, cwd: Path) -> str | None:
    """Why the rules above leave a console command alone; None when it runs."""
    words = shlex.split(command, comments=True)
    if len(words) < 2 or words[0] != "nlpfootprint":
        return "not an nlpfootprint command"
    if "--plot" in words and importlib.util.find_spec("matplotlib") is None:
        return "--plot needs matplotlib"
    if words[1] in CHEAP_SUBCOMMANDS:
        return None
    if words[1] == "run" and "--" in words:
        child = words[words.index("--") + 1 :]
        if len(child) >= 2 and child[0] == "python" and (cwd / child[1]).is_file():
            return None
        return "`nlpfootprint run` of a command the preamble did not provide"
    return f"`nlpfootprint {words[1]}` is not among the commands run here"


def run_console(path: Path, line: int, command: str, cwd: Path) -> None:
    """Run ``command`` as ``python -m nlpfootprint ...`` in bash; it must exit with 0."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["NLPFOOTPRINT_DISABLE"] = "nvml,rapl"
    env["NLPFOOTPRINT_DOCS_PYTHON"] = sys.executable
    script = '"$NLPFOOTPRINT_DOCS_PYTHON" -m ' + command
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"{path.name}:{line}: `$ {command}` exited with {result.returncode}\n"
        f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    )


def call_page_tests(path: Path, namespace: dict[str, Any], request: pytest.FixtureRequest) -> int:
    """Call the test functions a page defined, with fixtures by name; return how many."""
    called = 0
    for name, function in list(namespace.items()):
        if not (name.startswith("test_") and inspect.isfunction(function)):
            continue
        if function.__code__.co_filename != str(path):
            continue  # imported, not defined by the page
        fixtures = {p: request.getfixturevalue(p) for p in inspect.signature(function).parameters}
        function(**fixtures)
        called += 1
    return called


def pages() -> list[str]:
    return sorted(p.name for p in DOCS.glob("*.md"))


@pytest.fixture
def restored_signals() -> Iterator[None]:
    """A page may install signal handlers (howto-cluster does): put the test's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.mark.usefixtures("restored_signals")
@pytest.mark.parametrize("name", [p for p in pages() if p not in RUN_ELSEWHERE])
def test_the_pages_examples_run_as_written(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
) -> None:
    page = read_page(DOCS / name)
    assert not page.problems, "\n".join(page.problems)
    cwd = tmp_path / "page"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(discovery, "detect", fake_detect)
    namespace: dict[str, Any] = {"__name__": f"docs.{name}"}
    preamble = PREAMBLES.get(name)
    if preamble is not None:
        namespace.update(preamble(cwd))
    ran, not_run = 0, 0
    for block in page.blocks:
        if block.lang not in ("python", "console"):
            continue
        if block.not_run is not None:
            not_run += 1
        elif block.lang == "python":
            run_python(page.path, block, namespace)
            ran += 1
        else:
            for line, command in console_lines(block):
                if why_not_run(command, cwd) is None:
                    run_console(page.path, line, command, cwd)
                    ran += 1
    ran += call_page_tests(page.path, namespace, request)
    record_property("examples_run", ran)
    record_property("blocks_not_run", not_run)


def log_names(page: Page) -> set[str]:
    """The run-log file names the page's python and console blocks write or read."""
    return {
        found
        for block in page.blocks
        if block.lang in ("python", "console")
        for found in LOG_NAME.findall(block.text)
    }


@pytest.mark.parametrize("name", pages())
def test_no_page_names_two_logs_that_differ_only_by_gz(name: str) -> None:
    # "runs/x.jsonl.gz" written by one example and "runs/x.jsonl" read by the next read
    # as one log to a reader: two runs get two names, one run keeps one
    by_stem: dict[str, set[str]] = {}
    for log in log_names(read_page(DOCS / name)):
        by_stem.setdefault(log.removesuffix(".gz"), set()).add(log)
    twins = sorted(sorted(names) for names in by_stem.values() if len(names) > 1)
    assert not twins, f"{name}: log names that differ only by .gz: {twins}"


@pytest.mark.parametrize("name", pages())
def test_every_not_run_marker_gives_a_reason_and_precedes_a_block(name: str) -> None:
    page = read_page(DOCS / name)
    assert not page.problems, "\n".join(page.problems)


@pytest.mark.parametrize(("name", "tests"), sorted(RUN_ELSEWHERE.items()))
def test_the_pages_run_elsewhere_name_tests_that_exist(name: str, tests: str) -> None:
    assert (DOCS / name).is_file()
    for test in tests.split():
        file, function = test.split("::")
        assert f"def {function}(" in (ROOT / file).read_text(encoding="utf-8"), test


def test_a_marker_without_a_reason_or_a_block_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- not run -->\n```python\nx = 1\n```\n\n"
        "<!-- not run: needs a GPU -->\nSome prose.\n\n"
        "<!-- not run: needs mpirun -->\n\n```python\ny = 2\n```\n",
        encoding="utf-8",
    )
    read = read_page(page)
    assert [b.not_run for b in read.blocks] == ["", "needs mpirun"]
    assert len(read.problems) == 2
    assert "needs a reason" in read.problems[0]
    assert "no block after it" in read.problems[1]


def test_a_shown_value_that_drifted_fails() -> None:
    check_shown_value("page.md:1", 84.944, "# 84.94 (8 x 400 W)")
    check_shown_value("page.md:1", "US-CA", "# 'US-CA'")
    with pytest.raises(AssertionError, match=r"page.md:1: the comment shows 84.94"):
        check_shown_value("page.md:1", 84.96, "# 84.94 (8 x 400 W)")
    with pytest.raises(AssertionError, match="the comment shows 'US-CA'"):
        check_shown_value("page.md:1", "US-TX", "# 'US-CA'")


def test_the_console_rule_runs_only_cheap_offline_commands(tmp_path: Path) -> None:
    assert why_not_run("nlpfootprint regions --search france", tmp_path) is None
    assert why_not_run("nlpfootprint demo", tmp_path) is not None
    assert why_not_run("python -m pip install .", tmp_path) is not None
    assert why_not_run("nlpfootprint run --log x.jsonl -- python train.py", tmp_path) is not None
    (tmp_path / "train.py").write_text(TRAIN_PY, encoding="utf-8")
    assert why_not_run("nlpfootprint run --log x.jsonl -- python train.py", tmp_path) is None
