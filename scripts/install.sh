#!/usr/bin/env bash
# Install otel-go-autoinst and what it needs: the one script the Docker image runs (Dockerfile)
# and this repository's CI runs (.ci/run), so what the image does is tested without Docker.
#
#   scripts/install.sh          install the tool from requirements.lock (every package pinned
#                               and checked against its sha256, pip --require-hashes) - the image
#   scripts/install.sh --dev    editable install with the test extras  - CI / development
#
# Go is installed only when missing (or older than GO_MIN), from the official tarball
# https://go.dev/dl/go${GO_VERSION}.linux-<arch>.tar.gz, checked against the sha256 pinned below
# for each architecture (or GO_SHA256 for another GO_VERSION; there is no unpinned download).
# Tools already present are skipped. Also creates the unprivileged build user the Action runs
# the pull request's build and tests as, and a C toolchain for cgo modules.
#
# Environment: GO_VERSION (pinned in the Dockerfile), GO_SHA256, GO_MIN (default 1.23),
#              GO_INSTALL_DIR (default /usr/local), PYTHON (default python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "install.sh: unknown argument $arg (use --dev or nothing)" >&2; exit 2 ;;
  esac
done

GO_VERSION="${GO_VERSION:-1.26.8}"
# sha256 of go1.26.8.linux-<arch>.tar.gz as published on https://go.dev/dl/ (?mode=json)
GO_PINNED_VERSION=1.26.8
GO_PINNED_SHA256_amd64=d0f743b33e8d8945e6b1f432edd15785c70507121d6e2a723b21285eddf8b57b
GO_PINNED_SHA256_arm64=211ffced9dcb9633a55eac6364816ec0ddd951389a740e88fa8b3337971bdda0
GO_MIN="${GO_MIN:-1.23}"
GO_INSTALL_DIR="${GO_INSTALL_DIR:-/usr/local}"
PYTHON="${PYTHON:-python3}"

log() { echo "install.sh: $*"; }

# --- system packages (Debian), only the missing ones -------------------------------------
need_pkgs=()
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
# cgo: a C compiler and the C library headers (database drivers such as go-sqlite3 need them)
command -v gcc >/dev/null 2>&1 || need_pkgs+=(gcc libc6-dev)
[[ -e /etc/ssl/certs/ca-certificates.crt ]] || need_pkgs+=(ca-certificates)
# --dev: the real servers the integration tests start (tests/servers.py); packages' own services
# are not started here, the tests run them on 127.0.0.1 with temporary data directories
if [[ "$dev" == 1 ]]; then
  command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
  { command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; } || need_pkgs+=(postgresql)
  { command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]]; } || need_pkgs+=(mariadb-server)
  command -v nats-server >/dev/null 2>&1 || [[ -x /usr/sbin/nats-server ]] || need_pkgs+=(nats-server)
  [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || need_pkgs+=(rabbitmq-server)
fi
if ((${#need_pkgs[@]})); then
  if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    log "installing ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
    rm -rf /var/lib/apt/lists/*
  else
    log "missing ${need_pkgs[*]} and cannot apt-get install them; continuing" >&2
  fi
fi

# --- the build user ------------------------------------------------------------------------
# The Action's entrypoint runs as root and runs the pull request's build and tests as this
# unprivileged user, which cannot read the token from /proc nor write the runner's command files
# (entrypoint/sandbox.py).
BUILD_USER="${OTEL_GO_AUTOINST_BUILD_USER:-otel-go-build}"
if [[ "$(id -u)" == 0 ]] && ! id -u "$BUILD_USER" >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    log "creating the unprivileged build user $BUILD_USER"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$BUILD_USER"
  else
    log "no useradd: cannot create the build user $BUILD_USER" >&2
  fi
fi

# --- Go ----------------------------------------------------------------------------------
version_ge() { # version_ge A B: A >= B (dotted numbers)
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

have_go=""
if command -v go >/dev/null 2>&1; then
  have_go="$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null | sed 's/^go//')"
fi
if [[ -n "$have_go" ]] && version_ge "$have_go" "$GO_MIN"; then
  log "Go $have_go present (>= $GO_MIN): not installing Go"
else
  case "$(uname -m)" in
    x86_64|amd64) arch=amd64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) echo "install.sh: no Go tarball for $(uname -m)" >&2; exit 1 ;;
  esac
  file="go${GO_VERSION}.linux-${arch}.tar.gz"
  url="https://go.dev/dl/${file}"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  log "downloading $url"
  curl -fsSL --retry 3 -o "$tmp/$file" "$url"
  sum="${GO_SHA256:-}"
  if [[ -z "$sum" && "$GO_VERSION" == "$GO_PINNED_VERSION" ]]; then
    pinned="GO_PINNED_SHA256_${arch}"
    sum="${!pinned}"
  fi
  if [[ -z "$sum" ]]; then
    echo "install.sh: no pinned sha256 for $file: set GO_SHA256 (from https://go.dev/dl/)" >&2
    exit 1
  fi
  echo "$sum  $tmp/$file" | sha256sum -c --quiet -
  rm -rf "$GO_INSTALL_DIR/go"
  tar -C "$GO_INSTALL_DIR" -xzf "$tmp/$file"
  export PATH="$GO_INSTALL_DIR/go/bin:$PATH"
  log "installed $(go version)"
fi

# --- the Python tool -----------------------------------------------------------------------
pip=("$PYTHON" -m pip install --disable-pip-version-check)
if [[ "$dev" == 1 ]]; then
  log "pip install -e '.[test]'"
  "${pip[@]}" -q -e "$here[test]"
else
  # every dependency (and the build backend) from the lock, each checked against its hashes;
  # then the tool itself without resolving anything more
  log "pip install --require-hashes -r requirements.lock, then $here"
  "${pip[@]}" -q --no-cache-dir --require-hashes -r "$here/requirements.lock"
  "${pip[@]}" -q --no-cache-dir --no-deps --no-build-isolation "$here"
fi

# --- warm the module cache with the hooks' dependencies (OpenTelemetry SDK) -----------------
if [[ -f "$here/rules/go.mod" ]]; then
  log "go mod download (rules module)"
  # on copies of go.mod/go.sum: the checkout is never written
  mods="$(mktemp -d)"
  cp "$here/rules/go.mod" "$mods/go.mod"
  [[ -f "$here/rules/go.sum" ]] && cp "$here/rules/go.sum" "$mods/go.sum"
  (cd "$here/rules" && go mod download -modfile="$mods/go.mod") || log "go mod download failed; the image downloads modules at run time"
  rm -rf "$mods"
fi

"$PYTHON" -c "import entrypoint"
log "ok: $(go version)"
