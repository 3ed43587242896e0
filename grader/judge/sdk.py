"""`openai`, `anthropic` and `httpx2` for the suites, without importing the SDKs into the judge.

`from grader.judge.sdk import anthropic` gives a namespace whose attributes are the judge's
stand-in exception classes (`anthropic.AuthenticationError`), matched by name against what the
sandbox raised: `pytest.raises(anthropic.AuthenticationError)` and `isinstance(error,
openai.APIStatusError)` read as they always did.
"""

from __future__ import annotations

from grader.judge.remote import RemoteError, standin


class _Package:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, name: str) -> type[RemoteError]:
        if name.startswith("_"):
            raise AttributeError(name)
        return standin(f"{self._name}.{name}")


openai = _Package("openai")
anthropic = _Package("anthropic")
httpx2 = _Package("httpx2")
