"""End to end: the CLI grades real submissions in a child process, offline."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import pytest
import yaml

from grader import course, rubric
from grader.parent import runner
from tests.conftest import REFERENCE, STUBS, run_grade
from tests.variants import VARIANTS
from tests.wrong.catalogue import Mutant, all_mutants

GRADED = [e.id for e in course.gradable()]


def test_reference_scores_the_maximum(grade):
    run = grade(REFERENCE)
    assert run.returncode == 0, run.output
    assert run.report is not None
    assert run.report["score"] == run.report["max_score"] == sum(course.exercise(e).weight for e in GRADED)
    assert all(t["status"] == "passed" for e in run.report["exercises"] for t in e["tests"])


def test_stubs_score_zero_with_a_table_and_a_report(grade):
    run = grade(STUBS)
    assert run.returncode == 0, run.output
    assert run.report is not None and run.report["score"] == 0
    assert [e["id"] for e in run.report["exercises"]] == GRADED
    assert "Total: 0/" in run.output
    assert "not started; write ask_openai, ask_anthropic" in run.output
    for exercise in run.report["exercises"]:
        assert sum(t["max_score"] for t in exercise["tests"]) == exercise["max_score"]
        assert all(t["hint"] for t in exercise["tests"])


@pytest.mark.parametrize("mutant", all_mutants(), ids=lambda m: f"{m.exercise}-{m.name}")
def test_known_wrong_implementation_is_caught(grade, tmp_path: Path, mutant: Mutant):
    run = grade(mutant.write(tmp_path / "submission"), mutant.exercise)
    assert run.returncode == 0, run.output
    exercise = run.exercise(mutant.exercise)
    assert exercise["score"] < exercise["max_score"], f"{mutant.description}: not caught"
    for check_id in mutant.check_ids:
        assert run.check(check_id)["status"] == "failed", f"{mutant.description}: {check_id} passed"
    # The rest of the exercise is still credited: the suites judge each clause on its own.
    failed = {t["id"] for t in exercise["tests"] if t["status"] != "passed"}
    assert failed == set(mutant.check_ids)


# Issue 21: mistakes the suites caught before the port to the judge, then scored full marks after it (no cassette
# held the input that shows them). Named here so that dropping the mutant, or its check, fails loudly.
PORT_REGRESSIONS = (
    (
        "token_counter",
        "report_counts_with_thousands_separators",
        "test_hidden.py::test_report_counts_are_plain_integers",
    ),
    (
        "token_counter",
        "stream_usage_from_first_usage_chunk",
        "test_hidden.py::test_openai_stream_usage_from_final_chunk",
    ),
)


@pytest.mark.parametrize(("exercise_id", "name", "check"), PORT_REGRESSIONS, ids=[r[1] for r in PORT_REGRESSIONS])
def test_port_regressions_stay_caught(grade, tmp_path: Path, exercise_id: str, name: str, check: str):
    mutant = next((m for m in all_mutants() if (m.exercise, m.name) == (exercise_id, name)), None)
    assert mutant is not None, f"tests/wrong/{exercise_id}.py lost {name}, a mistake the port once let through"
    run = grade(mutant.write(tmp_path / "submission"), exercise_id)
    exercise = run.exercise(exercise_id)
    assert exercise["score"] < exercise["max_score"], f"{mutant.description}: scores full marks again"
    assert run.check(f"{exercise_id}/{check}")["status"] == "failed"


def test_syntax_error_in_one_module_leaves_the_other_graded(grade, reference_copy: Path):
    path = reference_copy / "basic_call.py"
    lines = path.read_text().splitlines()
    lines[40] = "def broken(:"
    path.write_text("\n".join(lines) + "\n")
    run = grade(reference_copy)
    assert run.returncode == 0, run.output
    assert run.exercise("basic_call")["score"] == 0
    assert run.exercise("temperature")["score"] == 10
    feedback = run.check("basic_call/test_public.py::test_ask_openai_returns_reply_text")["feedback"]
    assert "exercises/basic_call.py, line 41" in feedback and "SyntaxError" in feedback
    # Said once for the exercise in the table, without the hints of checks it has nothing to do with.
    assert run.output.count("exercises/basic_call.py, line 41") == 1
    hints = [t["hint"] for t in run.exercise("basic_call")["tests"]]
    assert not any(hint[:40] in run.output for hint in hints)


@pytest.mark.parametrize(
    "statement, expected",
    [
        ("import sys\nsys.exit(3)\n", "sys.exit(3)"),
        (
            "import definitely_not_a_module\n",
            "imports 'definitely_not_a_module', which is not installed where your code is graded. "
            "A submission may import the Python standard library, openai, anthropic",
        ),
        ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    ],
)
def test_module_failing_at_import_costs_only_its_exercise(grade, reference_copy: Path, statement, expected):
    path = reference_copy / "temperature.py"
    path.write_text(path.read_text() + "\n" + statement)
    run = grade(reference_copy)
    assert run.returncode == 0, run.output
    assert run.exercise("temperature")["score"] == 0
    assert run.exercise("basic_call")["score"] == 10
    feedback = run.check("temperature/test_public.py::test_sample_completions_returns_n_texts")["feedback"]
    assert expected in feedback and "exercises/temperature.py" in feedback


def _replace(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert source.count(old) == 1
    path.write_text(source.replace(old, new))


def test_mismatch_explanation_names_the_field_even_when_swallowed(grade, reference_copy: Path):
    path = reference_copy / "basic_call.py"
    _replace(
        path,
        "    response = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)\n",
        "    try:\n"
        "        response = client.chat.completions.create(\n"
        '            model="gpt-4o", messages=messages, max_tokens=max_tokens\n'
        "        )\n"
        "    except Exception:\n"
        '        return "sorry"\n',
    )
    run = grade(reference_copy, "basic_call")
    check = run.check("basic_call/test_public.py::test_ask_openai_returns_reply_text")
    assert check["status"] == "failed"
    assert "`model`" in check["feedback"]
    assert "'gpt-4o'" in check["feedback"] and "'gpt-4o-mini'" in check["feedback"]
    hidden = run.check("basic_call/test_hidden.py::test_model_and_max_tokens_passed_through")
    assert hidden["status"] == "passed"


def test_hidden_check_feedback_does_not_show_expected_values(grade, reference_copy: Path):
    _replace(reference_copy / "basic_call.py", "max_tokens=max_tokens)", "max_tokens=99)")
    run = grade(reference_copy, "basic_call")
    hidden = run.check("basic_call/test_hidden.py::test_model_and_max_tokens_passed_through")
    assert hidden["status"] == "failed"
    assert "`max_tokens`: you sent 99" in hidden["feedback"]
    assert "20" not in hidden["feedback"], "a hidden check revealed its expected value"


def test_grading_opens_no_socket(grade, reference_copy: Path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        try:
            accepted.append(listener.accept())
        except OSError:
            pass

    _replace(
        reference_copy / "basic_call.py",
        '    """Send one Chat Completions request and return the reply\'s text."""\n',
        '    """Send one Chat Completions request and return the reply\'s text."""\n'
        "    import _socket\n"
        "    try:\n"
        f"        _socket.socket().connect(('127.0.0.1', {port}))\n"
        "    except OSError:\n"
        "        pass\n"
        "    import httpx2\n"
        "    try:\n"
        f"        httpx2.get('http://127.0.0.1:{port}/')\n"
        "    except Exception:\n"
        "        pass\n",
    )
    run = grade(reference_copy, "basic_call")
    thread = threading.Thread(target=accept)
    thread.start()
    thread.join()
    listener.close()
    assert accepted == [], "a connection reached the listener while grading"
    check = run.check("basic_call/test_public.py::test_ask_openai_returns_reply_text")
    assert check["status"] == "failed"
    # The attempt is seen when the socket is created (seccomp refuses it there at the full level, before
    # any address is given); httpx2's own request crossed to the judge, which refused it as unasked for.
    assert "tried to use the network" in check["feedback"]


def test_unknown_exercise_exits_2_listing_the_valid_ones(grade):
    run = grade(REFERENCE, "basic_cal")
    assert run.returncode == 2
    assert "basic_cal" in run.output and "basic_call" in run.output and "temperature" in run.output


def test_missing_submission_exits_2_naming_it(grade, tmp_path: Path):
    run = grade(tmp_path / "nowhere")
    assert run.returncode == 2
    assert "nowhere" in run.output


def test_fail_under_exits_1_below_the_threshold(grade):
    assert grade(STUBS, "--fail-under", "50").returncode == 1
    assert grade(REFERENCE, "--fail-under", "100").returncode == 0


@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_broken_cassette_is_a_staff_error_not_the_students(grade, tmp_path: Path, damage: str):
    cassettes = tmp_path / "cassettes"
    shutil.copytree(course.CASSETTES_DIR, cassettes)
    target = cassettes / "basic_call" / "test_ask_openai_returns_reply_text.yaml"
    if damage == "delete":
        target.unlink()
    else:
        target.write_text("interactions: [\n  {oops")
    run = grade(REFERENCE, "basic_call", "--cassettes", str(cassettes))
    assert run.returncode == 2, run.output
    check = run.check("basic_call/test_public.py::test_ask_openai_returns_reply_text")
    assert check["status"] == "error"
    assert "test_ask_openai_returns_reply_text.yaml" in check["feedback"]
    assert "not your fault" in check["feedback"]
    others = [t for t in run.exercise("basic_call")["tests"] if t["id"] != check["id"]]
    assert all(t["status"] == "passed" for t in others)


def test_cassettes_are_scrubbed_and_point_at_the_public_apis():
    for path in sorted(course.CASSETTES_DIR.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for interaction in data["interactions"]:
            request, response = interaction["request"], interaction["response"]
            assert request["uri"].startswith(("https://api.openai.com/v1/", "https://api.anthropic.com/v1/")), path
            headers = {k.lower() for k in request["headers"]} | {k.lower() for k in response["headers"]}
            assert not headers & {"authorization", "x-api-key", "cookie", "set-cookie"}, path
            assert "content-type" in {k.lower() for k in response["headers"]}, path


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v.exercise}-{v.name}")
def test_correct_variant_scores_full(grade, tmp_path: Path, variant: Mutant):
    run = grade(variant.write(tmp_path / "submission"), variant.exercise)
    assert run.returncode == 0, run.output
    exercise = run.exercise(variant.exercise)
    failed = {t["id"]: t["feedback"] for t in exercise["tests"] if t["status"] != "passed"}
    assert not failed, f"{variant.description}: a correct variant lost points: {failed}"


def test_sleeps_bound_in_the_submissions_own_helper_modules_are_on_the_frozen_clock(grade, reference_copy: Path):
    # The contract allows `from time import sleep`; a submission may keep it in a module of its own,
    # imported relatively or by its full name. Were its bound sleeps left real, the backoff checks would
    # wait for real (seconds each) and fail on their time limit, or record no sleep at all.
    (reference_copy / "waiting.py").write_text(
        "from time import sleep\nfrom asyncio import sleep as asleep\n\n\n"
        "def wait(seconds):\n    sleep(seconds)\n\n\nasync def await_(seconds):\n    await asleep(seconds)\n"
    )
    (reference_copy / "nested").mkdir()
    (reference_copy / "nested" / "__init__.py").write_text("")
    (reference_copy / "nested" / "pause.py").write_text("from exercises.waiting import wait\n")
    path = reference_copy / "error_handler.py"
    _replace(path, "import time\n", "import time\n\nfrom . import waiting\nfrom .nested.pause import wait\n")
    _replace(path, "            time.sleep(delay)\n", "            wait(delay)\n")
    _replace(path, "            await asyncio.sleep(delay)\n", "            await waiting.await_(delay)\n")
    run = grade(reference_copy, "error_handler")
    assert run.returncode == 0, run.output
    failed = {t["id"]: t["feedback"] for t in run.exercise("error_handler")["tests"] if t["status"] != "passed"}
    assert not failed


def test_left_out_system_prompt_is_named_not_called_a_repeat(grade, reference_copy: Path):
    _replace(
        reference_copy / "basic_call.py",
        '    if system:\n        messages.append({"role": "system", "content": system})\n',
        "",
    )
    run = grade(reference_copy, "basic_call")
    check = run.check("basic_call/test_hidden.py::test_ask_openai_system_message_first")
    assert check["status"] == "failed"
    assert "more than once" not in check["feedback"]
    assert "`messages`: you sent 1 message(s) with roles [user]" in check["feedback"]


def test_deltas_printed_instead_of_written_to_out_are_named_as_such(grade, reference_copy: Path):
    path = reference_copy / "streaming_chat.py"
    _replace(path, "                stream_out.write(delta)\n", '                print(delta, end="")\n')
    run = grade(reference_copy, "streaming_chat")
    check = run.check("streaming_chat/test_public.py::test_chat_loop_writes_and_flushes_each_delta")
    assert check["status"] == "failed"
    assert "print()" in check["feedback"] and "waited for the whole reply" not in check["feedback"]


def test_an_error_in_the_checks_own_code_is_not_called_the_students(grade, reference_copy: Path):
    # chat_with_fallback returns a str: the check then reads `reply.provider` (an AttributeError in the
    # check's own code), which the student's code did not raise.
    path = reference_copy / "providers.py"
    path.write_text(
        path.read_text() + "\n_fallback = chat_with_fallback\n\n\ndef chat_with_fallback(*args, **kwargs):\n"
        "    _fallback(*args, **kwargs)\n    return 'a reply'\n"
    )
    run = grade(reference_copy, "providers")
    check = run.check("providers/test_public.py::test_fallback_tries_routes_in_order")
    assert check["status"] == "failed"
    assert "Your code raised AttributeError" not in check["feedback"]
    assert "AttributeError" in check["feedback"] and "your code did not raise it" in check["feedback"]


def test_comparisons_name_the_type_that_differs(grade, reference_copy: Path):
    path = reference_copy / "temperature.py"
    _replace(path, "    return results\n", "    return {str(t): text for t, text in results.items()}\n")
    _replace(path, '    return [choice.message.content or "" for choice in choices]\n',
             '    return tuple(choice.message.content or "" for choice in choices)  # type: ignore[return-value]\n')
    run = grade(reference_copy, "temperature")
    keys = run.check("temperature/test_public.py::test_compare_temperatures_returns_text_per_temperature")
    assert keys["status"] == "failed"
    assert "is a str" in keys["feedback"] and "(float)" in keys["feedback"] and "order" not in keys["feedback"]
    texts = run.check("temperature/test_public.py::test_sample_completions_returns_n_texts")
    assert texts["status"] == "failed" and "a tuple" in texts["feedback"] and "a list" in texts["feedback"]


def _mutant(exercise: str, name: str) -> Mutant:
    return next(m for m in all_mutants() if m.exercise == exercise and m.name == name)


def test_a_kept_partial_reply_is_compared_with_the_request_of_its_own_turn(grade, tmp_path: Path):
    run = grade(_mutant("streaming_chat", "keeps_partial_reply").write(tmp_path / "submission"), "streaming_chat")
    check = run.check("streaming_chat/test_public.py::test_chat_loop_survives_a_broken_stream")
    assert check["status"] == "failed"
    assert "you sent 3 message(s) with roles [user, assistant, user]" in check["feedback"]
    assert "this check expects 2 message(s) with roles [user, user]" in check["feedback"]


def test_retry_feedback_only_where_retrying_is_judged_and_one_call_at_a_time(grade, reference_copy: Path):
    path = reference_copy / "error_handler.py"
    source = path.read_text()
    # One retry too few, and every error called retryable.
    source = source.replace("if retry >= max_retries or not", "if retry >= max_retries - 1 or not", 1)
    first_test = "    if isinstance(error, _CONNECTION_ERRORS):  # timeouts"
    source = source.replace(first_test, "    return True\n" + first_test, 1)
    path.write_text(source)
    run = grade(reference_copy, "error_handler")
    which = run.check("error_handler/test_hidden.py::test_which_errors_are_retried")
    assert which["status"] == "failed" and "stopped retrying" not in which["feedback"]
    seeds = run.check("error_handler/test_hidden.py::test_exponential_backoff_over_seeds")
    assert seeds["status"] == "failed"
    assert "retried without sleeping" not in seeds["feedback"] and "call 2, attempt 6" in seeds["feedback"]


def test_an_error_from_a_property_names_the_property(grade, reference_copy: Path):
    _replace(
        reference_copy / "token_counter.py",
        "        return sum(cost_of(usage, name) for name, usage in self._usage.items())\n",
        '        raise ValueError("no cost yet")\n',
    )
    run = grade(reference_copy, "token_counter")
    check = run.check("token_counter/test_hidden.py::test_tracker_unknown_model_records_nothing")
    assert check["status"] == "failed"
    assert "ValueError" in check["feedback"] and "(in total_cost)" in check["feedback"]


def test_grading_leaves_no_folder_behind(tmp_path: Path, reference_copy: Path):
    # A crash makes the judge start a second sandbox in a second box; neither box nor log may stay.
    _replace(
        reference_copy / "basic_call.py",
        '    """Send one Chat Completions request and return the reply\'s text."""\n',
        '    """Send one Chat Completions request and return the reply\'s text."""\n    import os\n    os._exit(3)\n',
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir(mode=0o755)
    run = run_grade(tmp_path, reference_copy, "basic_call", env={"TMPDIR": str(scratch)})
    assert run.returncode == 0, run.output
    crashed = run.exercise("basic_call")["tests"]
    assert any(c["status"] == "error" for c in crashed), "the planted crash did not happen"
    assert sorted(p.name for p in scratch.iterdir()) == []


def test_an_empty_text_delta_fails_a_check_whose_hint_speaks_of_it(grade, tmp_path: Path):
    mutant = _mutant("streaming_chat", "anthropic_yields_empty_text_deltas")
    run = grade(mutant.write(tmp_path / "submission"), "streaming_chat")
    check = run.check("streaming_chat/test_hidden.py::test_stream_anthropic_yields_only_text")
    assert check["status"] == "failed"
    # A hidden check shows no assertion text, so its hint must name the cause.
    assert "the text is not empty" in check["hint"]


def test_the_quotes_hint_says_the_key_is_stripped_after_unquoting(grade, tmp_path: Path):
    run = grade(_mutant("api_keys", "quoted_key_not_stripped").write(tmp_path / "submission"), "api_keys")
    check = run.check("api_keys/test_hidden.py::test_dotenv_grammar")
    assert check["status"] == "failed"
    assert "inner whitespace" not in check["hint"]
    assert "Then strip the key" in check["hint"]


def test_a_check_its_own_assertion_stopped_gives_no_advice_from_the_request_count(grade, tmp_path: Path):
    # retries_401 sleeps before a 401; the check stops at that call, so the scripted calls after it are never
    # made: "you stopped retrying too early" would send the student after a mistake they did not make.
    run = grade(_mutant("error_handler", "retries_401").write(tmp_path / "submission"), "error_handler")
    check = run.check("error_handler/test_hidden.py::test_no_sleep_before_permanent_error")
    assert check["status"] == "failed"
    assert "no sleep is allowed here" in check["feedback"]  # the timeline still says what went wrong
    assert "this check expected" not in check["feedback"]
    # Where the code itself gave up early, the count and the advice stay.
    run = grade(_mutant("error_handler", "one_attempt_too_few").write(tmp_path / "other"), "error_handler")
    check = run.check("error_handler/test_hidden.py::test_calls_until_success")
    assert "It stopped retrying too early" in check["feedback"]


def test_an_import_failure_is_never_caught_as_the_code_raising(tmp_path: Path, reference_copy: Path):
    # A check that expects the student's function to raise must not pass because the module did not import.
    suites = tmp_path / "suites"
    shutil.copytree(course.SUITES_DIR, suites, ignore=shutil.ignore_patterns("__pycache__", "test_*.py"))
    (suites / "basic_call" / "test_public.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.points(1)\n"
        "@pytest.mark.hint('ask_openai refuses an empty prompt')\n"
        "@pytest.mark.cassette(None)\n"
        "def test_empty_prompt_is_refused(exercise, openai_client):\n"
        "    with pytest.raises(Exception):\n"
        "        exercise.ask_openai(openai_client, '')\n"
    )
    (reference_copy / "basic_call.py").write_text("def ask_openai(client, prompt:\n")  # a syntax error
    loaded = rubric.load(course.exercise("basic_call"), suites)
    run = runner.run_child(
        [loaded], submission=reference_copy, cassettes=course.CASSETTES_DIR, time_limit=120, suites_dir=suites
    )
    outcome = run.outcomes["basic_call/test_public.py::test_empty_prompt_is_refused"]
    assert outcome.status == "failed"
    assert "SyntaxError" in outcome.feedback


def test_a_check_left_out_never_takes_another_whose_name_it_begins(tmp_path: Path):
    # A restart after a crash, and `grade --failed`, leave out the checks already done. pytest's --deselect
    # matches prefixes: leaving out test_ask would also have left out test_ask_twice, which then scored 0.
    suites = tmp_path / "suites"
    shutil.copytree(course.SUITES_DIR, suites, ignore=shutil.ignore_patterns("__pycache__", "test_*.py"))
    check = (
        "@pytest.mark.points(1)\n@pytest.mark.hint('h')\n@pytest.mark.cassette(None)\n"
        "def {name}(exercise):\n    assert exercise.ask_openai\n\n\n"
    )
    (suites / "basic_call" / "test_public.py").write_text(
        "import pytest\n\n\n" + check.format(name="test_ask") + check.format(name="test_ask_twice")
    )
    loaded = rubric.load(course.exercise("basic_call"), suites)
    run = runner.run_child(
        [loaded], submission=REFERENCE, cassettes=course.CASSETTES_DIR, time_limit=120, suites_dir=suites,
        skip=["basic_call/test_public.py::test_ask"],
    )  # fmt: skip
    assert sorted(run.outcomes) == ["basic_call/test_public.py::test_ask_twice"]
    assert run.outcomes["basic_call/test_public.py::test_ask_twice"].status == "passed"
