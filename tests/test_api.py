"""The public API contract of DESIGN.md."""

from __future__ import annotations

import inspect

import nlpfootprint as nf
from nlpfootprint import errors


def test_all_is_sorted_and_every_name_exists() -> None:
    assert list(nf.__all__) == sorted(nf.__all__)
    for name in nf.__all__:
        assert hasattr(nf, name), name


def test_version_comes_from_package_metadata() -> None:
    from importlib.metadata import version

    assert nf.__version__ == version("nlpfootprint")


def test_design_contract_names_are_importable() -> None:
    for name in ("track_energy", "Report", "Intensity", "EnergyTracker"):
        assert hasattr(nf, name)
    from nlpfootprint.testing import FakeClock, FakeMeter

    assert FakeClock
    assert FakeMeter
    signature = inspect.signature(nf.track_energy)
    for parameter in ("meters", "interval_s", "pue", "carbon_intensity", "price_per_kwh", "clock"):
        assert parameter in signature.parameters
    assert signature.parameters["interval_s"].default == 1.0
    assert signature.parameters["pue"].default == 1.58


def test_every_error_derives_from_the_root_and_a_builtin() -> None:
    builtin = {
        errors.ConfigurationError: ValueError,
        errors.ConfigurationTypeError: TypeError,
        errors.UnknownKeyError: KeyError,
        errors.MeterError: RuntimeError,
        errors.MeterUnavailableError: RuntimeError,
        errors.MeterPermissionError: PermissionError,
        errors.TrackerStateError: RuntimeError,
        errors.ReportFormatError: ValueError,
        errors.UnknownRegionError: KeyError,
    }
    for cls, base in builtin.items():
        assert issubclass(cls, errors.NlpFootprintError)
        assert issubclass(cls, base)
    # one rule for bad arguments: every kind is a ConfigurationError, so one except catches all
    for cls in (errors.ConfigurationTypeError, errors.UnknownKeyError, errors.UnknownRegionError):
        assert issubclass(cls, errors.ConfigurationError)
    assert not issubclass(errors.UnknownKeyError, TypeError)
    assert str(errors.UnknownKeyError("hardware='Z1' is not known")) == "hardware='Z1' is not known"
    assert str(errors.UnknownRegionError("no 'XX'; did you mean 'XK'?")) == (
        "no 'XX'; did you mean 'XK'?"
    )


def test_library_modules_do_not_import_network_clients() -> None:
    import pathlib

    src = pathlib.Path(nf.__file__).parent
    forbidden = ("import socket", "import urllib", "import http", "import requests")
    for path in src.rglob("*.py"):
        text = path.read_text()
        for needle in forbidden:
            assert needle not in text, f"{path.name} contains {needle!r}"
