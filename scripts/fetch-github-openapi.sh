#!/usr/bin/env bash
# Fetch GitHub's published OpenAPI description of the REST API (npm package @octokit/openapi,
# published by GitHub's Octokit team) into a cache folder outside the repository. The test GitHub
# API server (tests/github_api.py) validates every request and response against it.
#
# Usage: scripts/fetch-github-openapi.sh [VERSION]
# Cache:  ${OTEL_GO_AUTOINST_OPENAPI_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/otel-go-autoinst/github-openapi}
# Prints the path of the spec (api.github.com.json) on success.
set -euo pipefail

version="${1:-${GITHUB_OPENAPI_VERSION:-23.0.2}}"
cache="${OTEL_GO_AUTOINST_OPENAPI_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/otel-go-autoinst/github-openapi}"
spec="$cache/api.github.com.json"

if [[ -s "$spec" && -s "$cache/VERSION" && "$(cat "$cache/VERSION")" == "$version" ]]; then
  echo "$spec"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-github-openapi: npm is required" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@octokit/openapi@${version}" >/dev/null)
tarball="$(ls "$work"/*.tgz)"
tar -xzf "$tarball" -C "$work"
src="$work/package/generated/api.github.com.json"
if [[ ! -s "$src" ]]; then
  src="$(find "$work/package" -name 'api.github.com.json' -not -path '*deref*' | head -n 1)"
fi
[[ -n "$src" && -s "$src" ]] || { echo "fetch-github-openapi: api.github.com.json not in package" >&2; exit 1; }

mkdir -p "$cache"
cp "$src" "$spec.tmp"
mv "$spec.tmp" "$spec"
echo "$version" >"$cache/VERSION"
echo "$spec"
