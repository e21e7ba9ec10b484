#!/usr/bin/env bash
# The main job, run locally on the bundled example service exactly as the GitHub Action runs it:
# detect, instrument, build, test, write the report (JSON), the job summary (Markdown) and outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/demo}"
mkdir -p "$out"
: >"$out/outputs.txt"
export GITHUB_WORKSPACE="$PWD" GITHUB_STEP_SUMMARY="$PWD/$out/summary.md" GITHUB_OUTPUT="$PWD/$out/outputs.txt"
export INPUT_WORKING_DIRECTORY=examples/service INPUT_OUTPUT_DIR="$out" INPUT_COMMENT=false
otel-go-autoinst action
echo
echo "report:  $out/report.json"
echo "summary: $out/summary.md"
echo "outputs:"
# GITHUB_OUTPUT holds "name<<delimiter", the value, the delimiter: show name and value.
awk '/<</ { split($0, part, "<<"); getline value; print "  " part[1] ": " value }' "$out/outputs.txt"
