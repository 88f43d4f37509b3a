"""The playground page: a function the student types, traced safely, explored like a lesson.

The expression and every value live in the URL (?expr=...&x=1.5), so a shared link reopens
the same function. The text goes through explorer.functions.expr, never through Python's evaluator.
"""

from __future__ import annotations

import streamlit as st

from explorer.errors import ExplorerError
from explorer.functions.expr import CONSTANTS, FUNCTIONS, check_output, parse_expression, parse_leaf_value
from explorer.ui.common import setup_page
from explorer.ui.page import explore
from explorer.ui.state import STATE_PARAMS, forget_function, url, write_url
from explorer.ui.markdown import literal

EXAMPLES = ["5*x**2 + x*y + 2*y**3", "sin(x) * exp(-y)", "tanh(w*x + b)", "sum(v * v)", "(w - 2)**2"]
KEY = "playground"


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
    expr_key = f"{KEY}:expr"
    if expr_key not in st.session_state:
        st.session_state[expr_key] = url().get("expr", EXAMPLES[0])
    text = st.text_input("f =", key=expr_key)
    try:
        expression = parse_expression(text)
    except ExplorerError as error:
        st.error(literal(str(error)))
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
    explore(expression.build, list(expression.variables), remembered, key=f"{KEY}:{expression.text}",
            parse=parse_leaf_value, check=check_output)  # the f = box above is the code
    remembered.update({name: url()[name] for name in expression.variables if name in url()})


def _forget_sessions_except(text: str) -> None:
    """A new expression starts fresh, and so does going back to an earlier one: its old leaves and
    their .grad would otherwise come back without a call."""
    keep = f"{KEY}:{text}:session"
    for name in [name for name in st.session_state if str(name).startswith(f"{KEY}:")]:
        if str(name).endswith(":session") and name != keep:
            del st.session_state[name]
