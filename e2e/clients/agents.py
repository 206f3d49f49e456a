"""The real coding-agent clients, installed from npm at pinned versions into a cache outside the
clone (reinstalled when the version changes or the cached copy does not start), and run
non-interactively and offline."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CLAUDE_CODE = ("@anthropic-ai/claude-code", "2.1.197")
# The npm package is a launcher; the binary comes in a per-platform optional dependency
# (`@openai/codex-linux-x64`, an alias of `@openai/codex@<version>-linux-x64`).
CODEX = ("@openai/codex", "0.171.0")
CACHE = Path(os.environ.get("OBLIVIOUS_CLIENTS_CACHE", Path.home() / ".cache" / "oblivious" / "clients"))
RUN_TIMEOUT = 120


@functools.cache
def _install(package: str, version: str, binary: str) -> Path:
    prefix = CACHE / f"{package.replace('/', '+')}@{version}"
    path = prefix / "node_modules" / ".bin" / binary
    if not _runs(path):
        shutil.rmtree(prefix, ignore_errors=True)
        prefix.mkdir(parents=True)
        # `--include=optional` wins over an `omit=optional` in the user's npm config, which would
        # leave Codex without its platform binary.
        npm = ["npm", "install", "--no-audit", "--no-fund", "--include=optional", "--prefix", str(prefix)]
        subprocess.run(
            [*npm, f"{package}@{version}"],
            check=True,
            capture_output=True,
            timeout=600,
        )
        if not _runs(path):
            raise AssertionError(f"{package}@{version} installed into {prefix}, but `{binary} --version` fails")
    return path


def _runs(path: Path) -> bool:
    """The installed client starts (a launcher whose platform package is missing does not)."""
    if not path.exists():
        return False
    result = subprocess.run([str(path), "--version"], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return result.returncode == 0


def claude_code() -> Path:
    return _install(*CLAUDE_CODE, "claude")


def codex() -> Path:
    return _install(*CODEX, "codex")


def run_claude(base_url: str, key: str, model: str, prompt: str, *flags: str) -> dict[str, Any]:
    """`claude -p PROMPT --model MODEL --output-format json` against the relay, in a fresh home
    (no login, no onboarding) with every non-essential call to Anthropic turned off; returns
    its result object."""
    with tempfile.TemporaryDirectory(prefix="claude-home-") as home:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": home,
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": key,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
        }
        result = subprocess.run(
            [str(claude_code()), "-p", prompt, "--model", model, "--output-format", "json", *flags],
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    if result.returncode != 0:
        raise AssertionError(f"claude exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return json.loads(result.stdout)


CODEX_CONFIG = """\
model = "{model}"
model_provider = "oblivious"

[model_providers.oblivious]
name = "oblivious"
base_url = "{base_url}/v1"
wire_api = "responses"
env_key = "OBLIVIOUS_KEY"

# No call to any other host: no analytics, no plugin sync.
[analytics]
enabled = false

[features]
plugins = false
"""


def run_codex(base_url: str, key: str, model: str, prompt: str, *flags: str) -> dict[str, Any]:
    """`codex exec --json PROMPT` against the relay as a custom Responses provider, in a fresh
    home (no login) and a scratch working directory. Returns the final agent `message`, the
    `commands` Codex ran (its `command_execution` items), the turn's `usage` (summed over its
    model requests; Codex does not report how many there were), `error` (the `turn.failed`
    message, if any) and every JSONL `event`."""
    with tempfile.TemporaryDirectory(prefix="codex-home-") as home:
        codex_home = Path(home) / ".codex"
        workdir = Path(home) / "work"
        codex_home.mkdir()
        workdir.mkdir()
        (codex_home / "config.toml").write_text(CODEX_CONFIG.format(model=model, base_url=base_url))
        env = {"PATH": os.environ["PATH"], "HOME": home, "CODEX_HOME": str(codex_home), "OBLIVIOUS_KEY": key}
        result = subprocess.run(
            [str(codex()), "exec", "--skip-git-repo-check", "--json", *flags, prompt],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    if result.returncode != 0:
        raise AssertionError(f"codex exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    items = [e["item"] for e in events if e.get("type") == "item.completed"]
    messages = [i["text"] for i in items if i.get("type") == "agent_message"]
    completed = next((e for e in reversed(events) if e.get("type") == "turn.completed"), None)
    failed = next((e for e in reversed(events) if e.get("type") == "turn.failed"), None)
    return {
        "message": messages[-1] if messages else None,
        "commands": [i for i in items if i.get("type") == "command_execution"],
        "usage": completed["usage"] if completed else None,
        "error": failed["error"]["message"] if failed else None,
        "events": events,
        "stderr": result.stderr,
    }
