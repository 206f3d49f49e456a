"""The official `openai` SDK against `oblivious dev`, on models served by OpenAI-, Anthropic- and
Gemini-protocol channels (the relay translates both ways), and its legacy completions, images,
audio and moderation calls against the manifests `oblivious dev` ships."""

from __future__ import annotations

import base64
import io
import json
import struct
import wave
from pathlib import Path
from typing import Iterator

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
    LIVE_LOGS,
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


# --- The other endpoints: legacy completions, images, audio, moderations -------------------------
#
# Served by `oblivious dev` on the manifests it ships (crds/examples): the built-in mock answers
# every endpoint, and the shipped prices make each cost exact. Costs below are in micro-units
# (USD) from crds/examples/pricing.yaml.

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "crds" / "examples"
INSTRUCT_MODEL = "gpt-3.5-turbo-instruct"  # input 1.50, output 2.00 per 1M tokens


@pytest.fixture(scope="module")
def defaults_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`oblivious dev` on its shipped example manifests."""
    instance = Server(tmp_path_factory.mktemp("oblivious-defaults"), manifests=EXAMPLES_DIR)
    LIVE_LOGS.append(("defaults server", instance))
    try:
        yield instance.start()
    finally:
        instance.stop()
        LIVE_LOGS.remove(("defaults server", instance))


@pytest.fixture
def dev(defaults_server: Server) -> Iterator[openai.OpenAI]:
    client = openai_client(defaults_server)
    yield client
    client.close()


def record_of(server: Server, raw: object, model: str) -> dict:
    return server.request_record(raw.headers["x-request-id"], model)  # type: ignore[attr-defined]


def silent_wav(seconds: float, rate: int = 16_000) -> bytes:
    """A mono 16-bit PCM WAV of silence."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


def test_a_legacy_completion_answers_text_with_usage_and_is_billed_like_chat(
    defaults_server: Server, dev: openai.OpenAI
) -> None:
    raw = dev.completions.with_raw_response.create(model=INSTRUCT_MODEL, prompt="Say this is a test", max_tokens=7)
    completion = raw.parse()

    assert completion.object == "text_completion"
    assert completion.model == INSTRUCT_MODEL
    assert_mock_answer(completion.choices[0].text, words=7)
    assert completion.choices[0].finish_reason == "length", "max_tokens cut the answer"
    usage = completion.usage
    assert usage is not None and usage.completion_tokens == 7
    record = record_of(defaults_server, raw, INSTRUCT_MODEL)
    assert (record["endpoint"], record["status"], record["usage_estimated"]) == ("completions", 200, False)
    assert (record["input_tokens"], record["output_tokens"]) == (usage.prompt_tokens, usage.completion_tokens)
    expected = -(-(usage.prompt_tokens * 1_500_000 + usage.completion_tokens * 2_000_000) // 1_000_000)
    assert record["cost_micros"] == expected


def test_a_streamed_legacy_completion_sends_usage_only_when_asked(dev: openai.OpenAI) -> None:
    chunks = list(dev.completions.create(model=INSTRUCT_MODEL, prompt="Stream this", max_tokens=5, stream=True))

    assert_mock_answer("".join(c.choices[0].text for c in chunks if c.choices), words=5)
    assert all(c.usage is None for c in chunks), "usage was sent though the client did not ask"
    assert {c.model for c in chunks} == {INSTRUCT_MODEL}

    chunks = list(
        dev.completions.create(
            model=INSTRUCT_MODEL, prompt="Stream this", max_tokens=5, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == 5


def test_images_generate_returns_a_png_or_a_url_and_is_billed_per_image_at_its_size_and_quality(
    defaults_server: Server, dev: openai.OpenAI
) -> None:
    raw = dev.images.with_raw_response.generate(
        model="dall-e-3", prompt="a red cube", size="1024x1792", quality="hd", response_format="b64_json"
    )
    images = raw.parse()

    assert len(images.data) == 1
    png = base64.b64decode(images.data[0].b64_json or "")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert images.data[0].revised_prompt
    record = record_of(defaults_server, raw, "dall-e-3")
    assert (record["endpoint"], record["cost_micros"]) == ("images", 120_000), "an hd 1024x1792 image costs 0.12"

    raw = dev.images.with_raw_response.generate(model="dall-e-3", prompt="a blue sphere")
    url = raw.parse().data[0].url
    assert url and url.endswith(".png")
    assert httpx.get(url, timeout=5).content.startswith(b"\x89PNG"), "the URL serves the image"
    assert record_of(defaults_server, raw, "dall-e-3")["cost_micros"] == 40_000, "a standard image costs 0.04"

    # gpt-image-1 reports tokens, and is priced by them (5.00 in, 40.00 out per 1M).
    raw = dev.images.with_raw_response.generate(model="gpt-image-1", prompt="a green pyramid", n=2)
    images = raw.parse()
    assert len(images.data) == 2 and all(d.b64_json for d in images.data)
    assert images.usage is not None
    record = record_of(defaults_server, raw, "gpt-image-1")
    assert (record["input_tokens"], record["output_tokens"]) == (images.usage.input_tokens, images.usage.output_tokens)
    assert record["cost_micros"] == images.usage.input_tokens * 5 + images.usage.output_tokens * 40


def test_speech_create_returns_the_audio_and_is_billed_per_character(
    defaults_server: Server, dev: openai.OpenAI
) -> None:
    text = "Hello from the relay."
    raw = dev.audio.speech.with_raw_response.create(model="tts-1", voice="alloy", input=text, response_format="wav")
    audio = raw.parse().content

    assert raw.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio)) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(len(text) * 0.040), "40 ms per character"
    record = record_of(defaults_server, raw, "tts-1")
    assert (record["endpoint"], record["status"]) == ("speech", 200)
    assert record["cost_micros"] == len(text) * 15, "0.015 per 1,000 characters"


def test_speech_with_streaming_response_arrives_in_chunks(dev: openai.OpenAI) -> None:
    text = "A longer sentence, so that the audio comes in several chunks. " * 4
    with dev.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=text) as response:
        assert response.headers["content-type"] == "audio/mpeg"
        chunks = list(response.iter_bytes())

    audio = b"".join(chunks)
    assert audio[:2] == b"\xff\xfb", "MPEG audio frames"
    assert len(audio) > 4096


def test_transcriptions_create_uploads_a_wav_and_is_billed_by_the_seconds_reported(
    defaults_server: Server, dev: openai.OpenAI
) -> None:
    audio = silent_wav(1.5)
    raw = dev.audio.transcriptions.with_raw_response.create(model="whisper-1", file=("hello.wav", audio, "audio/wav"))
    transcription = raw.parse()

    assert transcription.text == f"Mock transcript of {len(audio)} bytes of audio."
    record = record_of(defaults_server, raw, "whisper-1")
    assert (record["endpoint"], record["status"], record["usage_estimated"]) == ("transcriptions", 200, False)
    assert record["cost_micros"] == 200, "2 s (rounded up, as reported) at 0.0001 per second"

    verbose = dev.audio.transcriptions.create(
        model="whisper-1", file=("hello.wav", audio, "audio/wav"), response_format="verbose_json"
    )
    assert verbose.duration == pytest.approx(1.5)
    text = dev.audio.transcriptions.create(
        model="whisper-1", file=("hello.wav", audio, "audio/wav"), response_format="text"
    )
    assert isinstance(text, str) and text.startswith("Mock transcript")


def test_moderations_create_flags_the_marker_word_and_costs_nothing(
    defaults_server: Server, dev: openai.OpenAI
) -> None:
    raw = dev.moderations.with_raw_response.create(
        model="omni-moderation-latest", input=["I will kill the process", "Have a nice day"]
    )
    moderation = raw.parse()

    assert [r.flagged for r in moderation.results] == [True, False]
    assert moderation.results[0].categories.violence is True
    assert moderation.results[1].categories.violence is False
    record = record_of(defaults_server, raw, "omni-moderation-latest")
    assert record["input_tokens"] > 0 and record["usage_estimated"] is True, "counted locally"
    assert record["cost_micros"] == 0, "OpenAI's moderation is free"


def test_bad_input_to_the_other_endpoints_raises_bad_request_naming_the_field(dev: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        dev.audio.speech.create(model="tts-1", voice="alloy", input="")
    assert raised.value.param == "input"
    with pytest.raises(openai.BadRequestError) as raised:
        dev.images.generate(model="dall-e-3", prompt="x", response_format="png")  # type: ignore[arg-type]
    assert raised.value.param == "response_format"
    with pytest.raises(openai.NotFoundError) as raised:
        dev.audio.transcriptions.create(model="no-such-model", file=("a.wav", silent_wav(0.1), "audio/wav"))
    assert raised.value.code == "model_not_found"
