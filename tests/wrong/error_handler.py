# ruff: noqa: E501  (edits quote whole source lines of the reference)
"""Known-wrong implementations of exercise error_handler."""

from tests.wrong.catalogue import Mutant

_SYNC_GUARD = (
    "            return fn()\n"
    "        except Exception as error:\n"
    "            if retry >= max_retries or not is_retryable(error):\n"
    "                raise\n"
)

MUTANTS = (
    Mutant(
        "error_handler",
        "retries_401",
        "treats 401 Unauthorized as retryable",
        (
            "test_hidden.py::test_async_variant_gives_up_and_raises",
            "test_hidden.py::test_no_sleep_before_permanent_error",
            "test_hidden.py::test_which_errors_are_retried",
            "test_public.py::test_permanent_error_raised_at_once",
        ),
        (
            (
                "_RETRYABLE_STATUS_CODES = frozenset({408, 409, 429})",
                "_RETRYABLE_STATUS_CODES = frozenset({401, 408, 409, 429})",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "retries_value_error",
        "treats a ValueError (not an API error) as retryable",
        (
            "test_hidden.py::test_no_sleep_before_permanent_error",
            "test_hidden.py::test_which_errors_are_retried",
        ),
        (
            (
                "        return status in _RETRYABLE_STATUS_CODES or 500 <= status <= 599\n    return False\n",
                "        return status in _RETRYABLE_STATUS_CODES or 500 <= status <= 599\n    return isinstance(error, ValueError)\n",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "never_sleeps",
        "retries at once without ever sleeping",
        (
            "test_public.py::test_one_warning_per_retry",
            "test_public.py::test_rate_limit_retried_then_returns",
            "test_hidden.py::test_delays_capped_at_max_delay",
            "test_hidden.py::test_exponential_backoff_over_seeds",
            "test_hidden.py::test_hint_precedence",
            "test_hidden.py::test_retry_after_fractional_and_negative_seconds",
        ),
        (("            time.sleep(delay)\n", "            pass  # no wait\n"),),
    ),
    Mutant(
        "error_handler",
        "linear_backoff",
        "grows the delay linearly (base_delay * (n + 1)) instead of exponentially",
        # Not test_async_variant_retries_with_asyncio_sleep: its two retries (n = 0, 1) are the same linear
        # or exponential, and its third's ranges overlap, so whether it fails depends on the check's draws.
        # test_delays_capped_at_max_delay fails by its draws: its unhinted retries 1-3 want [8, 16], [16, 32],
        # [30, 60] and get [8, 16], [12, 24], [16, 32], so it passes one draw in twelve. A check's seed is keyed
        # by its own source (grader/judge/seeds.py): editing that check draws again, editing another does not.
        (
            "test_hidden.py::test_delays_capped_at_max_delay",
            "test_hidden.py::test_exponential_backoff_over_seeds",
            "test_public.py::test_backoff_delay_range",
        ),
        (("        grown = base_delay * 2.0**retry\n", "        grown = base_delay * (retry + 1)\n"),),
    ),
    Mutant(
        "error_handler",
        "one_attempt_too_many",
        "makes max_retries + 2 calls before giving up",
        (
            "test_hidden.py::test_exponential_backoff_over_seeds",
            "test_hidden.py::test_gives_up_after_max_retries",
            "test_hidden.py::test_last_error_reraised_itself",
            "test_hidden.py::test_zero_retries_is_one_call",
        ),
        ((_SYNC_GUARD, _SYNC_GUARD.replace("retry >= max_retries", "retry > max_retries")),),
    ),
    Mutant(
        "error_handler",
        "one_attempt_too_few",
        "gives up after max_retries calls instead of max_retries + 1",
        (
            "test_hidden.py::test_calls_until_success",
            "test_hidden.py::test_exponential_backoff_over_seeds",
            "test_hidden.py::test_gives_up_after_max_retries",
            "test_hidden.py::test_hint_precedence",
            "test_hidden.py::test_last_error_reraised_itself",
        ),
        ((_SYNC_GUARD, _SYNC_GUARD.replace("retry >= max_retries", "retry + 1 >= max_retries")),),
    ),
    Mutant(
        "error_handler",
        "ignores_retry_after",
        "ignores the retry-after header (seconds and HTTP dates)",
        (
            "test_public.py::test_retry_after_seconds_reads_the_hint",
            "test_hidden.py::test_async_variant_retries_with_asyncio_sleep",
            "test_hidden.py::test_delays_capped_at_max_delay",
            "test_hidden.py::test_hint_precedence",
            "test_hidden.py::test_retry_after_fractional_and_negative_seconds",
            "test_hidden.py::test_retry_after_http_date",
        ),
        (('    retry_after = headers.get("retry-after")\n', "    retry_after = None\n"),),
    ),
    Mutant(
        "error_handler",
        "ignores_retry_after_ms",
        "ignores the retry-after-ms header",
        (
            "test_hidden.py::test_hint_precedence",
            "test_public.py::test_retry_after_seconds_reads_the_hint",
        ),
        (('    retry_after_ms = headers.get("retry-after-ms")\n', "    retry_after_ms = None\n"),),
    ),
    Mutant(
        "error_handler",
        "no_cap",
        "never caps a delay at max_delay",
        # test_backoff_delay_range: max_delay=0 must give 0.
        ("test_public.py::test_backoff_delay_range", "test_hidden.py::test_delays_capped_at_max_delay"),
        (
            ("        return min(hint, max_delay)\n", "        return hint\n"),
            ("    ceiling = min(max_delay, grown)\n", "    ceiling = grown\n"),
        ),
    ),
    Mutant(
        "error_handler",
        "wraps_final_error",
        "raises a new RuntimeError from the last error instead of re-raising it",
        (
            "test_hidden.py::test_exponential_backoff_over_seeds",
            "test_hidden.py::test_gives_up_after_max_retries",
            "test_hidden.py::test_last_error_reraised_itself",
            "test_hidden.py::test_zero_retries_is_one_call",
        ),
        (
            (
                _SYNC_GUARD,
                "            return fn()\n"
                "        except Exception as error:\n"
                "            if not is_retryable(error):\n"
                "                raise\n"
                "            if retry >= max_retries:\n"
                '                raise RuntimeError(f"gave up after {retry + 1} attempts: {error}") from error\n',
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "async_blocking_sleep",
        "blocks the event loop with time.sleep inside acall_with_retry",
        (
            "test_hidden.py::test_async_variant_gives_up_and_raises",
            "test_hidden.py::test_async_variant_retries_with_asyncio_sleep",
        ),
        (("            await asyncio.sleep(delay)\n", "            time.sleep(delay)\n"),),
    ),
    Mutant(
        "error_handler",
        "sleeps_before_permanent_error",
        "sleeps a backoff delay before re-raising a permanent error",
        (
            "test_hidden.py::test_no_sleep_before_permanent_error",
            "test_public.py::test_permanent_error_raised_at_once",
        ),
        (
            (
                _SYNC_GUARD,
                "            return fn()\n"
                "        except Exception as error:\n"
                "            if not is_retryable(error):\n"
                "                time.sleep(backoff_delay(retry, base_delay=base_delay, max_delay=max_delay))\n"
                "                raise\n"
                "            if retry >= max_retries:\n"
                "                raise\n",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "full_jitter",
        "draws the delay from [0, e] instead of [e/2, e]",
        (
            "test_hidden.py::test_async_variant_gives_up_and_raises",
            "test_hidden.py::test_async_variant_retries_with_asyncio_sleep",
            "test_hidden.py::test_delays_capped_at_max_delay",
            "test_hidden.py::test_exponential_backoff_over_seeds",
            "test_public.py::test_backoff_delay_range",
            "test_public.py::test_rate_limit_retried_then_returns",
        ),
        # Two of these fail by their draws: test_rate_limit_retried_then_returns (one retry, in [e/2, e] half
        # the time) and test_async_variant_retries_with_asyncio_sleep (three draws, all in [e/2, e] one time in
        # eight); the others draw over many seeds. A check's seed is keyed by its own source (grader/judge/seeds.py):
        # editing that check draws again, editing another does not.
        (("    return random.uniform(ceiling / 2, ceiling)\n", "    return random.uniform(0, ceiling)\n"),),
    ),
    Mutant(
        "error_handler",
        "openai_only",
        "recognises only the openai SDK's exceptions",
        (
            "test_hidden.py::test_async_variant_gives_up_and_raises",
            "test_hidden.py::test_calls_until_success",
            "test_hidden.py::test_gives_up_after_max_retries",
            "test_hidden.py::test_which_errors_are_retried",
        ),
        (
            (
                "_STATUS_ERRORS = (openai.APIStatusError, anthropic.APIStatusError)",
                "_STATUS_ERRORS = (openai.APIStatusError,)",
            ),
            (
                "_CONNECTION_ERRORS = (openai.APIConnectionError, anthropic.APIConnectionError)",
                "_CONNECTION_ERRORS = (openai.APIConnectionError,)",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "no_warning",
        "retries without logging a warning",
        ("test_public.py::test_one_warning_per_retry",),
        (
            (
                '            logger.warning("%s: retrying in %.2f s", type(error).__name__, delay)\n            time.sleep(delay)\n',
                "            time.sleep(delay)\n",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "http_date_ignored",
        "reads retry-after as seconds only, never as an HTTP date",
        (
            "test_hidden.py::test_hint_precedence",
            "test_hidden.py::test_retry_after_http_date",
        ),
        (("    return max(0.0, when.timestamp() - time.time())\n", "    return None\n"),),
    ),
    Mutant(
        "error_handler",
        "http_date_as_local_time",
        "reads an HTTP-date retry-after as local time instead of GMT",
        ("test_hidden.py::test_retry_after_http_date",),
        (
            (
                "    return max(0.0, when.timestamp() - time.time())\n",
                "    return max(0.0, time.mktime(when.timetuple()) - time.time())\n",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "backoff_overflows",
        "computes base_delay * 2**retry with no guard: a large retry number raises OverflowError",
        # test_backoff_delay_range: retry 2000 with base_delay=0 overflows too.
        ("test_public.py::test_backoff_delay_range", "test_hidden.py::test_delays_capped_at_max_delay"),
        (
            (
                "    try:\n        grown = base_delay * 2.0**retry\n    except OverflowError:\n"
                "        grown = math.inf if base_delay > 0 else 0.0\n",
                "    grown = base_delay * 2**retry\n",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "skips_short_sleeps",
        "sleeps only when the delay is at least 1 s (skipping sleep(0) alone is fine)",
        (
            "test_public.py::test_rate_limit_retried_then_returns",
            "test_public.py::test_one_warning_per_retry",
        ),
        (("            time.sleep(delay)\n", "            if delay >= 1:\n                time.sleep(delay)\n"),),
    ),
    Mutant(
        "error_handler",
        "rejects_zero_delays",
        "raises ValueError for a base_delay or max_delay of 0, which are valid (every delay is then 0)",
        ("test_public.py::test_backoff_delay_range",),
        (("    if base_delay < 0 or max_delay < 0:", "    if base_delay <= 0 or max_delay <= 0:"),),
    ),
    Mutant(
        "error_handler",
        "rejects_zero_retries",
        "raises ValueError for max_retries=0, which is valid (one call, no retry)",
        ("test_hidden.py::test_zero_retries_is_one_call",),
        (("    if max_retries < 0:\n        raise ValueError(f\"max_retries must be 0 or more", "    if max_retries <= 0:\n        raise ValueError(f\"max_retries must be 0 or more"),),
    ),
    Mutant(
        "error_handler",
        "negative_hint_kept",
        "returns a negative retry-after-ms or retry-after as it is, instead of never going below 0",
        (
            "test_public.py::test_retry_after_seconds_reads_the_hint",
            "test_hidden.py::test_retry_after_fractional_and_negative_seconds",
        ),
        (
            ("            return max(0.0, milliseconds / 1000.0)", "            return milliseconds / 1000.0"),
            ("        return max(0.0, seconds)", "        return seconds"),
        ),
    ),
    Mutant(
        "error_handler",
        "retry_after_whole_seconds_only",
        "reads retry-after only when it is a whole number of seconds, so 1.5 is no hint",
        ("test_hidden.py::test_retry_after_fractional_and_negative_seconds",),
        (
            (
                "    seconds = _parse_seconds(retry_after)\n",
                '    seconds = float(retry_after) if retry_after.strip().lstrip("-").isdigit() else None\n',
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "negative_retry_after_kept",
        "returns a negative retry-after as it is instead of 0 s",
        (
            "test_public.py::test_retry_after_seconds_reads_the_hint",
            "test_hidden.py::test_retry_after_fractional_and_negative_seconds",
        ),
        (("        return max(0.0, seconds)\n", "        return seconds\n"),),
    ),
    Mutant(
        "error_handler",
        "connection_errors_permanent",
        "treats connection errors and timeouts as permanent",
        (
            "test_hidden.py::test_async_variant_retries_with_asyncio_sleep",
            "test_hidden.py::test_calls_until_success",
            "test_hidden.py::test_which_errors_are_retried",
        ),
        (
            (
                "    if isinstance(error, _CONNECTION_ERRORS):  # timeouts are APIConnectionError subclasses\n        return True\n",
                "",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "retries_httpx_errors",
        "retries httpx2's own errors (an Anthropic stream broken midway) as if they were connection errors",
        (
            "test_hidden.py::test_no_sleep_before_permanent_error",
            "test_hidden.py::test_which_errors_are_retried",
        ),
        (
            (
                "    if isinstance(error, _CONNECTION_ERRORS):  # timeouts are APIConnectionError subclasses\n",
                "    if isinstance(error, _CONNECTION_ERRORS) or type(error).__module__.startswith(\"httpx\"):\n",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "unparseable_ms_no_fallback",
        "an unparseable retry-after-ms is taken as no hint instead of falling back to retry-after",
        ("test_hidden.py::test_hint_precedence",),
        (
            (
                "        if milliseconds is not None:\n            return max(0.0, milliseconds / 1000.0)\n",
                "        if milliseconds is not None:\n            return max(0.0, milliseconds / 1000.0)\n        return None\n",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "garbled_hint_means_zero",
        "takes a retry-after that parses neither as seconds nor as a date for a hint of 0 s",
        ("test_hidden.py::test_retry_after_http_date",),
        (
            (
                "    except (TypeError, ValueError, IndexError, OverflowError):\n        return None\n",
                "    except (TypeError, ValueError, IndexError, OverflowError):\n        return 0.0\n",
            ),
        ),
    ),
    Mutant(
        "error_handler",
        "no_response_means_zero",
        "retry_after_seconds returns 0.0 instead of None for an error that carries no response",
        (
            "test_public.py::test_retry_after_seconds_reads_the_hint",
            "test_hidden.py::test_async_variant_retries_with_asyncio_sleep",
        ),
        (
            (
                "    if headers is None:\n        return None\n",
                "    if headers is None:\n        return 0.0\n",
            ),
        ),
    ),
)
