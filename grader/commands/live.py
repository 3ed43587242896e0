"""`grader live`: run your own functions for one exercise against the real APIs, with your own keys.

Sends real requests (this costs money, a fraction of a cent per run): keys from OPENAI_API_KEY /
ANTHROPIC_API_KEY, endpoints from OPENAI_BASE_URL / ANTHROPIC_BASE_URL when set, each read from the
environment or else from the `.env` file in the current directory (python-dotenv, as the course does). Prints what each
function returned and a table of the calls made, with tokens and cost at the course's prices.
Your code runs in a child process; nothing is sent when a key is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader import course
from grader.errors import UsageError
from grader.exitcodes import EXIT_BELOW, EXIT_CANNOT_GRADE, EXIT_OK
from grader.live import demos, pricing

NAME = "live"
HELP = "run your functions for one exercise against the real APIs (uses your keys; costs a little)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", metavar="EXERCISE", help="the exercise whose functions to run")
    parser.add_argument("--submission", type=Path, default=Path("exercises"), help="your exercises directory")
    parser.add_argument(
        "--provider",
        action="append",
        choices=sorted(demos.KEY_VARIABLES),
        help="only the calls to this provider (repeatable; default: every provider the demo uses)",
    )
    parser.add_argument("--time-limit", type=float, default=300.0, help="wall-clock limit of the run (s)")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="where your keys are (default .env)")


def _read_env_file(path: Path) -> list[str]:
    """Keys and endpoints from `path` that the environment lacks, put into it; the names read (never values)."""
    if not path.is_file():
        return []
    wanted = [*demos.KEY_VARIABLES.values(), "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"]
    values = dotenv_values(path)
    read = []
    for name in wanted:
        value = values.get(name)
        if value and value.strip() and not os.environ.get(name, "").strip():
            os.environ[name] = value.strip()
            read.append(name)
    return read


def _demo(exercise_id: str) -> demos.Demo:
    try:
        course.exercise(exercise_id)
    except KeyError:
        valid = ", ".join(e.id for e in course.COURSE)
        raise UsageError(f"unknown exercise {exercise_id!r}; valid: {valid}") from None
    demo = demos.DEMOS.get(exercise_id)
    if demo is None:
        raise UsageError(
            f"exercise {exercise_id!r} has no live demo yet, so nothing was sent. "
            f"Live demos exist for: {', '.join(demos.DEMOS)}."
        )
    return demo


def _missing_keys(providers: list[str]) -> list[str]:
    variables = [demos.KEY_VARIABLES[p] for p in providers]
    return [v for v in variables if not os.environ.get(v, "").strip()]


def run(args: argparse.Namespace, console: Console) -> int:
    demo = _demo(args.exercise)
    providers = [p for p in demo.providers if not args.provider or p in args.provider]
    if not providers:
        raise UsageError(f"the {demo.exercise} demo only calls {', '.join(demo.providers)}; nothing to run")
    read = _read_env_file(args.env_file)
    if read:
        console.print(f"Read {', '.join(read)} from {args.env_file}.")
    missing = _missing_keys(providers)
    if missing:
        others = [p for p in demo.providers if demos.KEY_VARIABLES[p] not in missing]
        console.print(
            f"[bold red]live:[/] {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set, "
            f"so nothing was sent (looked in the environment and in {args.env_file}). Live mode uses your own "
            f"API key: put `{missing[0]}=...` in {args.env_file} (git ignores it) or `export` it in your shell, "
            "and run it again."
            + (f" Or run only the {others[0]} calls with `--provider {others[0]}`." if others else "")
        )
        return EXIT_CANNOT_GRADE
    if not args.submission.is_dir():
        raise UsageError(f"--submission {args.submission}: no such directory")
    console.print(
        f"Running your {demo.exercise} functions against the real APIs "
        f"({', '.join(providers)}); prompt: {demo.prompt!r}"
    )
    outcome = _run_child(demo.exercise, args.submission, providers, args.time_limit)
    return _print(outcome, console)


def _run_child(exercise: str, submission: Path, providers: list[str], time_limit: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="grader-live-") as workdir:
        results = Path(workdir) / "results.json"
        command = [sys.executable, "-m", "grader.live.child", exercise, str(submission.resolve()), str(results)]
        try:
            process = subprocess.run([*command, *providers], stdin=subprocess.DEVNULL, timeout=time_limit)
        except subprocess.TimeoutExpired:
            raise UsageError(f"live run of {exercise} took longer than {time_limit:.0f} s and was stopped") from None
        if not results.is_file():
            raise UsageError(f"the live run of {exercise} ended (exit code {process.returncode}) without results")
        data: dict[str, Any] = json.loads(results.read_text(encoding="utf-8"))
        return data


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{k}: {v!r}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(f"[{i}] {v!r}" for i, v in enumerate(value))
    return repr(value)


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.6f}"


def _print(outcome: dict[str, Any], console: Console) -> int:
    if "import_error" in outcome:
        console.print(Text(f"Could not import your module: {outcome['import_error']}", style="red"))
        return EXIT_BELOW
    table = Table(title="API calls", show_lines=False)
    for column, justify in (("Call", "left"), ("Model", "left"), ("Input tokens", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("Output tokens", justify="right")
    table.add_column("Cost (course prices)", justify="right")
    total_in = total_out = 0
    total_cost: float | None = 0.0
    failed = False
    for step in outcome["steps"]:
        console.print(Text(step["label"], style="bold"))
        if "error" in step:
            failed = True
            console.print(Text(f"  failed: {step['error']}", style="red"))
        else:
            for line in _show(step["result"]).splitlines():
                console.print(Text(f"  {line}"))
        for call in step["calls"]:
            cost = pricing.cost(call["model"], call["input_tokens"], call["output_tokens"])
            total_in += call["input_tokens"]
            total_out += call["output_tokens"]
            total_cost = None if cost is None or total_cost is None else total_cost + cost
            model = call["model"] or "?"
            if call["status"] >= 400:
                model += f" (HTTP {call['status']})"
            row = (step["label"], model, str(call["input_tokens"]), str(call["output_tokens"]), _money(cost))
            table.add_row(*row)
    table.add_section()
    table.add_row(Text("total", style="bold"), "", str(total_in), str(total_out), _money(total_cost))
    console.print(table)
    console.print("Prices: USD per million tokens from the course table (exercise 3), not a live price list.")
    return EXIT_BELOW if failed else EXIT_OK
