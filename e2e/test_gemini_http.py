"""Gemini clients over raw HTTP: `:generateContent`, `:streamGenerateContent?alt=sse` (SSE) and
`:streamGenerateContent` without `alt` (one JSON array), on models of every provider family."""

from __future__ import annotations

import json

import httpx
import pytest

from support import (
    ADMIN_KEY,
    ANSWER_WORDS,
    CHAT_MODEL,
    FAMILIES,
    RATE_LIMITED_MODEL,
    TOOLS_MODEL,
    assert_no_secrets,
    sse_data,
)

AUTH = {"x-goog-api-key": ADMIN_KEY}
HELLO = {"contents": [{"role": "user", "parts": [{"text": "Say hello."}]}]}
WEATHER_TOOL = {
    "functionDeclarations": [
        {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }
    ]
}


def text_of(chunks: list[dict]) -> str:
    return "".join(
        part.get("text", "")
        for chunk in chunks
        for candidate in chunk.get("candidates", [])
        for part in candidate.get("content", {}).get("parts", [])
        if not part.get("thought")
    )


def finish_reasons(chunks: list[dict]) -> list[str]:
    return [c["finishReason"] for chunk in chunks for c in chunk.get("candidates", []) if c.get("finishReason")]


def assert_mock_answer(text: str) -> None:
    assert text.startswith("Mock"), text
    assert len(text.split()) == ANSWER_WORDS, text


def assert_final_usage(chunk: dict) -> None:
    usage = chunk.get("usageMetadata")
    assert usage, f"no usageMetadata on the last chunk: {chunk}"
    assert usage["promptTokenCount"] > 0
    assert usage["candidatesTokenCount"] == ANSWER_WORDS
    assert usage["totalTokenCount"] > 0
    assert usage["totalTokenCount"] >= usage["promptTokenCount"] + usage["candidatesTokenCount"]


def assert_gemini_error(response: httpx.Response, status: int, code_name: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == status
    assert error["status"] == code_name
    assert isinstance(error["message"], str) and error["message"]
    assert_no_secrets(response.text, f"the Gemini {status} body")
    return error


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_content_answers_with_a_candidate_and_usage_metadata(http: httpx.Client, family: str) -> None:
    response = http.post(f"/v1beta/models/{CHAT_MODEL[family]}:generateContent", headers=AUTH, json=HELLO)

    assert response.status_code == 200, response.text
    body = response.json()
    candidate = body["candidates"][0]
    assert candidate["content"]["role"] == "model"
    assert candidate["finishReason"] == "STOP"
    assert_mock_answer(text_of([body]))
    assert_final_usage(body)


@pytest.mark.parametrize("family", FAMILIES)
def test_stream_generate_content_with_alt_sse_sends_json_chunks_ending_with_usage(
    http: httpx.Client, family: str
) -> None:
    with http.stream(
        "POST", f"/v1beta/models/{CHAT_MODEL[family]}:streamGenerateContent?alt=sse", headers=AUTH, json=HELLO
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        payloads = sse_data(response.iter_lines())

    assert "[DONE]" not in payloads, "Gemini streams have no [DONE] sentinel"
    chunks = [json.loads(p) for p in payloads]
    assert len(chunks) >= 2, "an answer of several words should arrive in several chunks"
    assert_mock_answer(text_of(chunks))
    assert finish_reasons(chunks) == ["STOP"]
    assert_final_usage(chunks[-1])


@pytest.mark.parametrize("family", FAMILIES)
def test_stream_generate_content_without_alt_sends_one_json_array_ending_with_usage(
    http: httpx.Client, family: str
) -> None:
    response = http.post(f"/v1beta/models/{CHAT_MODEL[family]}:streamGenerateContent", headers=AUTH, json=HELLO)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    chunks = response.json()
    assert isinstance(chunks, list) and len(chunks) >= 2, chunks
    assert_mock_answer(text_of(chunks))
    assert finish_reasons(chunks) == ["STOP"]
    assert_final_usage(chunks[-1])


@pytest.mark.parametrize("family", FAMILIES)
def test_a_tool_model_answers_with_a_function_call_part(http: httpx.Client, family: str) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "What is the weather in Paris?"}]}],
        "tools": [WEATHER_TOOL],
    }
    response = http.post(f"/v1beta/models/{TOOLS_MODEL[family]}:generateContent", headers=AUTH, json=body)

    assert response.status_code == 200, response.text
    parts = response.json()["candidates"][0]["content"]["parts"]
    calls = [p["functionCall"] for p in parts if "functionCall" in p]
    assert calls, parts
    assert calls[0]["name"] == "get_weather"
    assert isinstance(calls[0].get("args", {}), dict)

    # The function response goes back and a text answer comes out.
    body["contents"].append({"role": "model", "parts": parts})
    body["contents"].append(
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"celsius": 21, "sky": "clear"}}}],
        }
    )
    answer = http.post(f"/v1beta/models/{CHAT_MODEL[family]}:generateContent", headers=AUTH, json=body)
    assert answer.status_code == 200, answer.text
    assert_mock_answer(text_of([answer.json()]))


def test_the_key_is_also_accepted_as_the_key_query_parameter(http: httpx.Client) -> None:
    response = http.post(
        f"/v1beta/models/{CHAT_MODEL['gemini']}:generateContent", params={"key": ADMIN_KEY}, json=HELLO
    )

    assert response.status_code == 200, response.text
    assert_mock_answer(text_of([response.json()]))


def test_an_unknown_model_is_a_gemini_shaped_404(http: httpx.Client) -> None:
    response = http.post("/v1beta/models/no-such-model-e2e:generateContent", headers=AUTH, json=HELLO)

    assert_gemini_error(response, 404, "NOT_FOUND")


def test_a_wrong_key_is_a_gemini_shaped_401(http: httpx.Client) -> None:
    response = http.post(
        f"/v1beta/models/{CHAT_MODEL['gemini']}:generateContent",
        headers={"x-goog-api-key": "sk-e2e-wrong-0000000000000000"},
        json=HELLO,
    )

    assert_gemini_error(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("path", [":generateContent", ":streamGenerateContent?alt=sse"])
def test_a_model_rate_limited_on_every_channel_is_a_gemini_shaped_429(http: httpx.Client, path: str) -> None:
    response = http.post(f"/v1beta/models/{RATE_LIMITED_MODEL}{path}", headers=AUTH, json=HELLO)

    assert_gemini_error(response, 429, "RESOURCE_EXHAUSTED")


def test_a_malformed_body_is_a_gemini_shaped_400(http: httpx.Client) -> None:
    response = http.post(
        f"/v1beta/models/{CHAT_MODEL['gemini']}:generateContent",
        headers={**AUTH, "content-type": "application/json"},
        content=b'{"contents": [{"parts": ',
    )

    assert_gemini_error(response, 400, "INVALID_ARGUMENT")
