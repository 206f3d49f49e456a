"""Keys stay secret: neither the upstream keys from the Secret manifest nor the admin key shows up
in the server's log, an error body in any dialect, or the request records."""

from __future__ import annotations

import httpx
import pytest

from support import (
    ADMIN_KEY,
    BAD_UPSTREAM_KEY_MODEL,
    CHAT_MODEL,
    CONTEXT_MODEL,
    RATE_LIMITED_MODEL,
    Server,
    assert_no_secrets,
    poll,
)

OPENAI = {"authorization": f"Bearer {ADMIN_KEY}"}
ANTHROPIC = {"x-api-key": ADMIN_KEY, "anthropic-version": "2023-06-01"}
GEMINI = {"x-goog-api-key": ADMIN_KEY}


def call_in_every_dialect(http: httpx.Client, model: str, headers_override: dict | None = None) -> list[httpx.Response]:
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    gemini = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    return [
        http.post("/v1/chat/completions", headers=headers_override or OPENAI, json={"model": model, **chat}),
        http.post(
            "/v1/chat/completions",
            headers=headers_override or OPENAI,
            json={"model": model, "stream": True, **chat},
        ),
        http.post(
            "/v1/messages",
            headers={**ANTHROPIC, **(headers_override or {})},
            json={"model": model, "max_tokens": 64, **chat},
        ),
        http.post(f"/v1beta/models/{model}:generateContent", headers=headers_override or GEMINI, json=gemini),
        http.post(
            f"/v1beta/models/{model}:streamGenerateContent?alt=sse", headers=headers_override or GEMINI, json=gemini
        ),
    ]


def test_an_invalid_upstream_key_is_a_gateway_error_in_every_dialect_and_is_never_echoed(
    http: httpx.Client,
) -> None:
    for response in call_in_every_dialect(http, BAD_UPSTREAM_KEY_MODEL):
        where = f"{response.request.method} {response.request.url.path}"
        # Not 401: the client's own key is fine; the relay's credentials toward the upstream are not.
        assert response.status_code in (502, 503), f"{where}: {response.status_code} {response.text}"
        assert_no_secrets(response.text, f"the error body of {where}")
        assert "mock-upstream" not in response.text and "127.0.0.1" not in response.text, response.text


def test_no_secret_appears_in_the_server_log_error_bodies_or_request_records(
    server: Server, http: httpx.Client
) -> None:
    offset = server.log_size()
    responses = []
    # Failure paths that touch upstream keys, and ones that touch the client's key.
    for model in (BAD_UPSTREAM_KEY_MODEL, RATE_LIMITED_MODEL, *CONTEXT_MODEL.values(), "no-such-model-e2e"):
        responses += call_in_every_dialect(http, model)
    responses += call_in_every_dialect(http, CHAT_MODEL["anthropic"])
    wrong = ADMIN_KEY[:-4] + "0000"
    responses += call_in_every_dialect(
        http, CHAT_MODEL["openai"], {"authorization": f"Bearer {wrong}", "x-api-key": wrong, "x-goog-api-key": wrong}
    )

    for response in responses:
        assert_no_secrets(response.text, f"the body of {response.request.method} {response.request.url}")
        assert_no_secrets(str(response.headers), f"the headers of {response.request.url}")
    assert any(r.status_code == 200 for r in responses) and any(r.status_code >= 500 for r in responses)

    # The request records of all that (written asynchronously: wait until they are there).
    def records() -> str | None:
        response = http.get("/api/v1/admin/logs", params={"limit": 200}, headers=OPENAI)
        assert response.status_code == 200, response.text
        return response.text if BAD_UPSTREAM_KEY_MODEL in response.text else None

    assert_no_secrets(poll(records, timeout=10, what="request records of the calls above"), "the request records")
    log = server.log_since(offset)
    assert log.strip(), "the server logged nothing for 40 requests, failures included"
    assert_no_secrets(server.log(), "the server log")


@pytest.mark.parametrize("path", ["/metrics", "/readyz", "/healthz"])
def test_no_secret_appears_in_the_unauthenticated_endpoints(http: httpx.Client, path: str) -> None:
    response = http.get(path)

    assert response.status_code == 200
    assert_no_secrets(response.text, path)
