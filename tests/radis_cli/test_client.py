"""The ``radis`` client commands without a server: config, local validation, exit codes, SSE parsing, no torch."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radis_cli.client import (
    EXIT_ERROR,
    EXIT_UNREACHABLE,
    CLIError,
    load_config,
    parse_sse,
    resolve_connection,
    save_config,
)
from radis_cli.demo import free_port
from radis_cli.main import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A config file in the test's folder, no key in the environment, a server address nobody listens on."""
    for name in ("RADIS_API_KEY", "RADIS_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RADIS_CONFIG", str(tmp_path / "cfg" / "config.json"))
    monkeypatch.setenv("COLUMNS", "200")
    return {"RADIS_BASE_URL": f"http://127.0.0.1:{free_port()}", "RADIS_API_KEY": "sk-radis-test"}


def test_config_is_written_private_and_the_environment_wins(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_config("http://saved:1", "sk-saved")
    assert path == tmp_path / "cfg" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config() == {"base_url": "http://saved:1", "api_key": "sk-saved"}
    assert resolve_connection() == resolve_connection(None, None)
    assert (resolve_connection().base_url, resolve_connection().api_key) == ("http://saved:1", "sk-saved")
    monkeypatch.setenv("RADIS_API_KEY", "sk-env")
    assert (resolve_connection().base_url, resolve_connection().api_key) == ("http://saved:1", "sk-env")
    monkeypatch.setenv("RADIS_BASE_URL", "http://env:2/")
    assert resolve_connection().base_url == "http://env:2"
    assert resolve_connection(api_key="sk-option").api_key == "sk-option"
    # Saving again over a file another umask created keeps it private.
    os.chmod(path, 0o644)
    save_config("http://saved:1", "sk-new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_corrupt_config_is_named(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.json"
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(CLIError, match="config.json: not a readable radis config"):
        load_config()


def test_a_bad_corpus_is_refused_locally_with_line_numbers(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = [
        json.dumps({"source": f"Satz {i}.", "target": f"Sentence {i}.", "src_lang": "de", "tgt_lang": "en"}) for i in range(10)
    ]
    lines[3] = json.dumps({"source": "Hallo", "target": "", "src_lang": "de", "tgt_lang": "en"})
    lines[6] = "{broken"
    bad.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["files", "upload", str(bad)], env=env)
    # Refused before any request: an attempt to reach the (absent) server would exit 5 instead.
    assert result.exit_code == EXIT_ERROR, result.output
    assert "nothing was uploaded" in result.output
    table = [row for row in result.output.splitlines() if "empty_field" in row or "not_json" in row]
    assert any(row.split("│")[1].strip() == "4" for row in table), result.output  # line numbers as the file counts them
    assert any(row.split("│")[1].strip() == "7" for row in table), result.output


def test_a_server_that_does_not_answer_is_its_own_exit_code(env: dict[str, str], tmp_path: Path) -> None:
    for args in (["jobs", "list"], ["jobs", "watch", "ftjob-x"], ["models", "--json"], ["jobs", "events", "ftjob-x", "--follow"]):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == EXIT_UNREACHABLE, (args, result.output)
        assert "could not reach the RaDis server" in result.output
    good = tmp_path / "good.jsonl"
    good.write_text(
        "".join(
            json.dumps({"source": f"Satz {i}.", "target": f"Sentence {i}.", "src_lang": "de", "tgt_lang": "en"}) + "\n"
            for i in range(10)
        )
    )
    # A valid file passes the local check and then meets the missing server.
    assert CliRunner().invoke(app, ["files", "upload", str(good)], env=env).exit_code == EXIT_UNREACHABLE


def test_bad_job_options_are_refused_by_name(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["jobs", "create", "-m", "x", "-t", "file-abc", "--hp", "novalue"], env=env)
    assert result.exit_code == EXIT_ERROR and "--hp: 'novalue': expected KEY=VALUE" in result.output
    result = CliRunner().invoke(app, ["jobs", "create", "-m", "x", "-t", "file-abc", "--settings", "[1]"], env=env)
    assert result.exit_code == EXIT_ERROR and "--settings: expected a JSON object" in result.output
    result = CliRunner().invoke(app, ["jobs", "create", "-m", "x", "-t", "missing.jsonl"], env=env)
    assert result.exit_code == EXIT_ERROR and "neither a file id" in result.output


def test_sse_parsing_follows_the_whatwg_rules() -> None:
    lines = [
        "retry: 2000",
        "",
        ": keep-alive",
        "",
        "id: ftevent-1",
        "event: metrics",
        'data: {"a":',
        "data: 1}",
        "",
        "data:no-space",
        "",
        "event: end",
        'data: {"status": "succeeded"}',
        "",
    ]
    messages = list(parse_sse(iter(lines)))
    assert [(m.event, m.id) for m in messages] == [("metrics", "ftevent-1"), ("message", None), ("end", None)]
    assert messages[0].json() == {"a": 1} and messages[1].data == "no-space" and messages[2].json()["status"] == "succeeded"


def test_the_client_commands_import_no_torch(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        "".join(
            json.dumps({"source": f"Satz {i}.", "target": f"Sentence {i}.", "src_lang": "de", "tgt_lang": "en"}) + "\n"
            for i in range(10)
        )
    )
    code = (
        "import sys; from radis_cli.main import app; from radis_cli.commands.files import validate_locally; "
        f"validate_locally(__import__('pathlib').Path({str(good)!r})); "
        "heavy = sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules); print(heavy); sys.exit(bool(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
