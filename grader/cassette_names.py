"""Which cassette each check of a suite file replays, read from the source with `ast` (never imported).

The plugin's rule (grader/plugin.py, fixture `replay`): `@pytest.mark.cassette("name")` names
`cassettes/<exercise>/<name>.yaml`, `@pytest.mark.cassette(None)` means no cassette at all, and a
check without the marker replays the cassette named after its test function.
"""

from __future__ import annotations

import ast
from pathlib import Path

from grader.errors import StaffError


def _cassette_marker(decorator: ast.expr) -> ast.Call | None:
    if (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr == "cassette"
        and isinstance(decorator.func.value, ast.Attribute)
        and decorator.func.value.attr == "mark"
    ):
        return decorator
    return None


def of_file(path: Path) -> dict[str, str | None]:
    """{test function name: cassette name, or None when the check expects no request}."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise StaffError(f"suite file {path} does not parse (line {exc.lineno}): {exc.msg}") from None
    names: dict[str, str | None] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.name.startswith("test"):
            continue
        name: str | None = node.name
        for decorator in node.decorator_list:
            marker = _cassette_marker(decorator)
            if marker is None:
                continue
            try:
                value = ast.literal_eval(marker.args[0]) if marker.args else node.name
            except ValueError:
                raise StaffError(f"{path}::{node.name}: the cassette marker takes a literal name or None") from None
            if value is not None and not isinstance(value, str):
                raise StaffError(f"{path}::{node.name}: cassette name must be a string or None, got {value!r}")
            name = value
        names[node.name] = name
    return names
