"""Steady client traffic through a client-side "Service": each request goes to a random baseline
pod among those answering `GET /readyz` 200, refreshed every 100 ms (what kube-proxy does with a
Service's ready endpoints), on a connection of its own."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import httpx

from fleet import (
    MODEL,
    SLOW_MODEL,
    User,
    canary,
    chat_send,
    chat_session,
    completion,
)
from support import poll

class Service:
    """Random choice among the ready pods of `urls`, as `endpoints.py` (a process of its own)
    sees them."""

    def __init__(self, urls: list[str], workdir: Path):
        self.urls = urls
        self.file = workdir / "endpoints.json"
        self.log = workdir / "endpoints.log"
        self._process: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> "Service":
        self.file.unlink(missing_ok=True)
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("endpoints.py")), str(self.file), *self.urls],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        poll(self.file.exists, 10, "the endpoints watcher to start")
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _read(self) -> dict:
        return json.loads(self.file.read_text())

    def ready_urls(self) -> list[str]:
        return self._read()["ready"]

    def age(self) -> float:
        """Seconds since the ready set last changed."""
        return time.time() - self._read()["at"]

    def pick(self) -> str:
        urls = poll(self.ready_urls, 10, "a ready baseline pod", interval=0.01)
        return random.choice(urls)


@dataclass
class Outcome:
    """One client request and what came of it."""

    kind: str  # relay, relay-stream or chat
    dyed: bool
    backend: str
    started: float
    ok: bool
    cost_micros: int = 0
    request_id: str = ""
    route: str = ""
    detail: str = ""


class Load:
    """`relay` workers (each a fixed mix of stream and dye) and `chat` workers, each in a loop of
    its own until `stop()`."""

    def __init__(self, service: Service, payer: User, relay_workers: list[tuple[bool, bool]], chat_workers: list[bool]):
        self.service = service
        self.payer = payer
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._relay_worker, args=(stream, dyed), daemon=True, name=f"relay-{i}")
            for i, (stream, dyed) in enumerate(relay_workers)
        ] + [
            threading.Thread(target=self._chat_worker, args=(i, dyed), daemon=True, name=f"chat-{i}")
            for i, dyed in enumerate(chat_workers)
        ]

    def start(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        stuck = [t.name for t in self._threads if t.is_alive()]
        assert not stuck, f"load workers still running a minute after the stop: {stuck}"

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def _client(self) -> httpx.Client:
        # No keep-alive: every request opens a connection to the pod picked for it.
        return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))

    def _relay_worker(self, stream: bool, dyed: bool) -> None:
        kind = "relay-stream" if stream else "relay"
        with self._client() as client:
            while not self._stop.is_set():
                backend, started = "", time.monotonic()
                try:
                    backend = self.service.pick()
                    answer = completion(
                        client,
                        backend,
                        self.payer.key,
                        model=SLOW_MODEL if stream else MODEL,
                        stream=stream,
                        headers=canary() if dyed else None,
                    )
                except Exception:  # noqa: BLE001 - a client-visible failure, reported by the test
                    detail = f"ready set last changed {self.service.age():.2f}s earlier; {traceback.format_exc(limit=3)}"
                    self._record(Outcome(kind, dyed, backend, started, False, detail=detail))
                    continue
                self._record(
                    Outcome(
                        kind,
                        dyed,
                        backend,
                        started,
                        answer.ok,
                        answer.cost_micros if answer.ok else 0,
                        answer.request_id or "",
                        answer.headers.get("x-oblivious-route", ""),
                        "" if answer.ok else f"status {answer.status}: {answer.body[:400]}",
                    )
                )

    def _chat_worker(self, index: int, dyed: bool) -> None:
        headers = canary() if dyed else None
        session: Optional[str] = None
        sent = 0
        with self._client() as client:
            while not self._stop.is_set():
                backend, started = "", time.monotonic()
                try:
                    backend = self.service.pick()
                    if session is None or sent % 5 == 0:  # short histories keep the prompts small
                        session = chat_session(client, backend, self.payer.token, headers)
                    sent += 1
                    reply = chat_send(
                        client,
                        backend,
                        self.payer.token,
                        session,
                        f"chat worker {index} message {sent}",
                        headers=headers,
                        stream_urls=self.service.ready_urls,
                    )
                except Exception:  # noqa: BLE001 - a client-visible failure, reported by the test
                    detail = f"ready set last changed {self.service.age():.2f}s earlier; {traceback.format_exc(limit=3)}"
                    self._record(Outcome("chat", dyed, backend, started, False, detail=detail))
                    continue
                ok = reply.send_status == 201 and reply.ok
                message = reply.done or {}
                self._record(
                    Outcome(
                        "chat",
                        dyed,
                        backend,
                        started,
                        ok,
                        reply.cost_micros if ok else 0,
                        message.get("id", ""),
                        reply.send_headers.get("x-oblivious-route", ""),
                        "" if ok else f"send {reply.send_status} {reply.send_body[:300]}; events {reply.events[-3:]}",
                    )
                )
