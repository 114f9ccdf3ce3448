#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (torch with CUDA and nvidia-ml-py installed): run the
# `gpu` tests against the real GPU, then the 60-second counter-vs-power comparison.
# Usage: scripts/gpu_check.sh [OUTDIR]   (figures go to OUTDIR/gpu_check.json)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
mkdir -p "$out"
export PYTHONPATH="$PWD/src:$PWD/tests${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,power.limit,power.draw --format=csv || true
python3 -m pytest -m gpu tests/test_gpu.py -v -p no:cacheprovider \
    -o addopts="" --strict-markers
python3 scripts/gpu_check.py --json "$out/gpu_check.json" "${@:2}"
