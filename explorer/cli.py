"""The command line: `python -m explorer lessons | show LESSON ...`. Argument parsing only;
the work is done by the same functions the app calls."""

from __future__ import annotations

import argparse
import json
import sys

from explorer.calls import ZERO_MODES, run_calls
from explorer.errors import ExplorerError
from explorer.lessons import all_lessons, get_lesson
from explorer.values import format_number, parse_number


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description="See exactly what PyTorch's autograd does.")
    commands = parser.add_subparsers(dest="command", required=True)

    lessons = commands.add_parser("lessons", help="list the lesson ids")
    lessons.set_defaults(handler=_lessons)

    show = commands.add_parser("show", help="capture a lesson's graph and record its backward calls")
    show.add_argument("lesson", help="a lesson id (see `lessons`)")
    show.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a leaf's value, e.g. x=3")
    show.add_argument("--calls", type=int, default=1, help="how many times to call .backward() (default 1)")
    show.add_argument("--zero", choices=ZERO_MODES, default="none",
                      help="between calls: none (accumulate), zero (grad.zero_()), set-none (grad = None)")
    show.add_argument("--json", action="store_true", help="print the graph and every call as JSON")
    show.set_defaults(handler=_show)

    bench = commands.add_parser("bench", help="time capture + layout against torchviz + dot")
    bench.add_argument("--quick", action="store_true", help="a small smoke run (used by make test)")
    bench.add_argument("--cap", type=float, default=None, help="seconds before torchviz + dot is stopped")
    bench.set_defaults(handler=_bench)
    return parser


def _bench(args) -> int:
    from explorer.bench import run

    run(quick=args.quick, cap=args.cap)
    return 0


def _lessons(args) -> int:
    for lesson in all_lessons():
        print(f"{lesson.id:<18} {lesson.title}")
    return 0


def parse_assignments(assignments: list[str], known: list[str]) -> dict[str, float]:
    """`["x=3", "y=-1"]` -> {"x": 3.0, "y": -1.0}, checked against the lesson's variables."""
    values = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep:
            raise ExplorerError(f"--set takes NAME=VALUE, for example x=3; got \"{item}\".")
        if name not in known:
            raise ExplorerError(f"This function has no variable \"{name}\"; its variables are {', '.join(known)}.")
        values[name] = parse_number(text, name)
    return values


def _show(args) -> int:
    lesson = get_lesson(args.lesson)
    values = {**lesson.defaults, **parse_assignments(args.set, lesson.variables)}
    session = run_calls(lesson.fn, values, args.calls, args.zero, lesson.output_name)
    if args.json:
        print(json.dumps(session_report(lesson.id, session), indent=2))
        return 0
    print(f"{lesson.title}  ({lesson.id})")
    print("values: " + ", ".join(f"{k} = {format_number(v)}" for k, v in values.items()))
    graph = session.passes[-1].graph
    print(f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
    for number, record in enumerate(session.passes, start=1):
        order = " -> ".join(event.name for event in record.events)
        grads = ", ".join(f"{name}.grad = {format_number(value)}" for name, value in record.grads_after.items())
        print(f"call {number}: {order}\n        {grads}")
    return 0


def session_report(lesson_id: str, session) -> dict:
    """The JSON the CLI prints: the graph once, then each call's events and .grad values."""
    return {
        "lesson": lesson_id,
        "values": session.values,
        "graph": session.passes[-1].graph.to_dict(),
        "calls": [
            {"call": number, **record.to_dict(with_graph=False)}
            for number, record in enumerate(session.passes, start=1)
        ],
        "history": [entry.to_dict() for entry in session.history],
    }
