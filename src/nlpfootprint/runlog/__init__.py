"""The run log: a JSONL file a tracker writes as it runs, readable even after a crash.

Line 1 is a header (``schema`` ``nlpfootprint.runlog/1``, start time, host, pid, command,
channels with their provenance, settings, library version); then one compact line per
reading, ``{"t":12.000001,"m":0,"v":[123.4,5.6]}`` (``t``: seconds since the tracker
started, to the microsecond; ``m``: the meter's index; ``v``: its values as read, ``null``
for NaN and ``"inf"``/``"-inf"`` for an infinite one, which JSON cannot write),
``{"t":..,"m":..,"err":"..."}`` per failed reading, ``{"t":..,"steps":n,"tokens":n}`` at
the end of a sampling round in which the counts changed (with ``"flops":x``, a float, once
FLOPs are counted), and ``{"summary": {...}}`` (the report's ``to_dict()``) at a clean stop.

* :class:`RunLogWriter` (:mod:`~nlpfootprint.runlog.writer`) is one of the sampler's sinks:
  it receives exactly the readings the ledger receives and writes them down.
* :func:`load_run` (:mod:`~nlpfootprint.runlog.reader`) reads a log, tolerating a cut-off
  last line, a missing summary and a gzip stream without its trailer.
* :func:`report_from_log` (:mod:`~nlpfootprint.runlog.replay`) gives the report: the
  summary of a clean stop (found without parsing the readings before it:
  :mod:`~nlpfootprint.runlog.screen`), or for a run that never finished, the log's readings
  replayed in order through the same :class:`~nlpfootprint.ledger.Ledger` and bounded trace
  the live run used -- so a rebuilt report is the live one, by construction.

Size, measured: a week at 1 s with 2 meters x 4 energy counters (1.2 M sample lines of
about 85 bytes; NVML millijoule and RAPL microjoule counters, every digit kept) is 102 MB
plain and 46 MB as ``.gz`` (flushed every 2 s; 20% smaller still with ``log_flush_s=60``);
with 4 power channels (watts to the milliwatt) instead of GPU counters, 90 MB and 41 MB.
A log that ends with its summary gives its report without parsing the readings before it
(1e7 rounds of 8 channels, 2.2 GB: some 4 s plain, 8 s gzip, on 2 slow cores); replaying
one, as for a crash, reads every number: some 25 us per round of 8 channels.
"""

from __future__ import annotations

from nlpfootprint._lazy import lazy_names

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:  # what type checkers see: the names, eagerly
    from nlpfootprint.runlog.reader import MeterSamples, RunLog, load_run
    from nlpfootprint.runlog.replay import report_from_log
    from nlpfootprint.runlog.schema import SCHEMA, RunLogError, log_settings
    from nlpfootprint.runlog.writer import RunLogWriter

#: Each name and its module, imported on first use (PEP 562): a tracker that writes a log
#: imports the writer, not the reader and its numpy.
_LAZY: dict[str, str] = {
    "MeterSamples": "nlpfootprint.runlog.reader",
    "RunLog": "nlpfootprint.runlog.reader",
    "load_run": "nlpfootprint.runlog.reader",
    "report_from_log": "nlpfootprint.runlog.replay",
    "SCHEMA": "nlpfootprint.runlog.schema",
    "RunLogError": "nlpfootprint.runlog.schema",
    "log_settings": "nlpfootprint.runlog.schema",
    "RunLogWriter": "nlpfootprint.runlog.writer",
}

__all__ = [
    "SCHEMA",
    "MeterSamples",
    "RunLog",
    "RunLogError",
    "RunLogWriter",
    "load_run",
    "log_settings",
    "report_from_log",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
