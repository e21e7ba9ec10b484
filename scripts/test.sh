#!/usr/bin/env bash
# The test suite: real go build / go test, real OTLP spans, a real local GitHub API server.
set -euo pipefail
cd "$(dirname "$0")/.."
# --dist loadfile: a test module's tests share one worker, so its module-scoped builds and servers are made once.
exec python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile -q "$@"
