"""The command line: `python -m explorer lessons | show LESSON ...`. Argument parsing only;
the work is done by the same functions the app calls."""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import torch

from explorer import bench, launch, loadtest, serve
from explorer.core.actions import NO_ZEROING, ZERO_CHOICES
from explorer.core.calls import BackwardSession, run_calls
from explorer.core.cases import case_results, loop_rows
from explorer.functions.matrices import parse_matrix_value, value_parser
from explorer.core.report import session_report
from explorer.errors import ExplorerError
from explorer.files import check_target
from explorer.functions.expr import ExpressionError, check_output
from explorer.functions.program import Program, function_title, parse_function
from explorer.functions.lesson_files import find_lesson, lessons_with
from explorer.io.export import FORMATS, check_format, export_all, export_lesson
from explorer.io.site import INDEX, write_site
from explorer.values import format_number, json_text, not_finite_note, parse_number


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(_expression_joined(sys.argv[1:] if argv is None else argv))
    try:
        return args.handler(args)
    except ExpressionError as error:
        print(error.with_caret("error: "), file=sys.stderr)  # one line, and the caret under the expression
        return 2
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


# An option's own shape: --json, --set, --calls=3. Anything else after --expr is the expression.
_OPTION = re.compile(r"--[A-Za-z][A-Za-z-]*(=.*)?")


def _expression_joined(argv: list[str]) -> list[str]:
    """`--expr -x` as `--expr=-x`: argparse takes a value that starts with a minus for an option
    ("expected one argument"), while a student types the expression as it reads."""
    joined, rest = [], list(argv)
    while rest:
        word = rest.pop(0)
        if word == "--expr" and rest and rest[0].startswith("-") and not _OPTION.fullmatch(rest[0]):
            word = f"--expr={rest.pop(0)}"
        joined.append(word)
    return joined


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description="See exactly what PyTorch's autograd does.")
    commands = parser.add_subparsers(dest="command", required=True)

    lessons = commands.add_parser("lessons", help="list the lesson ids")
    lessons.set_defaults(handler=_lessons)
    _lessons_option(lessons)

    show = commands.add_parser("show", help="capture a lesson's (or an expression's) graph and record its backward calls")
    show.add_argument("lesson", nargs="?", help="a lesson id (see `lessons`)")
    show.add_argument("--expr", help='instead of a lesson, a function you type, e.g. "sin(x) * exp(-y)", or a short program (lines or ;), e.g. "h = tanh(w*x); f = h**2"')
    show.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a leaf's value, e.g. x=3")
    show.add_argument("--calls", type=int, default=1, help="how many times to call .backward() (default 1)")
    show.add_argument("--zero", choices=ZERO_CHOICES, default=NO_ZEROING,
                      help="between calls: none (accumulate), zero (grad.zero_()), set-none (grad = None)")
    show.add_argument("--case", help="one of the lesson's other cases instead of its own function (see its page)")
    show.add_argument("--json", action="store_true", help="print the graph and every call as JSON")
    show.set_defaults(handler=_show)
    _lessons_option(show)

    bench = commands.add_parser("bench", help="time capture + layout against torchviz + dot")
    bench.add_argument("--quick", action="store_true", help="a small smoke run (used by make test)")
    bench.add_argument("--cap", type=float, default=None, help="seconds before torchviz + dot is stopped")
    bench.set_defaults(handler=_bench)
    _lessons_option(bench)

    export = commands.add_parser("export", help="write a lesson as dot, svg, png, pdf, html, json or ipynb")
    export.add_argument("lesson", nargs="?", help="a lesson id (see `lessons`)")
    export.add_argument("--format", "-f", dest="fmt", metavar="FORMAT",
                        help="dot, svg, png, pdf, html, json or ipynb (default: the extension of -o)")
    export.add_argument("-o", "--output", metavar="PATH", help="the file to write")
    export.add_argument("--all", metavar="DIR", help="every lesson in every format (or in --format) into DIR")
    export.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a leaf's value, e.g. x=3")
    export.add_argument("--calls", type=int, default=1, help="how many times to call .backward() (default 1)")
    export.add_argument("--zero", choices=ZERO_CHOICES, default=NO_ZEROING,
                        help="between calls: none (accumulate), zero (grad.zero_()), set-none (grad = None)")
    export.set_defaults(handler=_export)
    _lessons_option(export)

    site = commands.add_parser("site", help="write a static site of every lesson (opens from disk, no server)")
    site.add_argument("dir", help="the folder to write index.html and the lesson pages into")
    site.set_defaults(handler=_site)
    _lessons_option(site)

    load = commands.add_parser("loadtest", help="simulated students on a running server's Accumulation page (no browser)")
    load.add_argument("--url", default=f"http://127.0.0.1:{launch.DEFAULT_PORT}/{loadtest.PAGE}",
                      help=f"the page on this machine (default http://127.0.0.1:{launch.DEFAULT_PORT}/{loadtest.PAGE})")
    load.add_argument("--students", type=int, help=f"how many at once, 1 to {loadtest.MAX_STUDENTS} (default 10)")
    load.add_argument("--seconds", type=float, help=f"how long they click, at most {loadtest.MAX_SECONDS} (default 30)")
    load.add_argument("--interval", type=float, help="mean seconds between a student's clicks, jittered ±50%% (default 3)")
    load.add_argument("--pid", type=int, action="append", help="a server process whose memory to read (repeat for "
                      "replicas; default: the process listening on the URL's port)")
    load.add_argument("--quick", action="store_true", help="a handful of students for a few seconds (make test)")
    load.add_argument("--sweep", help="class sizes to run one after another, such as 2,4,8: prints a row each and the "
                      f"largest class answered at p95 <= --p95 seconds")
    load.add_argument("--p95", type=float, default=loadtest.P95_GOAL,
                      help=f"the sweep's goal for the 95th percentile of click latency (default {loadtest.P95_GOAL:g} s)")
    load.set_defaults(handler=_loadtest)

    class_ = commands.add_parser("serve", help="a class: N Streamlit replicas behind nginx (sticky sessions, restarts)")
    class_.add_argument("--replicas", type=int, default=serve.default_replicas(),
                        help="how many Streamlit processes (default: one per core, here %(default)s)")
    class_.add_argument("--port", type=int, default=launch.DEFAULT_PORT,
                        help=f"nginx's port (default {launch.DEFAULT_PORT}); the replicas take the ports after it")
    class_.add_argument("--address", default="127.0.0.1", help="nginx's address (default 127.0.0.1; 0.0.0.0 for a room)")
    class_.add_argument("streamlit_args", nargs="*", metavar="-- STREAMLIT-OPTION", help="after --, options for each replica")
    class_.set_defaults(handler=lambda args: serve.serve(args.replicas, args.port, args.address, args.streamlit_args,
                                                         args.lessons))
    _lessons_option(class_)

    app = commands.add_parser("app", help="start the Streamlit app (every page) from the installed package")
    app.add_argument("--port", type=int, default=launch.DEFAULT_PORT, help=f"default {launch.DEFAULT_PORT}")
    app.add_argument("streamlit_args", nargs="*", metavar="-- STREAMLIT-OPTION",
                     help="after --, options for `streamlit run`, e.g. -- --server.address 127.0.0.1")
    app.set_defaults(handler=lambda args: launch.run_app(args.port, args.streamlit_args, args.lessons))
    _lessons_option(app)
    return parser


def _lessons_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--lessons", metavar="DIR",
                         help="also the lesson files in DIR (one .py per lesson; they run as code: see the README)")


def _known_lessons(args):
    """The built-in lessons and, with --lessons DIR, the folder's; each file that did not load is named
    on stderr (with its line), and the others are used."""
    lessons, loaded = lessons_with(args.lessons)
    for problem in (loaded.problems if loaded else ()):
        print(f"skipped {problem}", file=sys.stderr)
    return lessons, loaded


def _export(args) -> int:
    if args.all is not None:
        if args.lesson is not None or args.output is not None:
            raise ExplorerError("--all DIR exports every lesson; give no lesson and no -o with it.")
        if args.set:
            raise ExplorerError("--set needs one lesson: its variables differ from lesson to lesson.")
        formats = (check_format(args.fmt.lower()),) if args.fmt else FORMATS
        written = export_all(args.all, formats, args.calls, args.zero, lessons=_known_lessons(args)[0])
        print(f"wrote {len(written)} files to {args.all}")
        return 0
    if args.lesson is None or not args.output:
        raise ExplorerError("Name a lesson and a file: export LESSON --format FORMAT -o PATH (or --all DIR).")
    check_target(args.output)  # a folder, a name too long, a read-only file: said before any work
    named = Path(args.output).suffix.lstrip(".").lower()  # what the file's name says it holds
    fmt = (args.fmt or named).lower()
    check_format(fmt)
    if named in FORMATS and named != fmt:
        raise ExplorerError(f"--format {fmt} would write {fmt.upper()} into {args.output}, whose name says "
                            f"{named.upper()}; name the file .{fmt}, or leave --format out.")
    lesson = find_lesson(args.lesson, *_known_lessons(args))
    values = parse_assignments(args.set, lesson.variables, value_parser(lesson.defaults))
    print(f"wrote {export_lesson(lesson, fmt, args.output, values, args.calls, args.zero)}")
    return 0


def _site(args) -> int:
    written = write_site(args.dir, _known_lessons(args)[0])
    print(f"wrote {len(written)} pages to {args.dir}; open {written[0].parent / INDEX}")
    return 0


def _loadtest(args) -> int:
    """Prints the figures; exits 1 when any student saw an error or a wrong gradient."""
    defaults = loadtest.QUICK if args.quick else {"students": 10, "seconds": 30.0, "interval": 3.0}
    if args.sweep is not None:
        return _sweep(args, defaults)
    report = loadtest.run(args.url, args.students or defaults["students"], args.seconds or defaults["seconds"],
                          args.interval or defaults["interval"], pids=args.pid)
    print(loadtest.summary(report))
    return 1 if report.errors or report.wrong else 0


def _sweep(args, defaults) -> int:
    try:
        counts = [int(part) for part in args.sweep.split(",")]
    except ValueError:
        raise ExplorerError(f"--sweep takes class sizes such as 2,4,8, not {args.sweep!r}.") from None
    if not (math.isfinite(args.p95) and args.p95 > 0):
        raise ExplorerError(f"--p95 must be a number of seconds above 0, such as 1, not {args.p95:g}.")
    print(loadtest.SWEEP_HEADER, flush=True)
    rows = loadtest.sweep(args.url, counts, args.seconds or defaults["seconds"], args.interval or defaults["interval"],
                          pids=args.pid, out=sys.stdout, goal=args.p95)
    for goal in sorted({args.p95, 2 * args.p95}):  # the goal, and twice it: a noisy run shows its margin
        print(f"largest class answered at p95 <= {goal:g} s: {loadtest.most_held(rows, goal)} students "
              f"(of {', '.join(str(n) for n, _ in rows)} tried)")
    return 1 if any(report.errors or report.wrong for _, report in rows) else 0


def _bench(args) -> int:
    if args.cap is not None and not (math.isfinite(args.cap) and args.cap > 0):
        raise ExplorerError(f"--cap must be a number of seconds above 0, such as 60, not {args.cap:g}.")
    bench.run(quick=args.quick, cap=args.cap, lessons=_known_lessons(args)[0])
    return 0


def _lessons(args) -> int:
    for lesson in _known_lessons(args)[0]:
        print(f"{lesson.id:<18} {lesson.title}")
    return 0


def parse_assignments(assignments: list[str], known: list[str], parse=parse_number) -> dict:
    """`["x=3", "y=-1"]` -> {"x": 3.0, "y": -1.0}, checked against the function's variables."""
    values = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep:
            raise ExplorerError(f"--set takes NAME=VALUE, for example x=3; got \"{item}\".")
        if name not in known:
            raise ExplorerError(f"This function has no variable \"{name}\"; its variables are {', '.join(known)}.")
        values[name] = parse(text, name)
    return values


def _show(args) -> int:
    if (args.lesson is None) == (args.expr is None):
        raise ExplorerError("Name a lesson (see `python -m explorer lessons`) or give --expr \"...\", not both.")
    lesson = cases = loop = None
    if args.expr is not None:
        if args.case is not None:
            raise ExplorerError("--case picks one of a lesson's cases; an --expr has none.")
        fn, title, name, values = _expression(args)
        gradient = None
    else:
        lesson = find_lesson(args.lesson, *_known_lessons(args))
        case = lesson.case(args.case) if args.case is not None else lesson.all_cases[0]
        fn, title, name, gradient = case.fn, f"{lesson.title}  ({lesson.id})", lesson.id, case.gradient
        values = {**lesson.defaults, **parse_assignments(args.set, lesson.variables, value_parser(lesson.defaults))}
        cases = case_results(lesson, values) if lesson.cases else None
        loop = loop_rows(lesson, values)
    if cases is not None and next(c for c in cases if c["id"] == case.id).get("error"):
        session = BackwardSession(fn, values, lesson.output_name, gradient)  # its point is that backward fails
    else:
        session = run_calls(fn, values, args.calls, args.zero, gradient=gradient)
    if args.json:
        report = session_report(name, session) if session.passes else _report_without_calls(name, session)
        if cases is not None:
            report["cases"] = cases
        if loop is not None:
            report["loop"] = loop
        print(json_text(report))
        return 0
    print(title)
    print("values: " + ", ".join(f"{k} = {format_number(v)}" for k, v in values.items()))
    if session.passes or session.has_graph():
        graph = session.passes[-1].graph if session.passes else session.graph()
        print(f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
    else:
        print("graph: none (autograd recorded nothing for this output)")
    for number, record in enumerate(session.passes, start=1):
        order = " -> ".join(event.name for event in record.events)
        grads = ", ".join(f"{name}.grad = {format_number(value)}" for name, value in record.grads_after.items())
        print(f"call {number}: {order}\n        {grads}")
    note = not_finite_note({"f": session.value(), **{f"{k}.grad": v for k, v in session.grads().items()}},
                           markdown=False)
    if note:
        print("note: " + note)
    for result in cases or ():
        print(f"case {result['id']} ({result['label']}): " + _case_outcome(result))
    for row in loop or ():
        print("loop: " + ", ".join(f"{name} = {format_number(value)}" for name, value in row.items()))
    return 0


def _case_outcome(result: dict) -> str:
    if result.get("error"):
        return f"PyTorch refused: \"{result['error']['pytorch']}\" {result['error']['explanation']}"
    grads = [f"{name}.grad = {format_number(value)}" for name, value in result["grads"].items()]
    grads += [f"{name}.grad = {format_number(held['grad'])}" + (" (PyTorch warned: not a leaf)" if held["warning"] else "")
              for name, held in result.get("non_leaf", {}).items()]
    grads += [f"a hook changed {format_number(c['sent'])} into {format_number(c['arrived'])}"
              for c in result.get("changed_on_the_way", [])]
    return ", ".join(grads)


def _report_without_calls(name: str, session: BackwardSession) -> dict:
    """The JSON of a case whose backward PyTorch refuses: the graph it would run through, no calls."""
    graph = session.graph().to_dict() if session.has_graph() else None  # a gradient without create_graph has none
    return {"lesson": name, "values": session.values, "graph": graph, "calls": [],
            "history": [], "grads": session.full_grads()}


def _expression(args):
    """The function, title, name and values for --expr: every variable needs a --set."""
    expression = parse_function(args.expr)  # one expression, or a program (newlines or ;)
    values = parse_assignments(args.set, list(expression.variables), parse_matrix_value)
    missing = [name for name in expression.variables if name not in values]
    if missing:
        raise ExplorerError("Give every variable a value: " + " ".join(f"--set {name}=..." for name in missing))
    check_output(expression.build(**{name: torch.tensor(value) for name, value in values.items()}))
    # A program goes itself, so that its forward pass reads line by line (core.forward.forward_view).
    fn = expression if isinstance(expression, Program) else expression.build
    return fn, function_title(expression), expression.text, values
