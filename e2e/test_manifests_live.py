"""Editing the manifests directory of a running `oblivious dev`: good edits apply within a second
without a restart, bad edits are rejected with file, field path and reason while the last good
configuration keeps serving, and streams in flight survive a swap. Each test has its own server
and its own copy of the manifests."""

from __future__ import annotations

import json
import threading
import time

import httpx
import openai
import pytest

from support import ADMIN_KEY, CHAT_MODEL, SLOW_MODEL, SLOW_WORDS, Server, openai_client, poll, sse_data

LATE_CHANNEL = """\
apiVersion: oblivious.dev/v1alpha1
kind: Channel
metadata:
  name: e2e-late
  namespace: default
spec:
  provider: anthropic
  baseUrl: builtin://mock-upstream
  apiKeySecretRef: {name: e2e-upstream-key, key: apiKey}
  models:
    - name: late-model
      upstreamModel: claude-sonnet-4-5@words=3
"""

# The OpenAI channel of e2e/manifests, with one more model; {base_url_field} and {secret} are
# where the bad edits below break it.
EDITED_OPENAI_CHANNEL = """\
apiVersion: oblivious.dev/v1alpha1
kind: Channel
metadata:
  name: e2e-openai
  namespace: default
spec:
  provider: openai
  {base_url_field}: builtin://mock-upstream/v1
  apiKeySecretRef: {{name: {secret}, key: apiKey}}
  models:
    - name: gpt-4o-mini
      upstreamModel: gpt-4o-mini@words=7
    - name: gpt-4o-mini-tools
      upstreamModel: gpt-4o-mini@tool
    - name: text-embedding-3-small
    - name: gpt-4o-mini-edited
      upstreamModel: gpt-4o-mini@words=4
"""

APPLY_DEADLINE = 1.5


def chat(server: Server, model: str) -> str:
    with openai_client(server) as client:
        completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    return completion.choices[0].message.content or ""


def test_a_new_channel_file_is_served_within_a_second_without_a_restart(own_server: Server) -> None:
    assert "late-model" not in own_server.model_ids()
    pid = own_server.process.pid if own_server.process else None

    started = time.monotonic()
    (own_server.manifests_dir / "late-channel.yaml").write_text(LATE_CHANNEL)
    poll(lambda: "late-model" in own_server.model_ids(), timeout=5, what="late-model in /v1/models")
    elapsed = time.monotonic() - started

    assert elapsed < APPLY_DEADLINE, f"the new channel took {elapsed:.2f}s to be served"
    answer = chat(own_server, "late-model")
    assert answer.startswith("Mock") and len(answer.split()) == 3, answer
    assert own_server.process is not None and own_server.process.pid == pid and own_server.process.poll() is None


BAD_EDITS = {
    "unknown-field": (
        {"base_url_field": "baseURL", "secret": "e2e-upstream-key"},
        ["rejected", "spec.baseURL", "unknown field"],
    ),
    "missing-secret": (
        {"base_url_field": "baseUrl", "secret": "e2e-no-such-secret"},
        ["rejected", "spec.apiKeySecretRef.name", "e2e-no-such-secret", "not found"],
    ),
}


@pytest.mark.parametrize("edit", list(BAD_EDITS))
def test_a_bad_edit_is_rejected_naming_file_field_and_reason_and_the_last_good_config_keeps_serving(
    own_server: Server, edit: str
) -> None:
    fields, expected_in_log = BAD_EDITS[edit]
    before = own_server.model_ids()
    path = own_server.manifests_dir / "openai-channel.yaml"
    offset = own_server.log_size()

    path.write_text(EDITED_OPENAI_CHANNEL.format(**fields))

    def rejection_lines() -> list[str]:
        return [line for line in own_server.log_since(offset).splitlines() if "openai-channel.yaml" in line]

    lines = poll(rejection_lines, timeout=5, what="a log line naming openai-channel.yaml")
    joined = "\n".join(lines)
    for fragment in expected_in_log:
        assert fragment in joined, f"`{fragment}` missing from the rejection:\n{joined}"
    # The old configuration is still the active one.
    assert own_server.model_ids() == before
    assert "gpt-4o-mini-edited" not in before
    assert chat(own_server, CHAT_MODEL["openai"]).startswith("Mock")
    with openai_client(own_server) as client, pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o-mini-edited", messages=[{"role": "user", "content": "hi"}])

    # Fixing the file applies it: the watcher survived the rejection.
    path.write_text(EDITED_OPENAI_CHANNEL.format(base_url_field="baseUrl", secret="e2e-upstream-key"))
    poll(lambda: "gpt-4o-mini-edited" in own_server.model_ids(), timeout=5, what="the fixed edit to apply")
    assert chat(own_server, "gpt-4o-mini-edited").split()[0] == "Mock"


def test_a_stream_in_flight_when_its_channel_is_removed_completes_with_done(own_server: Server) -> None:
    received: list[tuple[float, str]] = []
    failure: list[BaseException] = []

    def read_stream() -> None:
        try:
            with httpx.Client(timeout=30) as client, client.stream(
                "POST",
                f"{own_server.url}/v1/chat/completions",
                headers={"authorization": f"Bearer {ADMIN_KEY}"},
                json={"model": SLOW_MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
            ) as response:
                if response.status_code != 200:
                    raise AssertionError(f"status {response.status_code}: {response.read()!r}")
                for line in response.iter_lines():
                    received.append((time.monotonic(), line))
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failure.append(error)

    reader = threading.Thread(target=read_stream, daemon=True)
    reader.start()
    poll(
        lambda: failure or any('"content"' in line for _, line in received),
        timeout=10,
        what="the first content chunk of the slow stream",
    )
    assert not failure, failure

    # Remove the channel serving the stream and wait until the relay no longer offers the model.
    (own_server.manifests_dir / "slow-channel.yaml").unlink()
    poll(lambda: SLOW_MODEL not in own_server.model_ids(), timeout=5, what=f"{SLOW_MODEL} to disappear")
    applied_at = time.monotonic()

    reader.join(timeout=30)
    assert not reader.is_alive(), "the stream never ended"
    assert not failure, failure
    assert any(at > applied_at for at, _ in received), "the stream had finished before the change applied"
    payloads = sse_data(line for _, line in received)
    assert payloads and payloads[-1] == "[DONE]", payloads[-3:]
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert not [c for c in chunks if "error" in c], "the stream was aborted with an error"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text.startswith("Mock") and len(text.split()) == SLOW_WORDS, text
    # And the change did apply: new requests for the removed model are refused.
    with openai_client(own_server) as client, pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=SLOW_MODEL, messages=[{"role": "user", "content": "hi"}])
