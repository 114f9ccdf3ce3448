"""The package's layers: one-way imports, no cycles, every module importable on its own.

The import-linter contract in pyproject.toml states the layers of DESIGN.md; these tests run
it, check that no module escapes it, look for import cycles in the real import graph, and
import each module in a fresh interpreter with nothing else of the package loaded first.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grimp
import pytest

import nlpfootprint

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(nlpfootprint.__file__).resolve().parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
(CONTRACT,) = CONFIG["contracts"]
#: The Report's shortcuts: the only imports allowed to point up the layers.
SHORTCUTS = {tuple(edge.split(" -> ")) for edge in CONTRACT["ignore_imports"]}
#: Deprecated aliases of moved modules (they warn when imported).
ALIASES = {"nlpfootprint.plot": "render.plot", "nlpfootprint.render_paper": "render.latex"}


def graph() -> grimp.ImportGraph:
    return grimp.build_graph("nlpfootprint", exclude_type_checking_imports=True, cache_dir=None)


def test_the_layers_contract_is_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_every_top_level_module_is_in_a_layer() -> None:
    named = {
        name.strip() for layer in CONTRACT["layers"] for name in layer.replace(":", "|").split("|")
    }
    top_level = {
        m.split(".")[1] for m in graph().modules if m.count(".") >= 1 and m != "nlpfootprint"
    }
    assert top_level - named == set()
    assert named - top_level == set()  # no stale names either


def test_no_module_imports_another_in_a_circle() -> None:
    g = graph()
    for importer, imported in SHORTCUTS:
        g.remove_import(importer=importer, imported=imported)
    edges = {m: g.find_modules_directly_imported_by(m) for m in g.modules}
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(edges.get(module, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_shortcuts_are_the_only_upward_imports_and_sit_in_one_place() -> None:
    g = graph()
    report_source = (PACKAGE / "report.py").read_text().splitlines()
    start = next(i for i, line in enumerate(report_source, 1) if "# -- shortcuts" in line)
    for importer, imported in SHORTCUTS:
        details = g.get_import_details(importer=importer, imported=imported)
        assert details, (importer, imported)
        for detail in details:
            line = detail["line_number"]
            assert line > start, detail
            # a one-line lazy delegate: the import, a blank line, a return that calls it
            assert report_source[line - 1].startswith("        from nlpfootprint."), detail
            assert report_source[line].strip() == ""
            assert report_source[line + 1].strip().startswith("return "), detail
    upward = {
        (importer, imported)
        for importer, imported in SHORTCUTS
        if g.direct_import_exists(importer=importer, imported=imported)
    }
    assert upward == SHORTCUTS


def modules() -> list[str]:
    names = sorted(m for m in graph().modules if m not in ALIASES)
    assert len(names) > 40
    return names


ALONE = textwrap.dedent(
    """
    import sys, types
    # The package's __init__ imports nearly everything; stand in an empty package for it,
    # so that importing the module pulls in exactly its own dependencies, in its order.
    package = types.ModuleType("nlpfootprint")
    package.__path__ = [{path!r}]
    sys.modules["nlpfootprint"] = package
    {statement}
    """
)


def import_alone(name: str, statement: str = "import {name}") -> subprocess.CompletedProcess[str]:
    code = ALONE.format(path=str(PACKAGE), statement=statement.format(name=name))
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    names = [m for m in modules() if m != "nlpfootprint.__main__"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(names, pool.map(import_alone, names), strict=True))
    failed = {
        name: r.stderr.strip().splitlines()[-1:]
        for name, r in results.items()
        if r.returncode and not _optional_missing(name, r.stderr)
    }
    assert failed == {}


#: The libraries an integration module needs, which a test environment may lack.
OPTIONAL = ("torch", "transformers", "lightning", "pytorch_lightning", "IPython")


def _optional_missing(name: str, stderr: str) -> bool:
    """An integration module that failed only because its library is not installed."""
    last = stderr.strip().splitlines()[-1:] or [""]
    return name.startswith("nlpfootprint.integrations.") and any(
        last[0] == f"ModuleNotFoundError: No module named '{lib}'" for lib in OPTIONAL
    )


def test_a_module_leaning_on_the_package_init_is_caught() -> None:
    # what the check above catches: code taking a name from the package's __init__ (as
    # runlog.py once took __version__) works in a full import but not alone
    statement = "from nlpfootprint import __version__"
    normal = subprocess.run([sys.executable, "-c", statement], capture_output=True, check=False)
    assert normal.returncode == 0
    result = import_alone("nlpfootprint", statement)
    assert result.returncode != 0
    assert "ImportError" in result.stderr


@pytest.mark.parametrize(("old", "new"), sorted(ALIASES.items()))
def test_a_moved_public_module_still_imports_with_a_deprecation_warning(old: str, new: str) -> None:
    code = f"import warnings; warnings.simplefilter('error'); import {old}"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "DeprecationWarning" in result.stderr
    assert f"nlpfootprint.{new}" in result.stderr
    quiet = f"import warnings; warnings.simplefilter('ignore'); import {old} as m; print(m.__all__)"
    names = subprocess.run(
        [sys.executable, "-c", quiet], capture_output=True, text=True, timeout=60, check=True
    )
    assert names.stdout.strip().startswith("[")
