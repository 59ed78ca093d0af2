"""`python -m chatbot serve` as a real process: kill -9 and restart, several workers, bad starts.

Every server listens on 127.0.0.1 on a free port with a database in a temporary folder; request
loops are bounded in count and in time, and every process started here is killed at the end.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pgcluster
import pytest

START_TIMEOUT = 60     # seconds for a server to answer /healthz (a slow CI machine, 2 cores)
REQUEST_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One `python -m chatbot serve` process group (uvicorn's workers included)."""

    def __init__(self, folder, db, *options, environ=None, port=None):
        self.port = port or free_port()
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
        try:   # workers that outlived a gentle stop, or their parent, would hold the port
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def servers(tmp_path):
    """start(*options, db=..., environ=...) -> a running Server; all are killed at the end."""
    started = []

    def start(*options, db=None, environ=None, port=None):
        server = Server(tmp_path, db or tmp_path / "sessions.sqlite3", *options, environ=environ, port=port)
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


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_stops_the_server_cleanly(servers, workers):
    server = servers("--workers", workers)
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


def children(pid: int) -> list[int]:
    """The live (not zombie) processes whose parent is `pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the workers through /proc")
def test_workers_die_with_their_parent_and_the_port_can_be_used_again(servers):
    """kill -9 of the `serve --workers 2` process alone (not its group): the workers stop too, so
    that a restart on the same port does not find it taken."""
    first = servers("--workers", "2")
    workers = children(first.process.pid)
    assert len(workers) >= 2
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=30)
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers), "a worker outlived its parent"
    second = servers("--workers", "2", port=first.port)
    with httpx.Client(base_url=second.url, timeout=REQUEST_TIMEOUT) as http:
        assert http.post("/v1/sessions", json={}).status_code == 201


def raw_exchange(connection: socket.socket, request: bytes) -> tuple[int, dict, bytes]:
    """Send one HTTP/1.1 request on an open connection and read its whole response."""
    connection.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, f"the server closed the connection: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = connection.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def message_request(port: int, session_id: str, text: str) -> bytes:
    body = json.dumps({"text": text}).encode()
    return (f"POST /v1/sessions/{session_id}/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Origin: https://desk.example\r\n\r\n").encode() + body


def test_after_a_500_the_connection_stays_usable_and_the_headers_are_there(servers, tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "greeting.j2").write_text("{{ no_such_variable }}", encoding="utf-8")
    server = servers("--templates", str(folder), "--cors", "https://desk.example")
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as http:
        session_id = open_session(http)
    with socket.create_connection(("127.0.0.1", server.port), timeout=REQUEST_TIMEOUT) as connection:
        status, headers, body = raw_exchange(connection, message_request(server.port, session_id, "hello"))
        assert status == 500 and json.loads(body)["error"]
        assert headers.get("connection", "").lower() != "close"
        assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"
        assert headers["access-control-allow-origin"] == "https://desk.example"
        again = message_request(server.port, session_id, "How long does Botox take?")
        status, _, body = raw_exchange(connection, again)
        assert status == 200 and json.loads(body)["sources"]   # the same connection, still in use
    assert "Traceback" in server.output()                         # the failure is logged


def test_the_access_log_never_shows_a_session_id(servers):
    server = servers()
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as http:
        session_id = open_session(http)
        assert http.post(f"/v1/sessions/{session_id}/messages", json={"text": "hello"}).status_code == 200
        assert http.get(f"/v1/sessions/{session_id}").status_code == 200
        assert http.delete(f"/v1/sessions/{session_id}").status_code == 204
    server.kill(signal.SIGTERM)
    log = server.output()
    assert '"POST /v1/sessions/{id}/messages HTTP/1.1" 200' in log
    assert '"DELETE /v1/sessions/{id} HTTP/1.1" 204' in log
    assert session_id not in log


def test_accepted_connections_have_tcp_nodelay(bot, tmp_path):
    """`serve` binds its own listening socket; asyncio sets TCP_NODELAY on the connections it
    accepts only when that socket names its protocol. Without it every answer on a kept-alive
    connection waits for the client's delayed ACK."""
    import uvicorn

    from chatbot.server import ServerConfig, _listen, create_app
    app = create_app(ServerConfig(db=str(tmp_path / "s.sqlite3")), bot=bot)
    listener = _listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT) as http:
            assert http.get("/healthz").status_code == 200
            accepted = [connection.transport.get_extra_info("socket")
                        for connection in server.server_state.connections]
            assert accepted
            assert all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in accepted)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def test_two_servers_on_one_postgresql_lose_no_turn_when_one_is_killed(servers, tmp_path):
    """Two machines, as two `serve` processes on two ports on one PostgreSQL database: clients
    alternate between them on the same sessions; one is killed with kill -9 mid-load and restarted
    on its port. Every turn a client saw answered is in its transcript, once, in order; a turn
    whose request failed (sent to the dying server) is there at most once, never half."""
    database = pgcluster.fresh_database("postgres", tmp_path)
    pair = [servers(db=database), servers(db=database)]
    answered = {}                       # session id -> [(text, answer)] in the order answered
    uncertain = set()                   # texts whose request failed: saved or not, never half
    after_restart, failures = [], []
    killed, enough = threading.Event(), threading.Event()

    def client(number, session_id):
        try:
            with httpx.Client(timeout=REQUEST_TIMEOUT) as http:
                for turn in range(40):                   # bounded, however slow the machine
                    target = pair[(number + turn) % 2]
                    text = f"client {number} turn {turn}: how long does Botox take?"
                    try:
                        reply = http.post(f"{target.url}/v1/sessions/{session_id}/messages",
                                          json={"text": text})
                    except httpx.TransportError:
                        uncertain.add(text)
                        time.sleep(0.2)                  # the server is down: give it time to return
                        continue
                    assert reply.status_code == 200, reply.text
                    answered[session_id].append((text, reply.json()["text"]))
                    if killed.is_set() and target is pair[0]:
                        after_restart.append(text)
                    if sum(map(len, answered.values())) >= 40:
                        enough.set()
        except Exception as error:   # reported below, in the test's own thread
            failures.append(repr(error))

    with httpx.Client(base_url=pair[1].url, timeout=REQUEST_TIMEOUT) as http:
        sessions = [open_session(http) for _ in range(8)]
    answered.update({session_id: [] for session_id in sessions})
    threads = [threading.Thread(target=client, args=(n, session_id)) for n, session_id in enumerate(sessions)]
    for thread in threads:
        thread.start()
    enough.wait(timeout=120)
    pair[0].kill(signal.SIGKILL)
    pair[0] = servers(db=database, port=pair[0].port)   # restarted where it was
    killed.set()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures
    assert sum(map(len, answered.values())) >= 40 and after_restart

    with httpx.Client(base_url=pair[1].url, timeout=REQUEST_TIMEOUT) as http:
        for session_id, turns in answered.items():
            transcript = http.get(f"/v1/sessions/{session_id}").json()["transcript"]
            assert [m["role"] for m in transcript] == ["user", "bot"] * (len(transcript) // 2)
            kept = [(u["text"], b["text"]) for u, b in zip(transcript[::2], transcript[1::2])]
            assert [(said, answer) for said, answer in kept if said not in uncertain] == turns
            said = [text for text, _ in kept]
            assert len(said) == len(set(said))
            assert said == sorted(said, key=lambda text: int(text.split()[3].rstrip(":")))


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the workers through /proc")
def test_sigterm_to_the_parent_alone_stops_its_workers_cleanly(servers):
    server = servers("--workers", "2")
    workers = children(server.process.pid)
    os.kill(server.process.pid, signal.SIGTERM)
    assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
    deadline = time.monotonic() + 60   # a worker may still be finishing its own exit
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers), "a worker outlived its parent"
    assert "Traceback" not in server.output()
