"""Public checks of exercise 6, api_keys: environment over .env, the .env fallback, masking, the client's settings.

Every check passes an explicit `env` mapping and a `.env` path in a temporary directory, with keys
made up for the check (realistic in shape, obviously fake) that the key-leak guard watches; feedback
shows each such key by its label, never the key.
"""

import secrets

import pytest

from grader.judge.expect import same

# No check of this exercise sends a request: each one is marked cassette(None).


def _make_key(leak_watch, provider, label):
    prefix = "sk-proj-" if provider == "openai" else "sk-ant-api03-"
    key = f"{prefix}COURSE-TEST-{label}-{secrets.token_urlsafe(18)}"
    leak_watch.watch(f"the {provider} test key {label!r}", key)
    return key


def _dotenv(sandbox, scratch, text):
    path = scratch / ".env"
    sandbox.write(path, text)
    return path


@pytest.mark.points(2)
@pytest.mark.hint(
    "Look the variable up in `env` first (os.environ when env is None); only when it is missing, empty or "
    "blank read the .env file. The environment wins over .env."
)
@pytest.mark.cassette(None)
def test_environment_wins_over_dotenv(exercise, sandbox, scratch, leak_watch):
    """a key in the environment wins over the one in .env"""
    for provider, variable in [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")]:
        from_env = _make_key(leak_watch, provider, "env")
        from_file = _make_key(leak_watch, provider, "file")
        dotenv = _dotenv(sandbox, scratch, f"{variable}={from_file}\n")
        found = exercise.load_api_key(provider, env={variable: from_env}, dotenv=dotenv)
        # The feedback shows which key came back: the grader replaces each key by its label.
        assert same(found, from_env), f"load_api_key({provider!r}) returned {found!r}; the environment's key must win"


@pytest.mark.points(1)
@pytest.mark.hint(
    "When the variable is missing from env, or empty, or only whitespace, read `NAME=value` from the .env "
    "file at the `dotenv` path, and strip surrounding whitespace from the key."
)
@pytest.mark.cassette(None)
def test_dotenv_used_when_environment_lacks_the_key(exercise, sandbox, scratch, leak_watch):
    """the .env file supplies the key when the environment has none, an empty or a blank one"""
    key = _make_key(leak_watch, "openai", "file")
    dotenv = _dotenv(sandbox, scratch, f"OPENAI_API_KEY={key}\n")
    for env in [{}, {"OPENAI_API_KEY": ""}, {"OPENAI_API_KEY": "   "}, {"ANTHROPIC_API_KEY": "sk-ant-other"}]:
        found = exercise.load_api_key("openai", env=env, dotenv=str(dotenv))
        assert same(found, key), f"with env={env!r} load_api_key returned {found!r}; expected the key in .env, {key!r}"


@pytest.mark.points(1)
@pytest.mark.hint('mask_key(key) is key[:3] + "..." + key[-4:] for keys of 12 characters or more, else "****".')
@pytest.mark.cassette(None)
def test_mask_key(exercise):
    """mask_key shows three leading and four trailing characters, or **** for short keys"""
    cases = {
        "sk-test-abcdefgh1234": "sk-...1234",
        "sk-ant-api03-XYZ-wxyz": "sk-...wxyz",
        "abcdefghijkl": "abc...ijkl",
        "abcdefghijk": "****",
        "sk-1": "****",
        "": "****",
    }
    for key, expected in cases.items():
        masked = exercise.mask_key(key)
        assert same(masked, expected), f"mask_key({key!r}) returned {masked!r}; expected {expected!r}"


@pytest.mark.points(1)
@pytest.mark.hint(
    "make_client loads the key with load_api_key(provider, env=env, dotenv=dotenv) and returns "
    "openai.OpenAI(api_key=key, timeout=timeout, max_retries=max_retries) or anthropic.Anthropic(...) likewise."
)
@pytest.mark.cassette(None)
def test_make_client_settings(exercise, sandbox, scratch, leak_watch):
    """make_client builds the provider's client with the key, timeout and max_retries given"""
    for provider, variable, cls in [
        ("openai", "OPENAI_API_KEY", "openai.OpenAI"),
        ("anthropic", "ANTHROPIC_API_KEY", "anthropic.Anthropic"),
    ]:
        key = _make_key(leak_watch, provider, "client")
        client = exercise.make_client(provider, env={variable: key}, dotenv=None, timeout=12.5, max_retries=3)
        assert sandbox.isinstance(client, cls), f"make_client({provider!r}) returned {client!r}"
        assert same(client.api_key, key), f"the {provider} client was not built with the loaded key"
        assert same((client.timeout, client.max_retries), (12.5, 3)), (
            f"make_client({provider!r}, timeout=12.5, max_retries=3) built a client with timeout "
            f"{client.timeout!r} and max_retries {client.max_retries!r}"
        )
        client.close()
        default = exercise.make_client(provider, env={variable: key}, dotenv=None)
        assert same((default.timeout, default.max_retries), (30.0, 0)), (
            f"by default the {provider} client needs timeout 30.0 and max_retries 0, got "
            f"{default.timeout!r} and {default.max_retries!r}"
        )
        default.close()
