"""Developer sessions: ``nox -s tests lint typing docs bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs"]
nox.options.default_venv_backend = "venv"

#: What ruff checks and formats (the same list as .ci/run).
LINTED = ("src", "tests", "benchmarks", "examples", "scripts", "noxfile.py", "conftest.py")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (unit, property, doctests, examples, CLI subprocesses)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and formatting) and import-linter (the layers contract)."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    session.run("lint-imports", "--no-cache")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[lint]")
    session.run("mypy", "--strict")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx site with warnings as errors."""
    session.install("-e", ".[docs]")
    session.run(
        "python", "-m", "sphinx", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html"
    )


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite, beside CodeCarbon and carbontracker (installed into
    benchmarks/.peers/): under 10 minutes; writes benchmarks/results/ and the table in
    docs/performance.md. ``nox -s bench -- --quick``: a smoke run of under a minute."""
    session.install("-e", ".")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(venv_backend="none")
def gpu(session: nox.Session) -> None:
    """On a machine with an NVIDIA GPU: the gpu tests and the counter-vs-power check."""
    session.run("bash", "scripts/gpu_check.sh", *session.posargs, external=True)
