"""Codex CLI, the real npm package, against `oblivious dev` as a custom Responses provider: a plain
answer and an `exec_command` tool round trip on models served by each provider protocol of the
mock upstream. Codex always streams `/v1/responses` (and nothing else: no `/v1/models`), sends
`store: false`, `include: ["reasoning.encrypted_content"]`, `reasoning.summary`, a `namespace`
tool and built-in tools (`web_search`) next to its function tools, and needs `response.completed`
with the response id; it takes the output items from `response.output_item.done`. The OpenAI and
Azure channels can get the Responses request as sent, the others a translation (chat completions
for the OpenAI-compatible one)."""

from __future__ import annotations

import pytest

from agents import run_codex
from support import ADMIN_KEY, Server

PROVIDERS = ["openai", "azure-openai", "openai-compatible", "anthropic", "gemini"]
ANSWER_WORDS = 6
# `tool=exec_command`: the mock's call costs this many output tokens (see the mock's answer.rs).
TOOL_CALL_TOKENS = 10


@pytest.mark.parametrize("provider", PROVIDERS)
def test_codex_answers_through_every_provider_with_exact_usage(server: Server, provider: str) -> None:
    model = f"agent-{provider}"
    result = run_codex(server.url, ADMIN_KEY, model, "Say hello")

    assert result["error"] is None, result
    words = (result["message"] or "").split()
    assert words[:1] == ["Mock"] and len(words) == ANSWER_WORDS, result
    [record] = server.request_records(model, ingress="responses")
    assert (record["status"], record["ingress"], record["provider"]) == (200, "responses", provider)
    assert record["stream"] is True, "Codex streams"
    assert record["usage_estimated"] is False
    assert record["output_tokens"] == result["usage"]["output_tokens"] == ANSWER_WORDS
    assert record["input_tokens"] == result["usage"]["input_tokens"]
    assert record["cost_micros"] > 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_codex_runs_a_command_and_answers_from_its_output(server: Server, provider: str) -> None:
    model = f"agent-{provider}-codex-tools"
    result = run_codex(
        server.url, ADMIN_KEY, model, "Run a command", "--dangerously-bypass-approvals-and-sandbox"
    )

    assert result["error"] is None, result
    [command] = result["commands"]
    assert command["command"].endswith("mock"), "the mock calls exec_command with cmd `mock`"
    assert command["exit_code"] == 127, "…which the shell does not know"
    assert (result["message"] or "").startswith("Mock result"), "the answer after the command's output"
    rows = server.request_records(model, 2, ingress="responses")
    assert len(rows) == 2, "one request for the call, one with its output"
    assert all((r["status"], r["ingress"], r["provider"]) == (200, "responses", provider) for r in rows)
    assert all(not r["usage_estimated"] and r["cost_micros"] > 0 for r in rows)
    assert sum(r["output_tokens"] for r in rows) == result["usage"]["output_tokens"]
    assert result["usage"]["output_tokens"] == TOOL_CALL_TOKENS + ANSWER_WORDS
