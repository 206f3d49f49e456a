"""The lanes topology as real processes: two mock upstreams (A for the baseline channel, B for the
`gray` lane's channel), a throwaway PostgreSQL database, `oblivious-operator serve-local` over a
manifests directory this module writes, baseline `oblivious all` pods and the gray lane's
`oblivious relay` and `oblivious chat`. Every process listens on 127.0.0.1, logs to a file of its
own and is stopped with SIGTERM (SIGKILL after a timeout)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Optional

import httpx

from support import LIVE_LOGS, LogFile, binary, free_port, poll

# --- what the manifests define -------------------------------------------------------------------

MODEL = "lane-model"
# A stream of 10 words at 20 words/s (half a second): long enough to be in flight during a drain.
SLOW_MODEL = "lane-model-slow"
# Words (= completion tokens) each mock answers `MODEL` with, so an answer tells where it came from.
WORDS_A = 3
WORDS_B = 4
SLOW_WORDS = 10
# ModelPricing: 1.00 / 2.00 USD per 1M tokens = 1 / 2 micro-dollars per token, exactly.
INPUT_MICROS_PER_TOKEN = 1
OUTPUT_MICROS_PER_TOKEN = 2

LANE_TAG = "gray"
CANARY_HEADER = "x-canary"
CANARY_COOKIE = "canary"
LANE_HEADER = "x-oblivious-lane"
ROUTE_HEADER = "x-oblivious-route"
# Every Lane this suite writes also dyes requests carrying this header with the Lane's own nonce,
# so the suite can see when a pod runs that very version of the Lane (no fixed sleeps).
PROBE_HEADER = "x-lanes-probe"

DEFAULT_RULES: list[dict] = [
    {"header": {"name": CANARY_HEADER}},
    {"cookie": {"name": CANARY_COOKIE, "value": "1"}},
]

CLIENT_TIMEOUT = 30.0
READY_TIMEOUT = 60.0
# How long a SIGTERMed data-plane process may take to drain and exit.
EXIT_TIMEOUT = 40.0
POSTGRES_URL = os.environ.get("OBLIVIOUS_E2E_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def operator_binary() -> Path:
    path = binary().parent / "oblivious-operator"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise RuntimeError(
            f"the operator binary is missing: {path} (the lanes suite needs `oblivious-operator` "
            "beside $OBLIVIOUS_BIN; build it with `cargo build --bin oblivious --bin oblivious-operator`)"
        )
    return path


def micros(decimal_text: str) -> int:
    """A decimal money string (`"0.000123"`) as integer micro-units, refusing anything inexact."""
    value = Decimal(decimal_text) * 1_000_000
    if value != value.to_integral_value():
        raise AssertionError(f"{decimal_text!r} is not a whole number of micro-units")
    return int(value)


def usage_cost_micros(usage: dict) -> int:
    return usage["prompt_tokens"] * INPUT_MICROS_PER_TOKEN + usage["completion_tokens"] * OUTPUT_MICROS_PER_TOKEN


# --- routes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    role: str
    lane: str
    instance: str

    def __str__(self) -> str:
        return f"{self.role}={self.lane}@{self.instance}"


def route_of(headers: httpx.Headers) -> list[Hop]:
    """`x-oblivious-route` (`all=baseline@base-0, relay=gray@relay-gray-0`), outermost hop first."""
    text = headers.get(ROUTE_HEADER)
    assert text, f"the answer has no {ROUTE_HEADER} header (headers: {dict(headers)})"
    hops = []
    for entry in text.split(","):
        role, _, rest = entry.strip().partition("=")
        lane, _, instance = rest.partition("@")
        assert role and lane and instance, f"malformed {ROUTE_HEADER}: {text!r}"
        hops.append(Hop(role, lane, instance))
    return hops


def route_text(headers: httpx.Headers) -> str:
    return ", ".join(str(hop) for hop in route_of(headers))


def went_gray(headers: httpx.Headers) -> bool:
    """Whether the answer came through a gray hop; anything not baseline or gray is a failure."""
    hops = route_of(headers)
    lanes = {hop.lane for hop in hops}
    assert lanes <= {"baseline", LANE_TAG}, f"unexpected lane in route {route_text(headers)}"
    return LANE_TAG in lanes


def assert_request_id(headers: httpx.Headers) -> str:
    value = headers.get("x-request-id")
    assert value, "the answer has no x-request-id"
    uuid.UUID(value)
    return value


# --- processes -----------------------------------------------------------------------------------

class Process(LogFile):
    """One child process with its output in `log_path`. `restart()` starts the same command
    again (appending to the same log), as a pod's replacement would."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, url: str, ready_path: str):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.url = url
        self.ready_path = ready_path
        self.popen: Optional[subprocess.Popen[bytes]] = None
        LIVE_LOGS.append((name, self))

    def __repr__(self) -> str:
        return f"<{self.name} {self.url} pid={self.pid}>"

    @property
    def pid(self) -> Optional[int]:
        return self.popen.pid if self.popen else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self, timeout: float = READY_TIMEOUT) -> "Process":
        assert not self.running, f"{self.name} is already running"
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== lanes suite: starting {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.log_path.parent,
                start_new_session=True,
            )
        self.wait_ready(timeout)
        return self

    def accepts_connections(self) -> bool:
        host, _, port = self.url.removeprefix("http://").partition(":")
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
            return True
        except OSError:
            return False

    def is_ready(self) -> bool:
        if not self.ready_path:  # only a listening port to go by
            return self.accepts_connections()
        try:
            return httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        def ready() -> bool:
            if not self.running:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode if self.popen else None}")
            return self.is_ready()

        try:
            what = f"GET {self.ready_path} 200" if self.ready_path else "a connection"
            poll(ready, timeout, f"{self.name} to answer {what}", interval=0.05)
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- {self.name} log ({self.log_path}):\n{self.log()[-6000:]}") from None

    def terminate(self, timeout: float = EXIT_TIMEOUT) -> int:
        """SIGTERM, then the exit code; SIGKILL and a failure if it is not gone within `timeout`."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not exit within {timeout:.0f}s of SIGTERM; killed") from None

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """For teardown: SIGTERM, SIGKILL after `timeout`, never an error."""
        if not self.running:
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()



def stop_all(processes: Iterable[Process], timeout: float = 15.0) -> None:
    """SIGTERM to all at once, then wait for each (SIGKILL after `timeout`)."""
    running = [p for p in processes if p.running]
    for process in running:
        assert process.popen is not None
        process.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        assert process.popen is not None
        try:
            process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


class Mock(Process):
    """`oblivious mock-upstream`, which records what it receives."""

    def requests(self) -> list[dict]:
        response = httpx.get(f"{self.url}/_mock/requests", timeout=5)
        response.raise_for_status()
        return response.json()

    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests() if r["path"].endswith("/chat/completions")]

    def clear(self) -> None:
        httpx.delete(f"{self.url}/_mock/requests", timeout=5).raise_for_status()


# --- the database --------------------------------------------------------------------------------


class Database:
    """A database of its own on the shared PostgreSQL server, created and dropped with `psql`."""

    def __init__(self, server_url: str = POSTGRES_URL):
        self.server_url = server_url
        self.name = f"oblivious_lanes_{secrets.token_hex(6)}"
        self.created = False
        base, _, _ = server_url.rpartition("/")
        self.url = f"{base}/{self.name}"

    def _psql(self, sql: str) -> str:
        try:
            result = subprocess.run(
                ["psql", self.server_url, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except FileNotFoundError:
            raise RuntimeError("the lanes suite needs `psql` (PostgreSQL client) on PATH") from None
        if result.returncode != 0:
            raise RuntimeError(f"psql {self.server_url} -c {sql!r} failed:\n{result.stderr}")
        return result.stdout

    def create(self) -> "Database":
        self._psql(f"CREATE DATABASE {self.name}")
        self.created = True
        return self

    def drop(self) -> None:
        if not self.created:
            return
        self.created = False
        self._psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")

    def query(self, sql: str) -> list[list[str]]:
        """Rows of a query on this database (diagnostics only)."""
        result = subprocess.run(
            ["psql", self.url, "-v", "ON_ERROR_STOP=1", "-AtF", "\t", "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        return [line.split("\t") for line in result.stdout.splitlines() if line]


# --- manifests -----------------------------------------------------------------------------------


def channels_manifest(mock_a: str, mock_b: str, upstream_key: str) -> str:
    return f"""\
# Written by e2e/lanes/fleet.py: one baseline channel (mock A) and one `gray` lane channel (mock B)
# serving the same public models; the mocks answer a different number of words.
apiVersion: v1
kind: Secret
metadata: {{name: lanes-upstream-key, namespace: default}}
stringData: {{apiKey: {upstream_key}}}
---
apiVersion: oblivious.dev/v1alpha1
kind: Channel
metadata: {{name: lanes-baseline, namespace: default}}
spec:
  provider: openai
  baseUrl: {mock_a}/v1
  apiKeySecretRef: {{name: lanes-upstream-key, key: apiKey}}
  models:
    - {{name: {MODEL}, upstreamModel: "gpt-4o-mini@words={WORDS_A}"}}
    - {{name: {SLOW_MODEL}, upstreamModel: "gpt-4o-mini@words={SLOW_WORDS},tps=20"}}
  timeouts: {{connect: 2s, firstByte: 20s, streamIdle: 20s}}
---
apiVersion: oblivious.dev/v1alpha1
kind: Channel
metadata: {{name: lanes-gray, namespace: default}}
spec:
  provider: openai-compatible
  lane: {LANE_TAG}
  baseUrl: {mock_b}/v1
  apiKeySecretRef: {{name: lanes-upstream-key, key: apiKey}}
  models:
    - {{name: {MODEL}, upstreamModel: "gpt-4o-mini@words={WORDS_B}"}}
    - {{name: {SLOW_MODEL}, upstreamModel: "gpt-4o-mini@words={SLOW_WORDS},tps=20"}}
  timeouts: {{connect: 2s, firstByte: 20s, streamIdle: 20s}}
---
apiVersion: oblivious.dev/v1alpha1
kind: ModelPricing
metadata: {{name: lanes-prices, namespace: default}}
spec:
  currency: USD
  models:
    - {{name: {MODEL}, input: "1.00", output: "2.00"}}
    - {{name: {SLOW_MODEL}, input: "1.00", output: "2.00"}}
"""


@dataclass(frozen=True)
class LaneSpec:
    """What a test wants of the `gray` Lane; the members are always the gray relay and chat."""

    rules: tuple = tuple(DEFAULT_RULES)  # JSON-like rule objects, combined with `Or`
    fallback: str = "Baseline"
    enabled: bool = True


def lane_manifest(spec: LaneSpec, relay_url: str, chat_url: str, nonce: str) -> str:
    rules = [*spec.rules, {"header": {"name": PROBE_HEADER, "value": nonce}}]
    rule_lines = "\n".join(f"      - {json.dumps(rule)}" for rule in rules)
    return f"""\
# Written by e2e/lanes/fleet.py. The last rule lets the suite see when this version is live.
apiVersion: oblivious.dev/v1alpha1
kind: Lane
metadata: {{name: gray, namespace: default}}
spec:
  tag: {LANE_TAG}
  enabled: {json.dumps(spec.enabled)}
  fallback: {spec.fallback}
  conditions:
    operator: Or
    rules:
{rule_lines}
  members:
    - {{service: relay, endpoint: "{relay_url}"}}
    - {{service: chat, endpoint: "{chat_url}"}}
"""


# --- the fleet -----------------------------------------------------------------------------------


class Fleet:
    """The whole topology. `baseline` lists the baseline `all` pods running now (base-0, and
    base-1 during a rolling restart); `restore()` puts the standard shape back."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.manifests = workdir / "manifests"
        self.manifests.mkdir()
        self.internal_token = "int-lanes-" + secrets.token_hex(16)
        self.admin_key = "sk-lanes-admin-" + secrets.token_hex(16)
        self.jwt_secret = secrets.token_hex(32)
        self.upstream_key = "sk-lanes-upstream-" + secrets.token_hex(8)
        self.database = Database()
        self.lane = LaneSpec()
        self.lane_nonce = ""
        self.mock_a: Optional[Mock] = None
        self.mock_b: Optional[Mock] = None
        self.operator: Optional[Process] = None
        self.baseline: list[Process] = []
        self._baseline_lock = threading.Lock()
        self.gray_relay: Optional[Process] = None
        self.gray_chat: Optional[Process] = None
        self.base0_port = free_port()
        self.gray_relay_port = free_port()
        self.gray_chat_port = free_port()
        self.processes: list[Process] = []

    # -- building it --

    def start(self) -> "Fleet":
        operator = operator_binary()
        self.database.create()
        self.mock_a = self._mock("mock-a")
        self.mock_b = self._mock("mock-b")
        (self.manifests / "channels.yaml").write_text(
            channels_manifest(self.mock_a.url, self.mock_b.url, self.upstream_key)
        )
        self._write_lane_file(LaneSpec())
        self._migrate()
        port = free_port()
        self.operator = self._track(
            Process(
                "operator",
                [str(operator), "serve-local", "--manifests", str(self.manifests), "--listen", f"127.0.0.1:{port}"],
                self._base_env(),
                self.workdir / "operator.log",
                f"http://127.0.0.1:{port}",
                # Its /healthz is served over HTTP/2 only (tonic without accept_http1), which
                # neither httpx nor an HTTP/1.1 probe speaks: a listening port has to do.
                "",
            )
        ).start()
        base0 = self.baseline_pod("base-0", self.base0_port).start()
        self.set_baseline([base0])
        self.gray_relay = self._data_plane("relay", "relay-gray-0", self.gray_relay_port, lane=LANE_TAG).start()
        self.gray_chat = self._data_plane(
            "chat", "chat-gray-0", self.gray_chat_port, lane=LANE_TAG, relay_url=base0.url
        ).start()
        self.wait_lane_live()
        return self

    def stop(self) -> None:
        try:
            stop_all([p for p in self.processes if p is not self.operator and not isinstance(p, Mock)])
            stop_all([p for p in self.processes if p.running])
        finally:
            self.database.drop()

    def _track(self, process: Process) -> Process:
        self.processes.append(process)
        return process

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not (k.startswith("OBLIVIOUS_") or k in ("DATABASE_URL", "REDIS_URL"))}
        env.update({"RUST_LOG": "info", "NO_COLOR": "1"})
        return env

    def data_plane_env(self) -> dict[str, str]:
        env = self._base_env()
        env.update(
            {
                "DATABASE_URL": self.database.url,
                "OBLIVIOUS_INTERNAL_TOKEN": self.internal_token,
                "OBLIVIOUS_BOOTSTRAP_KEY": self.admin_key,
                "OBLIVIOUS_JWT_SECRET": self.jwt_secret,
                "OBLIVIOUS_BUILTIN_MOCK": "false",
                "OBLIVIOUS_SHUTDOWN_DELAY": "1s",
                # Generated topic titles are billed model calls of their own; the balance checks
                # count only the replies the client saw.
                "OBLIVIOUS_TITLES": "false",
            }
        )
        return env

    def _mock(self, name: str) -> Mock:
        port = free_port()
        mock = Mock(
            name,
            [str(binary()), "mock-upstream", "--listen", f"127.0.0.1:{port}"],
            self._base_env(),
            self.workdir / f"{name}.log",
            f"http://127.0.0.1:{port}",
            "/_mock/requests",
        )
        self._track(mock)
        return mock.start()  # type: ignore[return-value]

    def _migrate(self) -> None:
        data = self.workdir / "migrate"
        data.mkdir(exist_ok=True)
        result = subprocess.run(
            [str(binary()), "migrate", "--data-dir", str(data)],
            env=self.data_plane_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise AssertionError(f"`oblivious migrate` exited {result.returncode}:\n{result.stdout}{result.stderr}")

    def _data_plane(self, role: str, pod: str, port: int, lane: str = "", relay_url: Optional[str] = None) -> Process:
        assert self.operator is not None
        data = self.workdir / pod
        data.mkdir(exist_ok=True)
        argv = [
            str(binary()),
            role,
            "--config-server",
            self.operator.url,
            "--listen",
            f"127.0.0.1:{port}",
            "--pod-name",
            pod,
            "--data-dir",
            str(data),
            "--state-dir",
            str(data / "config"),
        ]
        if lane:
            argv += ["--lane", lane]
        if relay_url:
            argv += ["--relay-url", relay_url]
        return self._track(
            Process(pod, argv, self.data_plane_env(), self.workdir / f"{pod}.log", f"http://127.0.0.1:{port}", "/readyz")
        )

    def baseline_pod(self, pod: str, port: Optional[int] = None) -> Process:
        """A baseline `oblivious all` pod (not started)."""
        return self._data_plane("all", pod, port or free_port())

    # -- the baseline "Service" --

    def set_baseline(self, pods: list[Process]) -> None:
        with self._baseline_lock:
            self.baseline = list(pods)

    def baseline_pods(self) -> list[Process]:
        with self._baseline_lock:
            return list(self.baseline)

    @property
    def base0(self) -> Process:
        pod = next((p for p in self.baseline_pods() if p.name == "base-0"), None)
        assert pod is not None, "base-0 is not part of the baseline"
        return pod

    @property
    def url(self) -> str:
        """Where single-pod tests send everything: base-0."""
        return self.base0.url

    # -- the Lane --

    def _write_lane_file(self, spec: LaneSpec) -> None:
        self.lane = spec
        self.lane_nonce = secrets.token_hex(6)
        text = lane_manifest(
            spec, f"http://127.0.0.1:{self.gray_relay_port}", f"http://127.0.0.1:{self.gray_chat_port}", self.lane_nonce
        )
        # Written beside the directory and renamed in, so the watcher never compiles half a file.
        staging = self.workdir / "lane.yaml.tmp"
        staging.write_text(text)
        os.replace(staging, self.manifests / "lane.yaml")

    def write_lane(self, spec: LaneSpec, wait: bool = True) -> None:
        """Rewrites the Lane; with `wait`, returns once every baseline pod runs it (the probe rule
        dyes a request there). Waiting needs an enabled Lane and a reachable gray relay."""
        self._write_lane_file(spec)
        if wait:
            self.wait_lane_live()

    def wait_lane_live(self, timeout: float = 15.0) -> None:
        assert self.lane.enabled, "a disabled Lane cannot be probed"
        for pod in self.baseline_pods():

            def live(pod: Process = pod) -> bool:
                response = httpx.get(
                    f"{pod.url}/v1/models",
                    headers={"authorization": f"Bearer {self.admin_key}", PROBE_HEADER: self.lane_nonce},
                    timeout=5,
                )
                return response.status_code == 200 and went_gray(response.headers)

            poll(live, timeout, f"{pod.name} to run the Lane version {self.lane_nonce}", interval=0.05)

    # -- putting things back between tests --

    def restore(self) -> None:
        """The standard topology (base-0 alone, both gray pods up), the default Lane live, empty
        mock records."""
        pods = self.baseline_pods()
        base0 = next((p for p in pods if p.name == "base-0"), None)
        for pod in pods:
            if pod is not base0:
                pod.stop()
        if base0 is None:
            base0 = self.baseline_pod("base-0", self.base0_port)
        if not base0.running:
            base0.start()
        self.set_baseline([base0])
        if self.lane != LaneSpec():
            self._write_lane_file(LaneSpec())  # first: a lane pod is ready only while its lane is
        for pod in (self.gray_relay, self.gray_chat):
            assert pod is not None
            if not pod.running:
                pod.start()
        # Also covers a gray relay that was down: the baseline pods skip it for a few seconds.
        self.wait_lane_live()
        assert self.mock_a is not None and self.mock_b is not None
        self.mock_a.clear()
        self.mock_b.clear()


# --- the product API -----------------------------------------------------------------------------


@dataclass
class User:
    id: str
    username: str
    password: str
    token: str  # access JWT
    key: str  # an API key of this user


class ProductApi:
    """`/api/v1` of whichever baseline pod `url()` names."""

    def __init__(self, url: Callable[[], str], admin_key: str):
        self.url = url
        self.admin_key = admin_key

    def _call(self, method: str, path: str, token: Optional[str] = None, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["authorization"] = f"Bearer {token}"
        return httpx.request(method, self.url() + path, headers=headers, timeout=CLIENT_TIMEOUT, **kwargs)

    def _ok(self, response: httpx.Response, *statuses: int) -> dict:
        assert response.status_code in (statuses or (200,)), (
            f"{response.request.method} {response.request.url.path} answered {response.status_code}: {response.text}"
        )
        return response.json()

    def register(self, username: str, password: str) -> dict:
        body = {"username": username, "email": f"{username}@lanes.example.com", "password": password}
        return self._ok(self._call("POST", "/api/v1/auth/register", json=body), 201)

    def login(self, username: str, password: str) -> dict:
        return self._ok(self._call("POST", "/api/v1/auth/login", json={"username": username, "password": password}))

    def request_logs(self, **filters: str) -> list[dict]:
        """The relay's request log as an administrator sees it (`GET /api/v1/admin/logs`)."""
        return self._ok(self._call("GET", "/api/v1/admin/logs", self.admin_key, params=filters))["data"]

    def create_key(self, token: str, name: str) -> str:
        return self._ok(self._call("POST", "/api/v1/keys", token, json={"name": name}), 201)["key"]

    def credit(self, user_id: str, amount: str) -> None:
        body = {"amount": amount, "note": "lanes e2e"}
        self._ok(self._call("POST", f"/api/v1/admin/users/{user_id}/balance", self.admin_key, json=body))

    def balance_micros(self, token: str) -> int:
        return micros(self._ok(self._call("GET", "/api/v1/user/quota", token))["balance"])

    def ledger(self, token: str) -> list[dict]:
        """Every ledger entry of the caller. Pages go back by `created_at` (milliseconds); each
        page repeats the oldest millisecond of the last one, so entries sharing it are not lost."""
        entries: dict[str, dict] = {}
        before: Optional[int] = None
        while True:
            params = {"limit": 1000, **({"before": before} if before is not None else {})}
            page = self._ok(self._call("GET", "/api/v1/user/ledger", token, params=params))["data"]
            new = [e for e in page if e["id"] not in entries]
            if not new:
                return list(entries.values())
            entries.update((e["id"], e) for e in new)
            before = min(e["created_at"] for e in page) + 1

    def create_user(self, username: str, credit: Optional[str] = "100.00") -> User:
        password = "pw-" + secrets.token_hex(8)
        self.register(username, password)
        login = self.login(username, password)
        token = login["access_token"]
        user_id = login["user"]["id"]
        key = self.create_key(token, f"{username}-key")
        if credit:
            self.credit(user_id, credit)
        return User(user_id, username, password, token, key)


# --- calls ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    """What a client got for one relay call."""

    status: int
    headers: httpx.Headers
    text: str = ""
    usage: Optional[dict] = None
    finish_reason: Optional[str] = None
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.usage is not None and self.finish_reason == "stop" and bool(self.text)

    @property
    def cost_micros(self) -> int:
        assert self.usage is not None
        return usage_cost_micros(self.usage)

    @property
    def request_id(self) -> Optional[str]:
        return self.headers.get("x-request-id")


def completion(
    client: httpx.Client,
    base_url: str,
    key: str,
    *,
    model: str = MODEL,
    stream: bool = False,
    headers: Optional[dict[str, str]] = None,
    content: str = "hi",
) -> Answer:
    """One `POST /v1/chat/completions`, read to the end (streams with `include_usage`)."""
    body: dict = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    request_headers = {"authorization": f"Bearer {key}", **(headers or {})}
    url = f"{base_url}/v1/chat/completions"
    if not stream:
        response = client.post(url, json=body, headers=request_headers, timeout=CLIENT_TIMEOUT)
        if response.status_code != 200:
            return Answer(response.status_code, response.headers, body=response.text)
        data = response.json()
        choice = data["choices"][0]
        return Answer(200, response.headers, choice["message"]["content"] or "", data.get("usage"), choice["finish_reason"], response.text)
    with client.stream("POST", url, json=body, headers=request_headers, timeout=CLIENT_TIMEOUT) as response:
        if response.status_code != 200:
            response.read()
            return Answer(response.status_code, response.headers, body=response.text)
        answer = Answer(200, response.headers)
        done = False
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                continue
            chunk = json.loads(data)
            answer.body += data + "\n"
            if chunk.get("usage"):
                answer.usage = chunk["usage"]
            for choice in chunk.get("choices") or []:
                answer.text += (choice.get("delta") or {}).get("content") or ""
                answer.finish_reason = choice.get("finish_reason") or answer.finish_reason
        if not done:
            answer.finish_reason = None  # a stream without [DONE] is not a complete answer
        return answer


def canary(headers: Optional[dict[str, str]] = None) -> dict[str, str]:
    return {CANARY_HEADER: "1", **(headers or {})}


@dataclass
class ChatReply:
    """A chat send and its stream, read to the end."""

    send_status: int
    send_headers: httpx.Headers
    send_body: str
    events: list[tuple[str, dict]]
    stream_status: int = 0
    stream_headers: Optional[httpx.Headers] = None

    @property
    def done(self) -> Optional[dict]:
        return next((data["message"] for kind, data in self.events if kind == "done"), None)

    @property
    def ok(self) -> bool:
        message = self.done
        return (
            message is not None
            and message.get("status") == "complete"
            and bool(message.get("content"))
            and message.get("cost") is not None
        )

    @property
    def cost_micros(self) -> int:
        message = self.done
        assert message is not None and message.get("cost") is not None, f"no cost in {message}"
        return micros(message["cost"])


def sse_events(lines: Iterable[str]) -> Iterable[tuple[str, dict]]:
    """`(event, data)` pairs of a chat stream; `: ping` comments are skipped."""
    kind, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", []
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield kind, json.loads("\n".join(data))


def chat_session(client: httpx.Client, base_url: str, token: str, headers: Optional[dict] = None) -> str:
    response = client.post(
        f"{base_url}/api/v1/chat/sessions",
        json={"model": MODEL, "title": "lanes"},
        headers={"authorization": f"Bearer {token}", **(headers or {})},
        timeout=CLIENT_TIMEOUT,
    )
    assert response.status_code == 201, f"creating a session answered {response.status_code}: {response.text}"
    return response.json()["id"]


def chat_send(
    client: httpx.Client,
    send_url: str,
    token: str,
    session_id: str,
    content: str,
    headers: Optional[dict] = None,
    stream_urls: Optional[Callable[[], Iterable[str]]] = None,
) -> ChatReply:
    """Sends a message and reads its stream to the end. The stream is read from `send_url` (the
    job runs there); `stream_urls` gives other backends to try if that one no longer accepts
    connections (it only stops accepting once its jobs are done, so any pod replays the reply)."""
    auth = {"authorization": f"Bearer {token}", **(headers or {})}
    response = client.post(
        f"{send_url}/api/v1/chat/sessions/{session_id}/messages",
        json={"content": content},
        headers=auth,
        timeout=CLIENT_TIMEOUT,
    )
    reply = ChatReply(response.status_code, response.headers, response.text, [])
    if response.status_code != 201:
        return reply
    stream_id = response.json()["stream_id"]
    candidates = [send_url, *(stream_urls() if stream_urls else [])]
    for index, url in enumerate(candidates):
        try:
            with client.stream("GET", f"{url}/api/v1/chat/streams/{stream_id}", headers=auth, timeout=CLIENT_TIMEOUT) as stream:
                reply.stream_status = stream.status_code
                reply.stream_headers = stream.headers
                if stream.status_code != 200:
                    stream.read()
                    reply.send_body += f"\nstream answered {stream.status_code}: {stream.text}"
                    return reply
                for event in sse_events(stream.iter_lines()):
                    reply.events.append(event)
                    if event[0] in ("done", "error"):
                        break
                return reply
        except httpx.ConnectError:
            if index == len(candidates) - 1:
                raise
    return reply
