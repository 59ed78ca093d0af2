"""A throwaway PostgreSQL server for the tests (and the benchmark): initdb and pg_ctl in a temporary
folder, listening only on a Unix socket in that folder, stopped and removed at the end.

It runs as an unprivileged user: the current one, or `postgres` (else `nobody`) when the tests run
as root, since PostgreSQL refuses to run as root. Debian's `postgresql` package provides the
programs (under /usr/lib/postgresql/VERSION/bin); `.ci/run` installs it when it is missing.
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading

INSTALL = ("to run the PostgreSQL tests, install PostgreSQL's server programs (Debian or Ubuntu: "
           "sudo apt-get install postgresql; macOS: brew install postgresql) and the postgres extra "
           "(pip install -e '.[postgres]', which make test does)")
PORT = 5432   # only names the socket file, in a folder of our own, so it never clashes


def programs() -> str | None:
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(found))
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda path: int(path.split("/")[-2]) if path.split("/")[-2].isdigit() else 0,
                         reverse=True):
        if os.access(os.path.join(folder, "initdb"), os.X_OK):
            return folder
    return None


def unavailable() -> str | None:
    """Why no throwaway PostgreSQL can be started here, or None when it can."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return f"psycopg or psycopg-pool is not installed: {INSTALL}"
    if programs() is None:
        return f"no initdb or pg_ctl (not on PATH, not in /usr/lib/postgresql/*/bin): {INSTALL}"
    return None


class Cluster:
    """One PostgreSQL server in a temporary folder; `database()` makes a fresh database in it."""

    def __init__(self, durable: bool = False):
        self.bin = programs()
        self.folder = tempfile.mkdtemp(prefix="chatbot-pg-")
        self.data = os.path.join(self.folder, "data")
        self.log = os.path.join(self.folder, "server.log")
        self.user = None
        if os.geteuid() == 0:
            self.user = next((name for name in ("postgres", "nobody") if _exists(name)), None)
            account = pwd.getpwnam(self.user)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self._count = 0
        self._lock = threading.Lock()
        # fsync off makes the tests faster and loses nothing they check: they kill our server
        # processes, never PostgreSQL or the machine. The benchmark keeps it on.
        settings = ["-c", "listen_addresses=", "-c", f"unix_socket_directories={self.folder}",
                    "-c", f"port={PORT}", "-c", "max_connections=100"]
        if not durable:
            settings += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        self._run("initdb", "-D", self.data, "-U", "chatbot", "--auth=trust", "--encoding=UTF8",
                  "--locale=C", "--no-sync")
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", " ".join(settings),
                  "start")

    def _run(self, program: str, *arguments: str) -> None:
        done = subprocess.run([os.path.join(self.bin, program), *arguments], capture_output=True, text=True,
                              user=self.user, cwd=self.folder, stdin=subprocess.DEVNULL, timeout=120)
        if done.returncode != 0:
            log = ""
            if os.path.exists(self.log):
                with open(self.log, errors="replace") as file:
                    log = file.read()[-2000:]
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://chatbot@/{database}?host={self.folder}&port={PORT}"

    def database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg
        with self._lock:
            self._count += 1
            name = f"test_{os.getpid()}_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if os.path.isdir(self.data):
            try:
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


_shared: Cluster | None = None
_shared_lock = threading.Lock()


def shared() -> Cluster:
    """One cluster for the whole test run, started on first use and removed when the run ends."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Cluster()
            atexit.register(_shared.stop)
        return _shared


def fresh_database(kind: str, folder) -> str:
    """For a test parametrised over the stores: a new SQLite file's path in `folder`, or a new
    PostgreSQL database's URL. Without PostgreSQL the test is skipped with how to install it;
    under CI (CI set) it fails instead, since CI must run it."""
    import pytest
    if kind == "sqlite":
        return os.path.join(folder, "sessions.sqlite3")
    reason = unavailable()
    if reason is None:
        try:
            return shared().database()
        except Exception as error:   # initdb or pg_ctl failed, or the server does not answer
            reason = f"a throwaway PostgreSQL could not be started: {error}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the PostgreSQL tests: .ci/run installs postgresql)")
    pytest.skip(reason)
