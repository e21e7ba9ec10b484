"""Data-store integrations end to end against real servers (tests/servers.py): the service in
tests/data/modules/datasvc, built by `otel-go-autoinst build` with the newest and with the oldest
supported release of each library, sends its spans over OTLP/HTTP to a receiver started here.
For each library: span names, kinds, attributes, errors, and parenting on the SERVER span of the
HTTP request that made the calls.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from otlp_receiver import OTLPReceiver, Span  # noqa: E402
from servers import (  # noqa: E402, F401  (pytest fixtures)
    DB_NAME,
    DB_PASSWORD,
    DB_USER,
    Server,
    mariadb_server,
    postgres_server,
    redis_server,
)

REPO = Path(__file__).resolve().parents[1]
DATASVC = REPO / "tests" / "data" / "modules" / "datasvc"
CLI = [sys.executable, "-m", "otel_go_autoinst.cli"]

DATABASESQL_SCOPE = "github.com/otel-go-autoinst/otel-go-autoinst/rules/databasesql"
REDIS_SCOPE = "github.com/otel-go-autoinst/otel-go-autoinst/rules/redis"
PGX_SCOPE = "github.com/otel-go-autoinst/otel-go-autoinst/rules/pgx"

# go.mod.oldest / go.sum.oldest in DATASVC pin the oldest release each rule set claims.
OLDEST = {"github.com/redis/go-redis/v9": "v9.0.0", "github.com/jackc/pgx/v5": "v5.0.0"}


def _cli() -> list[str]:
    exe = shutil.which("otel-go-autoinst")
    return [exe] if exe else CLI


def _build(src: Path, out: Path) -> Path:
    proc = subprocess.run(
        [*_cli(), "build", "-C", str(src), "-o", str(out), "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, f"instrumented build failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@dataclass
class Service:
    proc: subprocess.Popen[str]
    base: str
    rx: OTLPReceiver

    def get(self, path: str) -> tuple[int, str, str]:
        """GET path with a fresh traceparent: (status, body, trace id)."""
        trace_id = uuid.uuid4().hex
        req = urllib.request.Request(
            self.base + path, headers={"traceparent": f"00-{trace_id}-{'ab' * 8}-01"}
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.read().decode(), trace_id
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), trace_id

    def trace(self, trace_id: str, clients: int) -> tuple[Span, list[Span]]:
        """The SERVER span and the CLIENT spans of one trace, once at least `clients` arrived."""

        def of_trace(spans: list[Span]) -> list[Span]:
            return [s for s in spans if s.trace_id == trace_id]

        def complete(spans: list[Span]) -> bool:
            mine = of_trace(spans)
            return any(s.kind == "SERVER" for s in mine) and (
                sum(s.kind == "CLIENT" for s in mine) >= clients
            )

        spans = of_trace(self.rx.wait_for(complete, timeout=30))
        servers = [s for s in spans if s.kind == "SERVER"]
        assert len(servers) == 1, spans
        return servers[0], [s for s in spans if s.kind == "CLIENT"]


def _start(binary: Path, rx: OTLPReceiver, env: dict[str, str]) -> Service:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    full.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint,
        OTEL_SERVICE_NAME="datasvc",
        OTEL_BSP_SCHEDULE_DELAY="100",
        **env,
    )
    proc = subprocess.Popen(
        [str(binary), "-addr", "127.0.0.1:0"],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.match(r"listening on (127\.0\.0\.1:\d+)", line)
    if not m:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"datasvc did not start: {line!r}\n{err}")
    return Service(proc, f"http://{m.group(1)}", rx)


@pytest.fixture(scope="module")
def stores(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The servers and the environment that points the service at them."""
    redis: Server = request.getfixturevalue("redis_server")
    pg: Server = request.getfixturevalue("postgres_server")
    mariadb: Server = request.getfixturevalue("mariadb_server")
    tmp = tmp_path_factory.mktemp("sqlite")
    env = {
        "REDIS_ADDR": redis.address,
        "PG_DSN": f"postgres://{DB_USER}:{DB_PASSWORD}@{pg.host}:{pg.port}/{DB_NAME}?sslmode=disable",
        "LIBPQ_DSN": (
            f"host={pg.host} port={pg.port} user={DB_USER} password={DB_PASSWORD} "
            f"dbname={DB_NAME} sslmode=disable"
        ),
        "MYSQL_DSN": (f"{DB_USER}:{DB_PASSWORD}@tcp({mariadb.address})/{DB_NAME}"),
        "SQLITE_DSN": str(tmp / "modernc.db"),
        "SQLITE3_DSN": str(tmp / "mattn.db"),
    }
    return {"env": env, "redis": redis, "postgres": pg, "mariadb": mariadb}


def _oldest_copy(dst: Path) -> Path:
    shutil.copytree(DATASVC, dst)
    (dst / "go.mod").write_text((DATASVC / "go.mod.oldest").read_text())
    (dst / "go.sum").write_text((DATASVC / "go.sum.oldest").read_text())
    return dst


@pytest.fixture(scope="module", params=["newest", "oldest"])
def service(
    request: pytest.FixtureRequest, stores: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The instrumented service (one build per release set), running against the stores."""
    tmp = tmp_path_factory.mktemp(f"datasvc-{request.param}")
    src = DATASVC if request.param == "newest" else _oldest_copy(tmp / "src")
    binary = _build(src, tmp / "datasvc")
    with OTLPReceiver() as rx:
        svc = _start(binary, rx, stores["env"])
        try:
            yield svc
        finally:
            svc.proc.kill()
            svc.proc.communicate()


def _parented(server: Span, clients: list[Span]) -> None:
    for s in clients:
        assert s.parent_span_id == server.span_id, f"{s!r} is not a child of {server!r}"


def _no_secret(spans: list[Span], *words: str) -> None:
    for s in spans:
        text = repr(s.attributes) + s.name + s.status_message
        for w in words:
            assert w not in text, f"{w!r} recorded in {s!r}"


def by_name(spans: list[Span], name: str) -> list[Span]:
    return [s for s in spans if s.name == name]


# --- Redis ---------------------------------------------------------------------------------


def test_redis_commands_and_pipelines(service: Service, stores: dict[str, Any]) -> None:
    status, body, trace_id = service.get("/redis")
    assert status == 200, body
    assert body.startswith("hello ") and "wrongtype=true" in body
    server, clients = service.trace(trace_id, clients=6)
    assert server.name == "GET /redis"
    clients = [s for s in clients if s.scope == REDIS_SCOPE]
    names = [s.name for s in clients]
    # a new connection's own commands (HELLO, CLIENT SETINFO) are part of the command that
    # made the client dial: no spans of their own
    assert sorted(names) == ["BATCH", "BATCH INCR", "GET", "GET", "LPUSH", "SET"]
    _parented(server, clients)
    redis: Server = stores["redis"]
    for s in clients:
        assert s.attributes["db.system.name"] == "redis"
        assert s.attributes["server.address"] == "127.0.0.1"
        assert s.attributes["server.port"] == redis.port
        assert s.attributes["db.namespace"] == "2"
        assert s.attributes["db.operation.name"] == s.name
        assert "db.query.text" not in s.attributes
    # the missing key's redis.Nil is an answer, not an error
    for s in by_name(clients, "GET") + by_name(clients, "SET"):
        assert s.status == "UNSET", s
    (lpush,) = by_name(clients, "LPUSH")
    assert lpush.status == "ERROR" and "WRONGTYPE" in lpush.status_message
    assert lpush.attributes["error.type"] == "WRONGTYPE"
    assert lpush.attributes["db.response.status_code"] == "WRONGTYPE"
    (incr,) = by_name(clients, "BATCH INCR")
    assert incr.attributes["db.operation.batch.size"] == 2
    (tx,) = by_name(clients, "BATCH")
    assert tx.attributes["db.operation.batch.size"] == 4  # MULTI SET GET EXEC
    assert tx.status == "UNSET"
    _no_secret(clients, "hello", "greeting", "counter")


# --- pgx -----------------------------------------------------------------------------------


def test_pgx_query_exec_batch_copy_and_transactions(
    service: Service, stores: dict[str, Any]
) -> None:
    status, body, trace_id = service.get("/pgx")
    assert status == 200, body
    assert "notable=true" in body
    server, clients = service.trace(trace_id, clients=10)
    clients = [s for s in clients if s.scope == PGX_SCOPE]
    names = sorted(s.name for s in clients)
    assert names == sorted(
        [
            "INSERT items",
            "SELECT no_such_table",
            "BATCH INSERT items",
            "COPY items",
            "BEGIN",
            "UPDATE items",
            "COMMIT",
            "BEGIN",
            "ROLLBACK",
            "SELECT items",
        ]
    ), names
    _parented(server, clients)
    pg: Server = stores["postgres"]
    for s in clients:
        assert s.attributes["db.system.name"] == "postgresql"
        assert s.attributes["server.address"] == "127.0.0.1"
        assert s.attributes["server.port"] == pg.port
        assert s.attributes["db.namespace"] == DB_NAME
    (insert,) = by_name(clients, "INSERT items")
    assert insert.attributes["db.operation.name"] == "INSERT"
    assert insert.attributes["db.collection.name"] == "items"
    assert insert.attributes["db.query.text"] == "INSERT INTO items (name, n) VALUES ($1, $2)"
    assert insert.status == "UNSET"
    (missing,) = by_name(clients, "SELECT no_such_table")
    assert missing.status == "ERROR"
    assert missing.attributes["db.response.status_code"] == "42P01"
    assert missing.attributes["error.type"] == "42P01"
    (batch,) = by_name(clients, "BATCH INSERT items")
    assert batch.attributes["db.operation.batch.size"] == 2
    assert batch.attributes["db.operation.name"] == "BATCH INSERT"
    (copy,) = by_name(clients, "COPY items")
    assert copy.attributes["db.operation.name"] == "COPY"
    (count,) = by_name(clients, "SELECT items")
    assert count.attributes["db.response.returned_rows"] == 1
    _no_secret(clients, DB_PASSWORD)


# --- database/sql drivers, sqlx, gorm ------------------------------------------------------

SQL_DRIVERS = {
    # driver name: (db.system.name, server fixture or None for an embedded database)
    "mysql": ("mysql", "mariadb"),
    "postgres": ("postgresql", "postgres"),
    "pgx": ("postgresql", "postgres"),
    "sqlite": ("sqlite", None),
    "sqlite3": ("sqlite", None),
}


@pytest.mark.parametrize("driver", sorted(SQL_DRIVERS))
def test_database_sql_driver(service: Service, stores: dict[str, Any], driver: str) -> None:
    system, server_name = SQL_DRIVERS[driver]
    status, body, trace_id = service.get(f"/sql/{driver}")
    assert status == 200, body
    server, clients = service.trace(trace_id, clients=3)
    # one span per call: database/sql's, never a second one from the driver (pgx) underneath
    assert [s.scope for s in clients] == [DATABASESQL_SCOPE] * 3, clients
    assert sorted(s.name for s in clients) == ["CREATE", "INSERT", "SELECT"]
    _parented(server, clients)
    for s in clients:
        assert s.attributes["db.system.name"] == system
        if server_name:
            srv: Server = stores[server_name]
            assert s.attributes["server.address"] == "127.0.0.1"
            assert s.attributes["server.port"] == srv.port
            assert s.attributes["db.namespace"] == DB_NAME
        else:
            assert "server.address" not in s.attributes
    _no_secret(clients, DB_PASSWORD)


def test_sqlx_through_database_sql(service: Service, stores: dict[str, Any]) -> None:
    status, body, trace_id = service.get("/sqlx")
    assert status == 200, body
    server, clients = service.trace(trace_id, clients=2)
    assert [(s.scope, s.name) for s in clients] == [(DATABASESQL_SCOPE, "SELECT")] * 2
    _parented(server, clients)
    for s in clients:
        assert s.attributes["db.system.name"] == "mysql"
        assert s.attributes["server.port"] == stores["mariadb"].port


def test_gorm_through_database_sql(service: Service) -> None:
    status, body, trace_id = service.get("/gorm")
    assert status == 200, body
    server, clients = service.trace(trace_id, clients=4)
    assert {s.scope for s in clients} == {DATABASESQL_SCOPE}
    in_request = [s for s in clients if s.parent_span_id == server.span_id]
    names = [s.name for s in in_request]
    # Create runs in gorm's own transaction; each statement is one span
    for want in ("BEGIN", "INSERT", "COMMIT"):
        assert names.count(want) == 1, names
    assert [s for s in in_request if "pets" in s.attributes.get("db.query.text", "")]
    for s in clients:
        assert s.attributes["db.system.name"] == "sqlite"
