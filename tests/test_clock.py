"""The frozen clock: sleeps recorded and skipped, clocks moving together, patches undone; end to end,
a real wait is stopped by the per-check time limit and the error_handler suite simulates its backoff."""

from __future__ import annotations

import asyncio
import datetime
import math
import random
import re
import time
import types
from pathlib import Path

import anyio
import openai
import openai._base_client
import pytest

from grader import clock, course, rubric
from grader.judge import faults
from grader.parent import runner
from tests.conftest import REFERENCE


def test_sleeping_advances_time_monotonic_and_datetime_together():
    with clock.frozen() as frozen:
        wall, mono, now = time.time(), time.monotonic(), datetime.datetime.now(datetime.timezone.utc)
        assert wall == clock.DEFAULT_START.timestamp() == frozen.now()
        time.sleep(1e6)  # would hang the test if it waited for real
        time.sleep(0.25)
        assert time.time() - wall == pytest.approx(1e6 + 0.25)
        assert time.monotonic() - mono == pytest.approx(1e6 + 0.25)
        assert (datetime.datetime.now(datetime.timezone.utc) - now).total_seconds() == pytest.approx(1e6 + 0.25)
    assert frozen.delays() == [1e6, 0.25] and frozen.total == pytest.approx(1e6 + 0.25)


def test_async_sleeps_are_recorded_with_the_function_used():
    async def waits() -> str:
        await asyncio.sleep(2)
        await anyio.sleep(3)
        return await asyncio.sleep(0.5, result="done")

    with clock.frozen() as frozen:
        assert asyncio.run(waits()) == "done"
        assert time.time() == clock.DEFAULT_START.timestamp() + 5.5
    assert [(s.seconds, s.via) for s in frozen.sleeps] == [
        (2, "asyncio.sleep"),
        (3, "anyio.sleep"),
        (0.5, "asyncio.sleep"),
    ]


def test_names_a_student_bound_to_the_real_sleeps_are_replaced_then_restored():
    student = types.ModuleType("exercises.error_handler")
    student.sleep = time.sleep  # from time import sleep
    student.asleep = asyncio.sleep  # from asyncio import sleep as asleep
    with clock.frozen(modules=[student]) as frozen:
        student.sleep(4)
        asyncio.run(student.asleep(6))
    assert [(s.seconds, s.via) for s in frozen.sleeps] == [(4, "time.sleep"), (6, "asyncio.sleep")]
    assert student.sleep is clock.REAL_TIME_SLEEP and student.asleep is clock.REAL_ASYNCIO_SLEEP


def test_fake_sleeps_refuse_what_the_real_ones_refuse():
    with clock.frozen() as frozen:
        with pytest.raises(ValueError, match="non-negative"):
            time.sleep(-1)
        with pytest.raises(ValueError, match="NaN"):
            time.sleep(math.nan)
        with pytest.raises(TypeError, match="str"):
            time.sleep("1")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            asyncio.run(anyio.sleep(-1))
        asyncio.run(asyncio.sleep(-1))  # asyncio treats a negative delay as 0
        time.sleep(1e12)  # far beyond datetime's range: recorded, the clock stops at its limit
    assert frozen.delays() == [-1, 1e12]
    assert frozen.total == 1e12


def test_every_patch_is_undone_even_when_the_block_raises():
    random.seed(11)
    expected_next = random.random()
    random.seed(11)
    with pytest.raises(RuntimeError), clock.frozen(seed="check"):
        assert openai._base_client.random() == clock.SDK_RANDOM  # type: ignore[attr-defined]
        raise RuntimeError("student code failed")
    assert time.sleep is clock.REAL_TIME_SLEEP and asyncio.sleep is clock.REAL_ASYNCIO_SLEEP
    assert anyio.sleep is clock.REAL_ANYIO_SLEEP
    assert openai._base_client.random is not clock._sdk_random  # type: ignore[attr-defined]
    assert abs(time.time() - clock.DEFAULT_START.timestamp()) > 86400
    assert random.random() == expected_next  # the global random state is restored too


def test_seed_makes_a_students_jitter_repeatable():
    draws = []
    for _ in range(2):
        with clock.frozen(seed="error_handler/test_public.py::test_x"):
            draws.append([random.uniform(0.5, 1.0) for _ in range(3)])
    assert draws[0] == draws[1]


def test_the_sdks_own_retry_jitter_is_deterministic():
    def sdk_delays() -> list[float]:
        with clock.frozen() as frozen, faults.injecting(faults.parse_script(("500", "500", "500"))):
            client = openai.OpenAI(api_key="sk-test-x", max_retries=2)
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        return frozen.delays()

    first = sdk_delays()
    # openai: 0.5 s * 2**n, times its jitter factor 1 - 0.25 * random()
    assert first == sdk_delays() == [0.5 * (1 - 0.25 * clock.SDK_RANDOM), 1.0 * (1 - 0.25 * clock.SDK_RANDOM)]


def test_the_suite_simulates_ten_minutes_of_backoff_and_passes_the_reference():
    loaded = rubric.load(course.exercise("error_handler"))
    run = runner.run_child([loaded], submission=REFERENCE, cassettes=course.CASSETTES_DIR, time_limit=300)
    assert run.outcomes and all(o.status == "passed" for o in run.outcomes.values()), run.output
    found = re.search(r"grader clock: simulated ([\d.]+) s of waiting", run.output)
    assert found, run.output
    assert float(found.group(1)) >= 600


def test_a_real_wait_is_stopped_by_the_check_time_limit_and_grading_goes_on(grade, reference_copy: Path):
    path = reference_copy / "error_handler.py"
    source = path.read_text()
    assert source.count("            await asyncio.sleep(delay)\n") == 1
    path.write_text(
        source.replace(
            "            await asyncio.sleep(delay)\n",
            "            import threading\n            threading.Event().wait(3600)  # a wait the clock cannot skip\n",
        )
    )
    run = grade(reference_copy, "error_handler", "--check-timeout", "3")
    assert run.returncode == 0, run.output
    tests = run.exercise("error_handler")["tests"]
    timed_out = {t["id"].split("::")[1] for t in tests if t["status"] == "timeout"}
    assert timed_out == {"test_async_variant_retries_with_asyncio_sleep", "test_async_variant_gives_up_and_raises"}
    assert all(t["status"] == "passed" for t in tests if t["status"] != "timeout")
    assert (
        "ran out of time"
        in run.check("error_handler/test_hidden.py::test_async_variant_retries_with_asyncio_sleep")["feedback"]
    )
