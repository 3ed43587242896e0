"""Gradescope's autograder.zip: setup.sh and run_autograder at the top, the grader and every suite and
cassette beside them (hidden ones included: this runs on Gradescope, not on a student's machine).

Never in it: reference solutions, known-wrong implementations, the harness's tests, the stubs.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from grader import course
from grader.errors import StaffError
from grader.parent import safe_write

DEFAULT_OUT = course.PROJECT_DIR / "dist" / "gradescope"  # dist/ is git-ignored
SCRIPTS = ("setup.sh", "run_autograder")
FILES = ("pyproject.toml", "constraints.txt", "README.md")  # what `pip install -e` of the source needs
TREES = ("grader", "cassettes")
_SKIPPED_SUFFIXES = (".pyc", ".tmp")


def _tree(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix not in _SKIPPED_SUFFIXES
    )


def build(out_dir: Path = DEFAULT_OUT, *, project: Path | None = None) -> Path:
    """Write `out_dir/autograder.zip` (replacing it whole) and return its path."""
    project = project or course.PROJECT_DIR
    scripts = project / "grader" / "gradescope_autograder"
    missing = [name for name in (*FILES, *TREES) if not (project / name).exists()]
    missing += [f"grader/gradescope_autograder/{s}" for s in SCRIPTS if not (scripts / s).is_file()]
    if missing:
        raise StaffError(f"cannot build autograder.zip: {', '.join(missing)} missing from {project}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "autograder.zip"
    partial = io.BytesIO()  # a few MB; written beside the target at a fresh name, then renamed over it
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in SCRIPTS:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # Gradescope runs them directly
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (scripts / name).read_bytes())
        for name in FILES:
            archive.write(project / name, name)
        for tree in TREES:
            for path in _tree(project / tree):
                archive.write(path, path.relative_to(project).as_posix())
    safe_write.write_bytes(target, partial.getvalue())
    return target
