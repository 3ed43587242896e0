"""JUnit XML of a grade: one <testcase> per scored check, its points and score in <properties>.

Why not the child's `pytest --junitxml`: the child process runs student code, so any file it
writes could be forged, and it knows nothing of points (the rubric lives in the parent). This
file is written by the parent from its own `Grade`, so it says exactly what the score says.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.parent import safe_write
from grader.scoring import CheckResult, Grade

# Characters XML 1.0 cannot carry at all; student feedback may contain them (ANSI escapes, NUL).
_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _testcase(parent: ET.Element, exercise_id: str, result: CheckResult) -> None:
    check = result.check
    case = ET.SubElement(
        parent,
        "testcase",
        {"classname": f"grader.{exercise_id}", "name": _clean(check.name), "time": f"{result.duration:.3f}"},
    )
    properties = ET.SubElement(case, "properties")
    for name, value in (
        ("check_id", check.id),
        ("points", str(check.points)),
        ("score", str(result.score)),
        ("status", result.status),
        ("visibility", check.visibility),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    if result.status == "passed":
        return
    # JUnit's two kinds of non-pass: <error> for what went wrong around the check (a harness
    # problem), <failure> for a check the submission did not meet (including running out of time).
    tag = "error" if result.status == "error" else "failure"
    outcome = ET.SubElement(case, tag, {"type": result.status, "message": _clean(f"hint: {check.hint}")})
    outcome.text = _clean(result.feedback or f"{result.status} (no details for this check)")


def build(grade: Grade) -> ET.ElementTree[ET.Element]:
    """The XML tree: <testsuites> with one <testsuite> per exercise."""
    root = ET.Element("testsuites", {"name": "grader", "tests": "0", "failures": "0", "errors": "0"})
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for exercise in grade.exercises:
        failures = sum(1 for r in exercise.results if r.status in ("failed", "timeout"))
        errors = sum(1 for r in exercise.results if r.status == "error")
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": exercise.id,
                "tests": str(len(exercise.results)),
                "failures": str(failures),
                "errors": str(errors),
                "skipped": "0",
                "time": f"{sum(r.duration for r in exercise.results):.3f}",
            },
        )
        suite_properties = ET.SubElement(suite, "properties")
        for name, value in (("score", exercise.score), ("max_score", exercise.max_score)):
            ET.SubElement(suite_properties, "property", {"name": name, "value": str(value)})
        for result in exercise.results:
            _testcase(suite, exercise.id, result)
        totals["tests"] += len(exercise.results)
        totals["failures"] += failures
        totals["errors"] += errors
    for key, value in totals.items():
        root.set(key, str(value))
    return ET.ElementTree(root)


def write(grade: Grade, path: Path) -> None:
    tree = build(grade)
    ET.indent(tree)
    safe_write.write_text(path, ET.tostring(tree.getroot(), encoding="unicode", xml_declaration=True) + "\n")
