"""The server `make run` starts: loopback only, its websocket refuses a stranger's Host, pages show no
tracebacks. Measured on a real server (Streamlit 1.67, Starlette) on 127.0.0.1.

What Streamlit 1.67 enforces, as these tests measure it: `server.allowedHosts` is checked on the
websocket (/_stcore/stream), where a Host outside the list is refused with HTTP 403 before any
session exists; plain HTTP (the page's HTML and scripts, /_stcore/health, /_stcore/metrics) is served
whatever the Host. A page without its websocket has no session, so it can run nothing and read no one's
gradients; binding to 127.0.0.1 keeps the rest to this machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import tomllib
import urllib.request

import pytest

from support import ROOT

PORT = int(os.environ.get("EXPLORER_TEST_PORT", "0")) or None  # 0 or unset: a free port


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def make_run():
    """`make run` as a student types it (its setup step skipped: the venv is there), on a port of its own;
    stopped, with its whole process group, at the end."""
    port = PORT or _free_port()
    server = subprocess.Popen(["make", "-o", "setup", "run", f"PORT={port}"], cwd=ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _get(port, "/_stcore/health") == (200, b"ok"):
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read().decode()
            assert time.monotonic() < deadline, "the server did not answer /_stcore/health in 90 s"
            time.sleep(0.3)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _handshake(port: int, host: str, origin: str) -> str:
    """The status line the server answers a websocket upgrade to /_stcore/stream with (101: accepted)."""
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request.encode())
        return connection.recv(4096).split(b"\r\n", 1)[0].decode()


def _outside_address() -> str | None:
    """This machine's address on its network (not loopback), or None if it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a documentation address: routing only, nothing is sent
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_make_run_listens_on_loopback_only(make_run):
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no address besides loopback")
    with pytest.raises(OSError):  # refused: nothing listens on that address (bounded: 3 s)
        socket.create_connection((outside, make_run), timeout=3).close()
    assert _get(make_run, "/_stcore/health") == (200, b"ok")  # while loopback answers


@pytest.mark.parametrize("host, origin", [
    ("evil.example:{port}", "http://evil.example:{port}"),  # DNS rebinding: both are the stranger's name
    ("evil.example", "http://127.0.0.1:{port}"),
    ("127.0.0.1.evil.example:{port}", "http://127.0.0.1.evil.example:{port}"),
])
def test_a_websocket_with_a_foreign_host_is_refused(make_run, host, origin):
    assert _handshake(make_run, host.format(port=make_run), origin.format(port=make_run)).startswith("HTTP/1.1 403")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_websocket_from_this_machine_is_accepted(make_run, host):
    url = f"{host}:{make_run}"
    assert _handshake(make_run, url, f"http://{url}").startswith("HTTP/1.1 101")


def test_a_foreign_origin_on_an_allowed_host_is_refused(make_run):
    assert _handshake(make_run, f"127.0.0.1:{make_run}", "http://evil.example").startswith("HTTP/1.1 403")


def test_plain_http_is_served_whatever_the_host(make_run):
    """Streamlit 1.67 checks allowedHosts on the websocket only (the README says so): a page fetched under
    a stranger's name loads, and can do nothing without its websocket. If this starts failing, Streamlit
    has begun to check HTTP too: update the README's "Serving a room"."""
    status, body = _get(make_run, "/", host="evil.example")
    assert status == 200 and b"<html" in body.lower()
    status, body = _get(make_run, "/_stcore/metrics", host="evil.example")
    assert status == 200 and b"session" in body  # counts and sizes only: see the README


def test_pages_show_the_error_type_and_never_a_traceback():
    """client.showErrorDetails: "type" (the server's log keeps the traceback)."""
    app = ROOT / "explorer" / "ui" / "app"  # Streamlit reads .streamlit/ beside the entrypoint, or in the folder it runs in
    config = tomllib.loads((app / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "type"
    assert config["server"]["address"] == "127.0.0.1"
    shown = subprocess.run([str(ROOT / ".venv" / "bin" / "streamlit"), "config", "show"], cwd=app,
                           capture_output=True, text=True, timeout=60).stdout
    assert 'showErrorDetails = "type"' in shown and 'address = "127.0.0.1"' in shown
