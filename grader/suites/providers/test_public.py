"""Public checks of exercise 7, providers: each provider's request and reply, and falling back in order.

`ChatReply.usage` is compared with what the submission's OWN token_counter.usage_of gives for the
same reply, so a mistake in exercise 3 never costs points here.
"""

import pytest

from grader.judge.expect import same
from grader.judge.given import ChatReply

SYSTEM = "You are a travel agent who answers in one sentence."
CONVERSATION = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Where should I go in March?"},
    {"role": "assistant", "content": "Lisbon: mild weather and few crowds."},
    {"role": "user", "content": "And what should I pack?"},
]


def _shown(reply):
    """A ChatReply's fields as built-in values, for strict comparison (see grader/judge/expect.py)."""
    usage = getattr(reply, "usage", None)
    fields = [getattr(reply, name, None) for name in ("provider", "model", "text")]
    return (*fields, (getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None)))


def _own_usage_of(sandbox, sdk_type, recorded):
    """What the submission's token_counter.usage_of says about the SDK object of a recorded reply."""
    return sandbox.exercise("token_counter").usage_of(sandbox.sdk(sdk_type, recorded))


def _anthropic_text(recorded):
    return "".join(block["text"] for block in recorded["content"] if block["type"] == "text")


@pytest.mark.points(1)
@pytest.mark.hint(
    "For 'openai' send the messages as given with client.chat.completions.create(model=..., messages=..., "
    "max_tokens=...) and return ChatReply('openai', response.model, the first choice's text, usage_of(response))."
)
def test_chat_openai_reply(exercise, sandbox, openai_client, replay):
    """chat('openai', ...) sends the messages as given and returns the reply's model, text and usage"""
    first = exercise.chat("openai", openai_client, CONVERSATION)
    second = exercise.chat("openai", openai_client, CONVERSATION[:2], model="gpt-4o", max_tokens=40)
    for index, reply in enumerate([first, second]):
        recorded = replay.response_json(index)
        expected = ChatReply(
            "openai",
            recorded["model"],
            recorded["choices"][0]["message"]["content"] or "",
            _own_usage_of(sandbox, "openai.ChatCompletion", recorded),
        )
        assert type(reply) is ChatReply, f"chat must return a ChatReply, got {reply!r}"
        assert same(_shown(reply), _shown(expected)), (
            f"chat('openai', ...) returned {reply!r}; from the API's reply: {expected!r}"
        )


@pytest.mark.points(1)
@pytest.mark.hint(
    "Anthropic takes no 'system' message: take the system messages out of `messages`, pass their text as "
    "system=..., keep the other messages in order, and return ChatReply('anthropic', response.model, ...)."
)
def test_chat_anthropic_moves_system_messages(exercise, sandbox, anthropic_client, replay):
    """chat('anthropic', ...) moves system messages into the system parameter and returns the reply's fields"""
    reply = exercise.chat("anthropic", anthropic_client, CONVERSATION, max_tokens=120)
    recorded = replay.response_json(0)
    expected = ChatReply(
        "anthropic", recorded["model"], _anthropic_text(recorded), _own_usage_of(sandbox, "anthropic.Message", recorded)
    )
    assert same(_shown(reply), _shown(expected)), (
        f"chat('anthropic', ...) returned {reply!r}; from the API's reply: {expected!r}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(
    "Try the routes in the order given: return the first reply that succeeds; when a route raises an SDK "
    "error (openai.APIError / anthropic.APIError), move on to the next route."
)
def test_fallback_tries_routes_in_order(exercise, openai_client, anthropic_client, replay):
    """chat_with_fallback moves on after an API error and stops at the first success"""
    question = CONVERSATION[1:2]
    reply = exercise.chat_with_fallback([("openai", openai_client), ("anthropic", anthropic_client)], question)
    assert replay.response_json(0)["error"], "cassette: the first reply must be an error"
    assert same((reply.provider, reply.text), ("anthropic", _anthropic_text(replay.response_json(1)))), (
        f"after OpenAI answered 500, chat_with_fallback returned {reply!r}; the Anthropic route's reply was expected"
    )
    again = exercise.chat_with_fallback([("anthropic", anthropic_client), ("openai", openai_client)], question)
    assert same((again.provider, again.text), ("anthropic", _anthropic_text(replay.response_json(2)))), (
        f"with Anthropic first and answering, chat_with_fallback returned {again!r}"
    )
    providers = ["openai" if r.path.endswith("/chat/completions") else "anthropic" for r in replay.sent]
    assert providers == ["openai", "anthropic", "anthropic"], (
        f"the requests went to {providers}; expected OpenAI then Anthropic for the first call, and only Anthropic "
        "for the second (it stops at its first route)"
    )
