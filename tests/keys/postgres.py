"""A real PostgreSQL for the tests: initdb into a temp dir, started on a free port.

Debian's ``postgresql`` package puts ``initdb`` and ``pg_ctl`` under
``/usr/lib/postgresql/<version>/bin``. initdb refuses to run as root, so as root
(CI) the server runs as the ``postgres`` user (``runuser``) in a directory it owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(Exception):
    pass


def find_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresUnavailable("no initdb: install Debian's postgresql package (apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int
    as_user: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        done = self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        if done.returncode != 0:
            raise PostgresUnavailable(f"createdb failed: {done.stderr.strip()}")
        return self.database_url(name)

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        data = self.root / "data"
        done = self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {done.stderr.strip()[-500:]}")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        done = self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "log"), "-w", "-t", "60", "start")
        if done.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {done.stderr.strip()} {log[-500:]}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresServer:
    bin_dir = find_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
    as_user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root and there is no postgres user to run initdb as") from None
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = "postgres"
    server = PostgresServer(bin_dir, root, _free_port(), as_user)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
