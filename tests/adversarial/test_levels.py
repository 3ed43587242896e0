"""The sandbox degrades cleanly: with layers masked it still grades and names its level; official modes refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import cli, course
from grader.parent import grading
from grader.sandbox.outside import confinement
from tests.conftest import REFERENCE

WEAK = confinement.Capabilities(
    ("rlimits", "session", "env-allowlist"),
    {"uid": "masked by the test", "seccomp": "masked by the test", "landlock": "masked by the test"},
)
NONE = confinement.Capabilities(("env-allowlist",), {layer: "masked" for layer in confinement.OS_LAYERS})


@pytest.mark.parametrize(("caps", "level"), [(WEAK, "partial"), (NONE, "none")])
def test_masked_capabilities_still_grade_and_name_their_level(monkeypatch: pytest.MonkeyPatch, caps, level):
    monkeypatch.setattr(confinement, "probe", lambda: caps)
    exercise = next(e for e in course.gradable() if e.id == "basic_call")
    result = grading.grade_submission([exercise], REFERENCE, time_limit=240)
    assert result.score == 10
    assert result.sandbox["level"] == level
    assert result.sandbox["layers"] == list(caps.available)


def test_levels_of_layer_sets():
    assert confinement.level(confinement.FULL_LAYERS) == "full"
    assert confinement.level(WEAK.available) == "partial"
    assert confinement.level(NONE.available) == "none"


def test_official_grading_refuses_a_weak_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys):
    monkeypatch.setattr(confinement, "probe", lambda: WEAK)
    report = tmp_path / "r.json"
    code = cli.main(["grade", "basic_call", "--official", "--submission", str(REFERENCE), "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 2 and not report.exists()
    assert "uid: masked by the test" in " ".join(out.split()) and "--allow-weak-sandbox" in out
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert cli.main(["grade", "basic_call", "--submission", str(REFERENCE), "--json", str(report), "--no-github"]) == 2
    batch = cli.main(["batch", str(tmp_path), "--csv", str(tmp_path / "g.csv")])
    assert batch == 2


def test_allow_weak_sandbox_grades_and_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys):
    monkeypatch.setattr(confinement, "probe", lambda: WEAK)
    report = tmp_path / "r.json"
    argv = ["grade", "basic_call", "--official", "--allow-weak-sandbox", "--submission", str(REFERENCE)]
    assert cli.main([*argv, "--json", str(report)]) == 0
    assert "Sandbox: partial" in capsys.readouterr().out


NON_ROOT = ("seccomp", "landlock", "rlimits", "session", "env-allowlist")  # a GitHub runner without sudo, a laptop
CONTAINER = ("uid", "seccomp", "landlock", "rlimits", "nproc", "session", "env-allowlist")  # Docker, no SYS_ADMIN


@pytest.mark.parametrize("layers", [NON_ROOT, CONTAINER], ids=["non-root", "container"])
def test_where_users_run_every_protection_of_an_official_grade_holds(layers):
    assert confinement.official_gaps(layers) == []
    assert confinement.level(layers) == "strong"


@pytest.mark.parametrize(
    ("dropped", "gap"),
    [
        ("seccomp", "no network"),
        ("landlock", "suites, cassettes, solutions and other submissions unreadable"),
        ("rlimits", "memory, CPU and file-size limits"),
        ("session", "no process outlives grading"),
        ("env-allowlist", "an environment without the grader's secrets"),
    ],
)
def test_a_missing_protection_is_named_and_not_official(dropped, gap):
    layers = tuple(layer for layer in NON_ROOT if layer != dropped)
    assert gap in confinement.official_gaps(layers)
    assert confinement.level(layers) == ("partial" if confinement.OS_LAYERS & set(layers) else "none")


def test_one_layer_may_stand_in_for_another_only_where_it_protects_the_same():
    # netns stands in for seccomp's socket rule; uid for Landlock's write rule and for reaching the judge.
    with_netns = ("netns", "landlock", "rlimits", "session", "env-allowlist")
    assert "no network" not in confinement.official_gaps(with_netns)
    assert "the judge and the parent out of reach (signals, ptrace, /proc)" in confinement.official_gaps(with_netns)
    uid_only = ("uid", "seccomp", "rlimits", "session", "env-allowlist")
    assert confinement.official_gaps(uid_only) == ["suites, cassettes, solutions and other submissions unreadable"]


def test_ci_grades_officially_at_the_level_a_non_root_runner_has(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    caps = confinement.Capabilities(NON_ROOT, {"uid": "needs the grader to run as root"})
    monkeypatch.setattr(confinement, "probe", lambda: caps)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    report = tmp_path / "r.json"
    argv = ["grade", "basic_call", "--submission", str(REFERENCE), "--json", str(report), "--no-github"]
    assert cli.main(argv) == 0
