"""``import nlpfootprint`` is cheap and the tracking path needs no numpy: checked in fresh
interpreters (what a module imports is only visible in a process that has not yet)."""

from __future__ import annotations

import json
import subprocess
import sys

import nlpfootprint as nf


def fresh(code: str) -> dict[str, object]:
    """Run ``code`` in a new interpreter; it prints one JSON object, returned here."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


HEAVY = (
    "numpy",
    "attrs",
    "importlib.metadata",
    "psutil",
    "csv",
    "nlpfootprint.report",
    "torch",
    "transformers",
    "lightning",
    "pytorch_lightning",
    "IPython",
)


def test_importing_the_package_imports_none_of_its_heavy_parts() -> None:
    out = fresh(
        "import json, sys, nlpfootprint\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    assert out == []


def test_every_public_name_resolves_on_first_use_and_dir_lists_them() -> None:
    out = fresh(
        "import json, nlpfootprint as nf\n"
        "missing = [n for n in nf.__all__ if getattr(nf, n, None) is None]\n"
        "print(json.dumps({'missing': missing, 'dir': sorted(set(nf.__all__) - set(dir(nf))),"
        " 'version': nf.__version__}))"
    )
    assert out == {"missing": [], "dir": [], "version": nf.__version__}


def test_star_import_gives_every_public_name() -> None:
    out = fresh(
        "import json\nfrom nlpfootprint import *\nimport nlpfootprint as nf\n"
        "print(json.dumps([n for n in nf.__all__ if n not in globals()]))"
    )
    assert out == []


def test_the_estimate_function_keeps_its_name_when_its_module_is_imported() -> None:
    out = fresh(
        "import json, nlpfootprint as nf\n"
        "import nlpfootprint.estimate\n"
        "from nlpfootprint.estimate import CostRange\n"
        "print(json.dumps([callable(nf.estimate), type(nf.estimate).__name__]))"
    )
    assert out == [True, "function"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    out = fresh(
        "import json, nlpfootprint as nf\n"
        "try:\n    nf.no_such_name\nexcept AttributeError as err:\n    print(json.dumps(str(err)))"
    )
    assert "no_such_name" in str(out)


def test_a_tracked_block_with_automatic_meters_imports_no_numpy_and_no_psutil() -> None:
    out = fresh(
        "import json, sys, nlpfootprint as nf\n"
        "with nf.track_energy() as t:\n    pass\n"
        "assert t.report.energy_j >= 0\n"
        "print(json.dumps([m for m in ('numpy', 'psutil', 'importlib.metadata', 'torch',"
        " 'transformers', 'lightning', 'IPython')"
        " if m in sys.modules]))"
    )
    assert out == []
