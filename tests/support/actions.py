"""One job of a GitHub Actions workflow, run here as a stock GitHub-hosted Ubuntu runner runs it.

The job's `run:` steps run in order with `bash --noprofile --norc -eo pipefail` (GitHub's default shell)
as a non-root user, with the variables a runner sets (GITHUB_ACTIONS, CI, GITHUB_OUTPUT,
GITHUB_STEP_SUMMARY, GITHUB_ENV, GITHUB_PATH, GITHUB_WORKSPACE, RUNNER_TEMP) and the step's and job's
`env:`. Actions are stood in for:
- actions/checkout: the workspace is the checkout (the caller made it);
- actions/setup-python: a prepared environment first on PATH (`platforms.public_venv`: GitHub's tool
  cache is a Python any user may run, so is this);
- actions/upload-artifact and download-artifact: folders under `artifacts`;
- any other action (Classroom's reporter) is not run; the step is listed as skipped.
`${{ matrix.X }}`, `${{ inputs.X }}`, `${{ steps.ID.outputs.X }}` and the token are substituted. A step's
`if:` is honoured for `always()` and for the default (run only while every earlier step succeeded).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FAKE_TOKEN = "ghs_test_fake"  # obviously fake: no job here calls GitHub
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Step:
    name: str
    outcome: str  # success | failure | skipped
    log: str = ""


@dataclass
class Job:
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # "step-id.name" -> value
    summary: str = ""

    @property
    def succeeded(self) -> bool:
        return all(s.outcome != "failure" for s in self.steps)

    def describe(self) -> str:
        return "\n".join(f"--- {s.name}: {s.outcome}\n{s.log[-4000:]}" for s in self.steps)


def _substitute(text: str, context: dict[str, dict[str, str]]) -> str:
    def one(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression in ("github.token", "secrets.GITHUB_TOKEN"):
            return FAKE_TOKEN
        parts = expression.split(".")
        if parts[0] in ("matrix", "inputs") and len(parts) == 2:
            return context[parts[0]].get(parts[1], "")
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return context["steps"].get(f"{parts[1]}.{parts[3]}", "")
        return match.group(0)

    return _EXPRESSION.sub(one, text)


def _read_pairs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV: `name=value` lines and `name<<DELIMITER` blocks."""
    pairs: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            pairs[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            pairs[name] = value
        index += 1
    return pairs


def _upload(spec: dict[str, Any], workspace: Path, artifacts: Path) -> str:
    target = artifacts / spec["name"]
    copied = 0
    for pattern in str(spec["path"]).split("\n"):
        pattern = pattern.strip()
        if not pattern:
            continue
        for found in glob.glob(str(workspace / pattern)):
            source = Path(found)
            destination = target / source.relative_to(workspace) if not source.is_dir() else target
            destination.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, destination, dirs_exist_ok=True)
            else:
                shutil.copy2(source, destination)
            copied += 1
    if not copied and spec.get("if-no-files-found", "warn") == "error":
        raise FileNotFoundError(f"upload-artifact {spec['name']}: no files found at {spec['path']}")
    return f"{copied} path(s) uploaded as {spec['name']}"


def _download(spec: dict[str, Any], workspace: Path, artifacts: Path) -> str:
    destination = workspace / spec.get("path", ".")
    if "name" in spec:
        shutil.copytree(artifacts / spec["name"], destination, dirs_exist_ok=True)
        return f"{spec['name']} downloaded"
    names = [d.name for d in sorted(artifacts.iterdir()) if fnmatch.fnmatch(d.name, spec["pattern"])]
    for name in names:
        shutil.copytree(artifacts / name, destination / name, dirs_exist_ok=True)
    return f"{len(names)} artifact(s) downloaded"


def run_job(
    workflow: Path,
    job_id: str,
    workspace: Path,
    *,
    user: str,
    python_bin: Path,
    artifacts: Path,
    matrix: dict[str, str] | None = None,
    inputs: dict[str, str] | None = None,
    timeout: float = 1200,
) -> Job:
    """Run `job_id` of `workflow` in `workspace` (owned by `user`, who runs every `run:` step)."""
    definition = yaml.safe_load(workflow.read_text())
    job_spec = definition["jobs"][job_id]
    context: dict[str, dict[str, str]] = {"matrix": dict(matrix or {}), "inputs": dict(inputs or {}), "steps": {}}
    runner_temp = workspace.parent / f"runner-temp-{job_id}"
    runner_temp.mkdir(mode=0o755, exist_ok=True)
    files = {name: runner_temp / name.lower() for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV")}
    home = Path(os.path.expanduser(f"~{user}"))
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    extra_env: dict[str, str] = {}
    job = Job()
    failed = False
    for number, spec in enumerate(job_spec["steps"], start=1):
        name = spec.get("name") or spec.get("uses") or str(spec.get("run", "")).splitlines()[0]
        condition = str(spec.get("if", ""))
        if failed and "always()" not in condition:
            job.steps.append(Step(name, "skipped", "an earlier step failed"))
            continue
        uses = str(spec.get("uses", ""))
        with_ = {k: _substitute(str(v), context) for k, v in (spec.get("with") or {}).items()}
        try:
            if uses.startswith("actions/checkout@"):
                job.steps.append(Step(name, "success", "the workspace is the checkout"))
            elif uses.startswith("actions/setup-python@"):
                path = f"{python_bin}:{path}"
                job.steps.append(Step(name, "success", f"{python_bin} first on PATH"))
            elif uses.startswith("actions/upload-artifact@"):
                job.steps.append(Step(name, "success", _upload(with_, workspace, artifacts)))
            elif uses.startswith("actions/download-artifact@"):
                job.steps.append(Step(name, "success", _download(with_, workspace, artifacts)))
            elif uses:
                job.steps.append(Step(name, "skipped", f"{uses} is not run here"))
            else:
                for target in files.values():
                    target.write_text("")
                    shutil.chown(target, user)
                env = {
                    "PATH": path, "HOME": str(home), "USER": user, "LANG": "C.UTF-8",
                    "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(workspace),
                    "RUNNER_TEMP": str(runner_temp), "GITHUB_EVENT_NAME": "push",
                    **{k: str(v) for k, v in files.items()}, **extra_env,
                }  # fmt: skip
                for scope in (job_spec.get("env") or {}, spec.get("env") or {}):
                    env.update({k: _substitute(str(v), context) for k, v in scope.items()})
                script = runner_temp / f"step-{number}.sh"
                script.write_text(_substitute(str(spec["run"]), context))
                script.chmod(0o755)
                assignments = [f"{k}={v}" for k, v in env.items()]
                process = subprocess.run(
                    ["runuser", "-u", user, "--", "env", "-i", *assignments,
                     "bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                    cwd=workspace, capture_output=True, text=True, timeout=timeout,
                )  # fmt: skip
                outcome = "success" if process.returncode == 0 else "failure"
                job.steps.append(Step(name, outcome, process.stdout + process.stderr))
                step_id = spec.get("id")
                for key, value in _read_pairs(files["GITHUB_OUTPUT"]).items():
                    if step_id:
                        context["steps"][f"{step_id}.{key}"] = value
                        job.outputs[f"{step_id}.{key}"] = value
                extra_env.update(_read_pairs(files["GITHUB_ENV"]))
                job.summary += files["GITHUB_STEP_SUMMARY"].read_text()
        except (OSError, KeyError, ValueError) as exc:
            job.steps.append(Step(name, "failure", f"{type(exc).__name__}: {exc}"))
        failed = failed or job.steps[-1].outcome == "failure"
    return job
