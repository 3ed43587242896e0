"""Text that came from a submission, made safe for a terminal: control characters shown, not obeyed.

Rich `Text` never reads markup, but passes ESC and other control characters through, so a
submission could colour, move the cursor, clear the screen or forge lines of the table.
"""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """`text` with every control character but newline and tab written as an escape (`\\x1b`)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def plain(text: str, style: str = "") -> Text:
    """A Rich Text of untrusted `text`: no markup read, no control character passed through."""
    return Text(visible(text), style=style)
