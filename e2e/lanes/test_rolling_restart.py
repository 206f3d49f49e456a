"""A rolling restart under load: a second baseline pod comes up, the first drains (SIGTERM: unready
at once, serving through the 1 s pre-stop pause, in-flight work finished, charges flushed, exit 0)
and is replaced, the second drains, then the gray relay is replaced the same way. Clients pick a
ready pod per request like a Service does. No request may fail, and the payer's balance must drop
by exactly what the answers cost."""

from __future__ import annotations

import signal
import time
from collections import Counter

from fleet import EXIT_TIMEOUT, Fleet, Process, ProductApi, User, micros
from support import poll
from traffic import Load, Outcome, Service

# (stream, dyed) per relay worker: plain and streaming calls, some of them in the gray lane.
RELAY_WORKERS = [(False, False), (False, False), (False, False), (True, False), (True, False), (True, False), (False, True), (True, True)]
# dyed per chat worker.
CHAT_WORKERS = [False, True]


def drain(pod: Process) -> float:
    """SIGTERM `pod`, check it turns unready while still running, and wait for exit 0. Returns
    how long it took to exit."""
    assert pod.popen is not None
    signalled = time.monotonic()
    pod.popen.send_signal(signal.SIGTERM)
    poll(lambda: not pod.is_ready(), 0.9, f"{pod.name} to turn unready on SIGTERM", interval=0.02)
    assert pod.running, f"{pod.name} exited before its 1 s pre-stop pause was over"
    try:
        code = pod.popen.wait(timeout=EXIT_TIMEOUT)
    except Exception:
        pod.kill()
        raise AssertionError(f"{pod.name} did not exit within {EXIT_TIMEOUT:.0f}s of SIGTERM") from None
    assert code == 0, f"{pod.name} exited with {code} after SIGTERM"
    return time.monotonic() - signalled


def served_since(load: Load, moment: float, predicate) -> int:
    return sum(1 for o in load.snapshot() if o.started >= moment and o.ok and predicate(o))


def test_a_rolling_restart_under_load_loses_no_request_and_no_charge(fleet: Fleet, api: ProductApi, user: User):
    payer = api.create_user("lanes-rolling")
    opening_balance = api.balance_micros(payer.token)
    base0 = fleet.base0
    base1 = fleet.baseline_pod("base-1")
    service = Service(fleet.baseline_pods).start()
    load = Load(service, payer, RELAY_WORKERS, CHAT_WORKERS).start()
    steps: list[str] = []
    try:
        poll(lambda: len(load.snapshot()) >= 30, 20, "the load to get going")

        base1.start()
        fleet.set_baseline([base0, base1])
        moment = time.monotonic()
        poll(lambda: served_since(load, moment, lambda o: o.backend == base1.url) >= 10, 15, "traffic on base-1")
        steps.append("base-1 up")

        steps.append(f"base-0 drained in {drain(base0):.1f}s")
        base0.start()  # the replacement: same name and address, a new process
        moment = time.monotonic()
        poll(lambda: served_since(load, moment, lambda o: o.backend == base0.url) >= 10, 15, "traffic on the new base-0")
        steps.append("base-0 replaced")

        steps.append(f"base-1 drained in {drain(base1):.1f}s")
        fleet.set_baseline([base0])

        gray = fleet.gray_relay
        assert gray is not None
        steps.append(f"relay-gray-0 drained in {drain(gray):.1f}s")
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

    spent = sum(o.cost_micros for o in outcomes)
    expected = opening_balance - spent
    try:
        poll(lambda: api.balance_micros(payer.token) == expected, 20, "every charge to settle", interval=0.2)
    except AssertionError:
        actual = api.balance_micros(payer.token)
        raise AssertionError(
            f"balance {actual} micro-units, expected {expected} (opening {opening_balance} - {spent} spent on "
            f"{len(outcomes)} answers): {actual - expected:+d} off; {charge_differences(api, payer, outcomes)}"
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
