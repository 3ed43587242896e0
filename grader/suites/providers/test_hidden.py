"""Hidden checks of exercise 7, providers: several system messages, unknown providers, which errors fall
through, and the aggregated error when every route fails."""

import pytest

from grader.judge.expect import same
from grader.judge.given import ChatReply
from grader.judge.sdk import anthropic, openai

QUESTION = [{"role": "user", "content": "Name a good first programming language."}]
MARCH = [{"role": "user", "content": "Where should I go in March?"}]  # the synthetic cassette's question
TRAVEL = [  # the conversation of the public cassette test_chat_openai_reply
    {"role": "system", "content": "You are a travel agent who answers in one sentence."},
    {"role": "user", "content": "Where should I go in March?"},
    {"role": "assistant", "content": "Lisbon: mild weather and few crowds."},
    {"role": "user", "content": "And what should I pack?"},
]


def _shown(reply):
    """A ChatReply's fields as built-in values, for strict comparison (see grader/judge/expect.py)."""
    usage = getattr(reply, "usage", None)
    fields = [getattr(reply, name, None) for name in ("provider", "model", "text")]
    return (*fields, (getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None)))


@pytest.mark.points(1)
@pytest.mark.hint(
    "Every system message goes into Anthropic's system parameter, their texts joined with a blank line "
    "('\\n\\n') in order; the user and assistant messages keep their order."
)
def test_chat_joins_several_system_messages(exercise, sandbox, anthropic_client, replay):
    """chat('anthropic', ...) joins several system messages and keeps the other turns in order"""
    messages = [
        {"role": "system", "content": "You teach programming."},
        {"role": "user", "content": "I am new to coding."},
        {"role": "assistant", "content": "Welcome! What would you like to build?"},
        {"role": "system", "content": "Answer in at most ten words."},
        {"role": "user", "content": "Which language should I learn first?"},
    ]
    reply = exercise.chat("anthropic", anthropic_client, messages, model="claude-sonnet-4-6", max_tokens=64)
    recorded = replay.response_json()
    usage = sandbox.exercise("token_counter").usage_of(sandbox.sdk("anthropic.Message", recorded))
    text = "".join(b["text"] for b in recorded["content"] if b["type"] == "text")
    assert same(_shown(reply), _shown(ChatReply("anthropic", recorded["model"], text, usage)))


@pytest.mark.points(1)
@pytest.mark.hint(
    "Provider names are exactly 'openai' and 'anthropic': anything else raises ValueError before a request is "
    "sent, in chat and in chat_with_fallback; an empty routes list raises ValueError too."
)
@pytest.mark.cassette(None)
def test_unknown_providers_raise_before_sending(exercise, openai_client, anthropic_client, replay):
    """unknown providers and empty routes raise ValueError and send nothing"""
    for name in ["gemini", "OpenAI", "claude", ""]:
        with pytest.raises(ValueError):
            exercise.chat(name, openai_client, QUESTION)
    with pytest.raises(ValueError):
        exercise.chat_with_fallback([], QUESTION)
    with pytest.raises(ValueError):
        exercise.chat_with_fallback([("mistral", openai_client), ("openai", openai_client)], QUESTION)
    assert replay.sent == []


@pytest.mark.points(1)
@pytest.mark.hint(
    "Only SDK errors (openai.APIError, anthropic.APIError) move on to the next route; any other exception "
    "(ValueError, TypeError, KeyError...) is a bug and propagates at once, unchanged."
)
@pytest.mark.cassette(None)
def test_fallback_other_errors_propagate(exercise, sandbox, openai_client, anthropic_client, replay):
    """a non-API error propagates at once and no later route is tried"""
    # Real clients whose create() raises a bug's exception: with_options() copies and with_raw_response
    # wrappers of them raise it too, since the method is replaced on the SDK's resource class.
    boom = sandbox.new(ValueError("a bug in the client, not an API failure"))
    with sandbox.failing_create("openai", boom), pytest.raises(ValueError) as info:
        exercise.chat_with_fallback([("openai", openai_client), ("anthropic", anthropic_client)], QUESTION)
    assert info.value is boom
    oops = sandbox.new(KeyError("content"))
    with sandbox.failing_create("anthropic", oops), pytest.raises(KeyError) as info_key:
        exercise.chat_with_fallback([("anthropic", anthropic_client), ("openai", openai_client)], QUESTION)
    assert info_key.value is oops
    assert replay.sent == []


@pytest.mark.points(1)
@pytest.mark.hint(
    "Any SDK APIError falls through to the next route, whatever its status: 401 and 400 as well as 429 or 5xx."
)
def test_fallback_any_status_error_falls_through(exercise, openai_client, anthropic_client, replay):
    """401 and 400 replies fall through to the next route too"""
    routes = [("openai", openai_client), ("anthropic", anthropic_client), ("openai", openai_client)]
    reply = exercise.chat_with_fallback(routes, QUESTION, max_tokens=64)
    recorded = replay.response_json(2)
    assert [replay.interactions[i][1]["status"]["code"] for i in range(3)] == [401, 400, 200]
    assert same(_shown(reply)[:3], ("openai", recorded["model"], recorded["choices"][0]["message"]["content"]))
    assert len(replay.sent) == 3


@pytest.mark.points(1)
@pytest.mark.hint(
    "When every route fails, raise AllProvidersFailedError(errors) with every (provider, error) pair in the "
    "order tried (a provider tried twice appears twice), the SDK's own exceptions, and chain it: "
    "`raise AllProvidersFailedError(errors) from last_error`."
)
@pytest.mark.faults("200", "200", "503")
def test_fallback_all_failed_aggregates_every_error(exercise, openai_client, anthropic_client, replay):
    """AllProvidersFailedError lists every route's error in order (repeats too), chained from the last one"""
    routes = [("openai", openai_client), ("anthropic", anthropic_client), ("anthropic", anthropic_client)]
    with pytest.raises(exercise.AllProvidersFailedError) as info:
        exercise.chat_with_fallback(routes, QUESTION)
    errors = info.value.errors
    statuses = [replay.interactions[i][1]["status"]["code"] for i in range(2)]
    assert [provider for provider, _ in errors] == ["openai", "anthropic", "anthropic"]
    assert isinstance(errors[0][1], openai.APIStatusError) and errors[0][1].status_code == statuses[0]
    assert isinstance(errors[1][1], anthropic.APIStatusError) and errors[1][1].status_code == statuses[1]
    assert isinstance(errors[2][1], anthropic.InternalServerError)
    assert info.value.__cause__ is errors[-1][1]


@pytest.mark.points(1)
@pytest.mark.hint(
    "ChatReply.usage is usage_of(response) from exercise 3, so Anthropic's cache tokens count as input; and an "
    "OpenAI reply whose content is null gives the text ''."
)
def test_chat_usage_with_cache_tokens_and_null_content(exercise, sandbox, openai_client, anthropic_client, replay):
    """chat's usage counts Anthropic cache tokens (as usage_of does), and a null OpenAI content gives ''"""
    usage_of = sandbox.exercise("token_counter").usage_of
    cached = exercise.chat("anthropic", anthropic_client, MARCH)
    recorded = replay.response_json(0)
    text = "".join(b["text"] for b in recorded["content"] if b["type"] == "text")
    usage = usage_of(sandbox.sdk("anthropic.Message", recorded))
    assert same(_shown(cached), _shown(ChatReply("anthropic", recorded["model"], text, usage)))
    empty = exercise.chat("openai", openai_client, MARCH)
    completion = replay.response_json(1)
    usage = usage_of(sandbox.sdk("openai.ChatCompletion", completion))
    assert same(_shown(empty), _shown(ChatReply("openai", completion["model"], "", usage)))


@pytest.mark.points(1)
@pytest.mark.hint(
    "A connection error and a timeout are SDK errors too (openai.APIConnectionError, anthropic.APITimeoutError "
    "are APIError subclasses): move on to the next route. And never change the caller's messages list: build "
    "Anthropic's turns as a new list, so a later route still gets the system message."
)
@pytest.mark.faults("connect-error", "read-timeout", "200")
@pytest.mark.cassette("test_chat_openai_reply")
def test_fallback_after_connection_error_and_timeout(exercise, sandbox, anthropic_client, openai_client, replay):
    """a connection error and a timeout fall through to the next route, and the caller's messages stay as given"""
    messages = sandbox.kept_list(TRAVEL)
    routes = [("anthropic", anthropic_client), ("anthropic", anthropic_client), ("openai", openai_client)]
    reply = exercise.chat_with_fallback(routes, messages)
    assert same(list(messages), TRAVEL), (
        f"after chat_with_fallback the caller's messages list holds {list(messages)!r}; it must be left as given"
    )
    recorded = replay.response_json(0)
    assert same(_shown(reply)[:3], ("openai", recorded["model"], recorded["choices"][0]["message"]["content"]))
