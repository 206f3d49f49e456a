"""The official `anthropic` SDK against `POST /v1/messages`, on models served by OpenAI-,
Anthropic- and Gemini-protocol channels."""

from __future__ import annotations

import anthropic
import pytest

from support import (
    ANSWER_WORDS,
    CHAT_MODEL,
    FAMILIES,
    RATE_LIMITED_MODEL,
    TOOLS_MODEL,
    anthropic_client,
    assert_no_secrets,
)

HELLO = [{"role": "user", "content": "Say hello."}]
MAX_TOKENS = 256

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
}
TIME_TOOL = {
    "name": "get_time",
    "description": "Current time in a time zone.",
    "input_schema": {
        "type": "object",
        "properties": {"zone": {"type": "string", "description": "IANA time zone"}},
        "required": ["zone"],
    },
}

LONG_SYSTEM_PROMPT = (
    "You are a meticulous assistant for a weather service. Answer in one short sentence, never use "
    "lists, always mention the city by name, prefer metric units, and say so plainly when you do not "
    "know something instead of guessing. Keep a friendly, calm and professional tone at all times."
)


def text_of(message: anthropic.types.Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def assert_mock_answer(text: str, words: int = ANSWER_WORDS) -> None:
    assert text.startswith("Mock"), text
    assert len(text.split()) == words, text


@pytest.mark.parametrize("family", FAMILIES)
def test_a_message_answers_under_the_public_model_name_with_usage(claude: anthropic.Anthropic, family: str) -> None:
    message = claude.messages.create(model=CHAT_MODEL[family], max_tokens=MAX_TOKENS, messages=HELLO)

    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id
    assert message.model == CHAT_MODEL[family]
    assert [b.type for b in message.content] == ["text"]
    assert_mock_answer(text_of(message))
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens == ANSWER_WORDS


@pytest.mark.parametrize("family", FAMILIES)
def test_a_streamed_message_assembles_its_text_and_the_final_message_carries_usage(
    claude: anthropic.Anthropic, family: str
) -> None:
    with claude.messages.stream(model=CHAT_MODEL[family], max_tokens=MAX_TOKENS, messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(pieces) >= 2, "an answer of several words should arrive in several deltas"
    text = "".join(pieces)
    assert_mock_answer(text)
    assert text_of(final) == text
    assert final.model == CHAT_MODEL[family]
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0
    assert final.usage.output_tokens == ANSWER_WORDS


@pytest.mark.parametrize("family", FAMILIES)
def test_a_system_prompt_is_accepted_and_reaches_the_upstream(claude: anthropic.Anthropic, family: str) -> None:
    bare = claude.messages.create(model=CHAT_MODEL[family], max_tokens=MAX_TOKENS, messages=HELLO)
    with_system = claude.messages.create(
        model=CHAT_MODEL[family], max_tokens=MAX_TOKENS, system=LONG_SYSTEM_PROMPT, messages=HELLO
    )
    as_blocks = claude.messages.create(
        model=CHAT_MODEL[family],
        max_tokens=MAX_TOKENS,
        system=[{"type": "text", "text": LONG_SYSTEM_PROMPT}],
        messages=HELLO,
    )

    assert_mock_answer(text_of(with_system))
    # The upstream counts the prompt it received: a 50-word system prompt must make it longer.
    assert with_system.usage.input_tokens > bare.usage.input_tokens + 20
    assert as_blocks.usage.input_tokens == with_system.usage.input_tokens


@pytest.mark.parametrize("family", FAMILIES)
def test_a_tool_model_returns_a_tool_use_block_and_the_tool_result_round_trips(
    claude: anthropic.Anthropic, family: str
) -> None:
    messages: list[dict] = [{"role": "user", "content": "What is the weather in Paris?"}]
    message = claude.messages.create(
        model=TOOLS_MODEL[family], max_tokens=MAX_TOKENS, messages=messages, tools=[WEATHER_TOOL]
    )

    assert message.stop_reason == "tool_use"
    uses = [b for b in message.content if b.type == "tool_use"]
    assert uses, f"no tool_use block in {message.content}"
    use = uses[0]
    assert use.id
    assert use.name == "get_weather"
    assert isinstance(use.input, dict)

    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]})
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": u.id, "content": '{"celsius": 21, "sky": "clear"}'}
                for u in uses
            ],
        }
    )
    answer = claude.messages.create(
        model=CHAT_MODEL[family], max_tokens=MAX_TOKENS, messages=messages, tools=[WEATHER_TOOL]
    )

    assert answer.stop_reason == "end_turn"
    assert_mock_answer(text_of(answer))


@pytest.mark.parametrize("family", FAMILIES)
def test_a_streamed_tool_use_arrives_with_its_input_as_a_dict(claude: anthropic.Anthropic, family: str) -> None:
    with claude.messages.stream(
        model=TOOLS_MODEL[family],
        max_tokens=MAX_TOKENS,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER_TOOL],
    ) as stream:
        final = stream.get_final_message()

    assert final.stop_reason == "tool_use"
    uses = [b for b in final.content if b.type == "tool_use"]
    assert uses and uses[0].name == "get_weather" and uses[0].id
    assert isinstance(uses[0].input, dict)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_forced_tool_choice_calls_the_named_tool(claude: anthropic.Anthropic, family: str) -> None:
    message = claude.messages.create(
        model=CHAT_MODEL[family],
        max_tokens=MAX_TOKENS,
        messages=[{"role": "user", "content": "What time is it in Tokyo?"}],
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "tool", "name": "get_time"},
    )

    assert [b.name for b in message.content if b.type == "tool_use"] == ["get_time"]


def test_a_wrong_key_raises_authentication_error(server) -> None:
    client = anthropic_client(server, key="sk-e2e-wrong-0000000000000000")
    with pytest.raises(anthropic.AuthenticationError) as raised:
        client.messages.create(model=CHAT_MODEL["anthropic"], max_tokens=MAX_TOKENS, messages=HELLO)

    assert raised.value.status_code == 401
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] == "authentication_error"
    assert_no_secrets(raised.value.response.text, "the 401 body")


def test_an_unknown_model_raises_not_found_error(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        claude.messages.create(model="no-such-model-e2e", max_tokens=MAX_TOKENS, messages=HELLO)

    assert raised.value.status_code == 404
    assert raised.value.body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_model_rate_limited_on_every_channel_raises_rate_limit_error(
    claude: anthropic.Anthropic, stream: bool
) -> None:
    with pytest.raises(anthropic.RateLimitError) as raised:
        if stream:
            with claude.messages.stream(model=RATE_LIMITED_MODEL, max_tokens=MAX_TOKENS, messages=HELLO) as s:
                s.get_final_message()
        else:
            claude.messages.create(model=RATE_LIMITED_MODEL, max_tokens=MAX_TOKENS, messages=HELLO)

    assert raised.value.status_code == 429
    assert raised.value.body["error"]["type"] == "rate_limit_error"
    assert_no_secrets(raised.value.response.text, "the 429 body")


def test_a_request_without_max_tokens_is_a_bad_request(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        claude.post(
            "/v1/messages", body={"model": CHAT_MODEL["anthropic"], "messages": HELLO}, cast_to=object
        )

    assert raised.value.body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in raised.value.body["error"]["message"]
