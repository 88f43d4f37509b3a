"""The shared body of every page that explores a function: values in, backward calls, results out.

Pages stay thin: a lesson page calls `lesson_page(page_key)`, the playground calls `explore(...)`
with its own function. Each student's tensors live in their own `st.session_state`, never in
a cache or a module global, so two browsers never see each other's gradients.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st
import torch

from explorer.core.actions import NO_ZEROING, Action, zeroing
from explorer.core.buttons import BACKWARD, BUTTONS, CALLS, LABELS, RESET, button_help, press
from explorer.core.backward import changed_on_the_way
from explorer.core.calls import BackwardSession
from explorer.errors import ExplorerError, GraphFreedError, PyTorchRefusedError
from explorer.functions.lesson_files import FileLesson
from explorer.functions.matrices import value_parser
from explorer.functions.lessons import MAIN_CASE, Case, Lesson, lessons_on_page
from explorer.drawing.layout import lay_out
from explorer.core.graph import capture
from explorer.core.forward import forward_view
from explorer.play.frames import build_animation
from explorer.drawing.render import to_svg
from explorer.drawing.torchviz_view import TORCHVIZ_CALL, torchviz_dot
from explorer.ui.common import setup_page, show_svg
from explorer.ui.downloads import download_buttons
from explorer.ui.loops import loop_view
from explorer.ui.player import preload_player, show_player
from explorer.ui.presses import listen_for_presses, new_presses, show_counter
from explorer.play.tables import (accumulation_strip, by_hand_rows, calls_since_zeroing, events_table, history_table,
                                  overflowed)
from explorer.ui.predict import predict_first
from explorer.ui.navigation import next_lesson_link
from explorer.ui.state import (CASE, current_look, forget_function, forget_step, keep_in_url, record_actions,
                               record_step, restore_actions, share_link, start_step, url, write_url)
from explorer.values import format_number, not_finite_note, parse_number
from explorer.ui.markdown import literal


TORCHVIZ_MAX_NODES = 300  # beyond this, torchviz's layout may take minutes (see explorer/bench.py)


def lesson_page(page_key: str, lessons: list[Lesson] | None = None) -> None:
    """A lesson's page: one lesson, or a chooser when several share the page. `lessons`: the
    page's own (a lesson file's page passes its lesson); by default the built-in lessons of page_key."""
    setup_page(page_key)
    try:
        lessons = lessons_on_page(page_key) if lessons is None else lessons
        if len(lessons) > 1:  # a page of several lessons: the chosen one's title under the page's
            lesson = _choose_lesson(lessons, page_key)
            st.subheader(lesson.title)
        else:
            lesson = lessons[0]
        st.markdown(lesson.explanation)
        case = _choose_case(lesson, page_key) if lesson.cases else None
        if case is None or case.id == MAIN_CASE:
            session = explore(lesson.fn, lesson.variables, lesson.defaults, key=f"{page_key}:{lesson.id}",
                              output_name=lesson.output_name, lesson=lesson, code=lesson.source,
                              parse=value_parser(lesson.defaults))
        else:
            session = explore(case.fn, lesson.variables, lesson.defaults, key=f"{page_key}:{lesson.id}:{case.id}",
                              output_name=lesson.output_name, case=case, code=case.source, parse=value_parser(lesson.defaults))
        if session is not None:
            loop_view(lesson, session.values)
        next_lesson_link(page_key)
    finally:
        write_url()


def lesson_prelude(lesson: Lesson) -> str:
    """The actions (link letters) a new session of the lesson starts with: its own prelude (exercise 3's
    first call), or a lesson file's CALLS calls with its ZERO between them, so that its page opens on them."""
    calls, zero = lesson.repeated_calls if isinstance(lesson, FileLesson) else (1, NO_ZEROING)
    if lesson.prelude or calls == 1:
        return lesson.prelude
    between = zeroing(zero)
    step = (between.letter() if between else "") + Action.BACKWARD.letter()
    return Action.BACKWARD.letter() + step * (calls - 1)


def _choose_case(lesson: Lesson, page_key: str) -> Case:
    """The lesson's own function or one of its other cases, kept in the link as ?case=..."""
    cases = lesson.all_cases
    ids = [case.id for case in cases]
    wanted = url().get(CASE)
    key = f"{page_key}:case"
    if key not in st.session_state:
        st.session_state[key] = wanted if wanted in ids else ids[0]
        if wanted is not None and wanted not in ids:
            st.warning(literal(f"This link names a case \"{wanted[:40]}\" that this lesson does not have; here is "
                               f"the first. Its cases are {', '.join(ids)}."))
    chosen = st.radio("Try", ids, key=key, horizontal=True,
                      format_func=lambda case_id: cases[ids.index(case_id)].label)
    if url().get(CASE, ids[0]) != chosen:
        forget_function(keep_values=True)
    keep_in_url(CASE, chosen, default=ids[0])
    return cases[ids.index(chosen)]


def _choose_lesson(lessons: list[Lesson], page_key: str) -> Lesson:
    ids = [lesson.id for lesson in lessons]
    wanted = url().get("lesson")
    key = f"{page_key}:lesson"
    if key not in st.session_state:
        st.session_state[key] = wanted if wanted in ids else ids[0]
        if wanted is not None and wanted not in ids:
            st.warning(literal(f"This link names an exercise \"{wanted[:40]}\" that does not exist, so its values and "
                               f"calls are left out; here is {ids[0]}. The exercises are {', '.join(ids)}."))
    chosen = st.radio("Exercise", ids, key=key, horizontal=True,
                      format_func=lambda lesson_id: lessons[ids.index(lesson_id)].title.split(":")[0])
    if url().get("lesson", ids[0]) != chosen:
        forget_function()
    keep_in_url("lesson", chosen, default=ids[0])
    return lessons[ids.index(chosen)]


def explore(fn: Callable[..., torch.Tensor], variables: list[str], defaults: dict, key: str,
            output_name: str = "f", lesson: Lesson | None = None,
            parse: Callable[[str, str], object] = parse_number,
            check: Callable[[torch.Tensor], None] | None = None, code: str = "",
            case: Case | None = None) -> BackwardSession | None:
    """Value inputs, backward controls and every view of the result, for any function of named leaves.

    `parse` turns a value box's text into a value (numbers for lessons, lists too in the playground);
    `check` may refuse the function's output before any backward call (NaN, a non-scalar).
    `code` is the function's source, shown beside the value boxes. `case` is one of a lesson's other
    cases (lessons.Case): its own function, the seed it passes to backward, its explanation.
    """
    if code:
        code_column, values_column = st.columns([3, 2])
        code_column.code(code, language="python")
    else:
        values_column = st.container()
    with values_column:
        values = _value_inputs(variables, defaults, key, parse, defaults_fixed=lesson is not None or case is not None)
        if case is not None and case.gradient is not None:
            st.markdown(f"Each call: `{output_name}.backward(gradient={format_number(case.gradient)})`")
    if values is None:
        return None
    if check is not None:
        try:
            check(BackwardSession(fn, dict(values), output_name).forward())
        except ExplorerError as error:
            st.error(literal(str(error)))
            return None
    prelude = lesson_prelude(lesson) if lesson else ""
    spec = case if case is not None else (lesson.all_cases[0] if lesson is not None else None)
    options = {"gradient": spec.gradient, "watch": tuple(spec.non_leaf)} if spec is not None else {}
    session = _session_for(fn, values, key, output_name, prelude, options)
    beside = _backward_controls(session, key, prelude)
    try:
        if predict_first(session, key, lesson, beside):
            answer = case.explanation if case is not None else (lesson.answer if lesson is not None else "")
            if answer:
                st.markdown(answer)
            _show_results(session, key, lesson)
            title = lesson.title if lesson else (case.label if case else "playground")
            download_buttons(session, title, lesson=lesson, key=f"{key}:downloads")
    except ExplorerError as error:
        st.error(literal(str(error)))
    record_actions(session, prelude)
    share_link()
    return session


def _value_inputs(variables: list[str], defaults: dict, key: str, parse=parse_number,
                  defaults_fixed: bool = False) -> dict | None:
    """One text box per leaf, seeded from the URL (?x=5) and written back to it, so links reopen the same values.
    A lesson's own defaults stay out of the link (`defaults_fixed`); a playground's values always go in."""
    columns = st.columns(max(len(variables), 2))
    values, problems = {}, []
    for column, name in zip(columns, variables):
        widget_key = f"{key}:value:{name}"
        default = format_number(defaults.get(name, 1.0))
        # The box's own default is what it holds now, on every run. Seeded through session_state instead,
        # the box's element carried an empty default after its first run, so a browser that drew the box
        # afresh without its state (under load, issue 17 point 5) showed it empty and sent "" back.
        current = st.session_state.get(widget_key, url().get(name, default))
        text = column.text_input(f"{name} =", value=current, key=widget_key)
        try:
            values[name] = parse(text, name)
            keep_in_url(name, text.strip(), default if defaults_fixed else None)
        except ExplorerError as error:
            problems.append(str(error))
    for problem in problems:
        st.error(literal(problem))
    return None if problems else values


def _session_for(fn, values: dict, key: str, output_name: str, prelude: str = "",
                 options: dict | None = None) -> BackwardSession:
    """This student's leaves. New values mean new leaf tensors, so .grad starts again at None
    (or at the prelude's). A link's actions replace the prelude: they were recorded with it."""
    state_key = f"{key}:session"
    held = st.session_state.get(state_key)
    # The key already names the function. repr tells -0.0 from 0.0, which == does not (1/x differs).
    if held is None or repr(held.values) != repr(values):
        if held is not None:
            forget_step()  # the old leaves' animation step means nothing for the new ones
        held = BackwardSession(fn, dict(values), output_name, **(options or {}))
        if not restore_actions(held, page=key.split(":")[0]) and prelude:
            held.replay(prelude)
        st.session_state[state_key] = held
    return held


def _backward_controls(session: BackwardSession, key: str, prelude: str = ""):
    """The action buttons; returns the free column beside the retain_graph box, for the predict toggle."""
    buttons = st.columns([1.3, 1, 1, 1.5, 0.8])
    options = st.columns(2)
    retain = options[0].checkbox("retain_graph=True (keep the saved values for another pass)", key=f"{key}:retain")
    listen_for_presses(key, {f"{key}:{name}": name for name in BUTTONS}, f"{key}:retain")
    # Every button is drawn before any runs: a refused call raised out of the row and took the
    # buttons after it (Start over among them) off the page until the next rerun.
    triggered = [name for column, name in zip(buttons, BUTTONS)
                 if column.button(LABELS[name], key=f"{key}:{name}", help=button_help(name, session),
                                  type="primary" if name == BACKWARD else "secondary")]
    started_over = False
    # Each press once, in order (presses.py).
    for pressed in new_presses(key, set(BUTTONS), triggered, retain):
        name = pressed.name
        try:
            if name in CALLS:
                forget_step()
            session = press(session, name, pressed.retain, prelude)  # buttons.py: the same for the widget
            if name == RESET:
                st.session_state[f"{key}:session"] = session
                started_over = True
            elif name in CALLS:
                st.session_state[f"{key}:called"] = True  # this run's player is a new call's: it plays once
        except GraphFreedError as error:
            # A Material icon: the stop-sign emoji drew as an empty box on machines without an emoji font.
            st.error(literal(str(error)), icon=":material/block:")
        except PyTorchRefusedError as error:
            st.error(literal(str(error)), icon=":material/block:")
            if error.node is not None and error.versions is not None:
                st.info(f"The node PyTorch stopped at: **{session.graph().node(error.node).name}** (`{error.node}` "
                        f"in the graph and the JSON), outlined on the graph below. Its saved tensor was at version "
                        f"{error.versions['saved']} when saved and is at version {error.versions['now']} now.")
        except ExplorerError as error:
            st.error(literal(str(error)))
    show_counter(key)
    if started_over:
        forget_step()
        record_actions(session, prelude)  # the prelude and the presses after Start over: the link's ops
        write_url()  # st.rerun() ends this run here
        st.rerun()
    return options[1]


def _show_results(session: BackwardSession, key: str, lesson: Lesson | None) -> None:
    st.subheader("Gradients")
    grads = session.grads()
    output = session.value()  # runs the function once more: computed once here
    columns = st.columns(len(grads) + 1)
    columns[0].metric(f"{session.output_name}", format_number(output))
    for column, (name, value) in zip(columns[1:], grads.items()):
        column.metric(f"{name}.grad", format_number(value))
    _non_leaf_view(session)
    note = not_finite_note({session.output_name: output, **{f"{n}.grad": v for n, v in grads.items()}})
    if note:
        st.warning(note)
    if session.history:
        st.markdown(accumulation_strip(session))
    latest = session.passes[-1] if session.passes else None
    # The other tabs are drawn only while open: their tables and torchviz's picture, hidden, cost the
    # browser about 200 ms of every call's run (timed in Chromium, README "Speed"). Opening one reruns the page.
    # The player is always drawn, so a call made on another tab has its player ready behind it.
    tab_graph, tab_order, tab_history, tab_torchviz = st.tabs(
        ["Autograd graph", "Engine order", "History of calls", "torchviz's view"], key=f"{key}:tab",
        on_change="rerun")
    with tab_graph:
        _graph_view(session, key)
    if tab_order.open:
        with tab_order:
            if latest is None:
                st.info("No backward call yet.")
            else:
                st.table(events_table(latest))
    if tab_history.open:
        with tab_history:
            if session.history:
                st.table(history_table(session))
            else:
                st.info("Nothing done yet.")
    if tab_torchviz.open:
        with tab_torchviz:
            _torchviz_view(session)
    if lesson is not None and lesson.by_hand is not None:
        _by_hand_check(session, lesson)


def _non_leaf_view(session: BackwardSession) -> None:
    """The .grad of each watched tensor in the middle (h), PyTorch's warning when it reads None, and
    where a hook changed a gradient on its way."""
    if not session.passes:
        return
    for name, (grad, warning) in session.non_leaf_grads().items():
        st.metric(f"{name}.grad (not a leaf)", format_number(grad))
        if warning:
            st.warning(literal(f"PyTorch warned: \"{warning}\"\n\n`{name}` is not a leaf, so backward passed its "
                               f"gradient on without storing it. Call `{name}.retain_grad()` before backward "
                               "to keep it, or read it as it passes with a hook."))
    record = session.passes[-1]
    for change in changed_on_the_way(record):
        senders = " and ".join(record.graph.node(src).name for src in change.sources)
        st.info(f"A hook changed the gradient on the way from {senders} to "
                f"{record.graph.node(change.node).name}: {format_number(change.sent)} was sent, "
                f"{format_number(change.arrived)} arrived.")


def _torchviz_view(session: BackwardSession) -> None:
    st.caption(f"`{TORCHVIZ_CALL}` on the same function. torchviz names nodes by memory address, "
               "draws a leaf that a node saved as that saved tensor (x turns into an orange `self`) "
               "and shows no values.")
    output = session.forward()
    size = len(capture(output, session.leaves).nodes)
    if size > TORCHVIZ_MAX_NODES:
        st.info(f"Not drawn: this graph has {size} nodes, and torchviz with dot can take minutes on graphs "
                "this size (our own view folds repeats instead).")
        return
    try:
        show_svg(to_svg(torchviz_dot(output, session.leaves, stable_ids=True)))
    except (ExplorerError, RecursionError, RuntimeError) as error:
        # RuntimeError: torchviz reads every saved tensor, and PyTorch refuses one changed in place
        st.info(literal(f"torchviz could not draw this graph: {error}"))


def _graph_view(session: BackwardSession, key: str) -> None:
    """Before any call: the graph autograd recorded. After a call: the player, animating the latest pass."""
    expand = st.session_state.get(f"{key}:expand", False)
    if not session.passes and not session.has_graph():
        st.info(f"No graph to draw: `{session.output_name}` has no `grad_fn`. Autograd recorded no operation that "
                "made it (a gradient taken without create_graph=True is a plain tensor).")
        return
    if not session.passes:
        st.caption("The graph autograd recorded for f. Call .backward() to watch the gradient flow through it.")
        drawing = lay_out(session.graph(), look=current_look(), expand=expand, marked=session.marks)
        if drawing.svg is not None:
            show_svg(drawing.svg)
        preload_player(key=f"{key}:player")
        folded = bool(drawing.view.groups)
    else:
        animation = build_animation(session, look=current_look(), expand=expand, start_step=start_step(),
                                    forward=forward_view(session.fn, session.leaves, session.output_name))
        # One component for the page's whole life, from the preload on: a call gives it new data, and
        # the browser swaps the animation in place (PlayerSlot) instead of building a new component,
        # which kept the old one on screen until the rerun ended. A new call's animation has a new
        # story, so it opens at its start and a report from the previous call is ignored.
        # Only the run of the click says "new call": a rerun, a reload or a link never autoplays.
        called = st.session_state.pop(f"{key}:called", False)
        record_step(show_player(animation, key=f"{key}:player", autoplay=called))
        folded = animation.folded
        drawing = None
    if folded or expand:
        st.checkbox("Show every node (slower for big graphs)", key=f"{key}:expand")
    for name in session.leaves_outside_graph():
        st.info(f"`{name}` is not in the graph: autograd recorded no operation from it to "
                f"{session.output_name}, so backward never reaches it and `{name}.grad` stays "
                f"{format_number(session.grads()[name])}.")
    if drawing is not None and drawing.note:
        st.info(drawing.note)
    if drawing is not None and drawing.svg is None:
        st.table([{"backward op": name, "count": count} for name, count in drawing.ops])


def _by_hand_check(session: BackwardSession, lesson: Lesson) -> None:
    st.subheader("Checking by hand")
    st.code(lesson.by_hand_source, language="python")
    plain = {name: leaf.item() for name, leaf in session.leaves.items()}
    by_hand = lesson.by_hand(**plain)
    if not session.passes:
        st.info("Call .backward() once to compare.")
        return
    rows = by_hand_rows(session, by_hand)
    st.table(rows)
    if any(row["agree"] == "no" for row in rows) and calls_since_zeroing(session) > 1:
        st.caption("They differ because .grad has accumulated over several calls: zero it and call again.")
    too_big = overflowed(session, by_hand)
    if too_big:
        st.caption(f"{', '.join(too_big)}: autograd works in float32, whose largest number is about 3.4e38, "
                   "so a bigger gradient becomes inf; the check by hand runs in Python's float64, where it fits.")
