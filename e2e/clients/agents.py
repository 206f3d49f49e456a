"""The real coding-agent clients, installed from npm at pinned versions into a cache outside the
clone (reinstalled only when the version changes), and run non-interactively and offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CLAUDE_CODE = ("@anthropic-ai/claude-code", "2.1.197")
CACHE = Path(os.environ.get("OBLIVIOUS_CLIENTS_CACHE", Path.home() / ".cache" / "oblivious" / "clients"))
RUN_TIMEOUT = 120


def _install(package: str, version: str, binary: str) -> Path:
    prefix = CACHE / f"{package.replace('/', '+')}@{version}"
    path = prefix / "node_modules" / ".bin" / binary
    if not path.exists():
        shutil.rmtree(prefix, ignore_errors=True)
        prefix.mkdir(parents=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"{package}@{version}"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return path


def claude_code() -> Path:
    return _install(*CLAUDE_CODE, "claude")


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
