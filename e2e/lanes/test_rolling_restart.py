"""A rolling restart under load: a second baseline pod comes up, the first drains (SIGTERM: unready
at once, serving through the 1 s pre-stop pause, in-flight work finished, charges flushed, exit 0)
and is replaced, the second drains, then the gray relay is replaced the same way. Clients pick a
ready pod per request like a Service does. No request may fail, and the payer's balance must drop
by exactly what the answers cost."""

from __future__ import annotations

import signal
import time
from collections import Counter
from typing import Callable

import httpx

from fleet import EXIT_TIMEOUT, Answer, Fleet, Process, ProductApi, User, completion, micros, route_of
from support import poll
from traffic import Load, Outcome, Service

# (stream, dyed) per relay worker: plain and streaming calls, some of them in the gray lane.
RELAY_WORKERS = [(False, False), (False, False), (False, False), (True, False), (True, False), (True, False), (False, True), (True, True)]
# dyed per chat worker.
CHAT_WORKERS = [False, True]


def drain(pod: Process, call: Callable[[str], Answer]) -> str:
    """SIGTERM `pod`; it must turn unready at once, still answer `call` during its 1 s pre-stop
    pause, and exit 0. Returns how long each phase took."""
    assert pod.popen is not None
    signalled = time.monotonic()
    pod.popen.send_signal(signal.SIGTERM)
    poll(lambda: not pod.is_ready(), 0.5, f"{pod.name} to turn unready on SIGTERM", interval=0.02)
    assert pod.running, f"{pod.name} exited before its 1 s pre-stop pause was over"
    answer = call(pod.url)
    assert answer.ok, f"{pod.name} did not serve during its pre-stop pause: {answer.status} {answer.body[:300]}"
    assert route_of(answer.headers)[0].instance == pod.name
    closed = None
    while pod.popen.poll() is None and time.monotonic() < signalled + EXIT_TIMEOUT:
        if closed is None and not pod.accepts_connections():
            closed = time.monotonic() - signalled
        time.sleep(0.02)
    if pod.popen.poll() is None:
        pod.kill()
        raise AssertionError(f"{pod.name} did not exit within {EXIT_TIMEOUT:.0f}s of SIGTERM")
    code = pod.popen.returncode
    assert code == 0, f"{pod.name} exited with {code} after SIGTERM"
    exited = time.monotonic() - signalled
    listening = f"stopped listening after {closed:.1f}s, " if closed is not None else ""
    return f"{pod.name} drained: {listening}exited 0 after {exited:.1f}s"


def served_since(load: Load, moment: float, predicate) -> int:
    return sum(1 for o in load.snapshot() if o.started >= moment and o.ok and predicate(o))


def test_a_rolling_restart_under_load_loses_no_request_and_no_charge(fleet: Fleet, api: ProductApi, user: User):
    payer = api.create_user("lanes-rolling")
    opening_balance = api.balance_micros(payer.token)
    base0 = fleet.base0
    base1 = fleet.baseline_pod("base-1")
    service = Service([base0.url, base1.url], fleet.workdir).start()
    load = Load(service, payer, RELAY_WORKERS, CHAT_WORKERS).start()
    steps: list[str] = []
    direct: list[Answer] = []  # calls straight to a draining pod, paid by the payer too

    def call_directly(url: str) -> Answer:
        with httpx.Client() as client:
            direct.append(completion(client, url, payer.key, content="straight to a draining pod"))
        return direct[-1]

    try:
        poll(lambda: len(load.snapshot()) >= 30, 20, "the load to get going")

        base1.start()
        fleet.set_baseline([base0, base1])
        moment = time.monotonic()
        poll(lambda: served_since(load, moment, lambda o: o.backend == base1.url) >= 10, 15, "traffic on base-1")
        steps.append("base-1 up")

        steps.append(drain(base0, call_directly))
        base0.start()  # the replacement: same name and address, a new process
        moment = time.monotonic()
        poll(lambda: served_since(load, moment, lambda o: o.backend == base0.url) >= 10, 15, "traffic on the new base-0")
        steps.append("base-0 replaced")

        steps.append(drain(base1, call_directly))
        fleet.set_baseline([base0])

        gray = fleet.gray_relay
        assert gray is not None
        steps.append(drain(gray, call_directly))
        gray.start()
        moment = time.monotonic()
        poll(
            lambda: served_since(load, moment, lambda o: o.dyed and "relay=gray@relay-gray-0" in o.route) >= 5,
            15,
            "dyed traffic on the new gray relay",
        )
        steps.append("relay-gray-0 replaced")
        moment = time.monotonic()
        poll(lambda: served_since(load, moment, lambda o: True) >= 30, 15, "more traffic after the rollout")
    finally:
        load.stop()
        service.stop()

    outcomes = load.snapshot()
    failures = [o for o in outcomes if not o.ok]
    summary = summarize(outcomes)
    assert not failures, (
        f"{len(failures)} of {len(outcomes)} requests failed during the rollout ({'; '.join(steps)}); {summary}\n"
        + "\n".join(f"- {o.kind} dyed={o.dyed} via {o.backend} route={o.route!r}: {o.detail}" for o in failures[:10])
    )
    assert Counter(o.kind for o in outcomes)["chat"] >= 2, summary

    unrouted = [o for o in outcomes if not o.route]
    assert not unrouted, f"{len(unrouted)} answers without x-oblivious-route, e.g. {unrouted[0]}"
    paid = outcomes + [
        Outcome("relay", False, "direct", 0, True, a.cost_micros, a.request_id or "", a.headers.get("x-oblivious-route", ""))
        for a in direct
        if a.ok
    ]
    spent = sum(o.cost_micros for o in paid)
    expected = opening_balance - spent
    try:
        poll(lambda: api.balance_micros(payer.token) == expected, 20, "every charge to settle", interval=0.2)
    except AssertionError:
        actual = api.balance_micros(payer.token)
        raise AssertionError(
            f"balance {actual} micro-units, expected {expected} (opening {opening_balance} - {spent} spent on "
            f"{len(paid)} answers): {actual - expected:+d} off; {charge_differences(api, payer, paid)}"
        ) from None
    print(f"rollout: {'; '.join(steps)}; {summary}; {spent} micro-units charged exactly")


def summarize(outcomes: list[Outcome]) -> str:
    kinds = Counter(f"{o.kind}{'/dyed' if o.dyed else ''}" for o in outcomes)
    backends = Counter(o.backend for o in outcomes)
    return f"requests by kind {dict(kinds)}, by backend {dict(backends)}"


def charge_differences(api: ProductApi, payer: User, outcomes: list[Outcome]) -> str:
    """Which answered requests the ledger charged differently (for the failure message)."""
    try:
        ledger = [e for e in api.ledger(payer.token) if e.get("request_id")]
    except AssertionError as error:
        return f"(ledger unavailable: {error})"
    charged: dict[str, list[int]] = {}
    for entry in ledger:
        charged.setdefault(entry["request_id"], []).append(-micros(entry["amount"]))
    answered = {o.request_id: o.cost_micros for o in outcomes if o.ok}
    missing = [rid for rid in answered if rid not in charged]
    twice = [rid for rid, amounts in charged.items() if len(amounts) > 1]
    unknown = [rid for rid in charged if rid not in answered]
    wrong = [(rid, answered[rid], charged[rid]) for rid in answered if rid in charged and charged[rid] != [answered[rid]]]
    return (
        f"ledger ({len(ledger)} charges): {len(missing)} answered requests never charged {missing[:5]}, "
        f"{len(twice)} charged twice {twice[:5]}, {len(unknown)} charges for requests no client saw answered "
        f"{unknown[:5]}, {len(wrong)} charged a different amount {wrong[:5]}"
    )
