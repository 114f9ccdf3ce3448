"""amdsmi's errors as the library's, and importing amdsmi: the AMD meter's edge.

amdsmi raises ``AmdSmiLibraryException`` (a subclass of ``AmdSmiException``) with the
library's status in ``err_code`` and a two-line ``str``. :func:`translate` turns one into a
one-line :class:`~nlpfootprint.errors.MeterError` (or its subclasses) that says what to do;
:class:`~nlpfootprint.meters.amd.AmdSmiMeter` calls it once, where amdsmi answers.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

from nlpfootprint.errors import MeterError, MeterPermissionError, MeterUnavailableError
from nlpfootprint.meters.amd_devices import amd_driver_present, missing_bindings_message

__all__ = [
    "BUSY",
    "LOST",
    "SERIOUS",
    "UNSUPPORTED",
    "code_of",
    "describe",
    "import_amdsmi",
    "translate",
]

# amdsmi status codes (amdsmi_wrapper.AMDSMI_STATUS_*); tests/fake_amdsmi.py uses the same.
_NO_PERM = 10
#: NOT_SUPPORTED, NOT_YET_IMPLEMENTED, NO_DATA, UNEXPECTED_DATA: this GPU cannot answer.
UNSUPPORTED = (2, 3, 40, 43)
#: FAIL_LOAD_MODULE, FAIL_LOAD_SYMBOL, INIT_ERROR, DRIVER_NOT_LOADED, NO_DRV, FILE_NOT_FOUND
_NO_DRIVER = (4, 5, 18, 34, 51, 52)
#: DRM_ERROR, IO, FILE_ERROR, NOT_FOUND, AMDGPU_RESTART_ERR: the GPU stopped answering.
LOST = (6, 12, 14, 31, 54)
#: TIMEOUT, RETRY, BUSY: it may answer later.
BUSY = (8, 9, 30)
#: Statuses that say something about the GPU or the machine rather than about one query
#: (permission, no driver, a lost or busy GPU): a query a GPU may lack that fails with any
#: other status is taken as lacking.
SERIOUS = (_NO_PERM, *_NO_DRIVER, *LOST, *BUSY)


def code_of(err: BaseException) -> int | None:
    """The amdsmi status an exception carries, or None (a parameter error, not amdsmi's)."""
    value = getattr(err, "err_code", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def describe(err: BaseException) -> str:
    """An amdsmi exception in one line (its ``str`` spans two)."""
    info = getattr(err, "err_info", None) or getattr(err, "err_msg", None) or str(err)
    return " ".join(str(info).split()) or type(err).__name__


def translate(err: BaseException, context: str) -> Exception:
    """The library's error for an amdsmi exception, ``context`` first, with the way out."""
    code, what = code_of(err), describe(err)
    if code in _NO_DRIVER:
        return MeterUnavailableError(
            f"{context}: amdsmi cannot reach an AMD GPU driver ({what}): no amdgpu driver "
            "loaded (lsmod | grep amdgpu), or a container started without "
            "--device=/dev/kfd --device=/dev/dri"
        )
    if code == _NO_PERM:
        return MeterPermissionError(
            f"{context}: amdsmi was refused access ({what}); add the user to the render "
            "and video groups (sudo usermod -aG render,video $USER, then log in again); "
            "in a container pass --device=/dev/kfd --device=/dev/dri --group-add render "
            "--group-add video"
        )
    if code in LOST:
        return MeterError(
            f"{context}: the GPU is not answering ({what}): lost, reset or removed; "
            "check dmesg and amd-smi"
        )
    if code in UNSUPPORTED:
        return MeterUnavailableError(f"{context}: not supported by this GPU/driver ({what})")
    if code in BUSY:
        return MeterError(f"{context}: amdsmi was busy or timed out ({what})")
    return MeterError(f"{context}: amdsmi error {code}: {what}")


def import_amdsmi() -> Any:
    """``import amdsmi``, which prints to stdout when it cannot load ROCm's library: that
    text is kept for the error instead (``nlpfootprint meters --json`` prints JSON only).

    Raises:
        MeterUnavailableError: No bindings (and whether the driver is missing too), or
            bindings that cannot load ``libamd_smi.so``.
    """
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            import amdsmi
    except ImportError as err:
        raise MeterUnavailableError(missing_bindings_message(driver=amd_driver_present())) from err
    except (OSError, AttributeError, KeyError) as err:  # no libamd_smi.so, version mismatch
        said = " ".join(printed.getvalue().split())
        raise MeterUnavailableError(
            f"the amdsmi bindings are installed but cannot load ROCm's libamd_smi.so "
            f"({type(err).__name__}: {err}{'; ' + said if said else ''}): install ROCm, or "
            "set ROCM_PATH to it; the amdsmi package's version must match ROCm's"
        ) from err
    return amdsmi
