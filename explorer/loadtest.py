"""`python -m explorer loadtest`: a class of simulated students, with no browser.

Each student speaks Streamlit's own websocket protocol (`/_stcore/stream`, subprotocol `streamlit`,
the protobufs shipped in `streamlit.proto`), as the browser does: a `rerun_script` BackMsg with the
page, the query string and the widgets' states opens the page; a click is the same message with the
button's `trigger_value`. No press log runs here, so the app takes the buttons' own triggers
(explorer/ui/presses.py). A student waits for each run to finish (`script_finished`), then clicks
`.backward()` every few seconds with jitter and sometimes `.grad.zero_()`, and checks what the page
says against its own count: on Accumulation each call adds the gradient torch.autograd.grad gives
for f = (w - 2)^2 at w = 1, so -2, -4, -6, and 0 after zero_(). A `w.grad` that differs is a wrong
gradient (another session's, or a lost or doubled click). The page must never show "Please give w
a number": under load a value box once emptied itself (issue 17, point 5).

Real browsers on a 2-core machine measure the browsers more than the server (40 Chromium contexts
took 16 GB); this client costs almost nothing, so what it measures is the server. Loopback only,
bounded in students, seconds and requests, and it stops by itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import torch
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

from explorer.errors import ExplorerError
from explorer.functions.lessons import get_lesson

MAX_STUDENTS = 300
MAX_SECONDS = 900
MAX_REQUESTS = 50_000  # every rerun sent, over all students: a bound whatever the other numbers say
RUN_TIMEOUT = 60.0  # seconds a run may take before the student counts an error and leaves
PAGE = "Accumulation"  # the one page whose gradients a student can predict by counting its own clicks
LESSON = "accumulation"
BAD_VALUE = "Please give w a number"
START_VALUE = "1"  # the w box as the page opens, and as it must stay
REPLICA_HEADER = "X-Agx-Replica"  # set by explorer.serve's nginx on every answer, the websocket's included
TOLERANCE = 1e-5  # absolute and relative, as every other comparison with torch.autograd.grad


@dataclass
class Target:
    host: str
    port: int
    page: str
    query: str

    @property
    def stream(self) -> str:
        return f"ws://{self.host_text}:{self.port}/_stcore/stream"

    @property
    def origin(self) -> str:
        return f"http://{self.host_text}:{self.port}"

    @property
    def host_text(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host


def parse_target(url: str) -> Target:
    """The server and page to load, from http://127.0.0.1:PORT/Accumulation. Loopback only: this tool
    opens hundreds of sessions, and must never be pointed at somebody else's server."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ExplorerError(f"Give the page's address as http://127.0.0.1:PORT/{PAGE}, not {url[:80]!r}.")
    host = parts.hostname
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ExplorerError(f"The load test runs against this machine only (127.0.0.1, ::1 or localhost), not {host!r}.")
    try:
        port = parts.port or 80
    except ValueError:
        raise ExplorerError(f"The port in {url[:80]!r} is not a number from 1 to 65535.") from None
    page = parts.path.strip("/")
    if page != PAGE:
        raise ExplorerError(f"The load test drives the {PAGE} page (its gradients are known): "
                            f"give http://{host}:{port}/{PAGE}, not /{page}.")
    return Target(host, port, page, parts.query)


def gradient_per_call() -> float:
    """What one .backward() adds to w.grad on the Accumulation lesson at its default value, from torch."""
    lesson = get_lesson(LESSON)
    w = torch.tensor(float(lesson.defaults["w"]), requires_grad=True)
    (grad,) = torch.autograd.grad(lesson.fn(w=w), w)
    return float(grad)


# -- one run of the page, as the browser would hold it ----------------------------------------
@dataclass
class PageView:
    """What one run of the script put on the page: the parts a student reads and clicks."""

    metrics: dict[str, str] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    buttons: dict[str, str] = field(default_factory=dict)  # label -> widget id
    # label -> (widget id, value, whether this run set the value or the value is the element's default)
    texts: dict[str, tuple[str, str, bool]] = field(default_factory=dict)
    checkboxes: dict[str, tuple[str, bool, bool]] = field(default_factory=dict)
    status: str = ""

    def read(self, msg: ForwardMsg) -> None:
        if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        kind = element.WhichOneof("type")
        if kind == "metric":
            self.metrics[element.metric.label] = element.metric.body
        elif kind == "alert":
            self.alerts.append(element.alert.body)
        elif kind == "exception":
            self.exceptions.append(f"{element.exception.type}: {element.exception.message}")
        elif kind == "button":
            self.buttons[element.button.label] = element.button.id
        elif kind == "text_input":
            box = element.text_input
            self.texts[box.label] = (box.id, box.value if box.set_value else box.default, box.set_value)
        elif kind == "checkbox":
            box = element.checkbox
            self.checkboxes[box.label] = (box.id, box.value if box.set_value else box.default, box.set_value)


class Connection:
    """One websocket session: sends reruns, reads ForwardMsgs until the run ends. Keeps the messages
    the server may later name by hash only (a reference to one the browser already holds)."""

    def __init__(self, websocket, target: Target, budget: Budget):
        self.websocket = websocket
        self.target = target
        self.budget = budget
        self.cache: dict[str, bytes] = {}
        self.query = target.query
        self.page_hash = ""
        self.states: dict[str, tuple[str, object]] = {}  # widget id -> (kind, value): what the browser sends

    async def run(self, trigger: str | None = None) -> PageView:
        self.budget.take()
        message = BackMsg()
        rerun = message.rerun_script
        rerun.query_string = self.query
        rerun.page_name = self.target.page
        rerun.page_script_hash = self.page_hash
        for widget_id, (kind, value) in self.states.items():
            state = rerun.widget_states.widgets.add()
            state.id = widget_id
            setattr(state, kind, value)
        if trigger is not None:
            state = rerun.widget_states.widgets.add()
            state.id = trigger
            state.trigger_value = True
        await self.websocket.send(message.SerializeToString())
        view = PageView()
        async with asyncio.timeout(RUN_TIMEOUT):
            while True:
                msg = self._resolve(await self.websocket.recv())
                kind = msg.WhichOneof("type")
                if kind == "navigation":  # the page this session is on; new_session names the entrypoint
                    self.page_hash = msg.navigation.page_script_hash
                elif kind == "page_info_changed":
                    self.query = msg.page_info_changed.query_string
                elif kind == "script_finished":
                    view.status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
                    # A run stopped for another (st.rerun after Start over) goes on in the next one.
                    if view.status != "FINISHED_EARLY_FOR_RERUN":
                        break
                view.read(msg)
        self._remember(view)
        return view

    def _resolve(self, data: bytes) -> ForwardMsg:
        msg = ForwardMsg()
        msg.ParseFromString(data)
        if msg.WhichOneof("type") == "ref_hash":
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                raise ProtocolError(f"the server referred to a message this client never got ({msg.ref_hash[:8]})")
            msg = ForwardMsg()
            msg.ParseFromString(cached)
        elif msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = data
        return msg

    def _remember(self, view: PageView) -> None:
        """The browser sends back the value of every box and checkbox it shows, with every rerun.
        A widget keeps what it holds unless the run sets its value: as the browser's own box does.
        What it shows when it holds nothing is the element's default."""
        for kind, boxes in (("string_value", view.texts), ("bool_value", view.checkboxes)):
            for widget_id, value, value_set in boxes.values():
                if value_set or widget_id not in self.states:
                    self.states[widget_id] = (kind, value)


class ProtocolError(Exception):
    pass


class Budget:
    """The bound on requests over the whole run."""

    def __init__(self, most: int):
        self.left = most

    def take(self) -> None:
        if self.left <= 0:
            raise BudgetSpent
        self.left -= 1


class BudgetSpent(Exception):
    pass


# -- a student ---------------------------------------------------------------------------------
@dataclass
class Student:
    number: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    emptied_boxes: int = 0
    clicks: int = 0
    link: str = ""  # the page's query string after the last run: what "Copy link" would give
    opening: float | None = None  # seconds from connecting to the page's first run finished
    expected: float | None = None  # w.grad as this student's own clicks make it
    replica: str = ""  # behind `serve`, the replica that held this student's session (nginx's X-Agx-Replica)


@dataclass
class Options:
    students: int
    seconds: float
    interval: float = 3.0  # mean seconds between a student's clicks
    zero_share: float = 0.1  # the share of clicks that are .grad.zero_()
    seed: int = 0


async def open_page(target: Target, budget: Budget, query: str | None = None):
    """A new session of the page (a new tab, or a reload of a link): the connection and its first view."""
    websocket = await connect(target.stream, subprotocols=["streamlit"], origin=target.origin,
                              max_size=None, open_timeout=RUN_TIMEOUT, ping_interval=None)
    connection = Connection(websocket, Target(target.host, target.port, target.page,
                                              target.query if query is None else query), budget)
    return connection, await connection.run()


def check_view(student: Student, view: PageView, per_call: float, what: str) -> None:
    """The page's w.grad against the student's own count, and the value box still holding its number."""
    if view.exceptions:
        student.errors.append(f"{what}: {view.exceptions[0]}")
    if view.status not in ("FINISHED_SUCCESSFULLY", ""):
        student.errors.append(f"{what}: the run ended {view.status}")
    if any(BAD_VALUE in alert for alert in view.alerts):
        student.emptied_boxes += 1
        student.errors.append(f"{what}: the page showed {BAD_VALUE!r} (box: {view.texts.get('w =')!r})")
        return
    box = view.texts.get("w =")
    # What the box's element carries is what a browser that draws the box afresh shows, and sends back.
    if box is None or box[1] != START_VALUE:
        student.emptied_boxes += 1
        student.errors.append(f"{what}: the w box would show {box[1] if box else None!r}, not {START_VALUE}")
    shown = view.metrics.get("w.grad")
    if shown is None:
        student.errors.append(f"{what}: no w.grad on the page")
        return
    if student.expected is None:
        if shown != "None":
            student.wrong.append(f"{what}: w.grad {shown}, expected None")
        return
    try:
        value = float(shown.replace("\u2212", "-"))
    except ValueError:
        student.wrong.append(f"{what}: w.grad {shown!r}, expected {student.expected:g}")
        return
    if not math.isclose(value, student.expected, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
        student.wrong.append(f"{what}: w.grad {shown}, expected {student.expected:g}")


async def attend(student: Student, target: Target, options: Options, budget: Budget, per_call: float,
                 rng: random.Random) -> None:
    """One student's session: open the page, click for `options.seconds` once it is open, leave."""
    connection = None
    try:
        started = time.monotonic()
        connection, view = await open_page(target, budget)
        student.replica = connection.websocket.response.headers.get(REPLICA_HEADER, "")
        student.opening = time.monotonic() - started
        deadline = time.monotonic() + options.seconds
        check_view(student, view, per_call, "opening")
        while True:
            pause = options.interval * rng.uniform(0.5, 1.5)
            if time.monotonic() + pause >= deadline:
                break
            await asyncio.sleep(pause)
            zero = student.expected is not None and rng.random() < options.zero_share
            label = ".grad.zero_()" if zero else "Call .backward()"
            button = view.buttons.get(label)
            if button is None:
                student.errors.append(f"click {student.clicks + 1}: no {label!r} button on the page")
                break
            started = time.monotonic()
            view = await connection.run(trigger=button)
            student.latencies.append(time.monotonic() - started)
            student.clicks += 1
            student.expected = 0.0 if zero else (student.expected or 0.0) + per_call
            student.link = connection.query
            check_view(student, view, per_call, f"click {student.clicks} ({label})")
    except BudgetSpent:
        pass
    except Exception as error:  # whatever goes wrong is this student's error: counted, never raised
        student.errors.append(f"{type(error).__name__}: {error}"[:200])
    finally:
        if connection is not None:
            await connection.websocket.close()


async def reopen(student: Student, target: Target, budget: Budget, per_call: float) -> None:
    """A reload of the student's link, in a new session: the same w.grad, from the link alone."""
    connection = None
    try:
        connection, view = await open_page(target, budget, query=student.link)
        check_view(student, view, per_call, "reload")
    except Exception as error:  # counted as the student's error, like any other
        student.errors.append(f"reload: {type(error).__name__}: {error}"[:200])
    finally:
        if connection is not None:
            await connection.websocket.close()


# -- the class -----------------------------------------------------------------------------------
@dataclass
class Report:
    students: list[Student]
    seconds: float
    memory: dict[str, float]  # MB: before, loaded (every student idle on the page), active, after

    @property
    def latencies(self) -> list[float]:
        return sorted(t for s in self.students for t in s.latencies)

    @property
    def errors(self) -> list[str]:
        return [f"student {s.number}: {e}" for s in self.students for e in s.errors]

    @property
    def wrong(self) -> list[str]:
        return [f"student {s.number}: {w}" for s in self.students for w in s.wrong]

    def percentile(self, share: float) -> float:
        return percentile(self.latencies, share)

    def lines(self) -> list[str]:
        n = len(self.students)
        times = self.latencies
        openings = sorted(s.opening for s in self.students if s.opening is not None)
        lines = [f"{n} students for {self.seconds:.0f} s: {len(times)} clicks",
                 f"page opening: p50 {percentile(openings, 0.5):.3f} s, max {max(openings, default=math.nan):.3f} s",
                 f"click latency: p50 {self.percentile(0.5):.3f} s, p95 {self.percentile(0.95):.3f} s, "
                 f"max {max(times, default=float('nan')):.3f} s",
                 f"errors: {len(self.errors)}", f"wrong gradients: {len(self.wrong)}",
                 f"w box emptied ('{BAD_VALUE}', or an element that would draw it empty): "
                 f"{sum(s.emptied_boxes for s in self.students)}"]
        memory = self.memory
        if memory:
            idle = (memory["loaded"] - memory["before"]) / n
            active = (memory["active"] - memory["before"]) / n
            lines.append(f"server memory: {memory['before']:.0f} MB before, {memory['loaded']:.0f} MB with every "
                         f"page open, {memory['active']:.0f} MB at the end, {memory['after']:.0f} MB after they left")
            lines.append(f"memory per session: {idle:.2f} MB idle, {active:.2f} MB active")
        lines += [f"  {line}" for line in (self.errors + self.wrong)[:10]]
        return lines


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted values (p95 of 20 clicks is the 19th)."""
    if not values:
        return math.nan
    return values[min(len(values) - 1, math.ceil(share * len(values)) - 1)]


def rss_mb(pids: list[int]) -> float:
    """Resident memory of the server's processes, from /proc (Linux)."""
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def listening_pids(port: int) -> list[int]:
    """The processes that listen on this TCP port, from /proc (Linux): the server whose memory to read."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd).removeprefix("socket:[").rstrip("]") in inodes for fd in (proc / "fd").iterdir()):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def check_options(options: Options) -> None:
    if not 1 <= options.students <= MAX_STUDENTS:
        raise ExplorerError(f"--students must be from 1 to {MAX_STUDENTS}, not {options.students}.")
    if not (0 < options.seconds <= MAX_SECONDS):
        raise ExplorerError(f"--seconds must be more than 0 and at most {MAX_SECONDS}, not {options.seconds}.")
    if not (0.1 <= options.interval <= 60):
        raise ExplorerError(f"--interval must be from 0.1 to 60 seconds, not {options.interval}.")


async def run_class(target: Target, options: Options, pids: list[int] | None = None,
                    roll: list[Student] | None = None) -> Report:
    """Every student at once (their arrivals spread over the first interval, as a class logs in), then
    a reload of each student's link. `roll`, if given, is filled with the students before they arrive,
    for a caller on another thread that acts once they reach some point (a test that kills a replica
    once every student has clicked)."""
    check_options(options)
    pids = listening_pids(target.port) if pids is None else pids
    budget = Budget(MAX_REQUESTS)
    per_call = gradient_per_call()
    rng = random.Random(options.seed)
    students = [Student(number) for number in range(1, options.students + 1)]
    if roll is not None:
        roll.extend(students)
    # One session first, with one click, then left: a server's first page and first call import torch and
    # the drawing code, a cost paid once per process and by no student.
    connection, view = await open_page(target, budget)
    await connection.run(trigger=view.buttons.get("Call .backward()"))
    await connection.websocket.close()
    started = time.monotonic()
    memory = {"before": rss_mb(pids)} if pids else {}

    async def arrive(student: Student, delay: float):
        await asyncio.sleep(delay)
        await attend(student, target, options, budget, per_call, random.Random(rng.random()))

    async def watch_memory():
        # Once every student's page is open (or has failed), before much clicking: the idle cost of a session.
        while any(s.opening is None and not s.errors for s in students):
            await asyncio.sleep(0.2)
        memory["loaded"] = rss_mb(pids)

    tasks = [arrive(s, rng.uniform(0, min(options.interval, options.seconds) / 2)) for s in students]
    extra = [watch_memory()] if pids else []
    await asyncio.gather(*tasks, *extra)
    if pids:
        memory["active"] = rss_mb(pids)
    await asyncio.gather(*(reopen(s, target, budget, per_call) for s in students if s.link))
    if pids:
        await asyncio.sleep(2)
        memory["after"] = rss_mb(pids)
    return Report(students, time.monotonic() - started, memory)


def run_to_end(coroutine):
    """asyncio.run, also where this thread's event loop is already running (a notebook cell, or a test
    process where Playwright's sync API holds one): asyncio.run refuses there, so a worker thread runs it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def run(url: str, students: int, seconds: float, interval: float = 3.0, pids: list[int] | None = None,
        seed: int = 0, roll: list[Student] | None = None) -> Report:
    target = parse_target(url)
    return run_to_end(run_class(target, Options(students, seconds, interval, seed=seed), pids, roll))


QUICK = {"students": 4, "seconds": 6.0, "interval": 1.0}  # a smoke run: a handful of students, a few seconds
P95_GOAL = 1.0  # seconds: a click answered within this, 19 times in 20, is a class the server holds
SWEEP_STOP = 2.0  # a sweep stops at a class whose p95 is this many times the goal: bigger ones only wait longer


def sweep(url: str, counts: list[int], seconds: float, interval: float = 3.0,
          pids: list[int] | None = None, out=None, goal: float = P95_GOAL) -> list[tuple[int, Report]]:
    """One class after another, of each size in `counts` (ascending), for the figure "how many students
    does this server hold at p95 <= 1 s". Stops after a class far over the goal, or on any error or
    wrong gradient (a server that is wrong is not holding the class, however fast)."""
    if not counts or sorted(set(counts)) != list(counts):
        raise ExplorerError("--sweep takes class sizes in rising order, such as 2,4,8.")
    if seconds * len(counts) > MAX_SECONDS:
        raise ExplorerError(f"A sweep of {len(counts)} classes of {seconds:g} s is over {MAX_SECONDS} s in all; "
                            "give fewer sizes or fewer seconds.")
    rows = []
    for students in counts:
        report = run(url, students, seconds, interval, pids)
        rows.append((students, report))
        if out is not None:
            print(sweep_row(students, report), file=out, flush=True)
        if report.errors or report.wrong or report.percentile(0.95) > SWEEP_STOP * goal:
            break
    return rows


SWEEP_HEADER = ("| students | clicks | click p50 | click p95 | click max | errors | wrong `.grad` | memory per session idle / active |\n"
                "|---|---|---|---|---|---|---|---|")


def sweep_row(students: int, report: Report) -> str:
    memory = report.memory
    idle = (memory["loaded"] - memory["before"]) / students if memory else math.nan
    active = (memory["active"] - memory["before"]) / students if memory else math.nan
    times = report.latencies
    return (f"| {students} | {len(times)} | {report.percentile(0.5):.2f} s | {report.percentile(0.95):.2f} s | "
            f"{max(times, default=math.nan):.2f} s | {len(report.errors)} | {len(report.wrong)} | "
            f"{idle:.2f} MB / {active:.2f} MB |")


def most_held(rows: list[tuple[int, Report]], goal: float = P95_GOAL) -> int:
    """The largest class of the sweep answered at p95 <= `goal` with no error and no wrong gradient
    (0 if none): classes are tried in rising order, so a bigger one that passed after a failing one
    does not count."""
    held = 0
    for students, report in rows:
        if report.errors or report.wrong or not report.percentile(0.95) <= goal:
            break
        held = students
    return held


def summary(report: Report) -> str:
    return "\n".join(report.lines())
