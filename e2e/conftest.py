"""Fixtures: one `oblivious dev` for the whole session (manifests from e2e/manifests), a fresh
one per test for tests that edit manifests, and SDK clients pointed at them. When a test fails,
the part of each server's log written during that test is attached to the report."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import anthropic
import httpx
import openai
import pytest

from support import CLIENT_TIMEOUT, LIVE_LOGS, Server, anthropic_client, binary, openai_client


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        binary()
    except RuntimeError as error:
        raise pytest.UsageError(str(error)) from None


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared server. Tests using it must not change its manifests."""
    instance = Server(tmp_path_factory.mktemp("oblivious-session"))
    LIVE_LOGS.append(("session server", instance))
    try:
        yield instance.start()
    finally:
        instance.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own, with its own copy of the manifests to edit."""
    instance = Server(tmp_path)
    LIVE_LOGS.append(("own server", instance))
    try:
        yield instance.start()
    finally:
        instance.stop()
        LIVE_LOGS.remove(("own server", instance))


@pytest.fixture
def oai(server: Server) -> Iterator[openai.OpenAI]:
    client = openai_client(server)
    yield client
    client.close()


@pytest.fixture
def claude(server: Server) -> Iterator[anthropic.Anthropic]:
    client = anthropic_client(server)
    yield client
    client.close()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    """Raw HTTP against the shared server (Gemini has no SDK here)."""
    with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as client:
        yield client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: object) -> Iterator[None]:
    item.stash[_LOG_OFFSETS] = {id(s): s.log_size() for _, s in LIVE_LOGS}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    offsets = item.stash.get(_LOG_OFFSETS, {})
    for name, instance in LIVE_LOGS:
        text = instance.log_since(offsets.get(id(instance), 0))
        if text:
            report.sections.append((f"{name} log ({instance.log_path})", _tail(text)))


def _tail(text: str, limit: int = 20_000) -> str:
    return text if len(text) <= limit else "…\n" + text[-limit:]


_LOG_OFFSETS = pytest.StashKey[dict]()
