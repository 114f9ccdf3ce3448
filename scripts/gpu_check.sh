#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (torch with CUDA, nvidia-ml-py and pytest installed): run
# the `gpu`-marked tests against the real GPU, then every check of scripts/gpu_check.py (two
# processes sharing the GPU, energy counter vs power samples, MFU of a bf16 load, idle
# baseline), each ending in a PASS or FAIL line. About 4 minutes on one H100/H200.
# Usage: scripts/gpu_check.sh [OUTDIR] [gpu_check.py options, e.g. --checks mfu,baseline]
# Writes OUTDIR/gpu_check.json (the figures), OUTDIR/gpu-check-share-*.jsonl (the share
# children's run logs) and OUTDIR/gpu_check.log (all the output). Exits non-zero when a
# test or a check failed.
set -euo pipefail
mkdir -p "${1:-.}"
out="$(cd "${1:-.}" && pwd)"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src:$PWD/tests${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{
    nvidia-smi --query-gpu=name,driver_version,power.limit,power.draw --format=csv || true
    tests=0
    python3 -m pytest -m gpu tests/test_gpu.py tests/test_meter_contract.py -v \
        -p no:cacheprovider -o addopts="" --strict-markers || tests=$?
    checks=0
    python3 scripts/gpu_check.py --json "$out/gpu_check.json" "${@:2}" || checks=$?
    echo "gpu tests: exit status $tests; checks: exit status $checks"
    test "$tests" -eq 0 && test "$checks" -eq 0
} 2>&1 | tee "$out/gpu_check.log"
