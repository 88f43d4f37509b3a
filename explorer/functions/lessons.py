"""The seed lesson, part by part: each a function of named leaf tensors and what it must give.

A lesson's `fn` is the very code the page shows (inspect.getsource), so what a student reads
is what ran. Its keyword arguments are the leaves' names. `expected` holds the gradients after
one .backward() at the default values; `expected_calls` the .grad after each of three calls,
per zeroing mode, where the part is about repeated calls. Tests check every number here
against PyTorch, and against the seed's table.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import torch

from explorer.errors import UnknownLessonError
from explorer.functions.chapter import (batch_loss, builtin_cube, check_cube, cube, custom_cube, distance_to_two_squared,
                                        gradient_descent, gradient_of_cube, gradient_of_cube_without_graph,
                                        linear_layer, micro_batch_loss, micro_batches)


# -- the functions, exactly as the pages show them -------------------------------------------
def square(x):
    return x**2


def square_plus_cube(x, y):
    return x**2 + y**3


def distance_to_two(w):
    return (w - 2) ** 2


def quadratic(z):
    return 3 * z**2 + 4 * z


def two_variable_polynomial(x, y):
    return 5 * x**2 + x * y + 2 * y**3


def seven_x_squared(x):
    return 7 * x**2


# -- beyond the basics ------------------------------------------------------------------------
def leaf_used_twice(x):
    return x * x + x


def leaf_added_to_itself(x):
    return x + x


def sum_of_squares(x):
    return (x * x).sum()


def squares(x):
    return x * x


def detached_branch(x, y):
    return x * y.detach()


def branch_under_no_grad(x, y):
    with torch.no_grad():
        scale = y * 2
    return x * scale


def frozen_leaf(x, y):
    y.requires_grad_(False)
    return x * y


def square_of_double(x):
    h = 2 * x
    return h**2


def square_of_double_retained(x):
    h = 2 * x
    h.retain_grad()
    return h**2


def doubled_sigmoid(x):
    y = x.sigmoid()
    y = y * 2
    return y.sum()


def doubled_sigmoid_in_place(x):
    y = x.sigmoid()
    y.mul_(2)
    return y.sum()


def square_of_double_scaled(x):
    h = 2 * x
    h.register_hook(lambda grad: grad * 10)
    return h**2


# -- derivatives worked out by hand, to hold against autograd ---------------------------------
def square_by_hand(x):
    return {"x": 2 * x}


def quadratic_by_hand(z):
    return {"z": 6 * z + 4}


def two_variable_polynomial_by_hand(x, y):
    return {"x": 10 * x + y, "y": x + 6 * y**2}


def seven_x_squared_by_hand(x):
    return {"x": 14 * x}


MAIN_CASE = "main"  # the id of a lesson's own function among its cases


@dataclass(frozen=True)
class Case:
    """Another way to run a lesson's idea, on the same page: its own function of the same leaves
    (`x + x` beside `x * x + x`), or the same function seeded with a `gradient`, and what it must
    give: `expected` gradients after one call, or `error`, words of the message PyTorch raises."""

    id: str
    label: str  # the chooser's words: the call or the line that differs
    fn: Callable
    expected: dict[str, float | list[float]] = field(default_factory=dict)
    explanation: str = ""  # markdown: what this case shows
    gradient: list[float] | None = None  # the seed, as in f.backward(gradient=...)
    error: str = ""  # part of PyTorch's own message, when the case's point is that PyTorch refuses
    # Non-leaf tensors of the function (its local variables) whose .grad the page reads after a call,
    # with what each must read then (None: PyTorch leaves it empty and warns).
    non_leaf: dict[str, float | None] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return inspect.getsource(self.fn)


@dataclass(frozen=True)
class Lesson:
    id: str
    page: str  # the app page that shows it; exercises share one
    title: str
    explanation: str  # markdown, in our own words
    fn: Callable
    defaults: dict[str, float]
    expected: dict[str, float | list[float] | None]  # leaf -> .grad after one .backward() at the defaults
    expected_calls: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # zero mode -> leaf -> .grad per call
    by_hand: Callable | None = None
    output_name: str = "f"
    # What the text gives away: shown only once a prediction is checked (or with predict off), so an
    # exercise asks before it tells.
    answer: str = ""
    # Actions (BackwardSession.actions_code) every new session of the lesson starts with: exercise 3
    # asks about a second call, so its first is already made.
    prelude: str = ""
    # Beyond the seed: the lesson's other cases, after its own (the first case the page offers).
    cases: tuple[Case, ...] = ()
    main_label: str = ""  # the chooser's words for the lesson's own function
    non_leaf: dict[str, float | None] = field(default_factory=dict)  # as Case.non_leaf, for the lesson's own
    # A lesson whose idea takes more than one call (chapter.py): a function of the lesson's values that
    # runs them on tensors of its own and returns a row of plain numbers per step, shown as a table.
    loop: Callable | None = None
    loop_title: str = ""

    @property
    def loop_source(self) -> str | None:
        return inspect.getsource(self.loop) if self.loop else None

    @property
    def all_cases(self) -> tuple[Case, ...]:
        """The lesson's own function as the first case, then its other cases."""
        own = Case(MAIN_CASE, self.main_label or self.title, self.fn, dict(self.expected), "",
                   non_leaf=dict(self.non_leaf))
        return (own, *self.cases)

    def case(self, case_id: str) -> Case:
        for case in self.all_cases:
            if case.id == case_id:
                return case
        raise UnknownLessonError(f"The lesson {self.id} has no case \"{case_id}\"; its cases are "
                                 f"{', '.join(case.id for case in self.all_cases)}.")

    @property
    def full_text(self) -> str:
        """Question and answer together, for the exports, which have no prediction to protect."""
        return f"{self.explanation} {self.answer}".strip()

    @property
    def source(self) -> str:
        return inspect.getsource(self.fn)

    @property
    def by_hand_source(self) -> str | None:
        return inspect.getsource(self.by_hand) if self.by_hand else None

    @property
    def variables(self) -> list[str]:
        return list(self.defaults)

    @property
    def repeated_calls(self) -> tuple[int, str]:
        """(calls, zeroing between them) a static page of the lesson shows: three, piling up, for a
        lesson about repeated calls (it has expected_calls); one otherwise."""
        return (3, "none") if self.expected_calls else (1, "none")

    @property
    def predicts_first(self) -> bool:
        """Whether its page starts in predict mode: the exercises do."""
        return self.page == "exercises"


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        id="requires-grad",
        page="gradients",
        title="Tracking a tensor and calling .backward()",
        explanation=(
            "A tensor created with `requires_grad=True` asks PyTorch to remember every operation "
            "done with it. Squaring `x` leaves behind a small record: a backward node, "
            "`PowBackward0`, that knows how to turn a gradient of the result into a gradient of "
            "`x`. Calling `f.backward()` walks those records from `f` back to `x`, applying the "
            "chain rule at each one, and writes the answer into `x.grad`."
        ),
        answer="Here the rule for a square gives 2·x, so at x = 3 autograd stores 6.",
        fn=square,
        defaults={"x": 3.0},
        expected={"x": 6.0},
        expected_calls={"none": {"x": [6.0, 12.0, 18.0]}, "zero": {"x": [6.0, 6.0, 6.0]}},
    ),
    Lesson(
        id="several-variables",
        page="several-variables",
        title="Several inputs, one backward pass",
        explanation=(
            "When a function depends on more than one tracked tensor, a single `.backward()` "
            "fills in the partial derivative for each of them. The graph branches: the sum node "
            "hands the incoming gradient to both of its inputs unchanged, then each power node "
            "applies its own rule."
        ),
        answer="For f = x² + y³ that is 2·x for `x` and 3·y² for `y`: 4 and 3 at x = 2, y = −1.",
        fn=square_plus_cube,
        defaults={"x": 2.0, "y": -1.0},
        expected={"x": 4.0, "y": 3.0},
    ),
    Lesson(
        id="accumulation",
        page="accumulation",
        title="Gradients add up until you clear them",
        explanation=(
            "`.backward()` never overwrites `.grad`: it adds the new gradient to whatever is "
            "already there. A training loop that builds its loss afresh each step therefore "
            "piles up gradients unless it clears them between steps. Clear it with "
            "`w.grad.zero_()` (the tensor stays, filled with zeros) or by setting `w.grad = None` "
            "(the tensor goes; the next call creates a new one)."
        ),
        answer=("With f = (w − 2)² at w = 1 each call contributes −2, so `w.grad` reads −2, then −4, "
                "then −6; cleared between calls, every call reads −2 again."),
        fn=distance_to_two,
        defaults={"w": 1.0},
        expected={"w": -2.0},
        expected_calls={
            "none": {"w": [-2.0, -4.0, -6.0]},
            "zero": {"w": [-2.0, -2.0, -2.0]},
            "set-none": {"w": [-2.0, -2.0, -2.0]},
        },
    ),
    Lesson(
        id="by-hand",
        page="by-hand",
        title="Checking autograd against a derivative by hand",
        explanation=(
            "Autograd is not magic, and it is worth catching it doing exactly what calculus "
            "says. Below, the number PyTorch writes into `x.grad` sits next to the same derivative computed by hand from "
            "the value of `x`. Change `x` and watch both move together."
        ),
        answer="For f = x² the derivative is 2·x; at x = 4 that is 8.",
        fn=square,
        defaults={"x": 4.0},
        expected={"x": 8.0},
        by_hand=square_by_hand,
    ),
    Lesson(
        id="exercise-1",
        page="exercises",
        title="Exercise 1: a polynomial in one variable",
        explanation=(
            "Build f = 3z² + 4z from a tracked `z`, call `.backward()` and read `z.grad`. "
            "The graph shows two routes from `z` to `f`, one through the square and one "
            "through the linear term; their gradients meet and are summed before they reach `z.grad`."
        ),
        answer="Differentiating by hand gives 6z + 4, which is 34 at z = 5.",
        fn=quadratic,
        defaults={"z": 5.0},
        expected={"z": 34.0},
        by_hand=quadratic_by_hand,
    ),
    Lesson(
        id="exercise-2",
        page="exercises",
        title="Exercise 2: two variables that interact",
        explanation=(
            "f = 5x² + xy + 2y³ mixes both inputs in the product term, so each partial "
            "derivative picks up the other variable."
        ),
        answer="∂f/∂x = 10x + y and ∂f/∂y = x + 6y². At x = 1.5, y = −2 autograd gives 13 and 25.5.",
        fn=two_variable_polynomial,
        defaults={"x": 1.5, "y": -2.0},
        expected={"x": 13.0, "y": 25.5},
        by_hand=two_variable_polynomial_by_hand,
    ),
    Lesson(
        id="exercise-3",
        page="exercises",
        title="Exercise 3: the same function, called again",
        explanation=(
            "Exercise 2's function, with its `.backward()` already called once: `x.grad` and "
            "`y.grad` hold what that call put there. First predict what they read after a second "
            "call, without clearing them. Then clear both (`.grad.zero_()`) and predict what they "
            "read after calling again."
        ),
        answer=("The second call adds onto the first: 26 and 51. Cleared first "
                "(`x.grad.zero_(); y.grad.zero_()`), the next call reads 13 and 25.5 again."),
        prelude="b",
        fn=two_variable_polynomial,
        defaults={"x": 1.5, "y": -2.0},
        expected={"x": 13.0, "y": 25.5},
        expected_calls={
            "none": {"x": [13.0, 26.0, 39.0], "y": [25.5, 51.0, 76.5]},
            "zero": {"x": [13.0, 13.0, 13.0], "y": [25.5, 25.5, 25.5]},
        },
        by_hand=two_variable_polynomial_by_hand,
    ),
    Lesson(
        id="exercise-4",
        page="exercises",
        title="Exercise 4: autograd against the textbook",
        explanation=(
            "For f = 7x², find the textbook derivative, and hold it against autograd's."
        ),
        answer="The textbook derivative is 14x. At x = 3 both autograd and the formula give 42.",
        fn=seven_x_squared,
        defaults={"x": 3.0},
        expected={"x": 42.0},
        by_hand=seven_x_squared_by_hand,
    ),
    # -- beyond the basics: the rest of the autograd chapter, one page each ------------------------
    Lesson(
        id="leaf-twice",
        page="leaf-twice",
        title="A leaf used by two operations",
        explanation=(
            "In f = x·x + x the leaf `x` reaches `f` along three edges: twice into the product "
            "(`MulBackward0`, as `self` and as `other`) and once into the sum (`AddBackward0`). "
            "The engine does not write `x.grad` once per edge: every gradient sent to `x`'s "
            "`AccumulateGrad` waits in that node's input buffer, where they are added, and "
            "`AccumulateGrad` runs once, with the sum. The graph shows three arrows into one node."
        ),
        answer=("The product sends x = 3 along each of its two edges and the sum sends 1: "
                "3 + 3 + 1 = 7 arrive together, so `x.grad` is 7 (by hand: d(x² + x)/dx = 2x + 1 = 7)."),
        fn=leaf_used_twice,
        defaults={"x": 3.0},
        expected={"x": 7.0},
        main_label="f = x * x + x",
        cases=(
            Case("x-plus-x", "f = x + x", leaf_added_to_itself, {"x": 2.0},
                 "`x + x` gives one `AddBackward0` with *two* edges from the same `AccumulateGrad`: "
                 "a drawing that keeps children in a set (micrograd's) loses one and shows 1. "
                 "Each edge carries 1, the buffer adds them: `x.grad` is 2."),
        ),
    ),
    Lesson(
        id="vector-jacobian",
        page="vector-jacobian",
        title="A non-scalar output: backward(gradient=v)",
        explanation=(
            "`.backward()` starts from the gradient of the output with respect to itself, which is "
            "1 only when the output is one number. For f = x * x with x = [1, 2, 3], f holds three "
            "numbers, and PyTorch refuses to guess a starting gradient. You pass it: "
            "`f.backward(gradient=v)`, with v the shape of f, and the engine computes the "
            "vector-Jacobian product v·J, here v times 2x element by element, without ever "
            "building the Jacobian J. The seed on the graph's output is v itself."
        ),
        answer=("`(x * x).sum().backward()` gives `x.grad` = 2x = [2, 4, 6]: the sum's backward sends 1 "
                "to every element, the same as passing v = [1, 1, 1]."),
        fn=sum_of_squares,
        defaults={"x": [1.0, 2.0, 3.0]},
        expected={"x": [2.0, 4.0, 6.0]},
        main_label="f = (x * x).sum(); f.backward()",
        cases=(
            Case("backward", "f = x * x; f.backward()", squares,
                 explanation=("f has three values, so there is no implicit seed: the seed 1 means df/df, "
                              "which is defined for one number only. Reduce f (`.sum()`, `.mean()`) or "
                              "pass `gradient=`."),
                 error="grad can be implicitly created only for scalar outputs"),
            Case("ones", "f.backward(gradient=[1, 1, 1])", squares, {"x": [2.0, 4.0, 6.0]},
                 "v = [1, 1, 1] weighs every element of f alike: `x.grad` = [2, 4, 6], the same as "
                 "`f.sum().backward()`. Summing is the vector-Jacobian product with ones.",
                 gradient=[1.0, 1.0, 1.0]),
            Case("weighted", "f.backward(gradient=[1, 0.1, 0.01])", squares, {"x": [2.0, 0.4, 0.06]},
                 "v = [1, 0.1, 0.01] weighs each element of f: `x.grad` = v · 2x = [1·2, 0.1·4, 0.01·6] "
                 "= [2, 0.4, 0.06], the gradient of (v * f).sum().",
                 gradient=[1.0, 0.1, 0.01]),
        ),
    ),
    Lesson(
        id="stop-gradient",
        page="stop-gradient",
        title="Stopping the gradient: detach(), no_grad(), requires_grad_(False)",
        explanation=(
            "Three ways to keep autograd out of a branch. `y.detach()` gives a tensor with the same "
            "numbers and no history; inside `with torch.no_grad():` nothing is recorded at all; "
            "`y.requires_grad_(False)` stops tracking `y` itself (how a layer is frozen). Either way the "
            "product x·y is recorded with `y` as a constant: the graph has no path to `y`, no "
            "`AccumulateGrad` for it, and backward never reaches it."
        ),
        answer=("`x.grad` is y = 3 (d(x·y)/dx), and `y.grad` stays None: nothing was recorded "
                "between `y` and f, so there is no path to send a gradient along."),
        fn=detached_branch,
        defaults={"x": 2.0, "y": 3.0},
        expected={"x": 3.0, "y": None},
        main_label="x * y.detach()",
        cases=(
            Case("no-grad", "with torch.no_grad(): scale = y * 2", branch_under_no_grad, {"x": 6.0, "y": None},
                 "Under `torch.no_grad()` the product `y * 2` is computed (6) but not recorded: `scale` has "
                 "no `grad_fn`, so f = x · scale sees a constant. `x.grad` = 6, `y.grad` stays None."),
            Case("frozen", "y.requires_grad_(False)", frozen_leaf, {"x": 3.0, "y": None},
                 "`y.requires_grad_(False)` turns tracking off for the leaf itself, so x * y records `y` "
                 "as a constant: `x.grad` = 3, `y.grad` stays None, and stays so for every later call."),
        ),
    ),
    Lesson(
        id="non-leaf-grad",
        page="non-leaf-grad",
        title="The .grad of a tensor in the middle",
        explanation=(
            "Only leaves keep a `.grad`. In `h = 2 * x; f = h ** 2` the gradient df/dh passes through "
            "`h` on its way to `x` (it arrives at `MulBackward0`, the node that made `h`), but it is not "
            "stored: reading `h.grad` afterwards gives None, and PyTorch warns that it did. "
            "`h.retain_grad()` asks PyTorch to keep it; `h.register_hook(fn)` calls `fn` with it as it "
            "passes, and what `fn` returns goes on in its place."
        ),
        answer=("At x = 3, h = 6: df/dh = 2h = 12 passes through `h`, and `x.grad` = 12 · 2 = 24. "
                "`h.grad` is None."),
        fn=square_of_double,
        defaults={"x": 3.0},
        expected={"x": 24.0},
        main_label="h = 2 * x; f = h ** 2",
        non_leaf={"h": None},
        cases=(
            Case("retain-grad", "h.retain_grad()", square_of_double_retained, {"x": 24.0},
                 "With `h.retain_grad()` PyTorch stores the gradient that passes through `h`: `h.grad` = 12 "
                 "(df/dh = 2h), and reading it gives no warning. `x.grad` is 24 as before.",
                 non_leaf={"h": 12.0}),
            Case("hook-times-10", "h.register_hook(lambda grad: grad * 10)", square_of_double_scaled, {"x": 240.0},
                 "This hook returns 10 times the gradient, and what a hook returns replaces it: "
                 "`PowBackward0` sends 12 towards `h`, 120 arrives at `MulBackward0`, and `x.grad` = "
                 "120 · 2 = 240, ten times the truth. Hooks can change gradients; this is how gradient "
                 "clipping by hooks works, and how a bug in one goes unnoticed.",
                 non_leaf={"h": None}),
        ),
    ),
    Lesson(
        id="in-place",
        page="in-place",
        title="Changing a saved tensor in place",
        explanation=(
            "Some backward nodes need a tensor from the forward pass: `SigmoidBackward0` keeps its own "
            "output y, because σ'(x) = y·(1 − y). An in-place operation (`y.mul_(2)`, `y += 1`, any "
            "method ending in `_`) changes y's numbers where they are, and every tensor counts such "
            "changes in a version counter. Backward checks it: saved at version 0, now at 1, and PyTorch "
            "refuses rather than compute a wrong gradient. Written out of place, `y = y * 2` makes a new "
            "tensor and the saved one stays as it was."
        ),
        answer="Out of place, at x = [0, 1, 2]: `x.grad` = 2·σ(x)·(1 − σ(x)) = [0.5, 0.3932, 0.2100].",
        fn=doubled_sigmoid,
        defaults={"x": [0.0, 1.0, 2.0]},
        expected={"x": [0.5, 0.39322386, 0.20998718]},
        main_label="y = y * 2 (out of place)",
        cases=(
            Case("mul-in-place", "y.mul_(2) (in place)", doubled_sigmoid_in_place,
                 explanation="`y.mul_(2)` changed the very tensor `SigmoidBackward0` saved.",
                 error="modified by an inplace operation"),
        ),
    ),
    Lesson(
        id="higher-order",
        page="higher-order",
        title="The gradient of a gradient: create_graph=True",
        explanation=(
            "`torch.autograd.grad(f, x)` returns df/dx as a tensor. With `create_graph=True` the backward "
            "pass is itself recorded: the gradient g gets a `grad_fn`, a graph of its own made of the "
            "backward formulas' operations, and `g.backward()` differentiates again. `retain_graph=True` "
            "only keeps f's graph for another pass; the gradient it returns is a plain number."
        ),
        answer=("For f = x³ at x = 2: `x.grad` = 3x² = 12. With `create_graph=True`, g = 3x² = 12 and "
                "`g.backward()` gives `x.grad` = 6x = 12, the second derivative."),
        fn=cube,
        defaults={"x": 2.0},
        expected={"x": 12.0},
        main_label="f = x ** 3; f.backward()",
        cases=(
            Case("create-graph", "g = grad(f, x, create_graph=True); g.backward()", gradient_of_cube, {"x": 12.0},
                 "g = 3x² = 12 at x = 2, and it has a graph: the nodes drawn are the backward pass of x³ "
                 "(`PowBackward0`'s formula 3·x²·grad, recorded as multiplications and a power). Backward "
                 "through it gives d(3x²)/dx = 6x = 6 · 2 = 12 in `x.grad`."),
            Case("retain-graph", "g = grad(f, x, retain_graph=True); g.backward()", gradient_of_cube_without_graph,
                 explanation=("`retain_graph=True` keeps f's graph alive for another backward through f; it "
                              "does not record the backward pass, so g = 12 has no `grad_fn` and there is "
                              "nothing to differentiate. Use `create_graph=True` for a second derivative."),
                 error="does not require grad and does not have a grad_fn"),
        ),
    ),
    Lesson(
        id="micro-batches",
        page="micro-batches",
        title="Accumulation on purpose: micro-batches",
        explanation=(
            "When a batch does not fit in memory, split it. Because `.backward()` adds into `.grad`, two "
            "micro-batches of 2 samples, each loss divided by 2 (the number of micro-batches), with two "
            "`.backward()` calls and no zeroing in between, leave in `w.grad` the gradient of the mean loss "
            "over all 4 samples. The model predicts w · input for inputs [1, 2, 3, 4] and targets "
            "[2, 3, 7, 8]."
        ),
        answer=("At w = 1 the whole batch gives `w.grad` = −15.5; the first micro-batch gives −1.5, the "
                "second adds −14: −1.5 + (−14) = −15.5, the same."),
        fn=batch_loss,
        output_name="loss",
        defaults={"w": 1.0},
        expected={"w": -15.5},
        main_label="one batch of 4: loss.backward()",
        cases=(
            Case("first-micro-batch", "micro-batch 1: (loss / 2).backward()", micro_batch_loss, {"w": -1.5},
                 "The first micro-batch alone, samples 1 and 2, its mean loss halved: `w.grad` = −1.5. The "
                 "graph has one more node than the batch's, the `DivBackward0` of `/ 2`. The table below "
                 "runs both micro-batches, one call each, and reads `w.grad` after each."),
        ),
        loop=micro_batches,
        loop_title="Both ways, run for real",
    ),
    Lesson(
        id="gradient-descent",
        page="gradient-descent",
        title="A training loop: gradient descent",
        explanation=(
            "Training is the seed's loop with one more line: after `loss.backward()`, move w against its "
            "gradient, `w -= lr * w.grad`, inside `torch.no_grad()` so the update is not recorded, then "
            "`w.grad.zero_()` so the next step's gradient is that step's alone. Here the loss is (w − 2)², "
            "from w = 1, with lr = 0.4, for three steps."
        ),
        answer=("Zeroed: `w.grad` = −2, then −0.4, then −0.08; w goes 1 → 1.8 → 1.96 → 1.992 and the loss "
                "falls 1 → 0.04 → 0.0016. Never zeroed, step 2 uses −2 + (−0.4) = −2.4: w overshoots to "
                "2.76 and the loss climbs back, 0.04 → 0.5776."),
        fn=distance_to_two_squared,
        output_name="loss",
        defaults={"w": 1.0},
        expected={"w": -2.0},
        main_label="loss = (w - 2) ** 2",
        loop=gradient_descent,
        loop_title="Three steps, with and without w.grad.zero_()",
    ),
    Lesson(
        id="custom-function",
        page="custom-function",
        title="Your own backward: torch.autograd.Function",
        explanation=(
            "A `torch.autograd.Function` has a `forward` and a hand-written `backward`. "
            "`ctx.save_for_backward(x)` keeps what the backward needs; the graph shows the function's node "
            "(`CubeBackward`) and the tensor it saved (`saved_tensors[0]`, which is x itself). Because the "
            "backward is yours, check it: `torch.autograd.gradcheck` compares it with finite differences "
            "in float64."
        ),
        answer="At x = [1, 2, 3] the backward gives 3x² = [3, 12, 27], and gradcheck passes.",
        fn=custom_cube,
        defaults={"x": [1.0, 2.0, 3.0]},
        expected={"x": [3.0, 12.0, 27.0]},
        main_label="Cube.apply(x).sum()",
        cases=(
            Case("builtin", "(x ** 3).sum(), PyTorch's own", builtin_cube, {"x": [3.0, 12.0, 27.0]},
                 "PyTorch's own `x ** 3` gives the same `x.grad` = [3, 12, 27]. Its node is `PowBackward0`, "
                 "which saves x as `self` and the exponent 3 as an attribute; `CubeBackward` saved x as "
                 "`saved_tensors[0]` and keeps the 3 in its code."),
        ),
        loop=check_cube,
        loop_title="gradcheck in float64",
    ),
    Lesson(
        id="tensors",
        page="tensors",
        title="Tensors, shapes and a broadcast bias",
        explanation=(
            "A tiny linear layer: y = W @ x + b, loss = (y ** 2).sum(), with W of shape (2, 3), x three "
            "features of two samples (3, 2), and b of shape (2, 1), broadcast across both samples. Every "
            "node of the graph carries a shape. A gradient always has its tensor's shape, so the gradient "
            "of y, (2, 2), cannot go to b as it is: on its way out of `AddBackward0` the engine sums it over "
            "the broadcast dimension, back to (2, 1)."
        ),
        answer=("With y = W @ x + b, dloss/dy = 2y; `b.grad` = 2y summed over the two columns, and "
                "`W.grad` = 2y @ xᵀ."),
        fn=linear_layer,
        output_name="loss",
        defaults={"W": [[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]], "b": [[0.1], [-0.2]]},
        expected={"W": [[29.6, -8.2, 47.8], [3.8, -2.6, -1.6]], "b": [[21.4], [1.2]]},
        main_label="y = W @ x + b; (y ** 2).sum()",
    ),
)

# The pages of the app, in order: page key -> (title, one line for the home page).
PAGES: dict[str, tuple[str, str]] = {
    "gradients": ("requires_grad and .backward()", "Track a tensor, call backward, read .grad."),
    "several-variables": ("Several variables", "One backward pass fills every input's gradient."),
    "accumulation": ("Accumulation", "Why .grad keeps growing, and the two ways to clear it."),
    "by-hand": ("Checking by hand", "Autograd next to the derivative from calculus."),
    "exercises": ("Exercises", "Four exercises: polynomials, two variables, zeroing, by hand."),
}
# The rest of the autograd chapter ("Beyond the basics"), a page per lesson, in course order.
CHAPTER_PAGES: dict[str, tuple[str, str]] = {
    "leaf-twice": ("A leaf used twice", "Two paths into one leaf: summed in a buffer, accumulated once."),
    "vector-jacobian": ("Non-scalar outputs", "backward(gradient=v): PyTorch's error, and the vector-Jacobian product."),
    "stop-gradient": ("Stopping the gradient", "detach(), no_grad() and requires_grad_(False): a branch left out."),
    "non-leaf-grad": ("Gradients in the middle", "h.grad is None: the warning, retain_grad() and hooks."),
    "in-place": ("In-place changes", "y.mul_(2) on a saved tensor: the version counter's error, and the fix."),
    "higher-order": ("Higher-order gradients", "create_graph=True: the gradient's own graph, and a second derivative."),
    "micro-batches": ("Micro-batches", "Two half-batch backward calls add up to the whole batch's gradient."),
    "gradient-descent": ("Gradient descent", "w -= lr * w.grad under no_grad, and what forgetting zero_() does."),
    "custom-function": ("Custom functions", "autograd.Function: your own backward, its saved tensors, gradcheck."),
    "tensors": ("Tensors and shapes", "A linear layer: shapes on every node, and a broadcast bias summed back."),
}
# Pages that are not part of a lesson, listed on the home page after them.
EXTRA_PAGES: dict[str, tuple[str, str]] = {
    "playground": ("Playground", "Type your own function and watch autograd take it apart."),
}


def all_lessons() -> tuple[Lesson, ...]:
    return LESSONS


def lesson_ids() -> list[str]:
    return [lesson.id for lesson in LESSONS]


def get_lesson(lesson_id: str) -> Lesson:
    for lesson in LESSONS:
        if lesson.id == lesson_id:
            return lesson
    raise UnknownLessonError(f"There is no lesson \"{lesson_id}\". Known lessons: {', '.join(lesson_ids())}.")


def lessons_on_page(page: str) -> list[Lesson]:
    return [lesson for lesson in LESSONS if lesson.page == page]
