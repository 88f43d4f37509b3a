"""Values a student types: numbers parsed, refused in words, echoed safely."""

import pytest

from explorer.errors import BadValueError
from explorer.values import parse_number


@pytest.mark.parametrize("text", ["1e39", "-3.5e38"])
def test_values_beyond_float32_are_refused(text):
    with pytest.raises(BadValueError, match="too large"):
        parse_number(text, "x")


def test_values_are_echoed_as_code_not_markdown():
    with pytest.raises(BadValueError) as caught:
        parse_number("[Session expired](https://example.invalid)", "x")
    assert "`[Session expired](https://example.invali…`" in str(caught.value)  # inline code, shortened
