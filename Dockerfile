# The image of the otel-go-autoinst GitHub Action (action.yml: runs.using docker).
# Everything is installed by scripts/install.sh, the same script this repository's CI runs.
# A prebuilt copy is published as ghcr.io/otel-go-autoinst/otel-go-autoinst:v1 (release.yml);
# see docs/action.md for `uses: docker://...`, which skips building this file on every run.
FROM python:3.11-slim-bookworm

# Pinned Go, from the official tarball https://go.dev/dl/go${GO_VERSION}.linux-<arch>.tar.gz.
# GO_SHA256 may pin the tarball's checksum; without it the checksum go.dev publishes is checked.
ARG GO_VERSION=1.26.8
ARG GO_SHA256=

ENV PATH=/usr/local/go/bin:/go/bin:$PATH \
    GOPATH=/go \
    GOMODCACHE=/go/pkg/mod \
    GOTOOLCHAIN=auto \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

COPY . /opt/otel-go-autoinst
RUN GO_VERSION="${GO_VERSION}" GO_SHA256="${GO_SHA256}" PYTHON=python3 \
      /opt/otel-go-autoinst/scripts/install.sh \
 && chmod -R a+rwX /go

# `otel-go-autoinst action` runs otel_go_autoinst.publish.action:main
ENTRYPOINT ["otel-go-autoinst", "action"]
