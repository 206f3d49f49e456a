"""The official `openai` SDK against `oblivious dev`, on models served by OpenAI-, Anthropic- and
Gemini-protocol channels (the relay translates both ways)."""

from __future__ import annotations

import base64
import json
import struct

import httpx
import openai
import pytest

from support import (
    ADMIN_KEY,
    ANSWER_WORDS,
    CHAT_MODEL,
    CONTEXT_MODEL,
    EMBEDDING_MODEL,
    FAMILIES,
    RATE_LIMITED_MODEL,
    SLOW_MODEL,
    TOOLS_MODEL,
    Server,
    assert_no_secrets,
    openai_client,
)

HELLO = [{"role": "user", "content": "Say hello."}]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a time zone.",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "description": "IANA time zone"}},
            "required": ["zone"],
        },
    },
}

# A 1x1 PNG.
PIXEL_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def assert_usage_is_consistent(usage: object, completion_tokens: int = ANSWER_WORDS) -> None:
    assert usage is not None, "no usage reported"
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens == completion_tokens
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def assert_mock_answer(text: str | None, words: int = ANSWER_WORDS) -> None:
    assert text, "empty answer"
    assert text.startswith("Mock"), text
    assert len(text.split()) == words, text


@pytest.mark.parametrize("family", FAMILIES)
def test_a_non_streaming_chat_answers_under_the_public_model_name_with_consistent_usage(
    oai: openai.OpenAI, family: str
) -> None:
    completion = oai.chat.completions.create(model=CHAT_MODEL[family], messages=HELLO)

    assert completion.object == "chat.completion"
    assert completion.id
    assert completion.model == CHAT_MODEL[family]
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert_mock_answer(choice.message.content)
    assert choice.finish_reason == "stop"
    assert_usage_is_consistent(completion.usage)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_stream_without_stream_options_assembles_the_answer_under_one_id_and_sends_no_usage(
    oai: openai.OpenAI, family: str
) -> None:
    chunks = list(oai.chat.completions.create(model=CHAT_MODEL[family], messages=HELLO, stream=True))

    assert len(chunks) >= 2, "an answer of several words should arrive in several chunks"
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].id
    assert {c.model for c in chunks} == {CHAT_MODEL[family]}
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert [c for c in chunks if c.usage is not None] == [], "usage was sent though the client did not ask"
    assert all(len(c.choices) == 1 for c in chunks), "a chunk without choices (a usage chunk?) was sent"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert_mock_answer(text)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason]
    assert finishes == ["stop"]


@pytest.mark.parametrize("family", FAMILIES)
def test_a_stream_with_include_usage_ends_with_exactly_one_usage_chunk_without_choices(
    oai: openai.OpenAI, family: str
) -> None:
    chunks = list(
        oai.chat.completions.create(
            model=CHAT_MODEL[family], messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )

    with_usage = [i for i, c in enumerate(chunks) if c.usage is not None]
    assert with_usage == [len(chunks) - 1], f"usage chunks at {with_usage} of {len(chunks)}"
    last = chunks[-1]
    assert last.choices == []
    assert_usage_is_consistent(last.usage)
    assert {c.id for c in chunks} == {chunks[0].id}
    text = "".join(c.choices[0].delta.content or "" for c in chunks[:-1])
    assert_mock_answer(text)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_request_record_of_a_stream_carries_the_usage_the_client_saw(
    server: Server, oai: openai.OpenAI, family: str
) -> None:
    response = oai.chat.completions.with_raw_response.create(
        model=CHAT_MODEL[family], messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    usage = [c for c in response.parse() if c.usage is not None][-1].usage

    record = server.request_record(response.headers["x-request-id"], CHAT_MODEL[family])
    assert record["status"] == 200
    assert record["stream"] is True
    assert record["ingress"] == "openai"
    assert record["provider"] == family
    assert record["input_tokens"] + record["cached_input_tokens"] == usage.prompt_tokens
    assert record["output_tokens"] == usage.completion_tokens == ANSWER_WORDS
    assert record["usage_estimated"] is False
    assert record["cost_micros"] > 0, "a priced model was recorded as free"


@pytest.mark.parametrize("family", FAMILIES)
def test_a_tool_model_returns_a_tool_call_with_json_arguments_and_the_tool_result_round_trips(
    oai: openai.OpenAI, family: str
) -> None:
    messages: list[dict] = [{"role": "user", "content": "What is the weather in Paris?"}]
    completion = oai.chat.completions.create(model=TOOLS_MODEL[family], messages=messages, tools=[WEATHER_TOOL])

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls, "no tool call"
    call = calls[0]
    assert call.type == "function"
    assert call.id
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments), dict)
    assert completion.model == TOOLS_MODEL[family]
    assert completion.usage is not None and completion.usage.completion_tokens > 0

    # Send the result back (to the same family's plain model, which answers with text).
    messages.append(
        {
            "role": "assistant",
            "content": choice.message.content,
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
                for c in calls
            ],
        }
    )
    for c in calls:
        messages.append({"role": "tool", "tool_call_id": c.id, "content": json.dumps({"celsius": 21, "sky": "clear"})})
    answer = oai.chat.completions.create(model=CHAT_MODEL[family], messages=messages, tools=[WEATHER_TOOL])

    assert answer.choices[0].finish_reason == "stop"
    assert not answer.choices[0].message.tool_calls
    assert_mock_answer(answer.choices[0].message.content)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_streamed_tool_call_assembles_into_json_arguments_with_finish_reason_tool_calls(
    oai: openai.OpenAI, family: str
) -> None:
    stream = oai.chat.completions.create(
        model=TOOLS_MODEL[family],
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    calls: dict[int, dict] = {}
    finishes = []
    ids = set()
    for chunk in stream:
        ids.add(chunk.id)
        for choice in chunk.choices:
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
                if delta.id:
                    assert call["id"] in (None, delta.id), "a tool call changed its id mid-stream"
                    call["id"] = delta.id
                if delta.function and delta.function.name:
                    call["name"] += delta.function.name
                if delta.function and delta.function.arguments:
                    call["arguments"] += delta.function.arguments

    assert len(ids) == 1
    assert finishes == ["tool_calls"]
    assert calls, "no tool call in the stream"
    first = calls[min(calls)]
    assert first["id"]
    assert first["name"] == "get_weather"
    assert isinstance(json.loads(first["arguments"]), dict)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_forced_tool_choice_calls_the_named_tool_even_when_it_is_not_the_first(
    oai: openai.OpenAI, family: str
) -> None:
    completion = oai.chat.completions.create(
        model=CHAT_MODEL[family],
        messages=[{"role": "user", "content": "What time is it in Tokyo?"}],
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )

    calls = completion.choices[0].message.tool_calls
    assert calls, "the forced tool was not called"
    assert [c.function.name for c in calls] == ["get_time"]
    assert isinstance(json.loads(calls[0].function.arguments), dict)


@pytest.mark.parametrize("family", FAMILIES)
def test_an_image_content_part_given_as_a_data_url_is_accepted(oai: openai.OpenAI, family: str) -> None:
    completion = oai.chat.completions.create(
        model=CHAT_MODEL[family],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL_PNG}"}},
                ],
            }
        ],
    )

    assert_mock_answer(completion.choices[0].message.content)
    assert_usage_is_consistent(completion.usage)


def test_embeddings_return_one_vector_per_input_in_order_with_usage(oai: openai.OpenAI) -> None:
    inputs = ["the quick brown fox", "jumps over the lazy dog"]
    as_floats = oai.embeddings.create(model=EMBEDDING_MODEL, input=inputs, encoding_format="float")

    assert as_floats.model == EMBEDDING_MODEL
    assert [d.index for d in as_floats.data] == [0, 1]
    lengths = {len(d.embedding) for d in as_floats.data}
    assert len(lengths) == 1 and lengths.pop() > 0, "vectors of different or zero length"
    assert all(isinstance(x, float) for x in as_floats.data[0].embedding)
    assert as_floats.data[0].embedding != as_floats.data[1].embedding, "different inputs, same vector"
    assert as_floats.usage.prompt_tokens > 0
    assert as_floats.usage.total_tokens == as_floats.usage.prompt_tokens

    # Without encoding_format the SDK asks for base64 and decodes it itself.
    as_base64 = oai.embeddings.create(model=EMBEDDING_MODEL, input=inputs)
    for floats, decoded in zip(as_floats.data, as_base64.data):
        assert len(decoded.embedding) == len(floats.embedding)
        assert decoded.embedding == pytest.approx(floats.embedding, rel=1e-5, abs=1e-6)


def test_embeddings_requested_as_base64_are_little_endian_float32(http: httpx.Client) -> None:
    response = http.post(
        "/v1/embeddings",
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        json={"model": EMBEDDING_MODEL, "input": "hello", "encoding_format": "base64"},
    )

    assert response.status_code == 200, response.text
    encoded = response.json()["data"][0]["embedding"]
    assert isinstance(encoded, str)
    raw = base64.b64decode(encoded)
    assert raw and len(raw) % 4 == 0
    values = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert all(v == v for v in values), "NaN in the decoded vector"


def test_the_model_list_includes_every_configured_model(oai: openai.OpenAI) -> None:
    ids = {m.id for m in oai.models.list()}

    expected = {
        *CHAT_MODEL.values(),
        *TOOLS_MODEL.values(),
        *CONTEXT_MODEL.values(),
        EMBEDDING_MODEL,
        RATE_LIMITED_MODEL,
        SLOW_MODEL,
    }
    assert expected <= ids, f"missing: {sorted(expected - ids)}"
    assert not any("@" in i for i in ids), "an upstream model name (with mock directives) leaked into the list"


def test_a_wrong_key_raises_authentication_error(server) -> None:
    client = openai_client(server, key="sk-e2e-wrong-0000000000000000")
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model=CHAT_MODEL["openai"], messages=HELLO)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()

    assert raised.value.status_code == 401
    assert raised.value.type == "authentication_error"
    assert_no_secrets(raised.value.response.text, "the 401 body")


def test_an_unknown_model_raises_not_found_error_with_code_model_not_found(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        oai.chat.completions.create(model="no-such-model-e2e", messages=HELLO)

    assert raised.value.status_code == 404
    assert raised.value.code == "model_not_found"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_model_rate_limited_on_every_channel_raises_rate_limit_error_after_trying_each_channel(
    server: Server, oai: openai.OpenAI, stream: bool
) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        oai.chat.completions.create(model=RATE_LIMITED_MODEL, messages=HELLO, stream=stream)

    assert raised.value.status_code == 429
    record = server.request_record(raised.value.response.headers["x-request-id"], RATE_LIMITED_MODEL)
    assert record["attempts"] == len(FAMILIES), "failover should try each of the three channels once"
    assert record["status"] == 429
    # OpenAI's code for a rate limit; clients tell it apart from `insufficient_quota` (also 429) by it.
    assert raised.value.code == "rate_limit_exceeded", raised.value.body
    body = raised.value.response.text
    assert_no_secrets(body, "the 429 body")
    assert "mock-upstream" not in body and "127.0.0.1" not in body, f"the upstream address leaked: {body}"


@pytest.mark.parametrize("family", FAMILIES)
def test_an_upstream_context_length_rejection_raises_bad_request_with_code_context_length_exceeded(
    oai: openai.OpenAI, family: str
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        oai.chat.completions.create(model=CONTEXT_MODEL[family], messages=HELLO)

    assert raised.value.status_code == 400
    assert raised.value.code == "context_length_exceeded", raised.value.body
    assert_no_secrets(raised.value.response.text, "the 400 body")


def test_a_request_without_messages_raises_bad_request_naming_the_field(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        oai.post("/chat/completions", body={"model": CHAT_MODEL["openai"]}, cast_to=object)

    assert raised.value.status_code == 400
    assert "messages" in f"{raised.value.param} {raised.value.message}"


def test_a_message_with_a_wrong_type_raises_bad_request_naming_the_field(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        oai.chat.completions.create(model=CHAT_MODEL["openai"], messages=HELLO, extra_body={"messages": "hello"})

    assert "messages" in f"{raised.value.param} {raised.value.message}"


def test_malformed_json_gets_a_400_in_openai_error_shape(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"},
        content=b'{"model": "gpt-4o-mini", "messages": [',
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert set(error) >= {"message", "type", "param", "code"}
