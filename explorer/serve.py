"""`python -m explorer serve --replicas N --port P`: a class served by N Streamlit processes behind nginx.

One Python process runs one script at a time per core, so a class needs several. Each replica is the
app as `explorer.launch` starts it, on a loopback port of its own (P+1, P+2, ...); nginx listens on P.
Sticky sessions: a browser's first answer sets a cookie `agx_replica` (a random id) and nginx hashes
that cookie (`hash ... consistent`), so the page, its websocket and its media land on one replica; a
request without the cookie (a new tab, a protocol-level student) is hashed on its own request id.
Passive health checks (`max_fails`/`fail_timeout`, `proxy_next_upstream`) send requests past a replica
that does not answer, and the supervisor loop here restarts a replica (or nginx) that died. A student
whose replica died reloads: the link holds the whole state. nginx runs as this user from a temp dir
(config, pid, logs, temp paths), in the foreground (`daemon off`) under the supervisor.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from explorer import launch, loadtest
from explorer.errors import ExplorerError
from explorer.functions.lesson_files import LESSONS_VARIABLE

COOKIE = "agx_replica"
REPLICA_HEADER = loadtest.REPLICA_HEADER  # which replica answered (its loopback address): the load test reads it
MAX_REPLICAS = 32
START_TIMEOUT = 90.0  # seconds a replica may take to answer /_stcore/health
RESTART_BACKOFF_MAX = 30.0  # seconds between tries, at most, for a child that keeps dying at start
STABLE_SECONDS = 60.0  # a child that ran this long before dying had come up: restarted at once (> the backoff)


def nginx_config(port: int, replica_ports: list[int], folder: Path, address: str = "127.0.0.1") -> str:
    """The whole nginx.conf: everything nginx writes goes into `folder`."""
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in replica_ports)
    temps = "\n".join(f"  {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root nginx would hand its workers to `nobody`, who cannot write the temp dir: keep this user.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} warn;
events {{ worker_connections 4096; }}
http {{
  access_log {folder / 'access.log'};
{temps}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  # The sticky key: the browser's cookie, or for its first request a fresh id that becomes the cookie.
  map $cookie_{COOKIE} $replica_key {{ '' $request_id; default $cookie_{COOKIE}; }}
  map $cookie_{COOKIE} $new_cookie {{ '' "{COOKIE}=$request_id; Path=/; HttpOnly; SameSite=Lax"; default ''; }}
  upstream replicas {{
    hash $replica_key consistent;
{servers}
  }}
  server {{
    listen {address}:{port};
    location / {{
      proxy_pass http://replicas;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      # A websocket is a session: it may sit idle for a whole lecture.
      proxy_read_timeout 1d;
      proxy_send_timeout 1d;
      proxy_buffering off;
      proxy_connect_timeout 2s;
      proxy_next_upstream error timeout http_502 http_503 http_504;
      add_header Set-Cookie $new_cookie;
      add_header {REPLICA_HEADER} $upstream_addr always;
    }}
  }}
}}
"""


def _die_with_parent() -> None:
    """A child gets SIGTERM when the supervisor dies, even by SIGKILL (Linux): no replica is left behind."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    command: list[str]
    log: Path
    health: str | None = None  # a URL that answers ok once the child serves
    process: subprocess.Popen | None = None
    restarts: int = 0
    started: float = 0.0  # time.monotonic() of the last start
    quick_deaths: int = 0  # deaths in a row, each soon after its start (a replica that cannot come up)

    def start(self, now: float | None = None) -> None:
        self.started = time.monotonic() if now is None else now
        with open(self.log, "ab") as log:
            # Its own session: a Ctrl-C in the terminal reaches the supervisor, which stops the children in order.
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True, preexec_fn=_die_with_parent)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        if self.health is None:
            return self.alive()
        try:
            with urllib.request.urlopen(self.health, timeout=2) as answer:
                return answer.read() == b"ok"
        except OSError:
            return False

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Class:
    """The replicas and nginx in front, with their folder; `supervise()` keeps them running."""

    replicas: int
    port: int
    address: str = "127.0.0.1"
    streamlit_args: tuple[str, ...] = ()
    lessons: str | None = None
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="autograd-serve-")))
    children: list[Child] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def replica_ports(self) -> list[int]:
        return [self.port + n for n in range(1, self.replicas + 1)]

    def start(self, say=print) -> None:
        check(self.replicas, self.port)
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if nginx is None:
            raise ExplorerError("serve needs nginx: make serve installs it on Debian, or apt-get install nginx.")
        if self.lessons is not None:
            os.environ[LESSONS_VARIABLE] = launch.lesson_folder(self.lessons)  # the replicas inherit it
        for number, port in enumerate(self.replica_ports, start=1):
            command = launch.app_command(port, ["--server.address", "127.0.0.1", "--server.headless", "true",
                                                *self.streamlit_args])
            self.children.append(Child(f"replica {number}", command, self.folder / f"replica-{number}.log",
                                       f"http://127.0.0.1:{port}/_stcore/health"))
        config = self.folder / "nginx.conf"
        config.write_text(nginx_config(self.port, self.replica_ports, self.folder, self.address))
        self.children.append(Child("nginx", [nginx, "-p", str(self.folder), "-e", str(self.folder / "error.log"),
                                             "-c", str(config)], self.folder / "nginx.log"))
        for child in self.children:
            child.start()
        self._wait_healthy(self.children)
        for child, port in zip(self.children, self.replica_ports):
            say(f"{child.name}: http://127.0.0.1:{port} (pid {child.process.pid})")
        say(f"serving {self.replicas} replicas at http://{self.address}:{self.port} (logs in {self.folder}); Ctrl-C stops")

    def _wait_healthy(self, children: list[Child]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        waiting = list(children)
        while waiting and not self.stopping.is_set():
            for child in list(waiting):
                if not child.alive():
                    self.stop()
                    raise ExplorerError(f"{child.name} exited at start (status {child.process.returncode}); see {child.log}")
                if child.healthy():
                    waiting.remove(child)
            if waiting and time.monotonic() > deadline:
                self.stop()
                raise ExplorerError(f"{waiting[0].name} did not answer within {START_TIMEOUT:g} s; see {waiting[0].log}")
            time.sleep(0.3)  # polling children that are starting

    def check_once(self, say=print, now: float | None = None) -> list[Child]:
        """Restart every child that died; returns those restarted. A child that ran a while is restarted
        at once; one that keeps dying soon after its start (its port taken, a broken lesson folder)
        waits 1, 2, 4 ... up to RESTART_BACKOFF_MAX seconds between tries instead of spinning."""
        now = time.monotonic() if now is None else now
        restarted = []
        for child in self.children:
            if child.alive() or self.stopping.is_set():
                continue
            wait = restart_delay(child.quick_deaths)
            if now < child.started + wait:  # dead, but its next try is not due yet
                continue
            if now - child.started >= STABLE_SECONDS:
                child.quick_deaths = 0  # it had come up: this death is news, not a loop
            child.restarts += 1
            child.quick_deaths += 1
            say(f"{child.name} exited (status {child.process.returncode}); restarting it (restart {child.restarts}"
                + (f", next try after {restart_delay(child.quick_deaths):g} s if it dies again soon)"
                   if child.quick_deaths > 1 else ")"))
            child.start(now)
            restarted.append(child)
        return restarted

    def supervise(self, say=print, every: float = 0.5) -> None:
        while not self.stopping.wait(every):
            self.check_once(say)

    def stop(self) -> None:
        self.stopping.set()
        for child in reversed(self.children):  # nginx first: no request reaches a replica that is stopping
            child.stop()


def restart_delay(quick_deaths: int) -> float:
    """Seconds after its last start before a child that died is started again: none for the first death,
    then 1, 2, 4, ... RESTART_BACKOFF_MAX for one that keeps dying within STABLE_SECONDS of its start."""
    return 0.0 if quick_deaths == 0 else min(RESTART_BACKOFF_MAX, 2.0 ** (quick_deaths - 1))


def check(replicas: int, port: int) -> None:
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ExplorerError(f"--replicas must be from 1 to {MAX_REPLICAS}, not {replicas}.")
    if not 1024 <= port <= 65535 - replicas:
        raise ExplorerError(f"--port must be from 1024 to {65535 - replicas} (the replicas take the ports after it), not {port}.")


def default_replicas() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def serve(replicas: int, port: int, address: str = "127.0.0.1", streamlit_args=(), lessons=None) -> int:
    """Start, supervise until Ctrl-C or SIGTERM, stop every child."""
    check(replicas, port)  # before any signal handler is set: a bad option is one line and nothing else
    served = Class(replicas, port, address, tuple(streamlit_args), lessons)
    signal.signal(signal.SIGTERM, lambda *_: served.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: served.stopping.set())
    try:
        served.start(say=lambda line: print(line, flush=True))
        served.supervise(say=lambda line: print(line, flush=True))
    finally:
        served.stop()
    print("stopped", flush=True)
    return 0
