"""Re-evaluating the arithmetic a caption prints, from the numbers it prints.

A caption line may hold sums ("1 + (-6) = -5 arrives", ".grad 12 + 6 = 18"), products ("sends 1 × 6 = 6")
and the power rule's numbers ("2·x = 2·3 = 6", "3·x² = 3·(2)² = 12"). `equations(line)` finds each one;
`violations(line)` says which do not hold for the numbers as printed. Every "=" with a number just
before it must belong to an equation found here: an equation of a shape this module does not know is
reported too, so a new kind of caption cannot slip past unchecked.

Tolerance. values.format_number prints an integer in full and anything else with 4 significant
digits (.4g). A printed number p therefore stands for any value within half a unit of its 4th
significant digit: |value - p| <= 0.5 * 10**(e - 3), e = floor(log10 |p|) ("0.3333" +-5e-5,
"6" +-5e-4, "1e+08" +-5e4). An integer of 5 or more digits, and 0, cannot be .4g output, so they
are exact. These bounds are propagated through the equation as intervals: a sum may be off by the
sum of its terms' bounds plus the result's; a product a × b by |a|·db + |b|·da + da·db plus the
result's; a power by how far e·v^k moves over v's interval. On top, 1e-9 of the magnitudes involved
for the float64 arithmetic here and in the recording. That is about 5e-4 relative for 4-digit numbers
and nothing for whole ones, so float32 absorption printed in full ("100000000 + 3 = 100000000") fails.

inf and NaN follow IEEE arithmetic, the way PyTorch computed them: "inf + 1 = inf" and
"inf + (-inf) = nan" hold; an equation of finite numbers whose printed result is inf or NaN
("1e+38 × 10 = inf") does not, since it is false arithmetic however float32 rounds it.

Lists ("[1, 2] + [3, 4] = [4, 6]", .grad of a vector) are checked element by element; a sum of lists
of different lengths is a violation. A shape in words ("tensor of shape (1000,)") is no number and
no equation is read from it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

FLOAT_SLACK = 1e-9
SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")

_SCALAR = r"-?(?:inf|nan|\d+(?:\.\d+)?(?:e[+-]\d+)?)"



def _nested_lists(depth: int) -> str:
    """Lists of numbers nested up to `depth` deep, as format_number writes them: "[1, [2, 3]]"."""
    item = _SCALAR
    for _ in range(depth - 1):
        item = rf"(?:\[{item}(?:, {item})*\]|{_SCALAR})"
    return rf"\[{item}(?:, {item})*\]"


_LIST = _nested_lists(3)
_OPERAND = rf"(?:\({_SCALAR}\)|{_SCALAR}|{_LIST})"
# A number may not be glued to a word or another number on its left ("x2", "e0"); "·" belongs to the power.
_START = r"(?<![\w.·)\]])"
_SUM = re.compile(rf"{_START}({_OPERAND}(?: \+ {_OPERAND})+) = ({_OPERAND})(?![\w.])")
_PRODUCT = re.compile(rf"{_START}({_OPERAND}) × ({_OPERAND}) = ({_OPERAND})(?![\w.])")
_POWER = re.compile(rf"{_START}({_OPERAND})·({_OPERAND})([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]*) = ({_OPERAND})(?![\w.])")
_NUMBER_BEFORE_EQUALS = re.compile(rf"(?<![A-Za-z_.\d])(?:{_OPERAND}[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]*) =(?= )")


@dataclass(frozen=True)
class Equation:
    kind: str  # "sum", "product" or "power"
    text: str  # as printed
    span: tuple[int, int]
    holds: bool


def parse_operand(text: str):
    """A printed operand as a float or nested list of floats: "(-2)" -> -2.0, "[1, [2, 3]]"."""
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    if text.startswith("["):
        return _parse_list(text)
    return float(text)


def _parse_list(text: str):
    depth_stack: list[list] = [[]]
    for token in re.findall(rf"\[|\]|{_SCALAR}", text):
        if token == "[":
            depth_stack.append([])
        elif token == "]":
            finished = depth_stack.pop()
            depth_stack[-1].append(finished)
        else:
            depth_stack[-1].append(float(token))
    return depth_stack[0][0]


def bound(text: str) -> float:
    """How far the value a printed scalar stands for may be from it (the module docstring's rule)."""
    text = text.strip("()")
    value = float(text)
    if not math.isfinite(value) or value == 0:
        return 0.0
    if re.fullmatch(r"-?\d+", text) and len(text.lstrip("-")) >= 5:
        return 0.0  # whole and too long to be .4g output: printed in full
    exponent = math.floor(math.log10(abs(value)))
    return 0.5 * 10.0 ** (exponent - 3)


def _scalars(text: str) -> list[str]:
    """The scalar texts of an operand, flattened: "[1, [2, 3]]" -> ["1", "2", "3"]."""
    return re.findall(_SCALAR, text.strip("()")) if text.startswith("[") else [text]


def _flatten(value) -> list[float]:
    return [x for item in value for x in _flatten(item)] if isinstance(value, list) else [value]


def _ieee(lhs: float, rhs: float, finite_inputs: bool) -> bool | None:
    """The verdict when something is not finite, by IEEE arithmetic; None when both sides are finite."""
    if math.isfinite(lhs) and math.isfinite(rhs):
        return None
    if finite_inputs:
        return False  # finite numbers never sum or multiply to inf or NaN in arithmetic
    return (math.isnan(lhs) and math.isnan(rhs)) or lhs == rhs


def sum_holds(terms: list[str], result: str) -> bool:
    values = [parse_operand(term) for term in terms]
    got = parse_operand(result)
    columns = [_scalars(term) for term in terms]
    results = _scalars(result)
    flat = [_flatten(v) for v in values]
    if any(len(column) != len(results) for column in columns) or any(len(f) != len(results) for f in flat):
        return False
    for index, (r_text, r) in enumerate(zip(results, _flatten(got))):
        parts = [f[index] for f in flat]
        lhs = math.fsum(parts) if all(math.isfinite(p) for p in parts) else sum(parts)
        verdict = _ieee(lhs, r, all(math.isfinite(p) for p in parts))
        if verdict is not None:
            if not verdict:
                return False
            continue
        allowed = sum(bound(column[index]) for column in columns) + bound(r_text) \
            + FLOAT_SLACK * (sum(abs(p) for p in parts) + abs(r))
        if abs(lhs - r) > allowed:
            return False
    return True


def product_holds(a_text: str, b_text: str, result: str) -> bool:
    if "[" in a_text + b_text + result:
        return False  # captions multiply scalars only; a list here is a shape this checker does not know
    a, b, r = parse_operand(a_text), parse_operand(b_text), parse_operand(result)
    verdict = _ieee(a * b, r, math.isfinite(a) and math.isfinite(b))  # Python's inf * 0 is nan, as IEEE's
    if verdict is not None:
        return verdict
    da, db = bound(a_text), bound(b_text)
    allowed = abs(a) * db + abs(b) * da + da * db + bound(result) + FLOAT_SLACK * (abs(a * b) + abs(r))
    return abs(a * b - r) <= allowed


def power_holds(e_text: str, v_text: str, superscript: str, result: str) -> bool:
    """e·v^k = r, k the printed superscript (none: k = 1, as in "2·3 = 6" for the square's 2·x)."""
    if "[" in e_text + v_text + result:
        return False
    e, v, r = parse_operand(e_text), parse_operand(v_text), parse_operand(result)
    k = int(superscript.translate(SUPERSCRIPT_DIGITS)) if superscript else 1
    try:
        lhs = e * v ** k
    except (ZeroDivisionError, OverflowError):
        lhs = math.inf
    verdict = _ieee(lhs, r, math.isfinite(e) and math.isfinite(v))
    if verdict is not None:
        return verdict
    de, dv = bound(e_text), bound(v_text)
    if k < 0 and abs(v) <= dv:
        return True  # v's interval holds 0, where v^k is unbounded: nothing can be said
    ends = [(e + se * de) * (v + sv * dv) ** k for se in (-1, 1) for sv in (-1, 1)]
    allowed = max(abs(end - lhs) for end in ends) + bound(result) + FLOAT_SLACK * (abs(lhs) + abs(r))
    return abs(lhs - r) <= allowed


def equations(line: str) -> list[Equation]:
    found = []
    for match in _SUM.finditer(line):
        terms = re.findall(_OPERAND, match[1])
        found.append(Equation("sum", match[0], match.span(), sum_holds(terms, match[2])))
    for match in _PRODUCT.finditer(line):
        found.append(Equation("product", match[0], match.span(), product_holds(match[1], match[2], match[3])))
    for match in _POWER.finditer(line):
        found.append(Equation("power", match[0], match.span(), power_holds(match[1], match[2], match[3], match[4])))
    return found


def violations(line: str) -> list[str]:
    """Each printed equation of the line that does not hold, and each "number =" no equation explains."""
    found = equations(line)
    wrong = [f"false: {equation.text!r}" for equation in found if not equation.holds]
    for match in _NUMBER_BEFORE_EQUALS.finditer(line):
        if not any(start <= match.start() and match.end() <= end for start, end in (e.span for e in found)):
            wrong.append(f"unchecked equation at {line[max(0, match.start() - 20):match.end() + 20]!r}")
    return wrong
