"""Real servers for the integration tests, started once per pytest session on 127.0.0.1.

Each fixture starts a real server from the Debian packages that `scripts/install.sh --dev` installs,
on a free port with a temporary data directory, waits until it answers, and stops it by PID at the
end of the session. A fixture skips (saying why) only when its server truly cannot start; under
CI=true it fails instead, since a skipped integration test in CI is a failure.

Use a fixture from a test module by importing it (pytest finds fixtures in the module's namespace):

    from servers import redis_server  # noqa: F401  (a pytest fixture)

    def test_x(redis_server: Server) -> None:
        redis_server.port ...

Adding a server: write a `_start_<name>(tmp: Path) -> Server` function and a session fixture that
calls `_serve("<name>", _start_<name>, tmp_path_factory)`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOST = "127.0.0.1"
# The one account every SQL server gets, so tests can check credentials never reach a span.
DB_USER = "app"
DB_PASSWORD = "s3cret-pw"
DB_NAME = "app"


class ServerUnavailable(Exception):
    """The server cannot run on this machine (binary missing, refused to start): the reason."""


@dataclass
class Server:
    """A running server: where it listens, how to reach it, and the process to stop."""

    name: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self, timeout: float = 20) -> None:
        """Stop by PID: SIGTERM, then SIGKILL when it does not end in time."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _need(*names: str) -> str:
    """The first of names found on PATH (or in sbin), else ServerUnavailable."""
    for name in names:
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
        if path:
            return path
    raise ServerUnavailable(f"{' / '.join(names)} is not installed (scripts/install.sh --dev)")


def _spawn(cmd: list[str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd
        )


def _wait_ready(server: Server, ready: Callable[[], bool], timeout: float = 60) -> None:
    """Poll ready() until it is true; ServerUnavailable (with the log's tail) if the process
    ends or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise ServerUnavailable(
                f"{server.name} exited with status {server.proc.returncode} while starting:\n"
                + server.log_tail()
            )
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise ServerUnavailable(
        f"{server.name} did not answer within {timeout:.0f}s:\n" + server.log_tail()
    )


def _accepts(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=2):
        return True


def _exchange(port: int, payload: bytes, timeout: float = 2) -> bytes | None:
    """What the server says first (after payload, when given); None for a server that waits for
    the client (no payload, nothing within timeout)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        if payload:
            s.sendall(payload)
        try:
            return s.recv(4096)
        except TimeoutError:
            if payload:
                raise
            return None


def _run_setup(cmd: list[str], what: str, timeout: float = 120, **kw: object) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise ServerUnavailable(f"{what} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")


# --- Redis ---------------------------------------------------------------------------------


def _start_redis(tmp: Path) -> Server:
    exe = _need("redis-server")
    port = free_port()
    log = tmp / "redis.log"
    cmd = [
        exe, "--bind", HOST, "--port", str(port), "--dir", str(tmp), "--save", "",
        "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
        "--logfile", "",
    ]  # fmt: skip
    server = Server("redis-server", HOST, port, _spawn(cmd, log), tmp, log)
    _wait_ready(server, lambda: (_exchange(port, b"PING\r\n") or b"").startswith(b"+PONG"))
    return server


# --- PostgreSQL ----------------------------------------------------------------------------


def _as_user() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it in a user namespace as uid 1000 (files
    the namespace creates belong to root outside, which the namespace sees as its own user)."""
    if os.geteuid() != 0:
        return []
    return [_need("unshare"), "--user", "--map-user=1000"]


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    raise ServerUnavailable(f"PostgreSQL's {name} is not installed (scripts/install.sh --dev)")


def _start_postgres(tmp: Path) -> Server:
    initdb, postgres = _pg_bin("initdb"), _pg_bin("postgres")
    data = tmp / "data"
    pwfile = tmp / "pw"
    pwfile.write_text(DB_PASSWORD + "\n")
    _run_setup(
        [*_as_user(), initdb, "-D", str(data), "-U", DB_USER, f"--pwfile={pwfile}",
         "--auth=scram-sha-256", "-E", "UTF8", "--no-sync", "--locale=C"],
        "initdb",
    )  # fmt: skip
    port = free_port()
    log = tmp / "postgres.log"
    cmd = [
        *_as_user(), postgres, "-D", str(data), "-p", str(port), "-k", str(tmp),
        "-c", f"listen_addresses={HOST}", "-c", "fsync=off", "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off",
    ]  # fmt: skip
    server = Server("postgres", HOST, port, _spawn(cmd, log), tmp, log)
    isready = _pg_bin("pg_isready")

    def ready() -> bool:
        return (
            subprocess.run(
                [isready, "-q", "-h", HOST, "-p", str(port)], timeout=10, check=False
            ).returncode
            == 0
        )

    _wait_ready(server, ready)
    env = {**os.environ, "PGPASSWORD": DB_PASSWORD}
    try:
        _run_setup(
            [_pg_bin("createdb"), "-h", HOST, "-p", str(port), "-U", DB_USER, DB_NAME],
            "createdb",
            env=env,
        )
    except ServerUnavailable:
        server.stop()
        raise
    return server


# --- MariaDB -------------------------------------------------------------------------------


def _start_mariadb(tmp: Path) -> Server:
    mariadbd = _need("mariadbd", "mysqld")
    install = _need("mariadb-install-db", "mysql_install_db")
    data = tmp / "data"
    user = ["--user=root"] if os.geteuid() == 0 else []
    _run_setup(
        [install, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
         "--skip-test-db", "--skip-name-resolve", *user],
        "mariadb-install-db",
    )  # fmt: skip
    init = tmp / "init.sql"
    init.write_text(
        f"CREATE DATABASE IF NOT EXISTS {DB_NAME};\n"
        f"CREATE USER IF NOT EXISTS '{DB_USER}'@'%' IDENTIFIED BY '{DB_PASSWORD}';\n"
        f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'%';\n"
    )
    port = free_port()
    log = tmp / "mariadb.log"
    cmd = [
        mariadbd, "--no-defaults", f"--datadir={data}", f"--port={port}", f"--bind-address={HOST}",
        f"--socket={tmp / 'mysqld.sock'}", f"--pid-file={tmp / 'mysqld.pid'}", f"--init-file={init}",
        "--skip-name-resolve", "--skip-log-bin", "--innodb-flush-log-at-trx-commit=0",
        f"--log-error={log}", *user,
    ]  # fmt: skip
    server = Server("mariadb", HOST, port, _spawn(cmd, tmp / "mariadb.out"), tmp, log)
    # the server's greeting (protocol 10) arrives once it accepts connections; the init file has
    # run by then
    _wait_ready(server, lambda: (_exchange(port, b"") or b"")[4:5] == b"\x0a")
    return server


# --- MongoDB wire protocol: FerretDB ------------------------------------------------------

FERRETDB_MODULE = Path(__file__).parent / "data" / "modules" / "data_ferretdb"


def _start_ferretdb(tmp: Path) -> Server:
    """FerretDB v1 with its SQLite backend (a real MongoDB wire-protocol server), built from the Go
    module proxy by the plain go command (tests/data/modules/data_ferretdb; the build cache makes
    later sessions quick)."""
    go = _need("go")
    exe = tmp / "ferretdb"
    _run_setup(
        [go, "build", "-o", str(exe), "."], "building FerretDB", timeout=900, cwd=FERRETDB_MODULE
    )
    data = tmp / "data"
    data.mkdir()
    port = free_port()
    log = tmp / "ferretdb.log"
    cmd = [str(exe), "-addr", f"{HOST}:{port}", "-dir", str(data)]
    server = Server("ferretdb", HOST, port, _spawn(cmd, log), tmp, log)
    _wait_ready(server, lambda: _accepts(port), timeout=120)
    return server


# --- NATS and RabbitMQ (messaging) ---------------------------------------------------------


def _start_nats(tmp: Path) -> Server:
    exe = _need("nats-server")
    port = free_port()
    log = tmp / "nats.log"
    cmd = [exe, "-a", HOST, "-p", str(port), "-m", "0", "--store_dir", str(tmp)]
    server = Server("nats-server", HOST, port, _spawn(cmd, log), tmp, log)
    _wait_ready(server, lambda: (_exchange(port, b"") or b"").startswith(b"INFO "))
    server.extra["url"] = f"nats://{HOST}:{port}"
    return server


def _start_rabbitmq(tmp: Path, epmd_port: int) -> Server:
    """RabbitMQ as a node of its own (unique name, its own epmd port, data and log dirs in tmp),
    run as root from the package's scripts; its AMQP port answers once the broker has booted."""
    _need("epmd")
    exe = "/usr/lib/rabbitmq/bin/rabbitmq-server"
    if not os.access(exe, os.X_OK):
        exe = _need("rabbitmq-server")
    port, dist = free_port(), free_port()
    (tmp / "enabled_plugins").write_text("[].\n")
    env = {
        **os.environ,
        "HOME": str(tmp),  # the Erlang cookie
        "RABBITMQ_MNESIA_BASE": str(tmp / "mnesia"),
        "RABBITMQ_LOG_BASE": str(tmp / "log"),
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist),
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODENAME": f"otelautoinst{os.getpid()}x{port}@localhost",
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(tmp / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(tmp / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(tmp / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(tmp / "rabbitmq-env.conf"),
        "ERL_EPMD_PORT": str(epmd_port),
    }
    log = tmp / "rabbitmq.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [exe], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    server = Server("rabbitmq-server", HOST, port, proc, tmp, log)
    _wait_ready(server, lambda: _accepts(port), timeout=120)
    server.extra["url"] = f"amqp://guest:guest@{HOST}:{port}/"
    return server


def _stop_epmd(port: int) -> None:
    """Stop the epmd that the RabbitMQ node started on its own port (it outlives the node)."""
    epmd = shutil.which("epmd")
    if epmd:
        subprocess.run([epmd, "-port", str(port), "-kill"], capture_output=True, timeout=20)


# --- fixtures ------------------------------------------------------------------------------


def _serve(
    name: str, start: Callable[[Path], Server], factory: pytest.TempPathFactory
) -> Iterator[Server]:
    try:
        server = start(factory.mktemp(name))
    except ServerUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"{name} cannot start in CI: {e}", pytrace=False)
        pytest.skip(f"{name} cannot start here: {e}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve("redis", _start_redis, tmp_path_factory)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """PostgreSQL with user DB_USER / DB_PASSWORD (scram-sha-256) and database DB_NAME."""
    yield from _serve("postgres", _start_postgres, tmp_path_factory)


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """MariaDB with user DB_USER / DB_PASSWORD and database DB_NAME."""
    yield from _serve("mariadb", _start_mariadb, tmp_path_factory)


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A MongoDB wire-protocol server (FerretDB with SQLite), no authentication."""
    yield from _serve("ferretdb", _start_ferretdb, tmp_path_factory)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """nats-server; extra["url"] is its nats:// URL."""
    yield from _serve("nats", _start_nats, tmp_path_factory)


@pytest.fixture(scope="session")
def rabbitmq_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """RabbitMQ (user guest/guest, which RabbitMQ allows from 127.0.0.1); extra["url"] is its
    amqp:// URL. Its epmd (on a port of its own) is stopped with it."""
    epmd_port = free_port()
    try:
        yield from _serve("rabbitmq", lambda tmp: _start_rabbitmq(tmp, epmd_port), tmp_path_factory)
    finally:
        _stop_epmd(epmd_port)
