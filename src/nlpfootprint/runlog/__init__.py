"""The run log: a JSONL file a tracker writes as it runs, readable even after a crash.

Line 1 is a header (``schema`` ``nlpfootprint.runlog/1``, start time, host, pid, command,
channels with their provenance, settings, library version); then one compact line per
reading, ``{"t":12.000001,"m":0,"v":[123.4,5.6]}`` (``t``: seconds since the tracker
started, to the microsecond; ``m``: the meter's index; ``v``: its values as read, ``null``
for NaN and ``"inf"``/``"-inf"`` for an infinite one, which JSON cannot write),
``{"t":..,"m":..,"err":"..."}`` per failed reading, ``{"t":..,"steps":n,"tokens":n}`` at
the end of a sampling round in which the counts changed, and ``{"summary": {...}}`` (the
report's ``to_dict()``) at a clean stop.

* :class:`RunLogWriter` (:mod:`~nlpfootprint.runlog.writer`) is one of the sampler's sinks:
  it receives exactly the readings the ledger receives and writes them down.
* :func:`load_run` (:mod:`~nlpfootprint.runlog.reader`) reads a log, tolerating a cut-off
  last line, a missing summary and a gzip stream without its trailer.
* :func:`report_from_log` (:mod:`~nlpfootprint.runlog.replay`) gives the report: the
  summary of a clean stop, or for a run that never finished, the log's readings replayed
  in order through the same :class:`~nlpfootprint.ledger.Ledger` and bounded trace the live
  run used -- so a rebuilt report is the live one, by construction.

Size, measured: a week at 1 s with 2 meters x 4 energy counters (1.2 M sample lines of
about 85 bytes; NVML millijoule and RAPL microjoule counters, every digit kept) is 102 MB
plain and 46 MB as ``.gz`` (flushed every 2 s; 20% smaller still with ``log_flush_s=60``);
with 4 power channels (watts to the milliwatt) instead of GPU counters, 90 MB and 41 MB.
Reading such a week back takes about 6 s.
"""

from nlpfootprint.runlog.reader import MeterSamples, RunLog, load_run
from nlpfootprint.runlog.replay import report_from_log
from nlpfootprint.runlog.schema import SCHEMA, RunLogError, log_settings
from nlpfootprint.runlog.writer import RunLogWriter

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
