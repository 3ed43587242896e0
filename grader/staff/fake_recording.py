"""`record --fake`: the local fake API (tests/support/fake_api.py) on 127.0.0.1, started by record itself.

The fake answers every request with a plausible reply (JSON when `response_format` asks for it); a
check that scripts its replies (record_plan) is served those, by provider and in order. The SDKs, HTTP
and vcrpy are the real ones: only the server is local. Made-up keys are set for the recording, so a
fake recording never needs or sees a real key.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from grader import course
from grader.errors import StaffError
from grader.staff import record_plan

FAKE_MODULE = course.PROJECT_DIR / "tests" / "support" / "fake_api.py"
MODULE_NAME = "grader_record_fake_api"


def _load() -> ModuleType:
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    spec = importlib.util.spec_from_file_location(MODULE_NAME, FAKE_MODULE)
    if spec is None or spec.loader is None or not FAKE_MODULE.is_file():
        raise StaffError(f"record --fake needs the fake API at {FAKE_MODULE} (a staff checkout, not an export)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


class FakeServer:
    """The running fake: where it listens, and the replies scripted for the check being recorded."""

    def __init__(self, api: Any, module: ModuleType) -> None:
        self._api, self._module = api, module
        self.environment: dict[str, str] = {
            "OPENAI_BASE_URL": str(api.openai_base_url),
            "ANTHROPIC_BASE_URL": str(api.base_url),
            "OPENAI_API_KEY": f"sk-test-record-fake-{secrets.token_hex(8)}",
            "ANTHROPIC_API_KEY": f"sk-ant-test-record-fake-{secrets.token_hex(8)}",
        }

    def script(self, scripted: record_plan.Scripted | None) -> None:
        """Serve these replies next (none: every request gets the fake's own reply)."""
        self._api.clear()
        if scripted is None:
            return
        replies = []
        for reply in scripted.replies:
            try:
                replies.append(getattr(self._module, reply.builder)(**reply.arguments))
            except TypeError as exc:
                raise StaffError(f"scripted reply {reply.builder}({reply.arguments!r}): {exc}") from None
        self._api.queue(*replies)

    @property
    def pending(self) -> int:
        return int(self._api.pending)


@contextmanager
def serving() -> Iterator[FakeServer]:
    """Start the fake and point this process's environment (inherited by the recording child) at it."""
    module = _load()
    api = module.FakeAPI(seed=0, by_provider=True)
    api.start()
    server = FakeServer(api, module)
    saved = {name: os.environ.get(name) for name in server.environment}
    os.environ.update(server.environment)
    try:
        yield server
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        api.stop()
