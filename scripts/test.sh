#!/usr/bin/env bash
# The test suite: real go build / go test, real OTLP spans, a real local GitHub API server.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m pytest -n "${PYTEST_WORKERS:-2}" -q "$@"
