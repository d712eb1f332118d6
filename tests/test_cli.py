import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.cli import EXAMPLES, build_parser, main
from tests.conftest import fast_config

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands() -> list[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(subparsers.choices)


@pytest.mark.parametrize("command", commands())
def test_every_command_is_documented_in_the_readme(command):
    assert re.search(rf"`{command}`", README), f"README lacks the `{command}` command"
    assert f"contact-reasons {command}" in README, f"README lacks an example of `{command}`"


@pytest.mark.parametrize("command", commands())
def test_every_command_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert EXAMPLES[command] in capsys.readouterr().out


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--date", "20-11-2026"])
    assert exit_info.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_bad_config_exits_2_with_one_line(tmp_path, capsys):
    config = tmp_path / "pipeline.yaml"
    config.write_text("modle: {}\n", encoding="utf-8")
    assert main(["run", "--date", "2026-11-20", "--config", str(config), "--home", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("contact-reasons: config error") and "modle" in error
    assert "Traceback" not in error


def test_missing_denominator_file_fails_before_anything_runs(tmp_path, capsys):
    config = fast_config(tmp_path)
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["hotspots"]["denominator"] = {"path": "customers.csv"}
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    assert main(["run", "--date", "2026-11-20", "--config", str(config), "--home", str(tmp_path), "--quiet"]) == 1
    error = capsys.readouterr().err.strip()
    assert "hotspots.denominator: input file not found" in error and "\n" not in error
    assert not (tmp_path / "reports").exists()


def test_missing_model_exits_1_and_says_what_to_do(tmp_path, capsys):
    model = str(tmp_path / "models" / "none")
    assert main(["run", "--date", "2026-11-20", "--home", str(tmp_path), "--model", model, "--quiet"]) == 1
    assert "contact-reasons train" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "pipeline", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("contact-reasons ")


def test_tracked_training_prints_log_lines_not_mlflow_progress_bars(tmp_path, small_training):
    data = tmp_path / "train.csv"
    small_training[["text", "reason"]].to_csv(data, index=False)
    command = [sys.executable, "-m", "pipeline", "train", "--data", str(data), "--out", str(tmp_path / "model"),
               "--home", str(tmp_path), "--config", str(fast_config(tmp_path))]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "logged to sqlite" in result.stderr  # tracked, so MLflow did copy the model's files
    assert "Downloading artifacts" not in result.stderr and "it/s]" not in result.stderr
