"""The playground page: a function the student types, traced safely, explored like a lesson.

The expression and every value live in the URL (?expr=...&x=1.5), so a shared link reopens
the same function. The text goes through explorer.functions.expr, never through Python's evaluator.
"""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError
from explorer.functions.expr import CONSTANTS, FUNCTIONS, check_output, parse_expression, parse_leaf_value
from explorer.functions.matrices import parse_matrix_value
from explorer.functions.program import (EXTRA_FUNCTIONS, MAX_ITERATIONS, MAX_LINES, METHODS, Program, is_program,
                                        parse_program)
from explorer.ui.common import setup_page
from explorer.ui.page import explore
from explorer.ui.state import STATE_PARAMS, forget_function, url, write_url
from explorer.ui.markdown import literal

EXAMPLES = ["5*x**2 + x*y + 2*y**3", "sin(x) * exp(-y)", "tanh(w*x + b)", "sum(v * v)", "(w - 2)**2"]
KEY = "playground"
EXPRESSION, PROGRAM = "One expression", "A short program"
EXAMPLE_PROGRAM = "h = tanh(W @ x + b)\nf = mse_loss(h, [0.5, -0.5])"
# The example's leaves, so that it runs as it opens (a box's own default, 1, would make W a number).
EXAMPLE_VALUES = {"W": "[[0.5, -1], [2, 0.3]]", "x": "[1, 2]", "b": "[0, 0.1]"}


def playground_page() -> None:
    setup_page(KEY)
    try:
        _playground()
    finally:
        write_url()


def _playground() -> None:
    st.markdown(
        "Type any function of your own variables. Each name that is not a function or a constant "
        "becomes a leaf tensor with `requires_grad=True`; give it a number, or a short list such as "
        "`[1, 2, 3]` for a vector. Then call `.backward()` as in the lessons."
    )
    with st.expander("What you can use"):
        st.markdown(
            "Operators `+ - * / **` and `@` (vectors). Functions: "
            + ", ".join(f"`{name}`" for name in FUNCTIONS)
            + ". Constants: " + ", ".join(f"`{name}`" for name in CONSTANTS)
            + ". Reductions (`sum`, `mean`, `max`, `min`) turn a vector into the single number "
            "`.backward()` needs. Try: " + " · ".join(f"`{example}`" for example in EXAMPLES)
        )
    mode_key = f"{KEY}:mode"
    if mode_key not in st.session_state:  # a link to a program opens in program mode
        st.session_state[mode_key] = PROGRAM if is_program(url().get("expr", "")) else EXPRESSION
    mode = st.radio("Write", [EXPRESSION, PROGRAM], key=mode_key, horizontal=True, label_visibility="collapsed")
    expression = _typed_program() if mode == PROGRAM else _typed_expression()
    if expression is None:
        return
    if url().get("expr", expression.text) != expression.text:
        forget_function(keep_values=True)  # x keeps its value from x**2 to x**3
        _forget_sessions_except(expression.text)
    url()["expr"] = expression.text
    for stale in [name for name in url() if name not in STATE_PARAMS and name not in expression.variables]:
        del url()[stale]  # values of variables the new expression no longer has
    # Each variable's last value, kept here and not only in the URL, so x = 3 survives a detour
    # through an expression without x (the URL drops values the expression does not use).
    remembered = st.session_state.setdefault(f"{KEY}:values", {})
    if expression.text == EXAMPLE_PROGRAM:
        for name, value in EXAMPLE_VALUES.items():
            remembered.setdefault(name, value)
    # A program goes itself, not its build: the forward panel then reads one line per line typed.
    explore(expression if isinstance(expression, Program) else expression.build, list(expression.variables),
            remembered, key=f"{KEY}:{expression.text}", parse=_value_parser(expression),
            check=check_output)  # the box above is the code
    remembered.update({name: url()[name] for name in expression.variables if name in url()})


def _typed_expression():
    """One expression in the f = box, exactly as before programs existed; None after a message."""
    expr_key = f"{KEY}:expr"
    if expr_key not in st.session_state:  # coming back from a program, the box starts at an example
        linked = url().get("expr", EXAMPLES[0])
        st.session_state[expr_key] = EXAMPLES[0] if is_program(linked) else linked
    text = st.text_input("f =", key=expr_key)
    try:
        return parse_expression(text)
    except ExplorerError as error:
        st.error(literal(str(error)))
        return None


def _typed_program():
    """A few lines in a text area; None after a message (it names the line and column)."""
    program_key = f"{KEY}:program"
    if program_key not in st.session_state:
        linked = url().get("expr", "")
        st.session_state[program_key] = linked if is_program(linked) else EXAMPLE_PROGRAM
    with st.expander("What a program can use"):
        st.markdown(
            f"Up to {MAX_LINES} lines (or statements separated by `;`): assignments such as `h = W @ x`, loops "
            f"`for i in range(3):` with the count written out ({MAX_ITERATIONS} rounds in all), vectors and "
            "matrices as lists `[[1, 2], [3, 4]]`, indexing and slicing with whole numbers (`v[0]`, `m[1, :]`, "
            "`v[1:3]`), `@`, the functions above and "
            + ", ".join(f"`{name}`" for name in EXTRA_FUNCTIONS)
            + ", and the methods " + ", ".join(f"`.{name}()`" for name in METHODS) + " and `.T`. "
            "The output is the last value given to `f` (or the last line). Every name you use without "
            "assigning it is a leaf with a value box: a number, `[1, 2]` or `[[1, 2], [3, 4]]`.")
    text = st.text_area("Program", key=program_key, height=150)
    try:
        return parse_program(text)
    except ExplorerError as error:
        st.error(literal(str(error)))
        return None


def _value_parser(expression):
    """A program's leaves may be matrices; an expression's boxes read as they always have."""
    return parse_matrix_value if isinstance(expression, Program) else parse_leaf_value


def _forget_sessions_except(text: str) -> None:
    """A new expression starts fresh, and so does going back to an earlier one: its old leaves and
    their .grad would otherwise come back without a call."""
    keep = f"{KEY}:{text}:session"
    for name in [name for name in st.session_state if str(name).startswith(f"{KEY}:")]:
        if str(name).endswith(":session") and name != keep:
            del st.session_state[name]
