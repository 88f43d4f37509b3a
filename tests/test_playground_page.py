"""The playground page through AppTest, and `show --expr` through the CLI's main."""

import json

import pytest
import torch

from support import close, metric, open_app, run_cli, players
from explorer.functions.expr import URL_PARAMETERS, ExpressionError, parse_expression
from explorer.ui.state import STATE_PARAMS
from explorer.values import format_number, json_safe, to_plain

def playground(query=None):
    """The playground page in a new AppTest session, opened with these query parameters."""
    return open_app("app_pages/6_Playground.py", query)


def type_expression(at, text):
    return at.text_input(key="playground:expr").set_value(text).run()


def test_typed_function_gives_autograds_gradients():
    at = type_expression(playground(), "sin(x) * exp(-y)")
    key = "playground:sin(x) * exp(-y)"
    at.text_input(key=f"{key}:value:x").set_value("0.5").run()
    at.text_input(key=f"{key}:value:y").set_value("2").run()
    at.button(key=f"{key}:backward").click().run()
    x, y = torch.tensor(0.5, requires_grad=True), torch.tensor(2.0, requires_grad=True)
    gx, gy = torch.autograd.grad(torch.sin(x) * torch.exp(-y), [x, y])
    assert close(float(metric(at, "x.grad")), gx, atol=1e-4)  # the page shows 4 significant digits
    assert close(float(metric(at, "y.grad")), gy, atol=1e-4)
    assert not at.exception


def test_link_reopens_expression_and_values():
    at = playground({"expr": "(w - 2)**2", "w": "1"})
    assert at.text_input(key="playground:expr").value == "(w - 2)**2"
    key = "playground:(w - 2)**2"
    for expected in ("-2", "-4"):
        at.button(key=f"{key}:backward").click().run()
        assert metric(at, "w.grad") == expected


def test_link_replays_the_calls_of_a_typed_function():
    at = playground({"expr": "tanh(w*x+b)+sum(v*v)", "w": "0.5", "x": "2", "b": "-1", "v": "[1,2]", "ops": "bb"})
    w, x, b = (torch.tensor(value, requires_grad=True) for value in (0.5, 2.0, -1.0))
    v = torch.tensor([1.0, 2.0], requires_grad=True)
    grads = torch.autograd.grad(torch.tanh(w * x + b) + (v * v).sum(), [w, x, b, v])
    assert close(float(metric(at, "w.grad")), 2 * grads[0])
    assert close(float(metric(at, "b.grad")), 2 * grads[2])
    assert metric(at, "v.grad") == "[4, 8]" and close([4.0, 8.0], 2 * grads[3])
    assert at.query_params["ops"] == "bb"


def test_vector_values_and_a_reduction():
    at = playground({"expr": "sum(v * v)", "v": "[1, 2, 3]"})
    at.button(key="playground:sum(v * v):backward").click().run()
    assert metric(at, "v.grad") == "[2, 4, 6]"


@pytest.mark.parametrize("text,words", [
    ("__import__('os').system('true')", "not one of them"),
    ("sine(x)", "Did you mean 'sin'"),
    ("x +* 2", "column"),
    ("x.grad", "Not allowed"),
])
def test_bad_expressions_get_a_message_and_the_page_keeps_working(text, words):
    at = type_expression(playground(), text)
    assert not at.exception
    assert any(words in error.value for error in at.error), [e.value for e in at.error]
    at = type_expression(at, "x**2")
    at.text_input(key="playground:x**2:value:x").set_value("3").run()
    at.button(key="playground:x**2:backward").click().run()
    assert not at.error and metric(at, "x.grad") == "6"


def test_non_scalar_output_suggests_a_reduction():
    at = playground({"expr": "v * v", "v": "[1, 2]"})
    assert any("sum(" in error.value for error in at.error)


@pytest.mark.parametrize("text, x", [("log(x)", "-1"), ("log(x)", "0"), ("9**9**9*x", "1")])
def test_nan_or_inf_result_is_shown_and_explained(text, x):
    """PyTorch's own NaN or inf, with its gradients and the player, and a note on why."""
    at = playground({"expr": text, "x": x, "ops": "b"})
    leaf = torch.tensor(float(x), requires_grad=True)
    output = parse_expression(text).build(x=leaf)
    (grad,) = torch.autograd.grad(output, [leaf])
    assert not at.error and metric(at, "f") == format_number(output.item())
    assert metric(at, "x.grad") == format_number(grad.item())
    assert any("not finite" in warning.value for warning in at.warning)
    assert players(at)  # the player


def test_cli_expr_json_matches_autograd(capsys):
    status, out, err = run_cli(capsys, "show", "--expr", "tanh(w*x + b)", "--set", "w=0.5",
                               "--set", "x=2", "--set", "b=-1", "--calls", "2", "--json")
    assert status == 0, err
    report = json.loads(out)
    w, x, b = (torch.tensor(v, requires_grad=True) for v in (0.5, 2.0, -1.0))
    reference = torch.autograd.grad(torch.tanh(w * x + b), [w, x, b])
    for name, ref in zip("wxb", reference):
        assert close(report["calls"][0]["grads_after"][name], ref)
        assert close(report["calls"][1]["grads_after"][name], 2 * ref)


@pytest.mark.parametrize("args,words", [
    (["--expr", "x*y", "--set", "x=1"], "--set y="),
    (["--expr", "exec('1')"], "not one of the functions"),
    (["--expr", "x", "--set", "x=1"], "leaf tensor itself"),
    (["requires-grad", "--expr", "x"], "not both"),
])
def test_cli_expr_errors(capsys, args, words):
    status, _, err = run_cli(capsys, "show", *args)
    assert status == 2 and words in err


def test_going_back_to_an_expression_starts_it_afresh_with_the_values_typed():
    at = type_expression(playground(), "x**2")
    at.text_input(key="playground:x**2:value:x").set_value("3").run()
    at.button(key="playground:x**2:backward").click().run()
    at.button(key="playground:x**2:backward").click().run()
    assert metric(at, "x.grad") == "12"
    type_expression(at, "sum(v*v)")  # x is not in this one: the URL drops it
    assert "x" not in at.query_params
    type_expression(at, "x**2")
    assert at.text_input(key="playground:x**2:value:x").value == "3"  # the value came back
    assert metric(at, "x.grad") == "None" and "ops" not in at.query_params  # its old calls did not
    at.button(key="playground:x**2:backward").click().run()
    x = torch.tensor(3.0, requires_grad=True)
    assert metric(at, "x.grad") == str(int(torch.autograd.grad(x ** 2, [x])[0].item()))


def test_url_words_cannot_be_variables():
    assert STATE_PARAMS <= URL_PARAMETERS
    for name in ("embed", "ops", "expr", "step", "present"):
        with pytest.raises(ExpressionError, match="keeps for itself"):
            parse_expression(f"{name} * 2")
    at = playground({"expr": "embed*2"})
    assert not at.exception and any("keeps for itself" in e.value for e in at.error)


def test_the_output_name_cannot_be_a_variable():
    """f = f*2 would show two boxes labelled "f =" and two graph nodes named f."""
    with pytest.raises(ExpressionError, match="the function's own name"):
        parse_expression("f * 2")
    assert parse_expression("f1 * 2 + F").variables == ("f1", "F")  # only f itself
    at = playground({"expr": "f*2", "f": "3", "ops": "b"})
    assert not at.exception and any("the function's own name" in e.value for e in at.error) and not at.metric


def test_predict_with_a_vector_variable_does_not_crash():
    at = playground({"expr": "sum(v*v)", "v": "[1, 2]", "predict": "1"})
    assert not at.exception
    assert any("single number" in c.value for c in at.caption)


def test_a_new_expression_does_not_replay_the_old_ones_calls():
    at = playground({"expr": "x**2", "x": "3", "ops": "bb"})
    assert metric(at, "x.grad") == "12"
    at.text_input(key="playground:expr").set_value("x**3").run()
    assert metric(at, "x.grad") == "None"
    assert at.text_input(key="playground:x**3:value:x").value == "3"  # the value carries over
    assert "ops" not in at.query_params


def test_minus_zero_is_a_new_leaf():
    at = playground({"expr": "sigmoid(1/x)", "x": "0"})
    assert metric(at, "f") == "1"
    at.text_input(key="playground:sigmoid(1/x):value:x").set_value("-0").run()
    assert metric(at, "f") == "0"


# Exponents that are not finite numbers once worked out (issue 17): each crashed the frames with int() of
# inf or NaN. The page, the player's data and every download show PyTorch's inf or nan with the note.
NOT_FINITE_EXPONENTS = ["x**9**9**9", "x**(0/0)", "x**(1/0)", "x**(-1/0)", "x**(9**9**9-9**9**9)", "x**(-9**9**9)",
                        "x**(0*9**9**9)", "(x**2)**(1/0)", "sin(x)**(0/0)", "x**(pi*9**9**9)", "x**(1/0-1/0)",
                        "sum(v**(1/0))"]


def _refuse_constant(name):
    raise AssertionError(f"{name} in JSON: standard JSON has no such number")


@pytest.mark.parametrize("text", NOT_FINITE_EXPONENTS)
def test_a_non_finite_exponent_shows_inf_or_nan_everywhere(text):
    from explorer.io.export import FORMATS, recipe_for_session, render, trace_of

    values = {"v": "[2, 3]"} if "v" in text else {"x": "2"}
    at = playground({"expr": text, **values, "ops": "b"})
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    name = next(iter(values))
    leaf = torch.tensor(json.loads(values[name]), dtype=torch.float32, requires_grad=True)
    output = parse_expression(text).build(**{name: leaf})
    (grad,) = torch.autograd.grad(output, [leaf])
    assert metric(at, "f") == format_number(output.item()) and not torch.isfinite(torch.stack([output, *grad.flatten()])).all()
    assert metric(at, f"{name}.grad") == format_number(grad.tolist() if grad.dim() else grad.item())
    assert any("not finite" in warning.value for warning in at.warning)
    (player,) = players(at)
    data = json.loads(player.proto.json, parse_constant=_refuse_constant)
    assert "not finite" in json.dumps(data)  # the player says why on its own (an HTML file, a notebook)
    session = at.session_state[f"playground:{text}:session"]
    trace = trace_of(session, text, text, recipe_for_session(session))
    files = {fmt: render(trace, fmt) for fmt in FORMATS}  # what each download button makes on click
    report = json.loads(files["json"], parse_constant=_refuse_constant)
    assert report["grads"][name] == json_safe(to_plain(grad, limit=None))  # "inf", "nan" as text
    assert b"not finite" in files["html"] and b"not finite" in files["ipynb"]
    for fmt in ("dot", "svg"):
        assert any(word in files[fmt] for word in (b"inf", b"nan")), fmt


@pytest.mark.parametrize("text", ["-x", "-x**2 + 3*x", "-(x - 1)**2", "-sin(x)"])
def test_cli_expr_starting_with_a_minus_is_taken_as_typed(capsys, text):
    """argparse reads "-x" after --expr as an option of its own ("expected one argument") unless helped."""
    status, out, err = run_cli(capsys, "show", "--expr", text, "--set", "x=2", "--json")
    assert status == 0, err
    x = torch.tensor(2.0, requires_grad=True)
    (grad,) = torch.autograd.grad(parse_expression(text).build(x=x), [x])
    report = json.loads(out)
    assert report["lesson"] == text and close(report["grads"]["x"], grad)
    status, _, err = run_cli(capsys, "show", "--expr", "--json")  # an option right after --expr is still one
    assert status == 2 and "expected one argument" in err


@pytest.mark.parametrize("text, column, words", [
    ("x +* 2", 4, "invalid syntax"),
    ("sin(x", 4, "was never closed"),
    ("3y + 1", 1, "3*y, not 3y"),
    ("  x + $", 7, "column 7"),  # leading spaces count, as typed
])
def test_cli_syntax_error_is_one_line_and_a_caret_under_it(capsys, text, column, words):
    """The README's promise: one line, plus the caret line pointing into the expression on that line."""
    status, out, err = run_cli(capsys, "show", "--expr", text, "--set", "x=1")
    assert status == 2 and out == ""
    line, caret = err.rstrip("\n").split("\n")
    assert line.startswith("error: ") and words in line and f"column {column}" in line
    assert caret.strip() == "^" and caret.index("^") == line.index(text) + column - 1


@pytest.mark.parametrize("text", ["1e", "1e+x", "2.5E", "x*1e"])
def test_an_unfinished_e_notation_gets_its_own_hint(text):
    """"1e" is not 2x-style multiplication: the hint was "write 2*x, not 2x"."""
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text)
    message = str(caught.value)
    assert "not 2x" not in message and "1e3" in message and "Euler" in message
