"""Shared helpers for the end-to-end suite: starting and stopping a real `oblivious dev`
process, polling with deadlines, and the constants the manifests in `e2e/manifests/` define."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterable, Optional, TypeVar

import anthropic
import httpx
import openai

E2E_DIR = Path(__file__).resolve().parent
MANIFESTS_DIR = E2E_DIR / "manifests"

# The admin key the servers accept (OBLIVIOUS_BOOTSTRAP_KEY). Random per run, so a key that
# leaks into a log cannot be mistaken for a value the suite wrote there itself.
ADMIN_KEY = "sk-e2e-admin-" + secrets.token_hex(16)

# Every family of upstream protocol the relay translates to; each serves the same public
# model shapes (see e2e/manifests/*-channel.yaml).
FAMILIES = ("openai", "anthropic", "gemini")
CHAT_MODEL = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}
TOOLS_MODEL = {family: f"{model}-tools" for family, model in CHAT_MODEL.items()}
CONTEXT_MODEL = {family: f"context-too-long-{family}" for family in FAMILIES}
# Served on one channel per family, each answering 429 rate_limit: failover runs out of channels.
RATE_LIMITED_MODEL = "rate-limited"
# Served by a channel whose upstream key the mock rejects as invalid.
BAD_UPSTREAM_KEY_MODEL = "upstream-key-invalid"
EMBEDDING_MODEL = "text-embedding-3-small"
# `upstreamModel: <name>@words=7`: the mock answers exactly this many words, one token each.
ANSWER_WORDS = 7
SLOW_MODEL = "gpt-4o-mini-slow"  # @tps=20,words=30
SLOW_WORDS = 30


# Every request gets a deadline: a hung relay fails a test instead of the whole run.
CLIENT_TIMEOUT = 30.0


def _secret_values() -> dict[str, str]:
    """The upstream keys written in the Secret manifest, by Secret name."""
    text = (MANIFESTS_DIR / "secrets.yaml").read_text()
    return dict(re.findall(r"name:\s*(\S+)[\s\S]*?apiKey:\s*\"?([^\s\"]+)", text))


UPSTREAM_SECRETS = _secret_values()
UPSTREAM_KEY = UPSTREAM_SECRETS["e2e-upstream-key"]
BAD_UPSTREAM_KEY = UPSTREAM_SECRETS["e2e-bad-upstream-key"]


def known_secrets() -> dict[str, str]:
    """Values that must never appear in a log line or an error body."""
    return {"admin key": ADMIN_KEY, "upstream key": UPSTREAM_KEY, "bad upstream key": BAD_UPSTREAM_KEY}


def assert_no_secrets(text: str, where: str, extra: Optional[dict[str, str]] = None) -> None:
    found = [name for name, value in {**known_secrets(), **(extra or {})}.items() if value and value in text]
    assert not found, f"{where} contains the {', '.join(found)}"


def binary() -> Path:
    path = os.environ.get("OBLIVIOUS_BIN")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache/oblivious/target")
        path = os.path.join(target, "debug", "oblivious")
    resolved = Path(path)
    if not (resolved.is_file() and os.access(resolved, os.X_OK)):
        raise RuntimeError(
            f"the oblivious binary is missing: {resolved} "
            "(run `cargo build --bin oblivious`, or set OBLIVIOUS_BIN)"
        )
    return resolved


T = TypeVar("T")


def poll(
    condition: Callable[[], Optional[T]],
    timeout: float,
    what: str,
    interval: float = 0.02,
) -> T:
    """Calls `condition` until it returns something truthy and returns that, or fails after
    `timeout` seconds naming `what`. Never a fixed sleep: the wait ends as soon as it can."""
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - retried until the deadline, reported then
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}{detail}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# Processes whose logs are attached to the report of a failing test (e2e/conftest.py): every
# suite registers what it starts, as (name, process).
LIVE_LOGS: list[tuple[str, "LogFile"]] = []


class LogFile:
    """A process's output in `log_path`, read whole or from an offset (colour codes removed)."""

    log_path: Path

    def log(self) -> str:
        return self.log_since(0)

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return _ANSI.sub("", f.read().decode(errors="replace"))
        except FileNotFoundError:
            return ""


class Server(LogFile):
    """One `oblivious dev` process on a free port, with its own manifests and data directories
    and its stderr captured to a file."""

    READY_TIMEOUT = 60.0

    def __init__(self, workdir: Path, manifests: Optional[Path] = None):
        self.workdir = workdir
        self.manifests_dir = workdir / "manifests"
        self.data_dir = workdir / "data"
        self.log_path = workdir / "oblivious.log"
        shutil.copytree(manifests or MANIFESTS_DIR, self.manifests_dir)
        self.data_dir.mkdir()
        self.port = 0
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The embedded defaults: SQLite and in-process state, whatever the caller's shell has.
        for name in ("DATABASE_URL", "REDIS_URL", "OBLIVIOUS_LOG_FORMAT", "OBLIVIOUS_REPLICAS"):
            env.pop(name, None)
        env.update({"OBLIVIOUS_BOOTSTRAP_KEY": ADMIN_KEY, "RUST_LOG": "info", "NO_COLOR": "1"})
        return env

    def start(self) -> "Server":
        # A port found free can be taken before the server binds it; try a few.
        for _attempt in range(3):
            self.port = free_port()
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                [
                    str(binary()),
                    "dev",
                    "--manifests",
                    str(self.manifests_dir),
                    "--data-dir",
                    str(self.data_dir),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                cwd=self.workdir,
                start_new_session=True,
            )
            log.close()
            try:
                self.wait_ready()
                return self
            except AssertionError:
                exited = self.process.poll() is not None
                self.stop()
                if exited and "ddress already in use" in self.log():
                    continue
                raise AssertionError(f"oblivious dev did not become ready; its log:\n{self.log()}") from None
        raise AssertionError(f"oblivious dev could not find a free port; its log:\n{self.log()}")

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise _Exited(self.process.returncode)
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        deadline = time.monotonic() + self.READY_TIMEOUT
        while True:
            try:
                if ready():
                    return
            except _Exited:
                raise AssertionError("oblivious dev exited") from None
            if time.monotonic() >= deadline:
                raise AssertionError("GET /readyz never answered 200")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        stop_process(process)


    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs `oblivious keys ...` (or another store command) against this server's data dir."""
        command, rest = args[0], args[1:]
        env = self.env()
        env.pop("OBLIVIOUS_BOOTSTRAP_KEY", None)
        result = subprocess.run(
            [str(binary()), command, "--data-dir", str(self.data_dir), *rest],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.workdir,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"`oblivious {' '.join(args)}` exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def request_records(self, model: str, count: int = 1, ingress: Optional[str] = None) -> list[dict]:
        """The request records of `model` (newest first; only those that came in through `ingress`
        when given: clients sharing a model share the server), once the batched writer stored
        `count`."""

        def find() -> Optional[list[dict]]:
            response = httpx.get(
                f"{self.url}/api/v1/admin/logs",
                params={"model": model, "limit": 100},
                headers={"authorization": f"Bearer {ADMIN_KEY}"},
                timeout=5,
            )
            response.raise_for_status()
            rows = [r for r in response.json()["data"] if ingress is None or r["ingress"] == ingress]
            return rows if len(rows) >= count else None

        return poll(find, timeout=10, what=f"{count} request records of {model}", interval=0.05)

    def request_record(self, request_id: str, model: str) -> dict:
        """The request record with this id (`x-request-id`), once the batched writer stored it."""
        return poll(
            lambda: next((r for r in self.request_records(model) if r["id"] == request_id), None),
            timeout=10,
            what=f"the request record {request_id}",
            interval=0.05,
        )

    def model_ids(self, key: str = ADMIN_KEY) -> set[str]:
        response = httpx.get(f"{self.url}/v1/models", headers={"authorization": f"Bearer {key}"}, timeout=5)
        response.raise_for_status()
        return {m["id"] for m in response.json()["data"]}


def openai_client(server: Server, key: str = ADMIN_KEY) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{server.url}/v1", max_retries=0, timeout=CLIENT_TIMEOUT)


def anthropic_client(server: Server, key: str = ADMIN_KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=server.url, max_retries=0, timeout=CLIENT_TIMEOUT)


class _Exited(Exception):
    def __init__(self, code: int):
        super().__init__(f"exited with {code}")


def sse_data(lines: Iterable[str]) -> list[str]:
    """The `data:` payloads of an SSE stream, in order (one per event)."""
    events, current = [], []
    for line in lines:
        if line == "":
            if current:
                events.append("\n".join(current))
                current = []
        elif line.startswith("data:"):
            value = line[5:]
            current.append(value[1:] if value.startswith(" ") else value)
    if current:
        events.append("\n".join(current))
    return events


def parse_json_events(payloads: Iterable[str]) -> list[dict]:
    return [json.loads(p) for p in payloads if p != "[DONE]"]


def words(text: str) -> list[str]:
    return text.split()


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
