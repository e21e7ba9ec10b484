"""The name an unnamed import binds, as hook signatures are matched against targets by it."""

from __future__ import annotations

import pytest

from otel_go_autoinst.goparse import assumed_package_name


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("net/http", "http"),
        ("github.com/labstack/echo/v4", "echo"),  # a major-version element is not the name
        ("github.com/go-chi/chi/v5", "chi"),
        ("github.com/redis/go-redis/v9", "redis"),
        ("gopkg.in/yaml.v3", "yaml"),
        ("github.com/mattn/go-sqlite3", "sqlite3"),
    ],
)
def test_assumed_package_name(path: str, name: str) -> None:
    assert assumed_package_name(path) == name
