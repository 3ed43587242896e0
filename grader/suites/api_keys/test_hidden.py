"""Hidden checks of exercise 6, api_keys: the .env grammar, each error and its message, the default .env path."""

import secrets

import pytest

from grader.judge.expect import same

# No check of this exercise sends a request: each one is marked cassette(None).


def _make_key(leak_watch, provider, label):
    prefix = "sk-proj-" if provider == "openai" else "sk-ant-api03-"
    key = f"{prefix}COURSE-TEST-{label}-{secrets.token_urlsafe(18)}"
    leak_watch.watch(f"the {provider} test key {label!r}", key)
    return key


def _dotenv(sandbox, scratch, name, text):
    path = scratch / name
    sandbox.write(path, text)
    return path


@pytest.mark.points(2)
@pytest.mark.hint(
    "In .env: skip blank lines, lines starting with # (after any indentation) and lines without '='; split at "
    "the first '='; allow an `export ` prefix; strip "
    "whitespace around the name, the '=' and the value; remove ONE pair of matching quotes (the same quote at "
    "both ends; a lone or mismatched quote stays), keeping everything inside them (a '#' too); the last "
    "assignment of a name wins. Then strip the key, as for the environment."
)
@pytest.mark.cassette(None)
def test_dotenv_grammar(exercise, sandbox, scratch, leak_watch):
    """load_api_key reads .env with export prefixes, quotes, comments, blank lines and repeated names"""
    keys = [_make_key(leak_watch, "openai", f"k{i}") for i in range(6)]
    ant = _make_key(leak_watch, "anthropic", "a")
    cases = [
        (f"# keys for the course\n\nOPENAI_API_KEY={keys[0]}\n", keys[0]),
        (f"export OPENAI_API_KEY={keys[1]}\n", keys[1]),
        (f'  OPENAI_API_KEY  =   "{keys[2]}"  \n', keys[2]),
        (f"OPENAI_API_KEY='{keys[3]}'\nANTHROPIC_API_KEY={ant}\n", keys[3]),
        (f"OPENAI_API_KEY={keys[0]}\nnot a line\n#OPENAI_API_KEY={keys[1]}\nOPENAI_API_KEY={keys[4]}\n", keys[4]),
        (f'export   OPENAI_API_KEY = " {keys[5]} # kept "\n', f"{keys[5]} # kept"),
        (f"OTHER_OPENAI_API_KEY={keys[1]}\nOPENAI_API_KEY={keys[0]}\n", keys[0]),
        (f"OPENAI_API_KEY={keys[2]}==\n   # OPENAI_API_KEY={keys[3]}\n", f"{keys[2]}=="),  # first '=' splits
    ]
    for index, (text, expected) in enumerate(cases):
        dotenv = _dotenv(sandbox, scratch, f"case{index}.env", text)
        assert same(exercise.load_api_key("openai", env={}, dotenv=dotenv), expected.strip())
    dotenv = _dotenv(sandbox, scratch, "anthropic.env", f"OPENAI_API_KEY={keys[0]}\nexport ANTHROPIC_API_KEY='{ant}'\n")
    assert same(exercise.load_api_key("anthropic", env={}, dotenv=dotenv), ant)
    # Quotes that do not match are no pair, and neither is a lone quote: the value keeps them, so it lacks
    # the key prefix (a ValueError, not a missing key).
    for index, value in enumerate([f"\"{keys[1]}'", f"'{keys[1]}\"", '"']):
        dotenv = _dotenv(sandbox, scratch, f"unpaired{index}.env", f"OPENAI_API_KEY={value}\n")
        with pytest.raises(ValueError) as info:
            exercise.load_api_key("openai", env={}, dotenv=dotenv)
        assert not isinstance(info.value, exercise.MissingAPIKeyError)


@pytest.mark.points(1)
@pytest.mark.hint(
    "When neither env nor .env has a non-empty key (the file may not exist, dotenv may be None), raise "
    "MissingAPIKeyError with a message naming the variable, e.g. OPENAI_API_KEY."
)
@pytest.mark.cassette(None)
def test_missing_key_raises_naming_the_variable(exercise, sandbox, scratch, leak_watch):
    """a missing or empty key raises MissingAPIKeyError naming the variable"""
    other = _make_key(leak_watch, "openai", "other")
    empty = _dotenv(sandbox, scratch, "empty.env", f'OPENAI_API_KEY=""\nANTHROPIC_API_KEY=\nOTHER={other}\n')
    for provider, variable in [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")]:
        for env, dotenv in [
            ({}, scratch / "no-such.env"),
            ({variable: "  "}, None),
            ({}, empty),
            ({"SOMETHING_ELSE": other}, empty),
        ]:
            with pytest.raises(exercise.MissingAPIKeyError) as info:
                exercise.load_api_key(provider, env=env, dotenv=dotenv)
            assert variable in str(info.value)
    assert issubclass(exercise.MissingAPIKeyError, RuntimeError)


@pytest.mark.points(1)
@pytest.mark.hint(
    "An unknown provider raises ValueError; a key without the provider's prefix (sk- for OpenAI, sk-ant- for "
    "Anthropic) raises ValueError whose message shows mask_key(key), never the key itself."
)
@pytest.mark.cassette(None)
def test_bad_provider_and_bad_prefix(exercise, sandbox, scratch, leak_watch):
    """unknown providers and keys with the wrong prefix raise ValueError, showing only the masked key"""
    for provider in ["gemini", "OpenAI", ""]:
        with pytest.raises(ValueError):
            exercise.load_api_key(provider, env={}, dotenv=None)
    wrong_openai = f"pk-live-COURSE-TEST-{secrets.token_urlsafe(18)}"
    wrong_anthropic = _make_key(leak_watch, "openai", "not-anthropic")  # an OpenAI key is no Anthropic key
    leak_watch.watch("the test key with a wrong prefix", wrong_openai)
    for provider, variable, key in [
        ("openai", "OPENAI_API_KEY", wrong_openai),
        ("anthropic", "ANTHROPIC_API_KEY", wrong_anthropic),
    ]:
        for env, dotenv in [
            ({variable: key}, None),
            ({}, _dotenv(sandbox, scratch, f"{provider}.env", f"{variable}={key}\n")),
        ]:
            with pytest.raises(ValueError) as info:
                exercise.load_api_key(provider, env=env, dotenv=dotenv)
            assert not isinstance(info.value, exercise.MissingAPIKeyError)
            message = f"{info.value} {info.value.args!r}"
            assert key not in message
            assert exercise.mask_key(key) in message


@pytest.mark.points(1)
@pytest.mark.hint(
    "dotenv defaults to '.env' in the current directory and dotenv=None reads no file; the key is stripped of "
    "surrounding whitespace, from env as from .env."
)
@pytest.mark.cassette(None)
def test_default_dotenv_path_and_stripping(exercise, sandbox, scratch, leak_watch):
    """.env in the working directory is read by default, never with dotenv=None; keys are stripped"""
    key = _make_key(leak_watch, "anthropic", "cwd")
    padded = _make_key(leak_watch, "anthropic", "padded")
    sandbox.chdir(scratch)
    _dotenv(sandbox, scratch, ".env", f"ANTHROPIC_API_KEY={key}\n")
    assert same(exercise.load_api_key("anthropic", env={}), key)
    with pytest.raises(exercise.MissingAPIKeyError):
        exercise.load_api_key("anthropic", env={}, dotenv=None)
    assert same(exercise.load_api_key("anthropic", env={"ANTHROPIC_API_KEY": f"  {padded}\t\n"}, dotenv=None), padded)
    client = exercise.make_client("anthropic", env={})
    assert same(client.api_key, key)
    client.close()
