"""No network, ever: the package, its meters, a tracked block, every report format and every
command of the command line, run in a process where any socket is refused and counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nlpfootprint.cli import COMMANDS

#: Imported at start-up by every Python process that has its folder on PYTHONPATH (the
#: children that ``nlpfootprint run`` starts too): refuses every socket and name lookup,
#: and writes one line per attempt to $NLPFOOTPRINT_SOCKET_LOG.
_BLOCKER = """
import os
import socket
import _socket

BLOCKED = True
_LOG = os.environ["NLPFOOTPRINT_SOCKET_LOG"]


def _refuse(what):
    def refuse(*args, **kwargs):
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {what} {args!r}\\n")
        raise OSError(f"the network is blocked by the test ({what})")

    return refuse


class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        _refuse("socket.socket")(*args, **kwargs)


socket.socket = _socket.socket = _NoSocket
for _name in (
    "create_connection",
    "create_server",
    "getaddrinfo",
    "gethostbyname",
    "gethostbyname_ex",
    "gethostbyaddr",
    "getnameinfo",
    "socketpair",
    "fromfd",
):
    setattr(socket, _name, _refuse(_name))
"""

#: Everything a user does with the package, sockets blocked; the exit status of each
#: command goes to the file named by argv[1].
_DRIVER = """
import contextlib, json, os, socket, sys
from pathlib import Path

import sitecustomize

assert sitecustomize.BLOCKED
with contextlib.suppress(OSError):  # the one attempt the test expects: the blocker works
    socket.create_connection(("192.0.2.1", 80), timeout=1)

import nlpfootprint as nf
from nlpfootprint import cli
from nlpfootprint.meters.discovery import detect

out, here = Path(sys.argv[1]), Path(sys.argv[2])
statuses = {}

detection = detect()
detection.close()
log = here / "tracked.jsonl"
with nf.track_energy(log=log, interval_s=0.05, name="offline") as tracker:
    sum(i * i for i in range(200_000))
    tracker.step(tokens=10)
report = tracker.report
rendered = [
    str(report),
    report.to_markdown(),
    report.to_latex(),
    report.to_csv_row(),
    report.csv_header(),
    report._repr_html_(),
    report.to_json(),
]
assert nf.Report.from_json(rendered[-1]) == report
assert nf.Report.from_log(log, carbon_intensity="FRA").energy_j == report.energy_j
try:
    import matplotlib  # noqa: F401
except ImportError:
    plot = False
else:
    plot = True
    report.plot(here / "tracked.png")
nf.estimate(hardware="V100", count=8, hours=2, carbon_intensity="strubell2019")
nf.carbon_intensity("FRA")
report.equivalents()
report.compare_regions(["USA", "FRA"])

(here / "grid.csv").write_text(
    "".join(f"{row}{chr(10)}" for row in ["timestamp,g_per_kwh"]
            + [f"2020-01-01T{h:02d}:00:00Z,{100 + h}" for h in range(24)])
)
runs = {
    "": [["--help"], ["--version"]],
    "demo": [["demo", "--seconds", "1", "--log", str(here / "demo.jsonl"),
              "--json", str(here / "demo.json")]],
    "run": [["run", "--log", str(here / "run.jsonl"), "--no-status", "--",
             sys.executable, "-c", "import sitecustomize; assert sitecustomize.BLOCKED"]],
    "report": [["report", str(log), "--format", f] for f in
               ("text", "markdown", "latex", "json", "csv")]
              + [["report", str(log), str(here / "demo.jsonl"), "--carbon-intensity", "DEU"]]
              + ([["report", str(log), "--plot", str(here / "cli.png")]] if plot else []),
    "advise": [["advise", str(log), "--series", str(here / "grid.csv"), "--regions",
                "FRA,DEU", "--format", f] for f in ("text", "json")],
    "meters": [["meters"], ["meters", "--json"]],
    "baseline": [["baseline", "--seconds", "0.2", "--out", str(here / "idle.json")],
                 ["report", str(log), "--baseline", str(here / "idle.json")]],
    "estimate": [["estimate", "--hardware", "V100", "--count", "8", "--hours", "2"],
                 ["estimate", "--power-w", "300", "--hours", "1", "--json"]],
    "regions": [["regions"], ["regions", "--sources"], ["regions", "--search", "fra",
                "--json"]],
}
for command, argvs in runs.items():
    for argv in argvs:
        try:
            status = cli.main(argv)
        except SystemExit as exit:  # --help, --version
            status = exit.code
        statuses[" ".join(argv[:2])] = status
out.write_text(json.dumps({"statuses": statuses, "commands": sorted(runs)}))
"""


@pytest.mark.slow
@pytest.mark.scenario(
    "network.none",
    "With every socket and name lookup refused, importing the package, detecting meters, "
    "tracking a block, rendering every report format and running every CLI command all "
    "succeed, and none of them tries to open a socket.",
)
def test_nothing_touches_the_network(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(textwrap.dedent(_BLOCKER))
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(_DRIVER))
    attempts, statuses = tmp_path / "sockets.log", tmp_path / "statuses.json"
    path = os.pathsep.join(filter(None, [str(blocker), os.environ.get("PYTHONPATH")]))
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "NLPFOOTPRINT_SOCKET_LOG": str(attempts),
        "MPLBACKEND": "Agg",
    }
    result = subprocess.run(
        [sys.executable, str(driver), str(statuses), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    done = json.loads(statuses.read_text())
    assert set(done["commands"]) >= set(COMMANDS), "a CLI command is not tried offline"
    assert {argv: status for argv, status in done["statuses"].items() if status} == {}, (
        result.stderr[-3000:]
    )
    tried = attempts.read_text().splitlines()
    assert len(tried) == 1, tried  # the driver's own probe, and nothing else
    assert "create_connection" in tried[0]
