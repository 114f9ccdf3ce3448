"""What a new user trips on (issue 13): a run log in a folder not made yet, a path that
cannot be a log, a meter whose ``channels`` is a method."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.meters.base import Channel
from nlpfootprint.testing import FakeClock, FakeMeter, sampler_threads


def _tree(root: Path) -> list[str]:
    """Everything under ``root``, as sorted relative paths."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- the run log's folder ----------------------------------------------------------------


def test_a_log_in_folders_not_made_yet_creates_them(tmp_path: Path) -> None:
    target = tmp_path / "runs" / "gpt2" / "x.jsonl"
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(50.0)], clock=clock, log=target) as tracker:
        clock.advance(4.0)
    assert target.is_file()
    assert nf.Report.from_log(target).energy_j == pytest.approx(200.0)
    assert tracker.report.energy_j == pytest.approx(200.0)


def test_a_relative_log_path_creates_its_folder_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(5.0)], clock=clock, log="runs/x.jsonl"):
        clock.advance(1.0)
    assert (tmp_path / "runs" / "x.jsonl").is_file()


def test_a_gzip_log_in_a_new_folder_reads_back(tmp_path: Path) -> None:
    target = tmp_path / "new" / "x.jsonl.gz"
    clock = FakeClock()
    with nf.track_energy(meters=[FakeMeter.constant(5.0)], clock=clock, log=target):
        clock.advance(2.0)
    assert nf.Report.from_log(target).energy_j == pytest.approx(10.0)


def _unusable(tmp_path: Path, case: str) -> tuple[Path | str, str]:
    """A log path that cannot be used, made under ``tmp_path``, and the reason expected."""
    if case == "existing-folder":
        (tmp_path / "runs").mkdir()
        return tmp_path / "runs", "it names a folder, not a file"
    if case == "file-as-parent":
        (tmp_path / "runs").write_text("a file\n")
        return tmp_path / "runs" / "x.jsonl", f"{tmp_path / 'runs'} is a file, not a folder"
    if case == "file-as-grandparent":
        (tmp_path / "runs").write_text("a file\n")
        return (
            tmp_path / "runs" / "gpt2" / "x.jsonl",
            f"{tmp_path / 'runs'} is a file, not a folder",
        )
    assert case == "folder-name-in-new-folders"  # the folders above are made, then undone
    return f"{tmp_path}/runs/gpt2/", "it names a folder, not a file"


@pytest.mark.parametrize(
    "case",
    ["existing-folder", "file-as-parent", "file-as-grandparent", "folder-name-in-new-folders"],
)
def test_an_unusable_log_path_fails_at_start_saying_why_and_leaves_nothing(
    tmp_path: Path, case: str
) -> None:
    path, why = _unusable(tmp_path, case)
    before = _tree(tmp_path)
    meter = FakeMeter.constant(1.0)
    ran = False
    with (
        pytest.raises(ConfigurationError) as caught,
        nf.track_energy(meters=[meter], log=path),
    ):
        ran = True
    message = str(caught.value)
    assert message.startswith(f"log={path!r}: cannot write the run log there: "), message
    assert why in message
    assert not ran
    assert not sampler_threads()
    assert meter.reads == 0
    assert _tree(tmp_path) == before


_AS_USER = """
import os, sys
import nlpfootprint as nf
from nlpfootprint.errors import ConfigurationError
from nlpfootprint.testing import FakeMeter, sampler_threads
track_energy = nf.track_energy  # the lazy imports, while the interpreter is readable
if os.geteuid() == 0:  # root writes anywhere: become nobody, after the imports
    try:
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
    except OSError as err:
        print("CANNOT-DROP", err); sys.exit(0)
ran = False
try:
    with track_energy(meters=[FakeMeter.constant(1.0)], log=sys.argv[1]):
        ran = True
except ConfigurationError as err:
    print("refused:", err)
print("block ran:", ran, "threads:", len(sampler_threads()))
"""


def _as_user(target: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_AS_USER), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if result.stdout.startswith("CANNOT-DROP"):
        pytest.skip(f"this system does not let root become nobody: {result.stdout}")
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("relative", "created"), [("run.jsonl", "run.jsonl"), ("runs/gpt2/x.jsonl", "runs")]
)
def test_a_log_where_the_user_may_not_write_fails_at_start_naming_the_folder(
    shared_dir: Path, relative: str, created: str
) -> None:
    target = shared_dir / relative
    out = _as_user(target)
    assert f"refused: log='{target}': cannot write the run log there: Permission denied" in out
    assert f"may not create {shared_dir / created} in {shared_dir}" in out
    assert "block ran: False threads: 0" in out
    assert _tree(shared_dir) == []


# -- a meter's channels ------------------------------------------------------------------


class _ChannelsAsMethod:
    """A meter written by hand, with ``@property`` forgotten above ``channels`` (mypy sees
    it; a user without a type checker gets the error at start)."""

    def channels(self) -> Sequence[Channel]:
        return (Channel(id="mine", domain="gpu", kind="power"),)

    def read(self) -> Sequence[float]:
        return (1.0,)

    def close(self) -> None:
        pass


def test_a_meter_whose_channels_is_a_method_is_told_to_make_it_a_property() -> None:
    with (
        pytest.raises(ConfigurationError, match=r"^_ChannelsAsMethod meter: its channels is a"),
        nf.track_energy(meters=[_ChannelsAsMethod()]),  # type: ignore[list-item]
    ):
        pytest.fail("the block ran")  # pragma: no cover
    assert not sampler_threads()


def test_the_method_error_says_what_to_write() -> None:
    with pytest.raises(ConfigurationError) as caught:
        nf.track_energy(meters=[_ChannelsAsMethod()]).start()  # type: ignore[list-item]
    message = str(caught.value)
    assert "a method, not a property" in message
    assert "@property above `def channels(self)`" in message
    assert "TypeError" not in message


def test_a_meter_whose_channels_is_a_property_or_an_attribute_is_accepted() -> None:
    class Property:
        @property
        def channels(self) -> Sequence[Channel]:
            return (Channel(id="p", domain="gpu", kind="power"),)

        def read(self) -> Sequence[float]:
            return (1.0,)

        def close(self) -> None:
            pass

    class Attribute:
        channels = (Channel(id="a", domain="gpu", kind="power"),)

        def read(self) -> Sequence[float]:
            return (1.0,)

        def close(self) -> None:
            pass

    clock = FakeClock()
    with nf.track_energy(meters=[Property(), Attribute()], clock=clock) as tracker:
        clock.advance(2.0)
    assert tracker.report.energy_j == pytest.approx(4.0)
