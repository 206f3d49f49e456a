"""The statistical rules: a sticky hash on the user id keeps each user on one side and puts about
its percentage of users in the lane; a plain percentage dyes about that share of requests."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import httpx

from fleet import Answer, Fleet, LaneSpec, ProductApi, User, completion, route_text, went_gray

THREADS = 16


def call_all(base_url: str, keys: list[str], headers: Optional[dict] = None) -> list[Answer]:
    """One small non-streaming completion per key, `THREADS` at a time, in the order of `keys`."""
    local = threading.local()
    clients: list[httpx.Client] = []

    def call(key: str) -> Answer:
        if not hasattr(local, "client"):
            local.client = httpx.Client()
            clients.append(local.client)
        return completion(local.client, base_url, key, headers=headers)

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(call, keys))
    finally:
        for client in clients:
            client.close()


def assert_all_ok(answers: list[Answer]) -> None:
    failed = [(a.status, a.body[:300]) for a in answers if not a.ok]
    assert not failed, f"{len(failed)} of {len(answers)} calls failed, e.g. {failed[:3]}"


def test_a_sticky_hash_rule_keeps_each_user_on_one_side_and_splits_the_users(fleet: Fleet, api: ProductApi, user: User):
    fleet.write_lane(LaneSpec(rules=({"hash": {"stickyKey": "userId", "percent": 30}},)))

    one_user = call_all(fleet.url, [user.key] * 100)
    assert_all_ok(one_user)
    sides = Counter(route_text(a.headers) for a in one_user)
    assert len(sides) == 1, f"one user's 100 calls took different routes: {dict(sides)}"

    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(lambda i: api.create_user(f"lanes-hash-{i:02d}", credit="1.00"), range(40)))
    answers = call_all(fleet.url, [u.key for u in users for _ in range(3)])
    assert_all_ok(answers)
    gray_users = set()
    for index, member in enumerate(users):
        mine = [went_gray(a.headers) for a in answers[3 * index : 3 * index + 3]]
        assert len(set(mine)) == 1, f"user {member.username}'s calls were split between the lanes: {mine}"
        if mine[0]:
            gray_users.add(member.username)
    assert 0 < len(gray_users) < len(users), f"{len(gray_users)} of {len(users)} users are in a 30% lane"
    gray_calls = sum(went_gray(a.headers) for a in one_user + answers)
    assert len(fleet.mock_b.chat_requests()) == gray_calls, "every gray call, and only those, used the gray channel"
    print(f"hash rule: {len(gray_users)} of {len(users)} users in the lane")


def test_a_percentage_rule_dyes_about_that_share_of_requests(fleet: Fleet, user: User):
    fleet.write_lane(LaneSpec(rules=({"percentage": 20},)))
    calls = 2000
    answers = call_all(fleet.url, [user.key] * calls)
    assert_all_ok(answers)
    gray = sum(went_gray(a.headers) for a in answers)
    share = 100 * gray / calls
    assert 15 <= share <= 25, f"{share:.1f}% of the calls were dyed by a 20% rule"
    assert len(fleet.mock_b.chat_requests()) == gray
    assert len(fleet.mock_a.chat_requests()) == calls - gray
    print(f"percentage rule: {share:.1f}% of {calls} calls dyed")
