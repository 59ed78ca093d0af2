"""`python -m chatbot serve` as a real process: kill -9 and restart, several workers, bad starts.

Every server listens on 127.0.0.1 on a free port with a database in a temporary folder; request
loops are bounded in count and in time, and every process started here is killed at the end.
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

START_TIMEOUT = 60     # seconds for a server to answer /healthz (a slow CI machine, 2 cores)
REQUEST_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One `python -m chatbot serve` process group (uvicorn's workers included)."""

    def __init__(self, folder, db, *options, environ=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / f"server-{self.port}.log", "w+")
        env = {name: value for name, value in os.environ.items() if name != "CHATBOT_API_KEY"}
        env.update({"CHATBOT_TODAY": "2026-11-27", **(environ or {})})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chatbot", "serve", "--port", str(self.port), "--db", str(db), *options],
            cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)   # its own process group: kill -9 reaches every worker
        self._wait_until_up()

    def _wait_until_up(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"the server did not answer within {START_TIMEOUT}s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def kill(self, how=signal.SIGKILL):
        """Send `how` to the whole process group and wait for the main process to end."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, how)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)
        if how != signal.SIGKILL:   # workers that outlived a gentle stop would hold the port
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def servers(tmp_path):
    """start(*options, db=..., environ=...) -> a running Server; all are killed at the end."""
    started = []

    def start(*options, db=None, environ=None):
        server = Server(tmp_path, db or tmp_path / "sessions.sqlite3", *options, environ=environ)
        started.append(server)
        return server
    yield start
    for server in started:
        server.kill()
        server.log.close()


def open_session(http: httpx.Client) -> str:
    response = http.post("/v1/sessions", json={})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_kill_9_during_a_busy_minute_loses_no_answered_turn(servers, tmp_path):
    """Clients keep talking while the server is killed with SIGKILL; after a restart every turn a
    client saw answered is in its transcript, with the very answer the client got."""
    server = servers()
    answered: dict[str, list[tuple[str, str]]] = {}
    stop, enough, failures = threading.Event(), threading.Event(), []

    def client(number):
        try:
            talk(number)
        except Exception as error:   # reported below, in the test's own thread
            failures.append(repr(error))

    def talk(number):
        session_id = sessions[number]
        with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as http:
            for turn in range(60):                       # bounded, however slow the machine
                if stop.is_set():
                    return
                text = f"client {number} turn {turn}: how long does Botox take?"
                try:
                    reply = http.post(f"/v1/sessions/{session_id}/messages", json={"text": text})
                except httpx.TransportError:
                    return                               # the server is gone: stop here
                assert reply.status_code == 200, reply.text
                answered[session_id].append((text, reply.json()["text"]))
                if sum(map(len, answered.values())) >= 40:
                    enough.set()

    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as http:
        sessions = [open_session(http) for _ in range(8)]
    answered.update({session_id: [] for session_id in sessions})
    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    enough.wait(timeout=120)
    server.kill(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT + 5)
    assert not failures
    assert sum(map(len, answered.values())) >= 40

    restarted = servers()
    with httpx.Client(base_url=restarted.url, timeout=REQUEST_TIMEOUT) as http:
        for session_id, turns in answered.items():
            transcript = http.get(f"/v1/sessions/{session_id}").json()["transcript"]
            pairs = list(zip(transcript[::2], transcript[1::2]))
            assert all(u["role"] == "user" and b["role"] == "bot" for u, b in pairs)
            kept = [(u["text"], b["text"]) for u, b in pairs]
            # Every answered turn is there, in order; at most one more (answered as the server
            # died, before the client could read it).
            assert kept[:len(turns)] == turns
            assert len(kept) - len(turns) in (0, 1)


def test_a_restarted_server_carries_on_a_conversation_where_it_stopped(servers):
    first = servers()
    with httpx.Client(base_url=first.url, timeout=REQUEST_TIMEOUT) as http:
        session_id = open_session(http)
        reply = http.post(f"/v1/sessions/{session_id}/messages", json={"text": "check me for fillers"})
        assert reply.json()["follow_up"] == "pregnant"
    first.kill(signal.SIGKILL)

    second = servers()
    with httpx.Client(base_url=second.url, timeout=REQUEST_TIMEOUT) as http:
        reply = http.post(f"/v1/sessions/{session_id}/messages", json={"text": "no"}).json()
        assert reply["facts"]["pregnant"] is False
        assert reply["follow_up"] == "breastfeeding"


def test_two_workers_keep_many_concurrent_sessions_apart(servers):
    server = servers("--workers", "2")
    results, failures = {}, []

    def client(day):
        try:
            with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as http:
                session_id = open_session(http)
                for text in (f"My filler appointment is on 2026-12-{day:02d}", "no", "I take ibuprofen"):
                    response = http.post(f"/v1/sessions/{session_id}/messages", json={"text": text})
                    assert response.status_code == 200, response.text
                results[day] = http.get(f"/v1/sessions/{session_id}").json()
        except Exception as error:   # reported below, in the test's own thread
            failures.append(repr(error))

    threads = [threading.Thread(target=client, args=(day,)) for day in range(1, 25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    assert sorted(results) == list(range(1, 25))
    for day, session in results.items():
        assert session["facts"]["appointment_date"] == f"2026-12-{day:02d}"
        assert session["facts"]["medicines"] == ["ibuprofen"]
        assert len(session["transcript"]) == 6
        assert all(f"2026-12-{day:02d}" in m["text"] for m in session["transcript"][:1])


def test_the_api_key_comes_from_the_environment(servers):
    server = servers(environ={"CHATBOT_API_KEY": "desk-key"})
    assert httpx.post(server.url + "/v1/sessions", json={}, timeout=REQUEST_TIMEOUT).status_code == 401
    response = httpx.post(server.url + "/v1/sessions", json={}, headers={"Authorization": "Bearer desk-key"},
                          timeout=REQUEST_TIMEOUT)
    assert response.status_code == 201


def test_sigterm_stops_the_server_cleanly(servers):
    server = servers()
    server.kill(signal.SIGTERM)
    assert server.process.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in server.output()


def test_a_busy_port_is_one_clear_line_and_exit_status_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "chatbot", "serve", "--port", str(port),
                               "--db", str(tmp_path / "s.sqlite3")], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert done.stderr.startswith(f"chatbot: cannot listen on 127.0.0.1:{port}")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
