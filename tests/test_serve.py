"""`serve`: two replicas behind nginx on loopback ports, a class through it, one replica killed mid-run.
Needs nginx (make test installs it, as it installs Graphviz)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from browser_support import ROOT
from explorer import loadtest, serve
from explorer.cli import main
from explorer.errors import ExplorerError

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make test installs it: apt-get install nginx)")


def _free_ports(count: int) -> int:
    """A port P such that P .. P+count-1 are free on 127.0.0.1 (nginx, then the replicas)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise RuntimeError("no run of free ports")


def _established(port: int) -> int:
    """Open TCP connections whose server side is this port (nginx's proxied websockets to a replica)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[3] == "01" and int(row.split()[1].rsplit(":", 1)[1], 16) == port)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def served():
    port = _free_ports(3)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "explorer", "serve", "--replicas", "2", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any(line.startswith("serving") for line in lines):
        assert process.poll() is None and time.monotonic() < deadline, "serve did not start: " + "".join(lines)
        time.sleep(0.2)
    pids = {int(m[2]): int(m[3]) for m in (re.match(r"replica (\d+): http://127.0.0.1:(\d+) \(pid (\d+)\)", l)
                                           for l in lines) if m}
    try:
        yield port, pids, lines, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


async def _warm(port: int) -> None:
    """One session and one click on a replica: its first run imports torch, a cost no student should time."""
    target = loadtest.Target("127.0.0.1", port, loadtest.PAGE, "")
    connection, view = await loadtest.open_page(target, loadtest.Budget(5))
    await connection.run(trigger=view.buttons["Call .backward()"])
    await connection.websocket.close()


@needs_nginx
@pytest.mark.slow
def test_a_class_survives_a_replica_that_dies(served):
    port, pids, lines, process = served
    assert len(pids) == 2
    for replica_port in pids:
        loadtest.run_to_end(_warm(replica_port))

    # One browser stays on one replica: its first answer sets the cookie, and every request with it lands there.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as first:
        cookie = next(c for c in first.headers.get_all("Set-Cookie") if c.startswith(serve.COOKIE)).split(";")[0]
        replica = first.headers[serve.REPLICA_HEADER]
    assert cookie.startswith(serve.COOKIE + "=")
    for path in ("/", "/_stcore/health", "/Accumulation"):
        with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": cookie})) as again:
            assert again.headers[serve.REPLICA_HEADER] == replica and not any(c.startswith(serve.COOKIE) for c in again.headers.get_all("Set-Cookie") or [])

    result, roll = {}, []
    # Long enough that every student is still clicking when the kill comes, on a slow machine too.
    run = threading.Thread(target=lambda: result.update(report=loadtest.run(
        f"http://127.0.0.1:{port}/{loadtest.PAGE}", students=8, seconds=24, interval=1.5, roll=roll)))
    run.start()
    # The kill comes once every student has opened the page and clicked at least once (so holds a link).
    deadline = time.monotonic() + 60
    while len(roll) < 8 or not all(s.clicks >= 1 or s.errors for s in roll):
        assert time.monotonic() < deadline and run.is_alive(), f"the students did not all click: {roll}"
        time.sleep(0.1)
    assert not any(s.errors for s in roll), roll
    counts = {replica_port: _established(replica_port) for replica_port in pids}
    victim = max(counts, key=counts.get)
    os.kill(pids[victim], signal.SIGKILL)
    run.join(timeout=120)
    report = result["report"]
    print("\n" + loadtest.summary(report), f"\nwebsockets per replica at the kill: {counts}, killed {victim}")

    # The supervisor restarted it, on its port.
    deadline = time.monotonic() + 90
    while not any(f"replica" in l and "restarting" in l for l in lines) or not _healthy(victim):
        assert time.monotonic() < deadline, "the killed replica was not restarted: " + "".join(lines)
        time.sleep(0.5)

    killed = [s for s in report.students if s.replica == f"127.0.0.1:{victim}"]
    others = [s for s in report.students if s.replica != f"127.0.0.1:{victim}"]
    assert killed and all(s.replica for s in report.students)
    assert report.wrong == []
    for student in others:  # the other replica's students saw nothing happen
        assert student.errors == [] and student.clicks >= 1, student
    for student in killed:  # lost their session mid-run; the reload of their link gave their .grad back
        assert student.link.startswith("ops=") and student.errors, student
        assert not any(error.startswith("reload") for error in student.errors), student.errors


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
            return answer.read() == b"ok"
    except OSError:
        return False


@needs_nginx
@pytest.mark.slow
def test_sigterm_stops_every_child(served):
    port, pids, lines, process = served
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not any(_listening(p) for p in [port, *pids]), "a child still listens after serve stopped"
    assert lines[-1].strip() == "stopped"


@needs_nginx
def test_the_generated_config_is_valid_nginx(tmp_path):
    config = tmp_path / "nginx.conf"
    config.write_text(serve.nginx_config(8660, [8661, 8662], tmp_path))
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(config)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    text = config.read_text()
    assert "daemon off;" in text and "hash $replica_key consistent;" in text and "max_fails=1" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text and str(tmp_path / "nginx.pid") in text


@pytest.mark.parametrize("replicas, port", [(0, 8660), (serve.MAX_REPLICAS + 1, 8660), (2, 80), (2, 65535)])
def test_bad_options_are_refused(replicas, port):
    with pytest.raises(ExplorerError):
        serve.check(replicas, port)


def test_the_cli_refuses_in_one_line(capsys):
    assert main(["serve", "--replicas", "0", "--port", "8660"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_restarts_back_off_for_a_child_that_keeps_dying_at_start(tmp_path):
    """A replica that cannot come up (its port taken, say) is tried again after 1, 2, 4 ... 30 s, not
    every half second; one that had run a while is restarted at once. Real processes that exit at once."""
    crash = serve.Child("replica 1", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "replica.log")
    group = serve.Class(1, 8500, folder=tmp_path, children=[crash])
    said = []
    crash.start(now=0.0)
    crash.process.wait()
    starts = []
    for tick in range(0, 400):  # the supervisor's 0.5 s polls over 200 s of a clock the test drives
        now = tick * 0.5
        if group.check_once(said.append, now=now):
            starts.append(now)
            crash.process.wait()
    gaps = [later - earlier for earlier, later in zip([0.0, *starts], starts)]
    assert gaps[:6] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0] and set(gaps[6:]) == {30.0}, gaps
    assert "exited (status 3)" in said[0] and "next try after 2 s" in said[1]
    # The same child after a run of a minute: that death is restarted at once.
    crash.start(now=1000.0)
    crash.process.wait()
    assert group.check_once(said.append, now=1000.0 + serve.STABLE_SECONDS) == [crash]
    assert crash.quick_deaths == 1
