"""A throwaway PostgreSQL cluster a test starts, stops and restarts itself (never the shared one).

Tests that need a database to fail (an outage, a restart) must not touch the
PostgreSQL other engineers' tests use: this runs a cluster of its own from
Debian's server binaries (``/usr/lib/postgresql/*/bin``, newest first, or
``POSTGRES_BIN_DIR``), in a temporary directory, on a free port of 127.0.0.1,
with trust authentication. As root the server runs as the ``postgres`` OS user
(PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "postgres"


def server_binaries() -> Path:
    """The directory of ``initdb``/``pg_ctl``: ``POSTGRES_BIN_DIR`` or the newest Debian server."""
    configured = os.environ.get("POSTGRES_BIN_DIR")
    candidates = [Path(configured)] if configured else sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version)
    for directory in reversed(candidates):
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise FileNotFoundError("no PostgreSQL server binaries (install postgresql or set POSTGRES_BIN_DIR)")


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayPostgres:
    """One cluster in a temporary directory: ``create``, then ``stop``/``start`` at will, ``destroy`` at the end."""

    def __init__(self, *, port: int | None = None, bin_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self._bin = bin_dir or server_binaries()
        self._base = Path(tempfile.mkdtemp(prefix="throwaway-postgres-"))
        self._data = self._base / "data"
        self._run_as = SUPERUSER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """SQLAlchemy async URL of the cluster's ``postgres`` database (as its superuser)."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def log_file(self) -> Path:
        """The server's log, for a failing test to show."""
        return self._base / "postgres.log"

    def create(self) -> None:
        """Initialise the cluster and start it."""
        if self._run_as is not None:
            shutil.chown(self._base, user=self._run_as)
        self._run("initdb", "-D", str(self._data), "-U", SUPERUSER, "--auth=trust", "--no-sync", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self._base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        self._run("pg_ctl", "-D", str(self._data), "-l", str(self.log_file), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` disconnects clients and shuts down cleanly, ``immediate`` is a crash."""
        self._run("pg_ctl", "-D", str(self._data), "-m", mode, "-w", "-t", "60", "stop")

    def freeze(self) -> None:
        """SIGSTOP the server and its backends: connections stay open, and nothing answers (a hang)."""
        self._signal_all(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT what ``freeze`` stopped."""
        self._signal_all(signal.SIGCONT)

    def destroy(self) -> None:
        """Stop the server if it runs and remove its files."""
        if (self._data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self._base, ignore_errors=True)

    def _signal_all(self, signum: signal.Signals) -> None:
        server = int((self._data / "postmaster.pid").read_text().split("\n", 1)[0])
        for pid in (*_children(server), server):
            os.kill(pid, signum)

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self._bin / program), *arguments]
        if self._run_as is not None:
            command = ["runuser", "-u", self._run_as, "--", *command]
        # From a directory the server's user can read: pg_ctl and initdb change back to it.
        result = subprocess.run(command, cwd=self._base, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr or result.stdout}\n{log}")


def _version(directory: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in directory.parent.name.split(".") if part.isdigit())


def _children(parent: int) -> list[int]:
    """The processes whose parent is ``parent`` (from /proc: the server's backends)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # The command name (in parentheses) may hold spaces: fields after its closing parenthesis are fixed.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return found
