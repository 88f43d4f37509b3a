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

from explorer.errors import UnknownLessonError


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


# -- derivatives worked out by hand, to hold against autograd ---------------------------------
def square_by_hand(x):
    return {"x": 2 * x}


def quadratic_by_hand(z):
    return {"z": 6 * z + 4}


def two_variable_polynomial_by_hand(x, y):
    return {"x": 10 * x + y, "y": x + 6 * y**2}


def seven_x_squared_by_hand(x):
    return {"x": 14 * x}


@dataclass(frozen=True)
class Lesson:
    id: str
    page: str  # the app page that shows it; exercises share one
    title: str
    explanation: str  # markdown, in our own words
    fn: Callable
    defaults: dict[str, float]
    expected: dict[str, float]  # leaf -> .grad after one .backward() at the defaults
    expected_calls: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # zero mode -> leaf -> .grad per call
    by_hand: Callable | None = None
    output_name: str = "f"
    # What the text gives away: shown only once a prediction is checked (or with predict off), so an
    # exercise asks before it tells.
    answer: str = ""
    # Actions (BackwardSession.actions_code) every new session of the lesson starts with: exercise 3
    # asks about a second call, so its first is already made.
    prelude: str = ""

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
)

# The pages of the app, in order: page key -> (title, one line for the home page).
PAGES: dict[str, tuple[str, str]] = {
    "gradients": ("requires_grad and .backward()", "Track a tensor, call backward, read .grad."),
    "several-variables": ("Several variables", "One backward pass fills every input's gradient."),
    "accumulation": ("Accumulation", "Why .grad keeps growing, and the two ways to clear it."),
    "by-hand": ("Checking by hand", "Autograd next to the derivative from calculus."),
    "exercises": ("Exercises", "Four exercises: polynomials, two variables, zeroing, by hand."),
}
# Pages that are not part of the seed lesson, listed on the home page after it.
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
