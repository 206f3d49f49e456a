"""Claude Code, the real npm package, against `oblivious dev`: a plain answer and a Bash tool
round trip on models served by each provider protocol of the mock upstream. Claude Code always
streams, sends `?beta=true`, a long `anthropic-beta` header, adaptive thinking, `output_config`,
`context_management`, cache_control and (for models it does not know) `system`-role messages
inside `messages`; the Anthropic channel gets all of it as sent, the others a translation."""

from __future__ import annotations

import pytest

from agents import run_claude
from support import ADMIN_KEY, Server

PROVIDERS = ["anthropic", "openai", "azure-openai", "openai-compatible", "gemini"]
ANSWER_WORDS = 6


@pytest.mark.parametrize("provider", PROVIDERS)
def test_claude_code_answers_through_every_provider_with_exact_usage(server: Server, provider: str) -> None:
    model = f"agent-{provider}"
    result = run_claude(server.url, ADMIN_KEY, model, "Say hello")

    assert result["is_error"] is False, result
    assert result["result"].split()[0] == "Mock" and len(result["result"].split()) == ANSWER_WORDS, result
    [record] = server.request_records(model, ingress="anthropic")
    assert (record["status"], record["ingress"], record["provider"]) == (200, "anthropic", provider)
    assert record["stream"] is True, "Claude Code streams"
    assert record["usage_estimated"] is False
    assert record["output_tokens"] == result["usage"]["output_tokens"] == ANSWER_WORDS
    assert record["cost_micros"] > 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_claude_code_runs_a_tool_and_answers_from_its_result(server: Server, provider: str) -> None:
    model = f"agent-{provider}-tools"
    result = run_claude(server.url, ADMIN_KEY, model, "Run a command", "--allowedTools", "Bash")

    assert result["is_error"] is False, result
    assert result["num_turns"] == 2, result
    assert result["result"].startswith("Mock result"), "the answer after the tool result"
    rows = server.request_records(model, 2, ingress="anthropic")
    assert [r["status"] for r in rows] == [200, 200]
    assert all(not r["usage_estimated"] and r["cost_micros"] > 0 for r in rows)
    assert sum(r["output_tokens"] for r in rows) == result["usage"]["output_tokens"]
