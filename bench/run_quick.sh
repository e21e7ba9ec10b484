#!/bin/sh
# CI's bench step: short versions of both benchmarks. Prints the figures; fails only when a
# benchmark cannot build or run, never on a figure.
set -e
cd "$(dirname "$0")/.."
python bench/call_bench.py --quick
python bench/build_bench.py --quick
python bench/request_bench.py --quick
