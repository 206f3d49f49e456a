"""`oblivious keys create|list|revoke` run against the data directory of a running server (SQLite
allows a second process): created keys work at once, only for their models, and a revoked key is
refused within seconds."""

from __future__ import annotations

import json
import secrets
import subprocess
import time

import openai
import pytest

from support import CHAT_MODEL, Server, assert_no_secrets, binary, openai_client, poll

HELLO = [{"role": "user", "content": "hi"}]
REVOCATION_DEADLINE = 6.0


def create_key(server: Server, name: str, *extra: str) -> str:
    result = server.cli("keys", "create", "--name", name, *extra)
    key = result.stdout.strip()
    assert key and "\n" not in key and " " not in key, f"expected just the key on stdout, got {result.stdout!r}"
    return key


def listed(server: Server, name: str) -> dict:
    entries = [k for k in json.loads(server.cli("keys", "list", "--json").stdout) if k["name"] == name]
    assert len(entries) == 1, entries
    return entries[0]


def test_a_created_key_works_for_its_model_and_gets_404_for_any_other(server: Server) -> None:
    name = f"e2e-{secrets.token_hex(4)}"
    key = create_key(server, name, "--models", CHAT_MODEL["openai"], "--expires", "1h")

    with openai_client(server, key) as client:
        completion = client.chat.completions.create(model=CHAT_MODEL["openai"], messages=HELLO)
        assert completion.choices[0].message.content.startswith("Mock")
        with pytest.raises(openai.NotFoundError) as raised:
            client.chat.completions.create(model=CHAT_MODEL["anthropic"], messages=HELLO)
        assert raised.value.code == "model_not_found"
        assert {m.id for m in client.models.list()} == {CHAT_MODEL["openai"]}
    assert_no_secrets(raised.value.response.text, "the 404 body", {"created key": key})


def test_keys_list_shows_a_key_with_its_models_and_expiry_but_never_its_secret(server: Server) -> None:
    name = f"e2e-{secrets.token_hex(4)}"
    key = create_key(server, name, "--models", CHAT_MODEL["openai"], "--expires", "1h")

    table = server.cli("keys", "list").stdout
    as_json = server.cli("keys", "list", "--json").stdout
    entry = listed(server, name)

    rows = [line for line in table.splitlines() if name in line]
    assert len(rows) == 1, table
    assert CHAT_MODEL["openai"] in rows[0] and "active" in rows[0]
    assert entry["models"] == [CHAT_MODEL["openai"]]
    assert entry["prefix"] and key.startswith(entry["prefix"]) and entry["prefix"] != key
    expires_in_ms = entry["expires_at"] - time.time() * 1000
    assert 3_500_000 < expires_in_ms <= 3_600_000, entry
    assert_no_secrets(table + as_json, "`keys list`", {"created key": key})
    assert key[len(entry["prefix"]) :] not in table + as_json


def test_a_revoked_key_is_refused_within_seconds(server: Server) -> None:
    name = f"e2e-{secrets.token_hex(4)}"
    key = create_key(server, name, "--models", CHAT_MODEL["openai"], "--expires", "1h")
    with openai_client(server, key) as client:
        # Used once, so the server has it cached: revocation must still get through.
        client.chat.completions.create(model=CHAT_MODEL["openai"], messages=HELLO)
        prefix = listed(server, name)["prefix"]

        server.cli("keys", "revoke", prefix)
        revoked_at = time.monotonic()

        def refused() -> bool:
            try:
                client.models.list()
                return False
            except openai.AuthenticationError:
                return True

        poll(refused, timeout=REVOCATION_DEADLINE + 2, what="the revoked key to be refused", interval=0.1)
        elapsed = time.monotonic() - revoked_at
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model=CHAT_MODEL["openai"], messages=HELLO)

    assert elapsed < REVOCATION_DEADLINE, f"the revoked key was accepted for {elapsed:.1f}s"
    assert listed(server, name)["revoked_at"] is not None
    assert "revoked" in next(line for line in server.cli("keys", "list").stdout.splitlines() if name in line)


def test_revoking_an_unknown_prefix_fails(server: Server) -> None:
    result = server.cli("keys", "revoke", "sk-nosuchprefix", check=False)

    assert result.returncode != 0
    assert "sk-nosuchprefix" in result.stderr


def test_the_store_flags_are_accepted_after_the_subcommand_too(server: Server) -> None:
    # `oblivious keys create --name x --data-dir D` is how people write it (and how the docs
    # list the subcommand's flags); it must reach the same store as `keys --data-dir D create`.
    name = f"e2e-{secrets.token_hex(4)}"
    result = subprocess.run(
        [str(binary()), "keys", "create", "--name", name, "--expires", "1h", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        env=server.env(),
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert listed(server, name)["prefix"]
