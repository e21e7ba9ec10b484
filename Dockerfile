# The image of the otel-go-autoinst GitHub Action (action.yml: runs.using docker).
# Everything is installed by scripts/install.sh, the same script this repository's CI runs.
# Releases publish this image to ghcr.io and point the released action.yml at its digest
# (.github/workflows/release.yml), so users run the prebuilt image, not this file.
#
# Supply chain: the base image is pinned by the digest of its multi-arch index (python:3.11.16,
# Debian bookworm; refresh with `docker buildx imagetools inspect python:3.11-slim-bookworm`),
# the Go tarball by its sha256 per architecture (scripts/install.sh), the Python packages by the
# hashes in requirements.lock (pip --require-hashes).
FROM python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# Pinned Go, from the official tarball https://go.dev/dl/go${GO_VERSION}.linux-<arch>.tar.gz,
# checked against the sha256 scripts/install.sh pins for that version and architecture.
ARG GO_VERSION=1.26.8

# GOPATH (module cache) and GOCACHE belong to the unprivileged build user that runs the pull
# request's build and tests (not world-writable); the entrypoint itself runs as root.
ENV PATH=/usr/local/go/bin:/go/bin:$PATH \
    GOPATH=/go \
    GOMODCACHE=/go/pkg/mod \
    GOCACHE=/go/cache \
    GOTOOLCHAIN=auto \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

COPY . /opt/otel-go-autoinst
RUN GO_VERSION="${GO_VERSION}" PYTHON=python3 /opt/otel-go-autoinst/scripts/install.sh \
 && mkdir -p /go/cache \
 && chown -R otel-go-build:otel-go-build /go \
 && chmod -R go-w /go

# `otel-go-autoinst action` runs the entrypoint package (entrypoint/): modes run, comment,
# matrix, merge
ENTRYPOINT ["otel-go-autoinst", "action"]
