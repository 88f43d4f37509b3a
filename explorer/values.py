"""Turning what a student typed into numbers, and tensors into plain numbers for display."""

from __future__ import annotations

import json
import math
import unicodedata

import torch

from explorer.errors import BadValueError

# Tensors up to this many elements have their values recorded and drawn; bigger ones show a shape only.
SMALL_TENSOR_ELEMENTS = 16


FLOAT32_MAX = float(torch.finfo(torch.float32).max)  # about 3.4e38; leaves are float32 tensors


def parse_number(text: str, name: str = "the value") -> float:
    """A finite float from a student's text, or a BadValueError that says what went wrong."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        number = float(text)
    else:
        cleaned = str(text).strip().replace("\u2212", "-")  # a typographic minus sign pasted from a page
        if not cleaned:
            raise BadValueError(f"Please give {name} a number, for example 3 or -1.5.")
        # float() also reads other scripts' digits (٣, ３) and 1_000; the playground's values do not,
        # and a student should not get a number from text that does not look like one. A character
        # that is not plain keyboard text is named, never echoed: a bidi or zero-width one would
        # reorder or hide the very message that points at it.
        for index, character in enumerate(cleaned):
            if not " " <= character <= "~":
                raise BadValueError(character_message(character, index, f"The value of {name}"))
        try:
            number = float(cleaned)
        except ValueError:
            raise BadValueError(f"{name} must be a number, such as 3 or -1.5; {_quoted(cleaned)} is not one.") from None
        if "_" in cleaned:
            raise BadValueError(f"{name} must be written with plain keyboard digits, such as 3 or -1.5; "
                                f"{_quoted(cleaned)} is not.")
    if math.isnan(number):
        raise BadValueError(f"{name} is NaN (not a number); gradients of NaN are NaN. Please use a finite number.")
    if math.isinf(number):
        raise BadValueError(f"{name} is infinite; please use a finite number.")
    if abs(number) > FLOAT32_MAX:
        raise BadValueError(f"{name} = {number:g} is too large for a float32 tensor (the largest is about 3.4e38).")
    return number


# Characters that students paste from documents, and what to type instead.
_CHARACTER_HINTS = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*",
    "\u00f7": "/", "\u00b2": "**2", "\u00b3": "**3", "\u03c0": "pi", "\u2018": "nothing", "\u2019": "nothing",
}
_CONTROL_NAMES = {"\t": "a tab", "\n": "a line break", "\r": "a line break", "\x00": "a null byte"}


def character_message(character: str, position: int, what: str) -> str:
    """A sentence naming a character that is not plain keyboard text, by its code and Unicode name;
    an invisible or direction-changing one is never echoed."""
    code = f"U+{ord(character):04X}"
    name = unicodedata.name(character, "")
    if character in _CONTROL_NAMES:
        label = _CONTROL_NAMES[character]
    elif unicodedata.category(character)[0] in "CZ":  # invisible, spacing or direction control: never echo it
        label = f"an invisible character ({code} {name})".replace(" )", ")")
    else:
        label = f"the character '{character}' ({code} {name})".replace(" )", ")")
    message = f"{what} contains {label} at column {position + 1}. Please type it with plain keyboard characters."
    if character in _CHARACTER_HINTS:
        message += f" Type {_CHARACTER_HINTS[character]} instead."
    return message


def _quoted(text: str) -> str:
    """Echo a student's text as inline code, shortened: pages render messages as markdown,
    and inline code shows a link or markup as the plain text it is."""
    shown = text.replace("`", "'")
    return f"`{shown[:40]}{'…' if len(shown) > 40 else ''}`"


def to_plain(tensor: torch.Tensor | None, summarize: bool = False, limit: int | None = SMALL_TENSOR_ELEMENTS):
    """A small tensor as a float or nested lists (copied to the CPU first); None for a missing one.

    A tensor of more than `limit` elements (None: no limit) gives None, or with `summarize` a short
    text such as "tensor of shape (1000,)", so a big .grad is never mistaken for no .grad at all.
    """
    if tensor is None:
        return None
    if limit is not None and tensor.numel() > limit:
        return f"tensor of shape {tuple(tensor.shape)}" if summarize else None
    data = tensor.detach().to("cpu")
    if data.is_complex():  # JSON and the captions' arithmetic have no complex numbers: text, as Python writes them
        return complex_text(data.tolist())
    if data.dtype == torch.bool:
        return data.tolist()
    data = data.double()
    return data.item() if data.dim() == 0 else data.tolist()


def complex_text(value) -> str:
    """A complex number or nested lists of them, each part to 4 significant digits: (1+2j), [(-0.6+0.8j)]."""
    if isinstance(value, list):
        return "[" + ", ".join(complex_text(item) for item in value) + "]"
    return f"({value.real:.4g}{value.imag:+.4g}j)"


def real_numbers(value) -> bool:
    """Whether a recorded value is real numbers (a float or nested lists of them): not None, not a big
    tensor left unrecorded, not a complex tensor's text (to_plain writes complex values as text)."""
    if isinstance(value, list):
        return all(real_numbers(item) for item in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_number(value) -> str:
    """Short text for a number or nested list: 6.0 -> '6', 25.5 -> '25.5', 1/3 -> '0.3333'."""
    if value is None:
        return "None"
    if isinstance(value, list):
        return "[" + ", ".join(format_number(v) for v in value) + "]"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def json_safe(data):
    """`data` with every inf, -inf and NaN written as the text "inf", "-inf" or "nan".

    Standard JSON has no such numbers: Python writes `Infinity`, which browsers' JSON.parse and
    most readers refuse. A gradient of sqrt(x) at 0 is inf, and it must reach the page as such.
    """
    if isinstance(data, float) and not math.isfinite(data):
        return "nan" if math.isnan(data) else ("inf" if data > 0 else "-inf")
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(value) for value in data]
    return data


def json_text(data, indent: int | None = 2, **options) -> str:
    """Standard JSON (never NaN or Infinity) for files, the CLI and the player."""
    return json.dumps(json_safe(data), indent=indent, allow_nan=False, **options)


def _not_finite(value) -> bool:
    if isinstance(value, list):
        return any(_not_finite(item) for item in value)
    return isinstance(value, float) and not math.isfinite(value)


def not_finite_note(values: dict, markdown: bool = True) -> str | None:
    """A sentence for the student when any of these named values (f, x.grad, ...) holds inf or NaN;
    with `markdown` False, plain text (for a terminal, or the player, which shows text as it is)."""
    names = [name for name, value in values.items() if _not_finite(value)]
    if not names:
        return None
    shown = ", ".join(f"`{name}`" for name in names)
    note = (f"{shown} {'is' if len(names) == 1 else 'are'} not finite (inf or NaN): these are PyTorch's own values. "
            "Tensors here are float32, whose largest number is about 3.4e38, so a bigger result becomes inf "
            "(`exp` of a large number, a huge power such as `9**9**9`); division by 0 and `log(0)` give ±inf; "
            "inf − inf, 0 × inf and 0/0 give NaN, and so does a function outside its range (`sqrt` or `log` of "
            "a negative number). Smaller or other values give finite gradients.")
    return note if markdown else note.replace("`", "")
