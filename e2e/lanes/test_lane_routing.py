"""Where a request goes: the edge of the baseline pod dyes it by the `gray` Lane's rules, forwards
a dyed request to the gray relay or chat, and the gray relay prefers the lane's channel (mock B).
Killing the gray relay falls back to the baseline, or fails with 503 for a `Strict` lane;
disabling the Lane stops the dyeing within about a second."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import httpx
import openai

from fleet import (
    CANARY_COOKIE,
    LANE_HEADER,
    MODEL,
    WORDS_A,
    WORDS_B,
    Answer,
    Fleet,
    LaneSpec,
    ProductApi,
    User,
    assert_request_id,
    canary,
    chat_send,
    chat_session,
    completion,
    route_text,
    went_gray,
)
from support import poll

BASELINE_ROUTE = "all=baseline@base-0"
GRAY_RELAY_ROUTE = "all=baseline@base-0, relay=gray@relay-gray-0"
GRAY_CHAT_ROUTE = "all=baseline@base-0, chat=gray@chat-gray-0"


def received(mock, text: str) -> list[dict]:
    """The chat requests a mock received whose body mentions `text`."""
    return [r for r in mock.chat_requests() if text in json.dumps(r["body"])]


def describe(answer: Answer) -> str:
    route = answer.headers.get("x-oblivious-route")
    return f"status {answer.status}, route {route!r}, body {answer.body[:500]!r}"


def test_requests_no_rule_matches_stay_on_the_baseline_and_never_reach_a_gray_pod_or_mock_b(fleet: Fleet, user: User):
    with httpx.Client() as client:
        answers = [
            completion(client, fleet.url, user.key, stream=stream, headers=headers, content=f"plain {i}")
            for i, (stream, headers) in enumerate(
                [
                    (False, {}),
                    (True, {}),
                    (False, {"cookie": f"{CANARY_COOKIE}=0"}),  # the cookie rule wants the value 1
                    (True, {"x-canary-not": "1"}),
                ]
            )
        ]
        quota = client.get(f"{fleet.url}/api/v1/user/quota", headers={"authorization": f"Bearer {user.token}"})
    request_ids = set()
    for answer in answers:
        assert answer.ok, describe(answer)
        assert route_text(answer.headers) == BASELINE_ROUTE
        assert answer.usage is not None and answer.usage["completion_tokens"] == WORDS_A, "answered by mock A"
        request_ids.add(assert_request_id(answer.headers))
    assert len(request_ids) == len(answers), "every request has an id of its own"
    assert quota.status_code == 200 and route_text(quota.headers) == BASELINE_ROUTE
    assert_request_id(quota.headers)
    assert len(fleet.mock_a.chat_requests()) == len(answers)
    assert fleet.mock_b.requests() == [], "mock B (the gray channel) received a request that was not dyed"


def test_the_canary_header_sends_a_request_through_the_gray_relay_to_the_gray_channel(fleet: Fleet, user: User):
    client = openai.OpenAI(
        base_url=f"{fleet.url}/v1", api_key=user.key, default_headers=canary(), max_retries=0, timeout=30
    )
    with client:
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": "gray non-stream"}]
        )
        answer = raw.parse()
        assert route_text(raw.headers) == GRAY_RELAY_ROUTE
        assert_request_id(raw.headers)
        assert answer.usage is not None and answer.usage.completion_tokens == WORDS_B, "answered by mock B"
        assert len(answer.choices[0].message.content.split()) == WORDS_B

        raw = client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=[{"role": "user", "content": "gray stream"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        assert route_text(raw.headers) == GRAY_RELAY_ROUTE
        chunks = list(raw.parse())
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = next(c.usage for c in chunks if c.usage)
        assert len(text.split()) == WORDS_B and usage.completion_tokens == WORDS_B

    assert len(received(fleet.mock_b, "gray non-stream")) == 1
    assert len(received(fleet.mock_b, "gray stream")) == 1
    assert fleet.mock_a.chat_requests() == [], "a dyed request used the baseline channel although the lane has one"


def test_the_canary_cookie_dyes_a_request_too(fleet: Fleet, user: User):
    with httpx.Client() as client:
        dyed = completion(client, fleet.url, user.key, headers={"cookie": f"theme=dark; {CANARY_COOKIE}=1"})
    assert dyed.ok, describe(dyed)
    assert route_text(dyed.headers) == GRAY_RELAY_ROUTE
    assert len(fleet.mock_b.chat_requests()) == 1 and fleet.mock_a.chat_requests() == []


def test_a_client_sent_lane_header_is_ignored_for_a_user_key_and_honoured_for_an_admin_key(fleet: Fleet, user: User):
    picked = {LANE_HEADER: "gray"}
    with httpx.Client() as client:
        as_user = completion(client, fleet.url, user.key, headers=picked, content="user picks gray")
        as_admin = completion(client, fleet.url, fleet.admin_key, headers=picked, content="admin picks gray")
        admin_unpicked = completion(client, fleet.url, fleet.admin_key, content="admin picks nothing")
    assert as_user.ok, describe(as_user)
    assert route_text(as_user.headers) == BASELINE_ROUTE, "a plain user's key may not pick a lane"
    assert received(fleet.mock_a, "user picks gray") and not received(fleet.mock_b, "user picks gray")
    assert as_admin.ok, describe(as_admin)
    assert route_text(as_admin.headers) == GRAY_RELAY_ROUTE, "an admin key may pick a lane"
    assert received(fleet.mock_b, "admin picks gray") and not received(fleet.mock_a, "admin picks gray")
    assert route_text(admin_unpicked.headers) == BASELINE_ROUTE


def test_killing_the_gray_relay_with_baseline_fallback_fails_no_dyed_request(fleet: Fleet, user: User):
    # (started, stream, answer or the exception's text) per request, in the order they ended.
    calls: list[tuple[float, bool, Answer | str]] = []
    stop = threading.Event()

    def dyed_traffic(stream: bool) -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    calls.append((started, stream, completion(client, fleet.url, user.key, stream=stream, headers=canary())))
                except Exception as error:  # noqa: BLE001 - every failure is reported below
                    calls.append((started, stream, repr(error)))

    workers = [threading.Thread(target=dyed_traffic, args=(i % 2 == 1,), daemon=True) for i in range(4)]
    for worker in workers:
        worker.start()
    try:
        poll(
            lambda: sum(isinstance(a, Answer) and a.ok and went_gray(a.headers) for _, _, a in list(calls)) >= 10,
            15,
            "dyed answers from the gray relay",
        )
        fleet.gray_relay.kill()  # SIGKILL: no drain; connections are refused from now on
        # Taken once the process is gone: a stream started while the kill was under way was in
        # flight at it (a flake when this was read before the kill).
        killed = time.monotonic()
        settled = killed + 0.2  # requests in flight at the kill have ended by then
        poll(lambda: sum(started > settled for started, _, _ in list(calls)) >= 40, 20, "40 dyed requests after the kill")
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)

    def failure(result: Answer | str) -> str | None:
        if isinstance(result, str):
            return result
        return None if result.ok else describe(result)

    # A stream the gray relay had begun to answer when it was killed cannot be saved by anyone;
    # every other request must succeed.
    cut = [failure(a) for started, stream, a in calls if stream and started < killed and failure(a)]
    failed = [failure(a) for started, stream, a in calls if not (stream and started < killed) and failure(a)]
    assert not failed, f"{len(failed)} of {len(calls)} dyed requests failed: {failed[:5]}"
    assert len(cut) <= 2, f"more streams failed than were in flight at the kill: {cut}"
    after = [a for started, _, a in calls if started > settled]
    routes = Counter(route_text(a.headers) for a in after if isinstance(a, Answer))
    assert routes == {BASELINE_ROUTE: len(after)}, dict(routes)


def test_with_the_gray_relay_dead_a_baseline_fallback_request_is_served_by_the_baseline_relay_still_in_its_lane(
    fleet: Fleet, user: User
):
    """The baseline relay serves it, and the request keeps its tag: lane channels are chosen by the
    request's lane, not by which relay version answers, so it still reaches the gray channel."""
    fleet.gray_relay.kill()
    with httpx.Client() as client:
        answers = [
            completion(client, fleet.url, user.key, stream=stream, headers=canary(), content=f"fallen back {i}")
            for i, stream in enumerate((False, True, False))
        ]
    for answer in answers:
        assert answer.ok, describe(answer)
        assert route_text(answer.headers) == BASELINE_ROUTE
    tokens = Counter(a.usage["completion_tokens"] for a in answers if a.usage)
    assert tokens == {WORDS_B: len(answers)}, (
        f"a dyed request served by the baseline relay still prefers its lane's channel (mock B, {WORDS_B} words), "
        f"got completion tokens {dict(tokens)}; mock A received {len(received(fleet.mock_a, 'fallen back'))}, "
        f"mock B {len(received(fleet.mock_b, 'fallen back'))}"
    )


def test_killing_the_gray_relay_of_a_strict_lane_answers_503_lane_unavailable(fleet: Fleet, user: User):
    fleet.write_lane(LaneSpec(fallback="Strict"))
    with httpx.Client() as client:
        before = completion(client, fleet.url, user.key, headers=canary())
        assert before.ok and route_text(before.headers) == GRAY_RELAY_ROUTE, describe(before)
        fleet.gray_relay.kill()
        refused = [completion(client, fleet.url, user.key, stream=stream, headers=canary()) for stream in (False, True, False)]
        plain = completion(client, fleet.url, user.key)
    for answer in refused:
        assert answer.status == 503, describe(answer)
        error = json.loads(answer.body)["error"]
        assert error["code"] == "lane_unavailable", answer.body
        assert error.get("message"), answer.body
        assert route_text(answer.headers) == BASELINE_ROUTE
        assert_request_id(answer.headers)
    assert plain.ok and route_text(plain.headers) == BASELINE_ROUTE, "requests outside the lane are unaffected"
    assert len(fleet.mock_a.chat_requests()) == 1, "no dyed request was served by the baseline channel"


def test_disabling_the_lane_stops_dyeing_within_a_second(fleet: Fleet, user: User):
    with httpx.Client() as client:

        def dyed() -> Answer:
            answer = completion(client, fleet.url, user.key, headers=canary())
            assert answer.ok, describe(answer)
            return answer

        assert went_gray(dyed().headers)
        fleet.write_lane(LaneSpec(enabled=False), wait=False)
        written = time.monotonic()
        poll(lambda: not went_gray(dyed().headers), 3.0, "the disabled Lane to stop dyeing", interval=0.05)
        took = time.monotonic() - written
        later = [dyed() for _ in range(10)]
    assert all(route_text(a.headers) == BASELINE_ROUTE for a in later)
    assert all(a.usage and a.usage["completion_tokens"] == WORDS_A for a in later)
    print(f"dyeing stopped {took:.2f}s after the Lane was disabled")


def test_a_chat_message_with_the_canary_header_is_answered_by_the_gray_chat_through_the_gray_relay(
    fleet: Fleet, api: ProductApi, user: User
):
    with httpx.Client() as client:
        # Two sessions: a reply's relay call carries the session's history.
        dyed_session = chat_session(client, fleet.url, user.token)
        dyed = chat_send(client, fleet.url, user.token, dyed_session, "hello gray chat", headers=canary())
        plain_session = chat_session(client, fleet.url, user.token)
        plain = chat_send(client, fleet.url, user.token, plain_session, "hello baseline chat")

    assert dyed.send_status == 201, dyed.send_body
    assert route_text(dyed.send_headers) == GRAY_CHAT_ROUTE
    assert_request_id(dyed.send_headers)
    assert dyed.stream_headers is not None and route_text(dyed.stream_headers) == GRAY_CHAT_ROUTE
    assert dyed.ok, f"the reply did not complete: {dyed.events}"
    assert dyed.done["usage"]["output_tokens"] == WORDS_B, "the reply came from mock B"
    assert len(received(fleet.mock_b, "hello gray chat")) == 1, "the gray chat's relay call used the gray channel"
    assert not received(fleet.mock_a, "hello gray chat")

    assert plain.send_status == 201, plain.send_body
    assert route_text(plain.send_headers) == BASELINE_ROUTE
    assert plain.ok, f"the reply did not complete: {plain.events}"
    assert plain.done["usage"]["output_tokens"] == WORDS_A
    assert received(fleet.mock_a, "hello baseline chat") and not received(fleet.mock_b, "hello baseline chat")

    # The relay's request log of the gray reply names every hop it took, filterable by lane.
    reply_id = dyed.done["id"]
    logged = poll(
        lambda: next((row for row in api.request_logs(lane="gray", limit="200") if row["id"] == reply_id), None),
        10,
        "the gray reply's request log",
    )
    assert logged["route"] == "all=baseline@base-0, chat=gray@chat-gray-0, relay=gray@relay-gray-0", logged
    assert logged["lane"] == "gray"
    baseline_ids = {row["id"] for row in api.request_logs(lane="baseline", limit="1000")}
    assert reply_id not in baseline_ids


def test_a_lane_header_from_a_web_session_is_honoured_only_for_an_admin_account(fleet: Fleet, admin: User, user: User):
    picked = {LANE_HEADER: "gray"}
    with httpx.Client(base_url=fleet.url, timeout=30) as client:
        as_user = client.get("/api/v1/chat/sessions", headers={"authorization": f"Bearer {user.token}", **picked})
        as_admin = client.get("/api/v1/chat/sessions", headers={"authorization": f"Bearer {admin.token}", **picked})
    assert as_user.status_code == 200, as_user.text
    assert route_text(as_user.headers) == BASELINE_ROUTE, "a plain account may not pick a lane"
    assert as_admin.status_code == 200, as_admin.text
    assert route_text(as_admin.headers) == GRAY_CHAT_ROUTE, "an administrator's session may pick a lane"
