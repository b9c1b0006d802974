"""``radis-core``: settings come from --hp/--set/--settings and are refused by path before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radis_core.cli import app
from tests.settings_cases import BAD_IDS, BAD_SETTINGS, BadSetting

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "train.jsonl"
    path.write_text(json.dumps({"source": "Hallo.", "target": "Hello.", "src_lang": "de", "tgt_lang": "en"}) + "\n")
    return path


@pytest.mark.parametrize("case", BAD_SETTINGS, ids=BAD_IDS)
def test_out_of_range_setting_is_refused_before_the_run(corpus: Path, tmp_path: Path, case: BadSetting) -> None:
    result = runner.invoke(
        app,
        [
            "run",
            "--train",
            str(corpus),
            "--out",
            str(tmp_path / "out"),
            "--method",
            case.method,
            "--set",
            f"{case.path}={json.dumps(case.value)}",
        ],
        env={"COLUMNS": "4000"},
    )
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {case.path}" in result.output
    assert not (tmp_path / "out").exists()


def test_hp_and_settings_file_reach_the_same_models(corpus: Path, tmp_path: Path) -> None:
    from radis_core.cli import settings_from_options

    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps({"hyperparameters": {"lora_rank": 4}, "evaluation": {"max_probe_items": 3}}))
    chosen = settings_from_options(
        "radis", f"@{settings_file}", ["lora_rank=8", "n_epochs=auto"], ["rationale.max_new_tokens=64"]
    )
    assert chosen.hyperparameters.lora_rank == 8 and chosen.hyperparameters.n_epochs == "auto"
    assert chosen.evaluation.max_probe_items == 3 and chosen.rationale.max_new_tokens == 64


def test_settings_lists_every_setting_with_its_range() -> None:
    result = runner.invoke(app, ["settings", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["path"]: row for row in json.loads(result.output)}
    assert rows["hyperparameters.lora_rank"]["default"] == 16 and "1024" in rows["hyperparameters.lora_rank"]["range"]
    assert rows["rationale.max_new_tokens"]["methods"] == ["radis"]


def test_the_settings_table_shows_each_settings_default_range_and_help() -> None:
    from rich.console import Console

    from radis_core.cli import print_settings
    from radis_core.settings.catalog import all_settings

    out = Console(width=1000, record=True)
    print_settings(out, method="radis")
    lines = out.export_text().splitlines()
    info = next(i for i in all_settings() if i.path == "hyperparameters.lora_rank")
    row = next(line for line in lines if " hyperparameters.lora_rank " in line)
    assert "16" in row and info.range in row and info.help[:40] in row
