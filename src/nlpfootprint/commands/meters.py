"""``nlpfootprint meters``: what this machine can measure, and why not the rest."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``meters`` command."""
    meters: argparse.ArgumentParser = sub.add_parser(
        "meters",
        help="list the meters this machine offers, and why the others are not used",
        description="Detect NVIDIA GPUs (NVML), AMD GPUs (amdsmi), CPU packages and DRAM "
        "(RAPL), and the estimates used where nothing can be measured; print what would be "
        "measured, how, "
        "and why each backend not used was skipped.",
    )
    meters.add_argument("--json", action="store_true", help="print JSON instead of a table")
    meters.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Detect, print, close."""
    from nlpfootprint.meters.discovery import detect

    detection = detect()
    try:
        if args.json:
            print(json.dumps(detection.to_dict(), indent=2))
            return 0
        print("nlpfootprint meters: what this machine can measure\n")
        for entry in detection.to_dict()["backends"]:
            if entry["status"] == "used":
                print(f"  {entry['backend']:<15} used")
                for c in entry["channels"]:
                    print(f"      {c['id']:<8} {c['source']:<10} {c['label']}")
            else:
                print(f"  {entry['backend']:<15} not used: {entry['reason']}")
        for note in detection.notes:
            print(f"  note: {note}")
        estimated = [
            c["id"]
            for e in detection.to_dict()["backends"]
            if e["status"] == "used"
            for c in e["channels"]
            if c["source"] == "estimated"
        ]
        if estimated:
            print(
                f"\n{', '.join(estimated)}: ESTIMATED, not measured; reports say so. "
                "Fix a reason above to measure instead."
            )
    finally:
        detection.close()
    return 0
